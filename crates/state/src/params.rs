//! The chain's parameters: one record under the state root (`0x00`), written at genesis, read
//! at the start of every block, changed only at a block boundary by a state transition (the
//! params domain today; governance votes later). Each parameter has a camelCase name used in
//! the genesis file, in `changeParams` actions and by `mm_getParams`.
//!
//! ```text
//! record = rlp([value, …])   values in declaration order: u64 and amounts as RLP integers,
//!                            addresses as 20 bytes
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount,
    rlp::{decode_list, finish_list, list},
};
use serde::{Deserialize, Serialize};

/// Hard limits no parameter change may cross: what the network layer can carry.
pub const MAX_BLOCK_BYTES: u64 = 8 * 1024 * 1024;

/// A parameter's value as it travels in a change: a big-endian integer without leading zeros
/// (empty for zero), or 20 address bytes (empty for none).
pub trait ParamValue: Sized {
    fn to_change(&self) -> Vec<u8>;
    fn from_change(bytes: &[u8]) -> Option<Self>;
    fn to_json(&self) -> serde_json::Value;
}

fn be_int(bytes: &[u8], max: usize) -> Option<u128> {
    if bytes.len() > max || bytes.first() == Some(&0) {
        return None;
    }
    Some(bytes.iter().fold(0u128, |v, b| (v << 8) | u128::from(*b)))
}

fn to_be(v: u128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

impl ParamValue for u64 {
    fn to_change(&self) -> Vec<u8> {
        to_be(u128::from(*self))
    }
    fn from_change(bytes: &[u8]) -> Option<Self> {
        be_int(bytes, 8).map(|v| v as u64)
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}

impl ParamValue for Amount {
    fn to_change(&self) -> Vec<u8> {
        to_be(self.0)
    }
    fn from_change(bytes: &[u8]) -> Option<Self> {
        be_int(bytes, 16).map(Amount)
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"mmt": self.to_string(), "wei": self.0.to_string()})
    }
}

impl ParamValue for Address {
    fn to_change(&self) -> Vec<u8> {
        if *self == Address::ZERO {
            Vec::new()
        } else {
            self.0.to_vec()
        }
    }
    fn from_change(bytes: &[u8]) -> Option<Self> {
        match bytes.len() {
            0 => Some(Address::ZERO),
            20 => Some(Address(bytes.try_into().expect("20"))),
            _ => None,
        }
    }
    fn to_json(&self) -> serde_json::Value {
        if *self == Address::ZERO {
            serde_json::Value::Null
        } else {
            serde_json::json!(self.to_string())
        }
    }
}

/// The weights of the scheduler's seven strategies (load, idle, data, price, performance,
/// network, quality): a preset's, as a parameter. In a change, seven bytes; in JSON, an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights(pub [u8; 7]);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightsJson {
    load: u8,
    idle: u8,
    data: u8,
    price: u8,
    performance: u8,
    network: u8,
    quality: u8,
}

impl Serialize for Weights {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let [load, idle, data, price, performance, network, quality] = self.0;
        WeightsJson {
            load,
            idle,
            data,
            price,
            performance,
            network,
            quality,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Weights {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WeightsJson::deserialize(d)?;
        Ok(Weights([
            w.load,
            w.idle,
            w.data,
            w.price,
            w.performance,
            w.network,
            w.quality,
        ]))
    }
}

impl ParamValue for Weights {
    fn to_change(&self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_change(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Weights)
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain integers")
    }
}

trait RlpField: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn take(buf: &mut &[u8]) -> alloy_rlp::Result<Self>;
}

impl RlpField for u64 {
    fn put(&self, out: &mut Vec<u8>) {
        self.encode(out)
    }
    fn take(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        u64::decode(buf)
    }
}

impl RlpField for Amount {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.encode(out)
    }
    fn take(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(Amount(u128::decode(buf)?))
    }
}

impl RlpField for Address {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.encode(out)
    }
    fn take(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(Address(Decodable::decode(buf)?))
    }
}

impl RlpField for Weights {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.as_slice().encode(out)
    }
    fn take(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(Weights(Decodable::decode(buf)?))
    }
}

