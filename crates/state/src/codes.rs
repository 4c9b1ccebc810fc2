//! Rejection codes: why a transaction is invalid (it cannot enter a block) or failed (it is in
//! a block, paid for its gas, and changed nothing else). Receipts carry the number and a few
//! integer arguments, never prose; RPC and CLI render the words from the code, so rewording a
//! message is not a fork. Numbers are stable: a new code takes a new number.
//!
//! Ranges: 1xx validity (the transaction cannot be included), 2xx execution in any domain,
//! 3xx parameters, 4xx data, 5xx storage market, 6xx computing, 7xx zk, 8xx knowledge; later
//! domains take the next hundreds.

use metamesh_primitives::Amount;

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $num:literal, $slug:literal, $text:literal;)*) => {
        /// A stable rejection code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Code {
            $($(#[$doc])* $name = $num,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            pub fn from_u16(n: u16) -> Option<Code> {
                match n {
                    $($num => Some(Code::$name),)*
                    _ => None,
                }
            }

            /// A short stable name (`stale-nonce`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Code::$name => $slug,)*
                }
            }

            /// The message template: `{i}` is argument i, `{i:mmt}` the argument as an amount.
            pub fn template(self) -> &'static str {
                match self {
                    $(Code::$name => $text,)*
                }
            }
        }
    };
}

