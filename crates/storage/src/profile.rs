//! Import profiles: how a file becomes blocks (CID version, leaf kind, chunk size, fan-out).
//!
//! Kubo's default (`unixfs-v0-2015`) will change; the chain records the profile beside each
//! CID so the same bytes can be re-imported to the same CID years later.

use std::{fmt, str::FromStr};

use cid::Version;

/// How files are cut and linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Profile {
    pub cid_version: Version,
    pub raw_leaves: bool,
    pub chunk_size: usize,
    pub max_links: usize,
}

impl Profile {
    /// `ipfs add` with no flags: CIDv0, dag-pb leaves, 256 KiB chunks, 174 links.
    pub const KUBO_DEFAULT: Profile = Profile {
        cid_version: Version::V0,
        raw_leaves: false,
        chunk_size: 262_144,
        max_links: 174,
    };
    /// `ipfs add --cid-version 1`: CIDv1 with raw leaves, otherwise the default.
    pub const KUBO_CIDV1: Profile = Profile {
        cid_version: Version::V1,
        raw_leaves: true,
        ..Self::KUBO_DEFAULT
    };
    /// IPIP-499's `unixfs-v1-2025`: CIDv1, raw leaves, 1 MiB chunks, 1024 links.
    pub const UNIXFS_V1_2025: Profile = Profile {
        cid_version: Version::V1,
        raw_leaves: true,
        chunk_size: 1_048_576,
        max_links: 1024,
    };

    const NAMED: [(&'static str, Profile); 2] = [
        ("unixfs-v0-2015", Self::KUBO_DEFAULT),
        ("unixfs-v1-2025", Self::UNIXFS_V1_2025),
    ];

    /// The largest chunk accepted: leaves travel whole in one exchange answer and one proof.
    pub const MAX_CHUNK: usize = 1_048_576;

    /// Kubo's flags: `--cid-version` (0 or 1) with its implied leaves, or a named profile.
    pub fn from_flags(cid_version: Option<u8>, profile: Option<&str>) -> Result<Profile, String> {
        match (cid_version, profile) {
            (Some(_), Some(_)) => Err("give either --cid-version or --profile, not both".into()),
            (_, Some(name)) => name.parse(),
            (None | Some(0), None) => Ok(Self::KUBO_DEFAULT),
            (Some(1), None) => Ok(Self::KUBO_CIDV1),
            (Some(v), None) => Err(format!("--cid-version must be 0 or 1, got {v}")),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        if self.chunk_size == 0 || self.chunk_size > Self::MAX_CHUNK {
            return Err(format!(
                "chunk size must be 1..={} bytes, got {}",
                Self::MAX_CHUNK,
                self.chunk_size
            ));
        }
        if !(2..=4096).contains(&self.max_links) {
            return Err(format!(
                "links per node must be 2..=4096, got {}",
                self.max_links
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Profile {
    /// A named profile's name, else `cidv{0,1}-{raw,pb}-{chunk}-{links}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((name, _)) = Self::NAMED.iter().find(|(_, p)| p == self) {
            return f.write_str(name);
        }
        let v = match self.cid_version {
            Version::V0 => 0,
            Version::V1 => 1,
        };
        let leaves = if self.raw_leaves { "raw" } else { "pb" };
        write!(f, "cidv{v}-{leaves}-{}-{}", self.chunk_size, self.max_links)
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((_, p)) = Self::NAMED.iter().find(|(n, _)| *n == s) {
            return Ok(*p);
        }
        let bad = || {
            format!(
                "unknown profile `{s}`: use unixfs-v0-2015, unixfs-v1-2025 or cidv{{0,1}}-{{raw,pb}}-CHUNK-LINKS"
            )
        };
        let parts: Vec<&str> = s.split('-').collect();
        let [v, leaves, chunk, links] = parts[..] else {
            return Err(bad());
        };
        let cid_version = match v {
            "cidv0" => Version::V0,
            "cidv1" => Version::V1,
            _ => return Err(bad()),
        };
        let raw_leaves = match leaves {
            "raw" => true,
            "pb" => false,
            _ => return Err(bad()),
        };
        let profile = Profile {
            cid_version,
            raw_leaves,
            chunk_size: parse_small(chunk).ok_or_else(bad)?,
            max_links: parse_small(links).ok_or_else(bad)?,
        };
        profile.check()?;
        Ok(profile)
    }
}

/// A decimal that fits a u32, whatever the platform's word size.
fn parse_small(text: &str) -> Option<usize> {
    text.parse::<u32>().ok().map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in [
            Profile::KUBO_DEFAULT,
            Profile::KUBO_CIDV1,
            Profile::UNIXFS_V1_2025,
        ] {
            assert_eq!(p.to_string().parse::<Profile>().unwrap(), p);
        }
        assert_eq!(Profile::KUBO_CIDV1.to_string(), "cidv1-raw-262144-174");
        assert!("cidv2-raw-1-2".parse::<Profile>().is_err());
        assert!("cidv1-raw-0-174".parse::<Profile>().is_err());
        assert!(Profile::from_flags(Some(1), Some("unixfs-v1-2025")).is_err());
    }
}