macro_rules! params {
    ($($(#[$doc:meta])* $field:ident: $ty:ty = $default:expr, $name:literal;)*) => {
        /// Every chain parameter (see the module docs).
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Params {
            $($(#[$doc])* #[serde(rename = $name)] pub $field: $ty,)*
        }

        impl Default for Params {
            fn default() -> Self {
                Params { $($field: $default,)* }
            }
        }

        impl Params {
            /// Every parameter's name, in record order.
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            pub fn encode(&self) -> Vec<u8> {
                let mut p = Vec::new();
                $(RlpField::put(&self.$field, &mut p);)*
                list(&p)
            }

            pub fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
                let mut buf = raw;
                let mut p = decode_list(&mut buf)?;
                let params = Params { $($field: RlpField::take(&mut p)?,)* };
                finish_list(p)?;
                if !buf.is_empty() {
                    return Err(alloy_rlp::Error::UnexpectedLength);
                }
                Ok(params)
            }

            /// Sets the parameter `name` from a change's value bytes. `Err(false)`: no such
            /// parameter; `Err(true)`: the value does not fit it.
            pub fn set(&mut self, name: &str, value: &[u8]) -> Result<(), bool> {
                match name {
                    $($name => {
                        self.$field = <$ty as ParamValue>::from_change(value).ok_or(true)?;
                        Ok(())
                    })*
                    _ => Err(false),
                }
            }

            /// A parameter's value as a change would carry it.
            pub fn get(&self, name: &str) -> Option<Vec<u8>> {
                match name {
                    $($name => Some(ParamValue::to_change(&self.$field)),)*
                    _ => None,
                }
            }

            /// `{name: value}` for RPC: integers as numbers, amounts as `{mmt, wei}`.
            pub fn to_json(&self) -> serde_json::Value {
                let mut map = serde_json::Map::new();
                $(map.insert($name.to_owned(), ParamValue::to_json(&self.$field));)*
                serde_json::Value::Object(map)
            }
        }
    };
}

params! {
    /// The most gas one block's transactions may use (every header carries it).
    block_gas_limit: u64 = 100_000_000, "blockGasLimit";
    /// The least gas price a transaction may offer.
    min_gas_price: Amount = Amount(50_000_000_000), "minGasPrice";
    /// Largest signed transaction, except storage proofs.
    max_tx_bytes: u64 = 128 * 1024, "maxTxBytes";
    /// Largest storage proof transaction (it carries a whole leaf).
    max_proof_tx_bytes: u64 = 1280 * 1024, "maxProofTxBytes";
    /// Largest block body.
    max_block_bytes: u64 = MAX_BLOCK_BYTES, "maxBlockBytes";
    /// Gas every transaction pays before it runs…
    gas_tx_base: u64 = 5_000, "gasTxBase";
    /// …plus this per byte of the signed transaction…
    gas_tx_byte: u64 = 16, "gasTxByte";
    /// …plus this for its signature check.
    gas_signature: u64 = 5_000, "gasSignature";
    /// Reading one state record.
    gas_read: u64 = 200, "gasRead";
    /// Writing or deleting one state record, plus a charge per byte written.
    gas_write: u64 = 2_500, "gasWrite";
    gas_write_byte: u64 = 10, "gasWriteByte";
    /// Emitting one event, plus a charge per byte of its encoding.
    gas_event: u64 = 250, "gasEvent";
    gas_event_byte: u64 = 8, "gasEventByte";
    /// Hashing on chain (CIDs, storage proofs): per hash, and per 32-byte word hashed.
    gas_hash: u64 = 60, "gasHash";
    gas_hash_word: u64 = 12, "gasHashWord";
    /// The chain's own work for one replica at one boundary of a deal (judging its challenge,
    /// drawing the next, the writes and events): priced at the opening transaction's gas price,
    /// set aside when the deal opens and paid to the sealer of each boundary's block.
    gas_deal_epoch: u64 = 30_000, "gasDealEpoch";
    /// Paid to each block's sealer from the community pool, within its budget.
    sealing_reward: Amount = Amount::from_mmt(2), "sealingReward";
    /// Blocks per reward epoch: the period of the pool budgets.
    reward_epoch: u64 = 1_000, "rewardEpoch";
    /// The most the community pool pays in sealing rewards in one reward epoch…
    sealing_budget: Amount = Amount::from_mmt(5_000), "sealingBudget";
    /// …and in storage rewards: a budget each, so neither can spend the other's.
    storage_budget: Amount = Amount::from_mmt(1_000), "storageBudget";
    /// Blocks between a deal's storage challenges.
    storage_epoch: u64 = 10, "storageEpoch";
    /// Blocks a storage node has to answer a challenge (fewer than `storageEpoch`).
    proof_window: u64 = 5, "proofWindow";
    /// Paid from the community pool per passed challenge, per GiB of the file (pro rata). With
    /// no proof of replication it is a yield on the bond, not pay for bytes stored: at the
    /// default about 16 % of the bond a year (1.6 million challenges of 10 blocks).
    storage_reward: Amount = Amount(1_000_000_000_000), "storageReward";
    /// Stake a storage node bonds per GiB (rounded up) of each replica it holds.
    storage_stake_per_gib: Amount = Amount::from_mmt(10), "storageStakePerGib";
    /// Share of a replica's bond a missed challenge slashes, in thousandths.
    storage_slash_permille: u64 = 100, "storageSlashPermille";
    /// The least escrow a deal may hold.
    min_deal_escrow: Amount = Amount(100_000_000_000_000_000), "minDealEscrow";
    /// The most deal boundaries (challenge draws, judgements, ends) one block processes; the
    /// rest wait for the next block.
    max_due_deals: u64 = 256, "maxDueDeals";
    /// The proof bytes the challenges drawn in one block may ask for (each challenge counts
    /// its deal's largest proof so far, the largest a proof may be before the first): so the
    /// proofs of one block's challenges fit in one block, and no holder misses for want of
    /// block space. Boundaries past it wait a block.
    max_challenge_bytes: u64 = 4 * 1024 * 1024, "maxChallengeBytes";
    /// The least stake a computing provider keeps to be given tasks.
    compute_min_stake: Amount = Amount::from_mmt(100), "computeMinStake";
    /// Blocks without a heartbeat after which a provider counts as offline.
    compute_offline_after: u64 = 30, "computeOfflineAfter";
    /// Blocks replicas have to reveal once all have committed (their deadline moves to at
    /// least this far ahead).
    compute_reveal_window: u64 = 10, "computeRevealWindow";
    /// The most tasks in one job, and replicas of one task.
    compute_max_tasks: u64 = 64, "computeMaxTasks";
    compute_max_replicas: u64 = 7, "computeMaxReplicas";
    /// Replicas added to break ties before a task fails with no majority.
    compute_max_extra_replicas: u64 = 2, "computeMaxExtraReplicas";
    /// Replicas taken again after timeouts before a task fails.
    compute_max_retries: u64 = 3, "computeMaxRetries";
    /// Blocks a task waits before its first retry after a failure or timeout; each further
    /// retry waits twice as long (capped at 64 times this).
    compute_retry_backoff: u64 = 2, "computeRetryBackoff";
    /// The longest wall time a native (process, Slurm) run may ask for, in seconds.
    compute_max_walltime: u64 = 7 * 24 * 3600, "computeMaxWalltime";
    /// The shortest time a block is assumed to take, in seconds: a native task's timeout must
    /// be at least 3 plus its wall time over this, so no submitter can set a deadline a run
    /// within its wall time cannot meet (and have honest providers slashed for it).
    compute_block_seconds: u64 = 1, "computeBlockSeconds";
    /// The longest task timeout, in blocks, and the most fuel one run may ask for.
    compute_max_timeout: u64 = 100_000, "computeMaxTimeout";
    compute_max_fuel: u64 = 1_000_000_000_000, "computeMaxFuel";
    /// Fuel a provider is assumed to burn per block: a task's timeout must be at least 3 plus
    /// its fuel over this, so no submitter can set a deadline nobody can meet (and have honest
    /// providers slashed for it).
    compute_fuel_per_block: u64 = 500_000_000, "computeFuelPerBlock";
    /// Share of its stake a provider loses when it times out or is outvoted, in thousandths.
    compute_slash_permille: u64 = 50, "computeSlashPermille";
    /// How far one outcome moves a provider's quality toward 1000 (success) or 0 (fault), in
    /// thousandths of the distance; and the blocks over which its distance from 500 halves.
    compute_quality_step: u64 = 200, "computeQualityStep";
    compute_quality_half_life: u64 = 20_000, "computeQualityHalfLife";
    /// The most task placements one block tries (the chain's own work per block).
    compute_max_placements: u64 = 256, "computeMaxPlacements";
    /// The chain's work to place one task: a base and a charge per provider considered, paid
    /// from the job's reserve at its gas price to the block's sealer.
    gas_placement: u64 = 20_000, "gasPlacement";
    gas_placement_candidate: u64 = 300, "gasPlacementCandidate";
    /// Candidates each assignment event lists with their scores (what `job explain` shows).
    compute_explain_candidates: u64 = 16, "computeExplainCandidates";
    /// Blocks the submitter has to reject a `requester` result before it is accepted.
    compute_review_window: u64 = 50, "computeReviewWindow";
    /// Paid from the community pool per million fuel of work a quorum verified, at most this
    /// share (thousandths) of what the job paid for it, within `computeBudget` per reward epoch.
    compute_reward: Amount = Amount(1_000_000_000_000), "computeReward";
    compute_reward_cap_permille: u64 = 500, "computeRewardCapPermille";
    compute_budget: Amount = Amount::from_mmt(2_000), "computeBudget";
    /// The scheduler's presets (a job names one, or gives its own weights); balanced is the
    /// default.
    weights_balanced: Weights = Weights([1, 1, 1, 1, 1, 1, 1]), "weightsBalanced";
    weights_cheapest: Weights = Weights([0, 0, 0, 6, 0, 0, 1]), "weightsCheapest";
    weights_fastest: Weights = Weights([1, 1, 0, 0, 6, 1, 1]), "weightsFastest";
    weights_data_local: Weights = Weights([0, 0, 6, 0, 0, 2, 1]), "weightsDataLocal";
    /// Gas for checking one Groth16 proof (three Miller loops and a final exponentiation), and
    /// for each public input (or each key point at registration) on top.
    gas_zk_verify: u64 = 180_000, "gasZkVerify";
    gas_zk_input: u64 = 2_000, "gasZkInput";
    /// The account that may change parameters directly (`changeParams`); none by default.
    params_authority: Address = Address::ZERO, "paramsAuthority";
}

/// The most placements one block may be set to try, and tasks one job may have.
pub const MAX_PLACEMENTS: u64 = 4_096;
pub const MAX_TASKS: u64 = 1_024;

/// The most deal boundaries one block may be set to run (`maxDueDeals`): the chain's own work
/// per block must stay bounded whatever a parameter change says.
pub const MAX_DUE_DEALS: u64 = 4_096;
/// The longest `storageEpoch`, so block arithmetic on boundaries never nears overflow.
pub const MAX_STORAGE_EPOCH: u64 = 1_000_000;

impl Params {
    /// The rules every parameter set obeys, each under its number (what `params-invalid`
    /// carries; docs/FORMATS.md lists them). Numbers are stable: a new rule takes a new one.
    pub fn rules(&self) -> [(u128, bool); 17] {
        let intrinsic_max = self
            .gas_tx_base
            .saturating_add(self.gas_signature)
            .saturating_add(self.gas_tx_byte.saturating_mul(self.max_proof_tx_bytes));
        // A small ordinary transaction: 1 KiB, four records read and written, two events.
        let small = self
            .gas_tx_base
            .saturating_add(self.gas_signature)
            .saturating_add(self.gas_tx_byte.saturating_mul(1024))
            .saturating_add(
                self.gas_read
                    .saturating_add(self.gas_write)
                    .saturating_add(self.gas_write_byte.saturating_mul(100))
                    .saturating_mul(4),
            )
            .saturating_add(
                self.gas_event
                    .saturating_add(self.gas_event_byte.saturating_mul(100))
                    .saturating_mul(2),
            );
        let small_cost = self.min_gas_price.0.saturating_mul(u128::from(small));
        [
            (1, self.max_block_bytes <= MAX_BLOCK_BYTES),
            (
                2,
                self.max_tx_bytes <= self.max_proof_tx_bytes
                    && self.max_proof_tx_bytes <= self.max_block_bytes
                    && self.max_tx_bytes >= 1024,
            ),
            (3, self.min_gas_price.0 >= 1),
            (
                4,
                self.gas_tx_base >= 1_000 && self.gas_signature >= 1 && self.gas_tx_byte >= 1,
            ),
            (5, self.block_gas_limit >= intrinsic_max),
            (
                6,
                self.storage_epoch >= 1
                    && self.proof_window >= 1
                    && self.proof_window < self.storage_epoch,
            ),
            (7, self.reward_epoch >= 1),
            (8, self.storage_slash_permille <= 1_000),
            (9, self.max_due_deals >= 1),
            (
                10,
                self.gas_read >= 1
                    && self.gas_write >= 1
                    && self.gas_event >= 1
                    && self.gas_hash >= 1,
            ),
            (
                11,
                self.max_due_deals <= MAX_DUE_DEALS && self.storage_epoch <= MAX_STORAGE_EPOCH,
            ),
            (12, self.gas_deal_epoch >= 1),
            (13, small_cost <= Amount::from_mmt(1).0),
            (
                14,
                self.max_challenge_bytes >= self.max_proof_tx_bytes
                    && self.max_challenge_bytes <= self.max_block_bytes
                    && self.gas_tx_byte.saturating_mul(self.max_challenge_bytes)
                        <= self.block_gas_limit,
            ),
            (
                15,
                self.compute_offline_after >= 1
                    && self.compute_reveal_window >= 1
                    && self.compute_review_window >= 1
                    && (1..=MAX_TASKS).contains(&self.compute_max_tasks)
                    && (1..=16).contains(&self.compute_max_replicas)
                    && self.compute_max_extra_replicas <= 16
                    && (1..=MAX_PLACEMENTS).contains(&self.compute_max_placements)
                    && self.compute_max_timeout >= 1
                    && self.compute_max_fuel >= 1
                    && self.compute_fuel_per_block >= 1
                    && self.compute_max_walltime >= 1
                    && self.compute_block_seconds >= 1
                    && self.compute_retry_backoff <= 10_000
                    && self.compute_explain_candidates <= 64
                    && self.gas_placement >= 1,
            ),
            (
                16,
                self.compute_slash_permille <= 1_000
                    && self.compute_quality_step <= 1_000
                    && self.compute_quality_half_life >= 1
                    && self.compute_reward_cap_permille <= 1_000
                    && [
                        self.weights_balanced,
                        self.weights_cheapest,
                        self.weights_fastest,
                        self.weights_data_local,
                    ]
                    .iter()
                    .all(|w| w.0.iter().any(|v| *v > 0)),
            ),
            (17, self.gas_zk_verify >= 1 && self.gas_zk_input >= 1),
        ]
    }

    /// The number of the first rule the set breaks.
    pub fn check(&self) -> Result<(), u128> {
        match self.rules().into_iter().find(|(_, ok)| !ok) {
            Some((rule, _)) => Err(rule),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_obey_the_rules_and_round_trip() {
        let p = Params::default();
        assert_eq!(p.check(), Ok(()));
        assert_eq!(Params::decode(&p.encode()).unwrap(), p);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Params>(&json).unwrap(), p);
        assert_eq!(Params::NAMES.len(), p.to_json().as_object().unwrap().len());
    }

    #[test]
    fn changes_by_name() {
        let mut p = Params::default();
        p.set("blockGasLimit", &[0x01, 0x00]).unwrap();
        assert_eq!(p.block_gas_limit, 256);
        assert_eq!(p.get("blockGasLimit").unwrap(), vec![1, 0]);
        assert_eq!(p.set("noSuchParam", &[1]), Err(false));
        assert_eq!(p.set("blockGasLimit", &[0, 1]), Err(true), "a leading zero");
        assert_eq!(p.set("blockGasLimit", &[1; 9]), Err(true), "over 64 bits");
        assert_eq!(p.set("paramsAuthority", &[1; 19]), Err(true));
        p.set("paramsAuthority", &[7; 20]).unwrap();
        assert_eq!(p.params_authority, Address([7; 20]));
        assert_eq!(
            p.check(),
            Err(5),
            "a block must hold the largest transaction"
        );
    }

    #[test]
    fn rules_have_their_own_numbers() {
        let numbers: Vec<u128> = Params::default().rules().iter().map(|r| r.0).collect();
        assert_eq!(numbers, (1..=17).collect::<Vec<_>>());
        let p = Params {
            min_gas_price: Amount::from_mmt(1),
            ..Params::default()
        };
        assert_eq!(
            p.check(),
            Err(13),
            "no price that makes every transaction unaffordable"
        );
        let mut p = Params {
            max_due_deals: MAX_DUE_DEALS + 1,
            ..Params::default()
        };
        assert_eq!(p.check(), Err(11));
        p.max_due_deals = 0;
        assert_eq!(p.check(), Err(9));
    }

    #[test]
    fn genesis_json_refuses_unknown_names() {
        let err = serde_json::from_str::<Params>(r#"{"minFee": "1 MMT"}"#).unwrap_err();
        assert!(err.to_string().contains("minFee"), "{err}");
        let p: Params = serde_json::from_str(r#"{"storageEpoch": 20}"#).unwrap();
        assert_eq!(p.storage_epoch, 20);
        assert_eq!(p.proof_window, Params::default().proof_window);
    }
}
