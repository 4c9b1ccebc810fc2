//! RLP (Ethereum's Recursive Length Prefix) through alloy-rlp, plus [`RlpItem`], a generic
//! tree for inspecting any RLP value and for tools that do not know the schema.
//!
//! Decoding is strict, as consensus code needs: non-canonical lengths, leading zeros in a length,
//! a single byte below 0x80 wrapped as a string, truncated payloads and trailing bytes are all
//! refused, each with its own error.

use alloy_rlp::{Decodable, Encodable, Header};

pub use alloy_rlp::{self, BufMut, Error as RlpError, RlpDecodable, RlpEncodable};

/// Writes `payload` (already RLP items, concatenated) as one RLP list.
pub fn encode_list(payload: &[u8], out: &mut dyn BufMut) {
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(out);
    out.put_slice(payload);
}

/// [`encode_list`] into a new vector.
pub fn list(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 9);
    encode_list(payload, &mut out);
    out
}

/// Splits the list at the front of `buf` off, returning its payload.
pub fn decode_list<'a>(buf: &mut &'a [u8]) -> alloy_rlp::Result<&'a [u8]> {
    let header = Header::decode(buf)?;
    if !header.list {
        return Err(RlpError::UnexpectedString);
    }
    if buf.len() < header.payload_length {
        return Err(RlpError::InputTooShort);
    }
    let (payload, rest) = buf.split_at(header.payload_length);
    *buf = rest;
    Ok(payload)
}

/// A byte string field.
pub fn decode_bytes(buf: &mut &[u8]) -> alloy_rlp::Result<Vec<u8>> {
    Ok(Header::decode_bytes(buf, false)?.to_vec())
}

/// A UTF-8 text field.
pub fn decode_text(buf: &mut &[u8]) -> alloy_rlp::Result<String> {
    String::from_utf8(decode_bytes(buf)?).map_err(|_| RlpError::Custom("text field is not UTF-8"))
}

/// Fails if a list's payload has fields left over.
pub fn finish_list(payload: &[u8]) -> alloy_rlp::Result<()> {
    if payload.is_empty() {
        Ok(())
    } else {
        Err(RlpError::Custom("unexpected extra fields"))
    }
}

/// Lists nested deeper than this are refused so that hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Any RLP value: a byte string or a list of values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RlpItem {
    Bytes(Vec<u8>),
    List(Vec<RlpItem>),
}

/// Why bytes are not a single canonical RLP value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("invalid RLP: {0}")]
    Rlp(RlpError),
    #[error("invalid RLP: {0} trailing bytes after the value")]
    TrailingBytes(usize),
    #[error("invalid RLP: lists nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

impl From<RlpError> for CodecError {
    fn from(e: RlpError) -> Self {
        CodecError::Rlp(e)
    }
}

impl RlpItem {
    fn payload_length(&self) -> usize {
        match self {
            RlpItem::Bytes(b) => b.as_slice().length(),
            RlpItem::List(items) => items.iter().map(Encodable::length).sum(),
        }
    }

    fn decode_at_depth(buf: &mut &[u8], depth: usize) -> Result<Self, CodecError> {
        if depth > MAX_DEPTH {
            return Err(CodecError::TooDeep);
        }
        let mut peek = *buf;
        let header = Header::decode(&mut peek)?;
        if !header.list {
            return Ok(RlpItem::Bytes(Header::decode_bytes(buf, false)?.to_vec()));
        }
        let mut payload = Header::decode_bytes(buf, true)?;
        let mut items = Vec::new();
        while !payload.is_empty() {
            items.push(Self::decode_at_depth(&mut payload, depth + 1)?);
        }
        Ok(RlpItem::List(items))
    }

    /// Decodes exactly one value spanning all of `bytes`.
    pub fn decode_exact(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut buf = bytes;
        let item = Self::decode_at_depth(&mut buf, 0)?;
        if !buf.is_empty() {
            return Err(CodecError::TrailingBytes(buf.len()));
        }
        Ok(item)
    }

    pub fn to_rlp(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }
}

impl Encodable for RlpItem {
    fn encode(&self, out: &mut dyn BufMut) {
        match self {
            RlpItem::Bytes(b) => b.as_slice().encode(out),
            RlpItem::List(items) => {
                Header {
                    list: true,
                    payload_length: self.payload_length(),
                }
                .encode(out);
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    fn length(&self) -> usize {
        match self {
            RlpItem::Bytes(b) => b.as_slice().length(),
            RlpItem::List(_) => {
                let payload_length = self.payload_length();
                alloy_rlp::length_of_length(payload_length) + payload_length
            }
        }
    }
}

impl Decodable for RlpItem {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Self::decode_at_depth(buf, 0).map_err(|e| match e {
            CodecError::Rlp(e) => e,
            CodecError::TooDeep => RlpError::Custom("lists nested too deeply"),
            CodecError::TrailingBytes(_) => RlpError::UnexpectedLength,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_nesting_is_refused_not_overflowed() {
        let mut nested = RlpItem::List(vec![]);
        for _ in 0..MAX_DEPTH {
            nested = RlpItem::List(vec![nested]);
        }
        assert!(RlpItem::decode_exact(&nested.to_rlp()).is_ok());
        let deeper = RlpItem::List(vec![nested]);
        assert_eq!(
            RlpItem::decode_exact(&deeper.to_rlp()),
            Err(CodecError::TooDeep)
        );
    }

    #[test]
    fn trailing_bytes_are_named() {
        assert_eq!(
            RlpItem::decode_exact(&[0x80, 0x00]),
            Err(CodecError::TrailingBytes(1))
        );
    }
}
