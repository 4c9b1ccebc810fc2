//! The hash a trie is built with: a type parameter, so one implementation serves both suites.

/// A 32-byte node hash.
pub type H256 = [u8; 32];

/// The hash function of a trie. Stateless, so tries can be generic without carrying a value.
pub trait TrieHasher: 'static {
    /// Name for messages and tools (`keccak`, `sm3`).
    const NAME: &'static str;

    fn hash(data: &[u8]) -> H256;

    /// Root of the empty trie: the hash of RLP("") = `0x80`.
    fn empty_root() -> H256 {
        Self::hash(&[alloy_rlp::EMPTY_STRING_CODE])
    }
}

/// Keccak-256, as Ethereum's tries (and the `eth` suite) use.
#[derive(Clone, Copy, Debug, Default)]
pub struct Keccak256;

impl TrieHasher for Keccak256 {
    const NAME: &'static str = "keccak";

    fn hash(data: &[u8]) -> H256 {
        use sha3::Digest as _;
        sha3::Keccak256::digest(data).into()
    }
}

/// SM3, as the `sm` suite's tries use.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sm3;

impl TrieHasher for Sm3 {
    const NAME: &'static str = "sm3";

    fn hash(data: &[u8]) -> H256 {
        use sm3::Digest as _;
        sm3::Sm3::digest(data).into()
    }
}
