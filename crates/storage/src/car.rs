//! CAR v1 (content-addressed archives), as `ipfs dag export` writes and `ipfs dag import` reads.
//!
//! ```text
//! varint(len) ‖ dag-cbor {"roots": [CID…], "version": 1}     then, per block:
//! varint(len(cid) + len(data)) ‖ cid ‖ data
//! ```
//! The header has one fixed shape, so it is written and read here with a small strict CBOR
//! subset (maps, text keys, arrays, tag 42, byte strings, small integers) rather than a general
//! dag-cbor codec. Every block read is checked against its CID.

use std::io::{Read, Write};

use cid::Cid;

use crate::{Block, StorageError, importer::BlockSink};

/// Sections above this size are refused: no block we accept is larger.
pub const MAX_SECTION: u64 = 4 << 20;
const MAX_HEADER: u64 = 64 << 10;

fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

/// The header block: `{"roots": [...], "version": 1}` in canonical dag-cbor.
pub fn header(roots: &[Cid]) -> Vec<u8> {
    let mut h = Vec::new();
    cbor_head(5, 2, &mut h);
    cbor_head(3, 5, &mut h);
    h.extend(b"roots");
    cbor_head(4, roots.len() as u64, &mut h);
    for root in roots {
        h.extend([0xd8, 0x2a]);
        let bytes = root.to_bytes();
        cbor_head(2, bytes.len() as u64 + 1, &mut h);
        h.push(0);
        h.extend(bytes);
    }
    cbor_head(3, 7, &mut h);
    h.extend(b"version");
    cbor_head(0, 1, &mut h);
    h
}

/// Writes a CAR v1 stream.
pub struct CarWriter<W: Write> {
    out: W,
}

impl<W: Write> CarWriter<W> {
    pub fn new(mut out: W, roots: &[Cid]) -> Result<Self, StorageError> {
        let h = header(roots);
        write_varint(&mut out, h.len() as u64)?;
        out.write_all(&h).map_err(StorageError::io)?;
        Ok(CarWriter { out })
    }

    pub fn write(&mut self, cid: &Cid, data: &[u8]) -> Result<(), StorageError> {
        let cid_bytes = cid.to_bytes();
        write_varint(&mut self.out, (cid_bytes.len() + data.len()) as u64)?;
        self.out.write_all(&cid_bytes).map_err(StorageError::io)?;
        self.out.write_all(data).map_err(StorageError::io)
    }

    pub fn finish(mut self) -> Result<W, StorageError> {
        self.out.flush().map_err(StorageError::io)?;
        Ok(self.out)
    }
}

impl<W: Write> BlockSink for CarWriter<W> {
    fn put(&mut self, block: Block) -> Result<(), StorageError> {
        self.write(&block.cid, &block.data)
    }
}

fn write_varint(out: &mut impl Write, n: u64) -> Result<(), StorageError> {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.write_all(unsigned_varint::encode::u64(n, &mut buf))
        .map_err(StorageError::io)
}

/// Reads a CAR v1 stream: the roots, then checked blocks.
pub struct CarReader<R: Read> {
    input: R,
    roots: Vec<Cid>,
    offset: u64,
}

fn bad(offset: u64, reason: impl Into<String>) -> StorageError {
    StorageError::Car {
        offset,
        reason: reason.into(),
    }
}

