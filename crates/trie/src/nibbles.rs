//! Key paths as nibbles (one 4-bit value per byte) and Ethereum's hex-prefix encoding.

/// Splits bytes into nibbles, high nibble first.
pub fn from_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(b >> 4);
        out.push(b & 0x0f);
    }
    out
}

/// Joins an even number of nibbles back into bytes.
pub fn to_bytes(nibbles: &[u8]) -> Vec<u8> {
    debug_assert!(nibbles.len().is_multiple_of(2), "keys are whole bytes");
    nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// Length of the common prefix of two nibble paths.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Hex-prefix encoding (Yellow Paper appendix C): a flag nibble (2 for a leaf, +1 for an odd
/// length), a padding nibble when even, then the path.
pub fn hex_prefix(path: &[u8], leaf: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() / 2 + 1);
    push_hex_prefix(path, leaf, &mut out);
    out
}

fn push_hex_prefix(path: &[u8], leaf: bool, out: &mut Vec<u8>) {
    let flag = if leaf { 2u8 } else { 0 };
    let rest = if path.len() % 2 == 1 {
        out.push(((flag + 1) << 4) | path[0]);
        &path[1..]
    } else {
        out.push(flag << 4);
        path
    };
    out.extend(rest.chunks(2).map(|p| (p[0] << 4) | p[1]));
}

/// Length of the RLP string holding `hex_prefix(path, _)`.
pub fn hex_prefix_rlp_len(path: &[u8]) -> usize {
    let len = path.len() / 2 + 1;
    // One byte (paths of 0 or 1 nibble) is below 0x80 and encodes as itself.
    if len == 1 {
        1
    } else {
        alloy_rlp::length_of_length(len) + len
    }
}

/// Appends the RLP string of `hex_prefix(path, leaf)` to `out` without an intermediate buffer:
/// commits encode a million of these.
pub fn hex_prefix_rlp_into(path: &[u8], leaf: bool, out: &mut Vec<u8>) {
    let len = path.len() / 2 + 1;
    if len > 1 {
        alloy_rlp::Header {
            list: false,
            payload_length: len,
        }
        .encode(out);
    }
    push_hex_prefix(path, leaf, out);
}

/// Inverse of [`hex_prefix`]: `(path, is_leaf)`, or `None` for a bad flag nibble.
pub fn decode_hex_prefix(encoded: &[u8]) -> Option<(Vec<u8>, bool)> {
    let first = *encoded.first()?;
    let flag = first >> 4;
    if flag > 3 {
        return None;
    }
    let mut path = Vec::with_capacity(encoded.len() * 2);
    if flag & 1 == 1 {
        path.push(first & 0x0f);
    } else if first & 0x0f != 0 {
        return None;
    }
    path.extend(from_bytes(&encoded[1..]));
    Some((path, flag & 2 == 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_prefix_matches_the_yellow_paper_examples() {
        assert_eq!(hex_prefix(&[1, 2, 3, 4, 5], false), [0x11, 0x23, 0x45]);
        assert_eq!(
            hex_prefix(&[0, 1, 2, 3, 4, 5], false),
            [0x00, 0x01, 0x23, 0x45]
        );
        assert_eq!(hex_prefix(&[0xf, 1, 0xc, 0xb, 8], true), [0x3f, 0x1c, 0xb8]);
        assert_eq!(
            hex_prefix(&[0, 0xf, 1, 0xc, 0xb, 8], true),
            [0x20, 0x0f, 0x1c, 0xb8]
        );
        for (path, leaf) in [(vec![1, 2, 3], true), (vec![], false), (vec![7], false)] {
            assert_eq!(
                decode_hex_prefix(&hex_prefix(&path, leaf)),
                Some((path, leaf))
            );
        }
        assert_eq!(decode_hex_prefix(&[0x41]), None);
        for len in 0..70 {
            let path: Vec<u8> = (0..len).map(|i| (i % 16) as u8).collect();
            for leaf in [true, false] {
                let mut direct = Vec::new();
                hex_prefix_rlp_into(&path, leaf, &mut direct);
                let via_alloy = alloy_rlp::encode(hex_prefix(&path, leaf).as_slice());
                assert_eq!(direct, via_alloy, "{len} nibbles");
                assert_eq!(hex_prefix_rlp_len(&path), direct.len());
            }
        }
        assert_eq!(decode_hex_prefix(&[0x05]), None);
    }
}
