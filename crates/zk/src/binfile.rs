//! iden3's binary container, shared by circom's `.r1cs` and `.wtns` and snarkjs's `.zkey` and
//! `.ptau`: a 4-byte magic, a u32 version, a u32 section count, then sections of
//! (type u32, size u64, payload), in any order, all little-endian.

use crate::Error;

/// A parsed container: its version and where each section's payload lies.
pub struct BinFile<'a> {
    pub version: u32,
    file: &'static str,
    sections: Vec<(u32, &'a [u8])>,
}

impl<'a> BinFile<'a> {
    /// Parses the section table, refusing a wrong magic, a version above `max_version` and any
    /// section that claims bytes past the end.
    pub fn parse(
        bytes: &'a [u8],
        magic: &[u8; 4],
        max_version: u32,
        file: &'static str,
    ) -> Result<BinFile<'a>, Error> {
        let mut r = Reader::new(bytes, file);
        if r.bytes(4)? != magic {
            return Err(Error::malformed(format!(
                "{file}: not a {} file (magic {:?} expected)",
                String::from_utf8_lossy(magic),
                String::from_utf8_lossy(magic)
            )));
        }
        let version = r.u32()?;
        if version == 0 || version > max_version {
            return Err(Error::malformed(format!(
                "{file}: version {version} is not supported (1 to {max_version})"
            )));
        }
        let count = r.u32()?;
        let mut sections = Vec::new();
        for _ in 0..count {
            let ty = r.u32()?;
            let size = r.u64()?;
            let size = usize::try_from(size)
                .ok()
                .filter(|s| *s <= r.remaining())
                .ok_or_else(|| {
                    Error::malformed(format!(
                        "{file}: section {ty} claims {size} bytes but only {} remain",
                        r.remaining()
                    ))
                })?;
            sections.push((ty, r.bytes(size)?));
        }
        Ok(BinFile {
            version,
            file,
            sections,
        })
    }

    /// The payload of the one section of type `ty`: refused when missing or repeated.
    pub fn unique(&self, ty: u32) -> Result<Reader<'a>, Error> {
        let mut found = self.sections.iter().filter(|(t, _)| *t == ty);
        let (_, payload) = found
            .next()
            .ok_or_else(|| Error::malformed(format!("{}: section {ty} is missing", self.file)))?;
        if found.next().is_some() {
            return Err(Error::malformed(format!(
                "{}: section {ty} appears more than once",
                self.file
            )));
        }
        Ok(Reader::new(payload, self.file))
    }

    pub fn has(&self, ty: u32) -> bool {
        self.sections.iter().any(|(t, _)| *t == ty)
    }
}

/// A cursor over a section's bytes whose every read is bounds-checked.
pub struct Reader<'a> {
    buf: &'a [u8],
    file: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], file: &'static str) -> Reader<'a> {
        Reader { buf, file }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.buf.len() {
            return Err(Error::malformed(format!(
                "{}: truncated (wanted {n} bytes, {} remain)",
                self.file,
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// `size` bytes at `offset` of what remains, without moving.
    pub fn slice(&self, offset: usize, size: usize, what: &str) -> Result<&'a [u8], Error> {
        offset
            .checked_add(size)
            .filter(|end| *end <= self.buf.len())
            .map(|end| &self.buf[offset..end])
            .ok_or_else(|| {
                Error::malformed(format!(
                    "{}: {what} at byte {offset} is past the section's end ({} bytes)",
                    self.file,
                    self.buf.len()
                ))
            })
    }

    /// `count` items of `size` bytes each, refused before allocating when the section is
    /// shorter than that.
    pub fn items(&mut self, count: usize, size: usize, what: &str) -> Result<&'a [u8], Error> {
        let total = count
            .checked_mul(size)
            .filter(|t| *t <= self.buf.len())
            .ok_or_else(|| {
                Error::malformed(format!(
                    "{}: {count} {what} of {size} bytes do not fit in the {} bytes left",
                    self.file,
                    self.buf.len()
                ))
            })?;
        self.bytes(total)
    }

    /// The section must have been read to its end.
    pub fn done(&self, section: &str) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::malformed(format!(
                "{}: {} unexpected bytes at the end of the {section} section",
                self.file,
                self.buf.len()
            )))
        }
    }
}