impl<R: Read> CarReader<R> {
    pub fn new(mut input: R) -> Result<Self, StorageError> {
        let len = read_varint(&mut input, 0)?.ok_or_else(|| bad(0, "empty file: no CAR header"))?;
        if len == 0 || len > MAX_HEADER {
            return Err(bad(0, format!("header of {len} bytes")));
        }
        let mut h = vec![0; len as usize];
        input
            .read_exact(&mut h)
            .map_err(|_| bad(0, "truncated header"))?;
        let roots = parse_header(&h)?;
        let offset = unsigned_varint::encode::u64(len, &mut unsigned_varint::encode::u64_buffer())
            .len() as u64
            + len;
        Ok(CarReader {
            input,
            roots,
            offset,
        })
    }

    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The next block, checked against its CID; `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<Block>, StorageError> {
        let at = self.offset;
        let Some(len) = read_varint(&mut self.input, at)? else {
            return Ok(None);
        };
        if len == 0 || len > MAX_SECTION {
            return Err(bad(at, format!("a section of {len} bytes")));
        }
        // The CID straight from the stream, then the data into a buffer of its own: no zeroing,
        // no second copy (a GiB of blocks passes through here on every add).
        let mut section = (&mut self.input).take(len);
        let cid =
            Cid::read_bytes(&mut section).map_err(|e| bad(at, format!("unreadable CID: {e}")))?;
        let data_len = len as usize - cid.encoded_len().min(len as usize);
        let mut data = Vec::with_capacity(data_len);
        section
            .read_to_end(&mut data)
            .map_err(|e| StorageError::Io(e.to_string()))?;
        if data.len() != data_len || cid.encoded_len() as u64 > len {
            return Err(bad(at, format!("truncated section (wanted {len} bytes)")));
        }
        self.offset += unsigned_varint::encode::u64(len, &mut unsigned_varint::encode::u64_buffer())
            .len() as u64
            + len;
        Block::checked(cid, data)
            .map(Some)
            .map_err(|e| bad(at, e.to_string()))
    }
}

impl<R: Read> Iterator for CarReader<R> {
    type Item = Result<Block, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

/// A varint, or `None` at a clean end of input.
fn read_varint(input: &mut impl Read, offset: u64) -> Result<Option<u64>, StorageError> {
    let mut value = 0u64;
    for i in 0..10 {
        let mut byte = [0u8];
        match input.read(&mut byte) {
            Ok(0) if i == 0 => return Ok(None),
            Ok(0) => return Err(bad(offset, "truncated length")),
            Ok(_) => {}
            Err(e) => return Err(StorageError::Io(e.to_string())),
        }
        value |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            if i > 0 && byte[0] == 0 {
                return Err(bad(offset, "length varint is not minimal"));
            }
            return Ok(Some(value));
        }
    }
    Err(bad(offset, "length varint longer than 9 bytes"))
}

struct Cbor<'a> {
    buf: &'a [u8],
}

impl Cbor<'_> {
    fn head(&mut self) -> Result<(u8, u64), StorageError> {
        let (&first, rest) = self
            .buf
            .split_first()
            .ok_or_else(|| bad(0, "header ends early"))?;
        self.buf = rest;
        let (major, info) = (first >> 5, first & 0x1f);
        let n = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let len = 1usize << (info - 24);
                if self.buf.len() < len {
                    return Err(bad(0, "header ends early"));
                }
                let (bytes, rest) = self.buf.split_at(len);
                self.buf = rest;
                bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            }
            _ => return Err(bad(0, "indefinite lengths are not dag-cbor")),
        };
        Ok((major, n))
    }

    fn take(&mut self, n: u64) -> Result<&[u8], StorageError> {
        if (self.buf.len() as u64) < n {
            return Err(bad(0, "header ends early"));
        }
        let (bytes, rest) = self.buf.split_at(n as usize);
        self.buf = rest;
        Ok(bytes)
    }

    fn text(&mut self) -> Result<String, StorageError> {
        match self.head()? {
            (3, n) => String::from_utf8(self.take(n)?.to_vec())
                .map_err(|_| bad(0, "header key is not UTF-8")),
            _ => Err(bad(0, "header keys must be text")),
        }
    }

    fn cid(&mut self) -> Result<Cid, StorageError> {
        if self.head()? != (6, 42) {
            return Err(bad(0, "a root is not a CID (tag 42)"));
        }
        let (2, n) = self.head()? else {
            return Err(bad(0, "a root CID is not a byte string"));
        };
        match self.take(n)? {
            [0, cid @ ..] => {
                Cid::try_from(cid).map_err(|e| bad(0, format!("unreadable root CID: {e}")))
            }
            _ => Err(bad(0, "a root CID lacks the 0x00 multibase prefix")),
        }
    }
}

fn parse_header(h: &[u8]) -> Result<Vec<Cid>, StorageError> {
    let mut c = Cbor { buf: h };
    let (5, entries) = c.head()? else {
        return Err(bad(0, "header is not a map"));
    };
    let (mut roots, mut version) = (None, None);
    for _ in 0..entries {
        match c.text()?.as_str() {
            "roots" => {
                let (4, n) = c.head()? else {
                    return Err(bad(0, "roots is not an array"));
                };
                roots = Some((0..n).map(|_| c.cid()).collect::<Result<Vec<_>, _>>()?);
            }
            "version" => version = Some(c.head()?),
            other => return Err(bad(0, format!("unknown header key {other:?}"))),
        }
    }
    if version != Some((0, 1)) {
        return Err(bad(0, format!("not CAR version 1 ({version:?})")));
    }
    if !c.buf.is_empty() {
        return Err(bad(0, "trailing bytes in the header"));
    }
    roots.ok_or_else(|| bad(0, "header has no roots"))
}
