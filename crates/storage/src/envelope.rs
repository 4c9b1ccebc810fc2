//! Encryption at rest: chunked AEAD laid out so that every leaf block holds one segment.
//!
//! ```text
//! header (16) = "MMEC" ‖ version 1 ‖ algorithm (1 sm4-gcm, 2 aes-256-gcm) ‖ 0 0 ‖ segment u32 ‖ 0 u32
//! leaf 0      = header ‖ seal(segment 0)      plaintext: segment − 16 − 16 bytes
//! leaf i > 0  = seal(segment i)               plaintext: segment − 16 bytes
//! nonce_i     = i as u64 (big endian) ‖ 0 0 0 ‖ last (1 on the final segment, else 0)
//! aad         = header
//! ```
//! With the importer's chunk size equal to the segment size, leaf *i* is exactly segment *i*:
//! any leaf decrypts alone, so a storage challenge on a leaf is a challenge on real data. The
//! last-segment flag in the nonce makes a truncated file fail rather than end early. The data
//! key is random per file, so (key, nonce) never repeats.

use std::io::Write;

use metamesh_crypto::AeadAlgorithm;
use zeroize::Zeroizing;

use crate::StorageError;

pub const HEADER_LEN: usize = 16;
const MAGIC: &[u8; 4] = b"MMEC";
const VERSION: u8 = 1;
const TAG: usize = AeadAlgorithm::TAG_LEN;

/// What the header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub algorithm: AeadAlgorithm,
    /// Ciphertext bytes per segment (= per leaf).
    pub segment: u32,
}

impl Header {
    pub fn new(algorithm: AeadAlgorithm, segment: usize) -> Result<Header, StorageError> {
        if segment <= HEADER_LEN + 2 * TAG || segment > crate::Profile::MAX_CHUNK {
            return Err(StorageError::Envelope(format!(
                "a segment of {segment} bytes cannot hold the header and a tag"
            )));
        }
        Ok(Header {
            algorithm,
            segment: segment as u32,
        })
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(MAGIC);
        h[4] = VERSION;
        h[5] = match self.algorithm {
            AeadAlgorithm::Sm4Gcm => 1,
            AeadAlgorithm::Aes256Gcm => 2,
        };
        h[8..12].copy_from_slice(&self.segment.to_be_bytes());
        h
    }

    pub fn decode(bytes: &[u8]) -> Result<Header, StorageError> {
        let bad = |why: &str| Err(StorageError::Envelope(format!("not encrypted data: {why}")));
        if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
            return bad("no MMEC header");
        }
        if bytes[4] != VERSION {
            return bad(&format!("envelope version {} is unknown", bytes[4]));
        }
        let algorithm = match bytes[5] {
            1 => AeadAlgorithm::Sm4Gcm,
            2 => AeadAlgorithm::Aes256Gcm,
            other => return bad(&format!("algorithm {other} is unknown")),
        };
        if bytes[6..8] != [0, 0] || bytes[12..16] != [0; 4] {
            // Reserved bytes are not in the AAD as sent: refuse any that are not zero, so one
            // ciphertext has exactly one header.
            return bad("reserved header bytes are not zero");
        }
        let segment = u32::from_be_bytes(bytes[8..12].try_into().expect("4"));
        Header::new(algorithm, segment as usize)
    }

    /// Plaintext bytes carried by segment `index` when it is full.
    pub fn plain_len(&self, index: u64) -> usize {
        let full = self.segment as usize - TAG;
        if index == 0 { full - HEADER_LEN } else { full }
    }

    /// Ciphertext size of a plaintext of `len` bytes.
    pub fn sealed_len(&self, len: u64) -> u64 {
        let first = self.plain_len(0) as u64;
        let rest = self.plain_len(1) as u64;
        let segments = if len <= first {
            1
        } else {
            1 + (len - first).div_ceil(rest)
        };
        HEADER_LEN as u64 + len + segments * TAG as u64
    }
}

fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// A fresh random data key for `algorithm`.
pub fn data_key(algorithm: AeadAlgorithm) -> Result<Zeroizing<Vec<u8>>, StorageError> {
    let mut key = Zeroizing::new(vec![0u8; algorithm.key_len()]);
    getrandom::fill(&mut key).map_err(|e| StorageError::Envelope(format!("randomness: {e}")))?;
    Ok(key)
}

/// Streams plaintext in, ciphertext out (to the importer).
pub struct Encryptor<W: Write> {
    header: Header,
    key: Zeroizing<Vec<u8>>,
    pending: Vec<u8>,
    index: u64,
    out: W,
}

impl<W: Write> Encryptor<W> {
    pub fn new(header: Header, key: &[u8], mut out: W) -> Result<Self, StorageError> {
        if key.len() != header.algorithm.key_len() {
            return Err(StorageError::Envelope(
                "data key of the wrong length".into(),
            ));
        }
        out.write_all(&header.encode()).map_err(StorageError::io)?;
        Ok(Encryptor {
            header,
            key: Zeroizing::new(key.to_vec()),
            pending: Vec::new(),
            index: 0,
            out,
        })
    }

    fn seal(&mut self, len: usize, last: bool) -> Result<(), StorageError> {
        let sealed = self.header.algorithm.seal(
            &self.key,
            &nonce(self.index, last),
            &self.header.encode(),
            &self.pending[..len],
        )?;
        self.out.write_all(&sealed).map_err(StorageError::io)?;
        self.pending.drain(..len);
        self.index += 1;
        Ok(())
    }