codes! {
    WrongChain = 100, "wrong-chain", "wrong chain id: expected {0}, got {1}";
    WrongSuite = 101, "wrong-suite", "the signature is not of the chain's suite";
    BadSignature = 102, "bad-signature", "the signature does not verify";
    StaleNonce = 103, "stale-nonce", "stale nonce: the account is at {0}, got {1}";
    NonceTooHigh = 104, "nonce-too-high", "nonce too high: the account is at {0}, got {1}";
    GasPriceTooLow = 105, "gas-price-too-low", "gas price {0}wei is below the minimum {1}wei";
    IntrinsicGas = 106, "intrinsic-gas", "gas limit {0} is below the {1} gas the transaction needs before it runs";
    BlockGasExceeded = 107, "block-gas-exceeded", "gas limit {0} is over the {1} gas left in the block";
    CannotPayGas = 108, "cannot-pay-gas", "balance {0:mmt} cannot pay the gas limit at this price ({1:mmt})";
    TooLarge = 109, "too-large", "a transaction of {0} bytes is over the {1}-byte limit";

    OutOfGas = 200, "out-of-gas", "out of gas: the transaction needs more than its limit of {0}";
    InsufficientBalance = 201, "insufficient-balance", "insufficient balance: has {0:mmt}, needs {1:mmt}";
    ModuleAccount = 202, "module-account", "the recipient is a module account (a domain's escrows and stakes); it takes no transfers";

    NotParamsAuthority = 300, "not-params-authority", "only the chain's parameters authority may change parameters";
    UnknownParam = 301, "unknown-param", "change {0} names no parameter";
    BadParamValue = 302, "bad-param-value", "change {0} gives a value of the wrong kind or size";
    ParamsInvalid = 303, "params-invalid", "the parameters after the change break rule {0} (see docs/FORMATS.md)";

    DigestRegistered = 400, "digest-registered", "the digest is already registered (block {0})";
    DigestAttested = 401, "digest-attested", "the digest is already attested (block {0})";
    BadCid = 402, "bad-cid", "not a canonical sha2-256 dag-pb or raw CID";
    ProfileWithoutCid = 403, "profile-without-cid", "an import profile without a CID";
    BadProfile = 404, "bad-profile", "not an import profile";
    CidRegistered = 405, "cid-registered", "the CID is already registered (block {0})";
    BadRecipient = 406, "bad-recipient", "the recipient is not a public key of the chain's suite";
    WrappedKeySize = 407, "wrapped-key-size", "a wrapped key of {0} bytes: it must be 1..={1}";
    CidNotRegistered = 408, "cid-not-registered", "no registration names this CID";
    NotEncrypted = 409, "not-encrypted", "the data registered under this CID is not encrypted";
    NotOwnerOrGrantee = 410, "not-owner-or-grantee", "only the registered owner or an existing grantee may share a key";
    GrantsFull = 411, "grants-full", "the recipient already has {0} grants for this CID";

    CapacityBelowCommitted = 500, "capacity-below-committed", "capacity {0} is below the {1} bytes held under deals";
    StakeBelowBonded = 501, "stake-below-bonded", "stake {0:mmt} is below the {1:mmt} bonded to running deals";
    RootHash = 502, "root-hash", "the root block does not hash to the deal's CID";
    NotUnixfs = 503, "not-unixfs", "a block of the file is not a readable UnixFS node";
    NotAFile = 504, "not-a-file", "the CID names a directory, not a file (archive it first)";
    DuplicateLinks = 505, "duplicate-links", "a node of the file links the same child more than once";
    SizeMismatch = 506, "size-mismatch", "a node's filesize is not the sum of its block sizes";
    EmptyFile = 507, "empty-file", "a deal needs a file of at least one byte";
    BadReplicas = 508, "bad-replicas", "replicas must be 1..={0}";
    BadDuration = 509, "bad-duration", "duration must be {0}..={1} blocks";
    EscrowTooSmall = 510, "escrow-too-small", "the escrow {0:mmt} is below the minimum {1:mmt}";
    EscrowOverflow = 511, "escrow-overflow", "the deal's escrow overflows";
    NoSuchDeal = 512, "no-such-deal", "no such deal";
    NotAStorageNode = 513, "not-a-storage-node", "only a registered storage node (storage offer) can accept";
    DealEnded = 514, "deal-ended", "the deal ended at block {0}";
    ReplicasTaken = 515, "replicas-taken", "all {0} replicas of the deal are taken";
    AlreadyHolds = 516, "already-holds", "this node already holds a replica of the deal";
    OwnerCannotHold = 517, "owner-cannot-hold", "the owner of a deal cannot hold it";
    NoRoom = 518, "no-room", "{0} free bytes cannot hold {1}";
    PriceBelowAsk = 519, "price-below-ask", "the deal pays {0:mmt} per epoch; this node asks {1:mmt}";
    StakeTooSmall = 520, "stake-too-small", "free stake {0:mmt} cannot bond the {1:mmt} this deal needs";
    NotAHolder = 521, "not-a-holder", "not a holder of this deal";
    NoOpenChallenge = 522, "no-open-challenge", "no open challenge";
    WrongEpoch = 523, "wrong-epoch", "the open challenge is of epoch {0}, not {1}";
    ChallengeClosed = 524, "challenge-closed", "the challenge closed at block {0}";
    ProofHash = 525, "proof-hash", "a block of the proof does not hash to the link its parent gives";
    ProofSize = 526, "proof-size", "a node of the proof is not as large as its parent says";
    ProofShape = 527, "proof-shape", "the proof does not end at the leaf holding the challenged byte";

    NotAProvider = 600, "not-a-provider", "no computing provider is registered at this address";
    ProviderStakeTooSmall = 601, "provider-stake-too-small", "stake {0:mmt} is below the minimum {1:mmt}";
    InventoryInUse = 602, "inventory-in-use", "the new inventory has less than the {0} running replicas hold";
    BadInventory = 603, "bad-inventory", "the inventory is malformed: no cores, no executor, or an accelerator, link or executor kind out of range";
    StakeInUse = 604, "stake-in-use", "the stake cannot be lowered while {0} replicas run";
    BadTaskCount = 610, "bad-task-count", "a job has {0} tasks: 1 to {1} allowed";
    BadDependency = 611, "bad-dependency", "task {0} waits for task {1}, which is itself or not in the job";
    CyclicGraph = 612, "cyclic-graph", "the task graph has a cycle through task {0}";
    UnknownInput = 613, "unknown-input", "task {0} reads input {1} from a task it does not wait for, or an output name that is not a file name";
    BadTaskReplicas = 614, "bad-task-replicas", "task {0} asks for {1} replicas: 1 to {2} allowed (1 for requester verification)";
    BadTimeout = 615, "bad-timeout", "task {0} has a timeout of {1} blocks: {2} (3 plus its fuel over computeFuelPerBlock) to {3} allowed";
    BadFuel = 616, "bad-fuel", "task {0} asks for {1} fuel: 1 to {2} allowed";
    BadTask = 617, "bad-task", "task {0} is malformed: an empty or repeated name, a bad program or input CID, a repeated or bad input name, or an unknown executor, verification, accelerator or link kind";
    NoBudget = 618, "no-budget", "max price {0:mmt} leaves nothing for a replica of each of the {1} tasks";
    BadWeights = 619, "bad-weights", "weights must be empty or seven integers not all zero, and the preset 0 to 3";
    NoSuchJob = 620, "no-such-job", "no such job";
    NoSuchTask = 621, "no-such-task", "the job has no task {0}";
    NotAssigned = 622, "not-assigned", "the sender holds no active replica of task {0}";
    AlreadyCommitted = 623, "already-committed", "this replica has already committed";
    NotCommitted = 624, "not-committed", "this replica has not committed";
    CommitmentMismatch = 625, "commitment-mismatch", "the reveal does not open the commitment";
    RevealsClosed = 626, "reveals-closed", "reveals open once all {0} replicas have committed ({1} have)";
    NotJobOwner = 627, "not-job-owner", "only the job's submitter may do this";
    JobEnded = 628, "job-ended", "the job has ended";
    NotInReview = 629, "not-in-review", "task {0} is not waiting for the submitter's decision";
    BadResult = 630, "bad-result", "the result is malformed: outputs unsorted, repeated or badly named, a bad CID, an unknown status, or fuel over the task's limit";
    JobEscrowOverflow = 631, "job-escrow-overflow", "the job's escrow overflows";
    AlreadyRevealed = 632, "already-revealed", "this replica has already revealed";
    NoMajority = 640, "no-majority", "no strict majority among {0} results after {1} extra replicas";
    RetriesExhausted = 641, "retries-exhausted", "replicas timed out {0} times";
    ReserveExhausted = 642, "reserve-exhausted", "the job's placement reserve cannot pay for placing task {0}";
    RejectedByOwner = 643, "rejected-by-owner", "the submitter rejected the result";
    RunFailed = 644, "run-failed", "the program's run ended with status {0} (code {1}); statuses: 1 exit, 2 trap, 3 out of fuel, 4 bad program, 5 bad input, 6 killed by signal, 7 wall-time limit, 8 memory limit, 9 process limit, 10 provider failure";
    Unplaced = 647, "unplaced", "task {0} found no provider for its missing replicas within its timeout";
    BadComparator = 648, "bad-comparator", "task {0}: a comparator names one output file and finite, non-negative tolerances, and needs the quorum";
    BadWalltime = 649, "bad-walltime", "task {0}: a native task runs 1 to {2} seconds of wall time and no fuel, a Wasm task the reverse (asked {1} seconds)";
    BadSoftware = 650, "bad-software", "task {0}: software names are 1 to 64 bytes of letters, digits and .-_+:, sorted, at most 32; retries at most {1}";
    UnknownEngine = 700, "unknown-engine", "engine {0} is not known (1 = BN254, 2 = BLS12-381)";
    BadCircuitName = 701, "bad-circuit-name", "a circuit's name is 1 to {0} bytes";
    BadVerifyingKey = 702, "bad-verifying-key", "the verifying key is not a canonical key of its engine (points on the curve and in the subgroup, γ ≠ δ, nothing trailing)";
    TooManyInputs = 703, "too-many-inputs", "the circuit has {0} public inputs; at most {1} on chain";
    BadInputNames = 704, "bad-input-names", "the key has {0} public inputs and the circuit names {1}; each name is 1 to 64 bytes";
    CircuitRegistered = 705, "circuit-registered", "this verifying key was registered at block {0}";
    CircuitNotFound = 706, "circuit-not-found", "no circuit is registered under this id";
    InputCount = 707, "input-count", "{0} public inputs for a circuit that takes {1}";
    BadProof = 708, "bad-proof", "the proof is not three compressed points of the circuit's engine, on their curves, in their subgroups, none the identity";
    NonCanonicalInput = 709, "non-canonical-input", "a public input is not below the scalar field's modulus";
    ProofInvalid = 710, "proof-invalid", "the proof does not verify for this circuit and these public inputs";
    StatementProven = 711, "statement-proven", "this statement (circuit and public inputs) was proven at block {0}";
    NotTaskCircuit = 712, "not-a-task-circuit", "task {0}: its circuit is not registered, or does not name each of the public inputs jobHi, jobLo, task, inputsHi, inputsLo, outputsHi, outputsLo and provider once, or has no claim at an index the task pins, or a pinned value is not below its engine's modulus";
    BadZkTask = 713, "bad-zk-task", "task {0}: a zk-verified task has one replica, no comparator and a circuit, and pins claims by ascending index; other tasks name no circuit and pin nothing";
    ClaimCount = 714, "claim-count", "the result's claims do not fill the task circuit's public inputs besides its bindings";
    UnprovenResult = 715, "unproven-result", "a zk task's result carries a proof only when the run succeeded, and other tasks' never";
    ClaimMismatch = 716, "claim-mismatch", "a claim the task pins is not the value it pins";
    TaskCircuitProof = 717, "task-circuit-proof", "a task circuit's proofs are verified with the task's result (reveal), not alone";
    NotRoleAuthority = 800, "not-role-authority", "only the chain's parameters authority may grant or revoke roles";
    UnknownRole = 801, "unknown-role", "role {0} is not known (1 curator, 2 bmci)";
    RoleUnchanged = 802, "role-unchanged", "the account already is as asked for role {0}";
    MissingRole = 803, "missing-role", "the sender does not hold role {0} (1 curator, 2 bmci), which the parameters authority grants";
    BadAlgorithm = 804, "bad-algorithm", "field {0} of the algorithm breaks its rules: 0 name (1 to 64 bytes), 1 description (at most 1,024 bytes), 2 program (a binary CID; a Wasm algorithm needs one), 3 executor (0 wasm, 1 process, 2 slurm), 4 args (at most 64 of at most 256 bytes; a native algorithm's command), 5 software (at most 32 sorted names), 6 output (a file name), 7 properties (1 to 32, sorted and distinct by name; names of lowercase letters, digits and _ up to 32 bytes starting with a letter, not results or algorithms; units of letters, digits and - up to 64 bytes; descriptions up to 256 bytes), 8 fuel and walltime (Wasm: fuel up to computeMaxFuel and no walltime; native: walltime up to computeMaxWalltime and no fuel), 9 rtol and atol (finite, not negative)";
    AlgorithmRegistered = 805, "algorithm-registered", "this algorithm was registered at block {0}";
    NoSuchAlgorithm = 806, "no-such-algorithm", "no algorithm is registered under this id";
    NotAlgorithmOwner = 807, "not-algorithm-owner", "only the algorithm's owner or the parameters authority may retire it";
    AlgorithmRetired = 808, "algorithm-retired", "the algorithm was retired at block {0}";
    BadKnowledgeBase = 809, "bad-knowledge-base", "field {0} of the knowledge base breaks its rules: 0 kind (0 curated, 1 extracted), 1 name (1 to 64 bytes), 2 description (at most 1,024 bytes), 3 content (a binary CID), 4 source (at most 256 bytes; an extracted base names one)";
    ContentUnregistered = 810, "content-unregistered", "the knowledge base's content is not registered data (`data add --register` it first)";
    ContentEncrypted = 811, "content-encrypted", "the knowledge base's content is encrypted: a base every node loads must be public (query private graphs with `kg query --private`)";
    ContentTooLarge = 812, "content-too-large", "the knowledge base's content is {0} bytes; at most {1}";
    KnowledgeBaseRegistered = 813, "knowledge-base-registered", "this file was registered as a knowledge base of this kind at block {0}";
    NotContentOwner = 814, "not-content-owner", "an extracted knowledge base is registered by the owner of its file's data registration";
    GangUnplaced = 646, "gang-unplaced", "task {0} of a gang job found no placement, so none of its ready tasks were placed";
}

