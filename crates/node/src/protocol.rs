//! The wire protocol between nodes: what a peer may ask, what it gets back, and what is gossiped.
//! Every message is RLP with a leading kind byte; decoding is strict (exact length, bounded
//! counts), so a peer's bytes either name a well-formed message or an error that says why not.

use alloy_rlp::{Decodable, Encodable};

/// Why a peer's bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Invalid(String),
}

impl From<alloy_rlp::Error> for WireError {
    fn from(e: alloy_rlp::Error) -> Self {
        WireError::Codec(e.into())
    }
}
use metamesh_primitives::{
    Hash, Header,
    rlp::{CodecError, decode_list, list},
};

/// Most headers one request may ask for (and one response may carry).
pub const MAX_HEADERS: u64 = 256;
/// Most bodies one request may ask for.
pub const MAX_BODIES: usize = 64;

/// A node's view of its chain, exchanged when peers meet and polled afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub genesis: Hash,
    pub head_number: u64,
    pub head_hash: Hash,
    pub total_difficulty: u128,
}

/// What one node asks another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// "Here is mine; what is yours?"
    Status(Status),
    /// Canonical headers `start, start + 1, …`, at most `count` (and at most [`MAX_HEADERS`]).
    Headers { start: u64, count: u64 },
    /// The bodies of these blocks, in order; unknown ones end the answer early.
    Bodies(Vec<Hash>),
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Status(Status),
    Headers(Vec<Header>),
    /// Body RLPs (as in [`Block::body_rlp`]), in the order asked.
    Bodies(Vec<Vec<u8>>),
}

/// What is broadcast to every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    Blocks,
    Transactions,
}

impl Topic {
    /// The gossip topic name; it carries the genesis hash so chains never mix.
    pub fn name(self, genesis: &Hash) -> String {
        let kind = match self {
            Topic::Blocks => "blocks",
            Topic::Transactions => "txs",
        };
        format!("/metamesh/{}/{kind}/1", hex::encode(&genesis[..8]))
    }
}

const STATUS: u8 = 1;
const HEADERS: u8 = 2;
const BODIES: u8 = 3;

impl Status {
    fn encode_fields(&self, out: &mut Vec<u8>) {
        self.genesis.as_slice().encode(out);
        self.head_number.encode(out);
        self.head_hash.as_slice().encode(out);
        self.total_difficulty.encode(out);
    }

    fn decode_fields(buf: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Status {
            genesis: hash32(buf)?,
            head_number: u64::decode(buf)?,
            head_hash: hash32(buf)?,
            total_difficulty: u128::decode(buf)?,
        })
    }
}

fn hash32(buf: &mut &[u8]) -> Result<Hash, WireError> {
    let raw = alloy_rlp::Header::decode_bytes(buf, false)?;
    raw.try_into()
        .map_err(|_| WireError::Invalid("a hash must be 32 bytes".into()))
}

/// Splits `[kind, …]`, checking nothing trails it.
fn open(raw: &[u8]) -> Result<(u8, &[u8]), WireError> {
    let mut buf = raw;
    let payload = decode_list(&mut buf)?;
    if !buf.is_empty() {
        return Err(WireError::Invalid("bytes after the message".into()));
    }
    let mut body = payload;
    let kind = u8::decode(&mut body)?;
    Ok((kind, body))
}

fn done(body: &[u8]) -> Result<(), WireError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(WireError::Invalid("extra fields in the message".into()))
    }
}

/// Decodes a list of byte strings, refusing more than `max`.
fn byte_strings(body: &mut &[u8], max: usize) -> Result<Vec<Vec<u8>>, WireError> {
    let mut items = decode_list(body)?;
    let mut out = Vec::new();
    while !items.is_empty() {
        if out.len() == max {
            return Err(WireError::Invalid(format!("more than {max} items")));
        }
        out.push(alloy_rlp::Header::decode_bytes(&mut items, false)?.to_vec());
    }
    Ok(out)
}

