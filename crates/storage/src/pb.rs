//! dag-pb (`PBNode`/`PBLink`) and the UnixFS `Data` message, through prost.
//!
//! dag-pb's canonical form writes `Links` (field 2) before `Data` (field 1), against protobuf's
//! usual field order, so `PbNode` implements `prost::Message` by hand with prost's own field
//! encoders; `UnixFsData` is a plain derived proto2 message (its `blocksizes` are not packed).

use prost::{
    Message,
    bytes::{Buf, BufMut},
    encoding::{self, DecodeContext, WireType},
};

/// A link of a dag-pb node: the child's CID bytes, a name (empty for file chunks) and the
/// cumulative size of everything under it.
#[derive(Clone, PartialEq, Message)]
pub struct PbLink {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub hash: Option<Vec<u8>>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    #[prost(uint64, optional, tag = "3")]
    pub tsize: Option<u64>,
}

/// A dag-pb node.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct PbNode {
    pub links: Vec<PbLink>,
    pub data: Option<Vec<u8>>,
}

impl Message for PbNode {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for link in &self.links {
            encoding::message::encode(2, link, buf);
        }
        if let Some(data) = &self.data {
            encoding::bytes::encode(1, data, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            1 => {
                let data = self.data.get_or_insert_with(Vec::new);
                encoding::bytes::merge(wire_type, data, buf, ctx)
            }
            2 => encoding::message::merge_repeated(wire_type, &mut self.links, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        encoding::message::encoded_len_repeated(2, &self.links)
            + self
                .data
                .as_ref()
                .map_or(0, |d| encoding::bytes::encoded_len(1, d))
    }

    fn clear(&mut self) {
        self.links.clear();
        self.data = None;
    }
}

/// A dag-pb node's links, skipping its data without copying it (the store's walks read every
/// leaf; a leaf's data is most of its bytes).
pub fn links_only(mut buf: &[u8]) -> Result<Vec<PbLink>, String> {
    let mut links = Vec::new();
    while buf.has_remaining() {
        let (tag, wire_type) = encoding::decode_key(&mut buf).map_err(|e| e.to_string())?;
        if tag == 2 && wire_type == WireType::LengthDelimited {
            let len = encoding::decode_varint(&mut buf).map_err(|e| e.to_string())? as usize;
            if len > buf.len() {
                return Err("a link runs past the end of the node".into());
            }
            links.push(PbLink::decode(&buf[..len]).map_err(|e| e.to_string())?);
            buf.advance(len);
        } else {
            encoding::skip_field(wire_type, tag, &mut buf, DecodeContext::default())
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(links)
}

/// UnixFS node types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    Raw = 0,
    Directory = 1,
    File = 2,
    Metadata = 3,
    Symlink = 4,
    HamtShard = 5,
}

/// The UnixFS `Data` message carried in a dag-pb node's data field.
#[derive(Clone, PartialEq, Message)]
pub struct UnixFsData {
    #[prost(enumeration = "DataType", required, tag = "1")]
    pub r#type: i32,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub data: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "3")]
    pub filesize: Option<u64>,
    #[prost(uint64, repeated, packed = "false", tag = "4")]
    pub blocksizes: Vec<u64>,
    #[prost(uint64, optional, tag = "5")]
    pub hash_type: Option<u64>,
    #[prost(uint64, optional, tag = "6")]
    pub fanout: Option<u64>,
}

impl UnixFsData {
    pub fn kind(&self) -> Option<DataType> {
        DataType::try_from(self.r#type).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_written_before_data() {
        let node = PbNode {
            links: vec![PbLink {
                hash: Some(vec![1, 2]),
                name: Some(String::new()),
                tsize: Some(3),
            }],
            data: Some(vec![8, 2]),
        };
        let bytes = node.encode_to_vec();
        assert_eq!(hex::encode(&bytes), "12080a020102120018030a020802");
        assert_eq!(PbNode::decode(bytes.as_slice()).unwrap(), node);
        assert_eq!(links_only(&bytes).unwrap(), node.links);
        assert!(links_only(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn leaf_data_matches_kubo() {
        // `hello world\n` as Kubo's default leaf (vectors/unixfs_cids.json block_bytes).
        let data = UnixFsData {
            r#type: DataType::File as i32,
            data: Some(b"hello world\n".to_vec()),
            filesize: Some(12),
            blocksizes: vec![],
            hash_type: None,
            fanout: None,
        };
        let node = PbNode {
            links: vec![],
            data: Some(data.encode_to_vec()),
        };
        assert_eq!(
            hex::encode(node.encode_to_vec()),
            "0a120802120c68656c6c6f20776f726c640a180c"
        );
    }
}