/// A refusal: the code and its integer arguments (what the message template names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub args: Vec<u128>,
}

impl Rejection {
    pub fn new(code: Code) -> Self {
        Rejection {
            code,
            args: Vec::new(),
        }
    }

    pub fn with(code: Code, args: &[u128]) -> Self {
        Rejection {
            code,
            args: args.to_vec(),
        }
    }

    /// The words of [`Code::template`] with the arguments in place.
    pub fn message(&self) -> String {
        let mut out = String::new();
        let mut rest = self.code.template();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let spec = &rest[open + 1..open + close];
            let (index, as_mmt) = match spec.split_once(':') {
                Some((i, "mmt")) => (i, true),
                _ => (spec, false),
            };
            let value = index.parse::<usize>().ok().and_then(|i| self.args.get(i));
            match value {
                Some(v) if as_mmt => out.push_str(&Amount(*v).to_string()),
                Some(v) => out.push_str(&v.to_string()),
                None => out.push('?'),
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl From<Code> for Rejection {
    fn from(code: Code) -> Self {
        Rejection::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_unique_and_round_trip() {
        let mut numbers: Vec<u16> = Code::ALL.iter().map(|c| *c as u16).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), Code::ALL.len());
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
        for c in Code::ALL {
            assert_eq!(Code::from_u16(*c as u16), Some(*c));
        }
        assert_eq!(Code::from_u16(0), None);
    }

    #[test]
    fn messages_fill_in_their_arguments() {
        let r = Rejection::with(Code::StaleNonce, &[4, 3]);
        assert_eq!(r.message(), "stale nonce: the account is at 4, got 3");
        let r = Rejection::with(Code::InsufficientBalance, &[Amount::from_mmt(1).0, 25]);
        assert_eq!(
            r.message(),
            "insufficient balance: has 1 MMT, needs 0.000000000000000025 MMT"
        );
        assert_eq!(
            Rejection::new(Code::StaleNonce).message(),
            "stale nonce: the account is at ?, got ?"
        );
    }
}