fn bytes_list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = Vec::new();
    for item in items {
        item.as_slice().encode(&mut payload);
    }
    list(&payload)
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        match self {
            Request::Status(status) => {
                STATUS.encode(&mut payload);
                status.encode_fields(&mut payload);
            }
            Request::Headers { start, count } => {
                HEADERS.encode(&mut payload);
                start.encode(&mut payload);
                count.encode(&mut payload);
            }
            Request::Bodies(hashes) => {
                BODIES.encode(&mut payload);
                let items: Vec<Vec<u8>> = hashes.iter().map(|h| h.to_vec()).collect();
                payload.extend(bytes_list(&items));
            }
        }
        list(&payload)
    }

    pub fn decode(raw: &[u8]) -> Result<Self, WireError> {
        let (kind, mut body) = open(raw)?;
        let request = match kind {
            STATUS => Request::Status(Status::decode_fields(&mut body)?),
            HEADERS => {
                let start = u64::decode(&mut body)?;
                let count = u64::decode(&mut body)?;
                if count > MAX_HEADERS {
                    return Err(WireError::Invalid(format!(
                        "{count} headers asked, at most {MAX_HEADERS} allowed"
                    )));
                }
                Request::Headers { start, count }
            }
            BODIES => Request::Bodies(
                byte_strings(&mut body, MAX_BODIES)?
                    .into_iter()
                    .map(|h| {
                        h.try_into()
                            .map_err(|_| WireError::Invalid("a hash must be 32 bytes".into()))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(WireError::Invalid(format!("unknown request kind {other}"))),
        };
        done(body)?;
        Ok(request)
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        match self {
            Response::Status(status) => {
                STATUS.encode(&mut payload);
                status.encode_fields(&mut payload);
            }
            Response::Headers(headers) => {
                HEADERS.encode(&mut payload);
                let items: Vec<Vec<u8>> = headers.iter().map(Header::to_rlp).collect();
                payload.extend(bytes_list(&items));
            }
            Response::Bodies(bodies) => {
                BODIES.encode(&mut payload);
                payload.extend(bytes_list(bodies));
            }
        }
        list(&payload)
    }

    pub fn decode(raw: &[u8]) -> Result<Self, WireError> {
        let (kind, mut body) = open(raw)?;
        let response = match kind {
            STATUS => Response::Status(Status::decode_fields(&mut body)?),
            HEADERS => Response::Headers(
                byte_strings(&mut body, MAX_HEADERS as usize)?
                    .iter()
                    .map(|h| Header::decode_exact(h))
                    .collect::<Result<_, _>>()?,
            ),
            BODIES => Response::Bodies(byte_strings(&mut body, MAX_BODIES)?),
            other => {
                return Err(WireError::Invalid(format!("unknown response kind {other}")));
            }
        };
        done(body)?;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            genesis: [1; 32],
            head_number: 42,
            head_hash: [2; 32],
            total_difficulty: 83,
        }
    }

    #[test]
    fn messages_round_trip() {
        let requests = [
            Request::Status(status()),
            Request::Headers {
                start: 7,
                count: 256,
            },
            Request::Bodies(vec![[3; 32], [4; 32]]),
        ];
        for r in requests {
            assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        }
        let header = Header {
            number: 9,
            extra: vec![0; 32 + 97],
            ..Header::default()
        };
        let responses = [
            Response::Status(status()),
            Response::Headers(vec![header.clone(), header]),
            Response::Bodies(vec![vec![0xc0], vec![0xc1, 0x80]]),
        ];
        for r in responses {
            assert_eq!(Response::decode(&r.encode()).unwrap(), r);
        }
    }

    #[test]
    fn bad_messages_are_named() {
        let too_many = Request::Headers {
            start: 0,
            count: 257,
        }
        .encode();
        assert!(
            Request::decode(&too_many)
                .unwrap_err()
                .to_string()
                .contains("257")
        );
        let mut trailing = Request::Status(status()).encode();
        trailing.push(0);
        assert!(Request::decode(&trailing).is_err());
        assert!(
            Request::decode(&[0xc2, 0x09, 0x80])
                .unwrap_err()
                .to_string()
                .contains("kind 9")
        );
        let hashes = Request::Bodies(vec![[0; 32]; 65]).encode();
        assert!(Request::decode(&hashes).is_err());
        assert!(Response::decode(&[]).is_err());
    }
}