    /// Ends the stream; the last segment (possibly empty) carries the final flag.
    pub fn finish(mut self) -> Result<W, StorageError> {
        self.seal_ready()?;
        let len = self.pending.len();
        self.seal(len, true)?;
        self.out.flush().map_err(StorageError::io)?;
        Ok(self.out)
    }
}

impl<W: Write> Encryptor<W> {
    /// Seals every full segment that has a byte after it (so is not the last), segments in
    /// parallel on all cores (each has its own nonce), written in order.
    fn seal_ready(&mut self) -> Result<(), StorageError> {
        if self.pending.len() <= self.header.plain_len(self.index) {
            return Ok(());
        }
        // Segment 0 is shorter; seal it alone so the rest are all the same length.
        if self.index == 0 {
            let len = self.header.plain_len(0);
            return self.seal(len, false).and_then(|()| self.seal_ready());
        }
        let len = self.header.plain_len(1);
        let count = (self.pending.len() - 1) / len;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(count);
        let (key, aad, alg, first) = (
            &self.key,
            self.header.encode(),
            self.header.algorithm,
            self.index,
        );
        let pieces: Vec<&[u8]> = self.pending[..count * len].chunks(len).collect();
        let per = count.div_ceil(threads.max(1));
        let sealed: Vec<Result<Vec<u8>, metamesh_crypto::CryptoError>> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = pieces
                    .chunks(per)
                    .enumerate()
                    .map(|(g, group)| {
                        let aad = &aad;
                        scope.spawn(move || {
                            group
                                .iter()
                                .enumerate()
                                .map(|(i, p)| {
                                    let index = first + (g * per + i) as u64;
                                    alg.seal(key, &nonce(index, false), aad, p)
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("sealing does not panic"))
                    .collect()
            });
        for s in sealed {
            self.out.write_all(&s?).map_err(StorageError::io)?;
        }
        self.pending.drain(..count * len);
        self.index += count as u64;
        Ok(())
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        // A segment is sealed only once a byte beyond it exists: only then is it not the last.
        // Sealing waits for a few segments so they can be sealed side by side.
        let batch = self.header.plain_len(1) * 8;
        if self.index == 0 || self.pending.len() > batch {
            self.seal_ready().map_err(std::io::Error::other)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streams ciphertext in, plaintext out. Nothing is written before its segment authenticates.
pub struct Decryptor<W: Write> {
    header: Option<Header>,
    key: Zeroizing<Vec<u8>>,
    pending: Vec<u8>,
    index: u64,
    out: W,
}

impl<W: Write> Decryptor<W> {
    pub fn new(key: &[u8], out: W) -> Self {
        Decryptor {
            header: None,
            key: Zeroizing::new(key.to_vec()),
            pending: Vec::new(),
            index: 0,
            out,
        }
    }

    fn open(&mut self, len: usize, last: bool) -> Result<(), StorageError> {
        let header = self.header.expect("read first");
        let plain = open_segment(&header, &self.key, self.index, &self.pending[..len], last)?;
        self.out.write_all(&plain).map_err(StorageError::io)?;
        self.pending.drain(..len);
        self.index += 1;
        Ok(())
    }

    fn segment_len(&self) -> usize {
        self.header
            .map_or(usize::MAX, |h| h.plain_len(self.index) + TAG)
    }

    fn push(&mut self, buf: &[u8]) -> Result<(), StorageError> {
        self.pending.extend_from_slice(buf);
        if self.header.is_none() && self.pending.len() >= HEADER_LEN {
            let header = Header::decode(&self.pending)?;
            if header.algorithm.key_len() != self.key.len() {
                return Err(StorageError::Envelope(format!(
                    "the data is {} but the key is {} bytes",
                    header.algorithm.name(),
                    self.key.len()
                )));
            }
            self.header = Some(header);
            self.pending.drain(..HEADER_LEN);
        }
        while self.header.is_some() && self.pending.len() > self.segment_len() {
            self.open(self.segment_len(), false)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, StorageError> {
        if self.header.is_none() {
            return Err(StorageError::Envelope(
                "not encrypted data: too short".into(),
            ));
        }
        let len = self.pending.len();
        self.open(len, true)?;
        self.out.flush().map_err(StorageError::io)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Decryptor<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decrypts one segment on its own (`sealed` without the header for segment 0).
pub fn open_segment(
    header: &Header,
    key: &[u8],
    index: u64,
    sealed: &[u8],
    last: bool,
) -> Result<Vec<u8>, StorageError> {
    if sealed.len() < TAG {
        return Err(StorageError::Envelope(format!(
            "segment {index} is truncated"
        )));
    }
    header
        .algorithm
        .open(key, &nonce(index, last), &header.encode(), sealed)
        .map_err(|_| {
            StorageError::Envelope(format!(
                "segment {index} does not authenticate: wrong key, or the data was altered or truncated"
            ))
        })
}

/// Recovers the `StorageError` an encryptor or decryptor raised through `io::Write`.
pub fn from_io(e: std::io::Error) -> StorageError {
    match e.downcast::<StorageError>() {
        Ok(inner) => inner,
        Err(e) => StorageError::Io(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_refuse_garbage() {
        let h = Header::new(AeadAlgorithm::Sm4Gcm, 262_144).unwrap();
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
        let mut reserved = h.encode();
        reserved[13] = 1;
        assert!(Header::decode(&reserved).is_err());
        let mut version = h.encode();
        version[4] = 2;
        assert!(Header::decode(&version).is_err());
        assert!(Header::decode(b"MMEC").is_err());
        assert!(Header::new(AeadAlgorithm::Aes256Gcm, 48).is_err());
        assert_eq!(h.sealed_len(0), 32);
        assert_eq!(h.plain_len(0), 262_144 - 32);
    }
}
