//! Named errors of the Clique rules. Messages follow geth's, so logs and tools read the same.

/// Why a header is not acceptable (or a chain of headers cannot be applied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliqueError {
    #[error("unknown block")]
    UnknownBlock,
    #[error("unknown ancestor")]
    UnknownAncestor,
    #[error("block in the future")]
    FutureBlock,
    #[error("beneficiary in checkpoint block non-zero")]
    InvalidCheckpointBeneficiary,
    #[error("vote nonce not 0x00..0 or 0xff..f")]
    InvalidVote,
    #[error("vote nonce in checkpoint block non-zero")]
    InvalidCheckpointVote,
    #[error("extra-data 32 byte vanity prefix missing")]
    MissingVanity,
    #[error("extra-data {0} byte signature suffix missing")]
    MissingSignature(usize),
    #[error("non-checkpoint block contains extra signer list")]
    ExtraSigners,
    #[error("invalid signer list on checkpoint block")]
    InvalidCheckpointSigners,
    #[error("mismatching signer list on checkpoint block")]
    MismatchingCheckpointSigners,
    #[error("invalid difficulty")]
    InvalidDifficulty,
    #[error("wrong difficulty")]
    WrongDifficulty,
    #[error("invalid timestamp")]
    InvalidTimestamp,
    #[error("invalid voting chain")]
    InvalidVotingChain,
    #[error("unauthorized signer")]
    UnauthorizedSigner,
    #[error("recently signed")]
    RecentlySigned,
    #[error("invalid seal: {0}")]
    InvalidSeal(String),
    #[error("a Clique chain needs at least one signer")]
    EmptySignerSet,
    #[error("epoch must be at least 1")]
    ZeroEpoch,
    #[error("stored snapshot is unreadable: {0}")]
    CorruptSnapshot(String),
}
