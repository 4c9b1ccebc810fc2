//! The genesis file: chain id, suite, Clique parameters, fees, and the one-time creation of the
//! whole MMT supply in five pools. Nothing is minted later; grants move MMT out of a pool.

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, TOTAL_SUPPLY};
use metamesh_trie::NodeStore;
use serde::{Deserialize, Serialize};

use crate::{Account, State, StateError};

/// The five pools the supply is created in, with their share in percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pool {
    /// Founding team and advisers, 30 %.
    Founders,
    /// Community: sealing, computing, storage and governance rewards, 25 %.
    Community,
    /// Ecosystem fund, 20 %.
    Ecosystem,
    /// Airdrops, 15 %.
    Airdrops,
    /// Private placement, 10 %.
    PrivatePlacement,
}

impl Pool {
    pub const ALL: [Pool; 5] = [
        Pool::Founders,
        Pool::Community,
        Pool::Ecosystem,
        Pool::Airdrops,
        Pool::PrivatePlacement,
    ];

    pub const fn percent(self) -> u128 {
        match self {
            Pool::Founders => 30,
            Pool::Community => 25,
            Pool::Ecosystem => 20,
            Pool::Airdrops => 15,
            Pool::PrivatePlacement => 10,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Pool::Founders => "founders",
            Pool::Community => "community",
            Pool::Ecosystem => "ecosystem",
            Pool::Airdrops => "airdrops",
            Pool::PrivatePlacement => "private-placement",
        }
    }

    /// The pool's account: the last 20 bytes of `H("metamesh/pool/<name>")`. No key exists for
    /// it; only the state transition moves its MMT.
    pub fn address(self, suite: Suite) -> Address {
        Address::from_digest(&suite.hash(format!("metamesh/pool/{}", self.name()).as_bytes()))
    }

    /// Its share of the supply.
    pub fn supply(self) -> Amount {
        TOTAL_SUPPLY.share(self.percent(), 100)
    }
}

/// Clique parameters of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliqueParams {
    /// Seconds between blocks.
    pub period: u64,
    #[serde(default = "default_epoch")]
    pub epoch: u64,
    /// The initial signers.
    pub signers: Vec<Address>,
}

fn default_epoch() -> u64 {
    30_000
}

/// Economic parameters (a governance matter later).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    /// The least fee a transaction may pay.
    pub min_fee: Amount,
    /// Paid to each block's sealer from the community pool while it lasts.
    pub sealing_reward: Amount,
    /// Blocks between storage challenges.
    #[serde(default = "default_storage_epoch")]
    pub storage_epoch: u64,
    /// Blocks a storage node has to answer a challenge (at most `storage_epoch`).
    #[serde(default = "default_proof_window")]
    pub proof_window: u64,
    /// Paid from the community pool for each passed challenge, beside the deal's price.
    #[serde(default = "default_storage_reward")]
    pub storage_reward: Amount,
}

fn default_storage_epoch() -> u64 {
    10
}

fn default_proof_window() -> u64 {
    5
}

fn default_storage_reward() -> Amount {
    "0.5".parse().expect("constant")
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_fee: "0.001".parse().expect("constant"),
            sealing_reward: Amount::from_mmt(2),
            storage_epoch: default_storage_epoch(),
            proof_window: default_proof_window(),
            storage_reward: default_storage_reward(),
        }
    }
}

/// MMT given to an account at genesis, out of a pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub address: Address,
    pub amount: Amount,
    pub pool: Pool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Genesis {
    pub chain_id: u64,
    #[serde(default)]
    pub suite: Suite,
    #[serde(default)]
    pub timestamp: u64,
    pub clique: CliqueParams,
    #[serde(default)]
    pub params: Params,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

impl Genesis {
    /// A chain with default parameters (epoch 30,000, default fees) where `signers` seal every
    /// `period` seconds and each `funded` address gets `amount` from the airdrop pool: what
    /// devnets, benchmarks and the simulator start from.
    pub fn dev(
        chain_id: u64,
        suite: Suite,
        timestamp: u64,
        period: u64,
        signers: Vec<Address>,
        funded: &[Address],
        amount: Amount,
    ) -> Genesis {
        Genesis {
            chain_id,
            suite,
            timestamp,
            clique: CliqueParams {
                period,
                epoch: 30_000,
                signers,
            },
            params: Params::default(),
            grants: funded
                .iter()
                .map(|a| Grant {
                    address: *a,
                    amount,
                    pool: Pool::Airdrops,
                })
                .collect(),
        }
    }

    pub fn from_json(text: &str) -> Result<Self, StateError> {
        let genesis: Genesis =
            serde_json::from_str(text).map_err(|e| StateError::Genesis(e.to_string()))?;
        genesis.validate()?;
        Ok(genesis)
    }

    pub fn validate(&self) -> Result<(), StateError> {
        let bad = |s: String| Err(StateError::Genesis(s));
        if self.clique.signers.is_empty() {
            return bad("clique.signers is empty: a chain needs at least one signer".into());
        }
        if self.clique.epoch == 0 || self.clique.period == 0 {
            return bad("clique.period and clique.epoch must be at least 1".into());
        }
        let p = &self.params;
        if p.storage_epoch == 0 || p.proof_window == 0 || p.proof_window > p.storage_epoch {
            return bad(format!(
                "params.proofWindow ({}) must be 1..=params.storageEpoch ({})",
                p.proof_window, p.storage_epoch
            ));
        }
        self.balances().map(|_| ())
    }

    /// Every account's balance at genesis: the pools less their grants, and the grantees.
    pub fn balances(&self) -> Result<Vec<(Address, Amount)>, StateError> {
        let mut pools: Vec<(Pool, Amount)> = Pool::ALL.iter().map(|p| (*p, p.supply())).collect();
        let mut out: std::collections::BTreeMap<Address, Amount> = Default::default();
        for grant in &self.grants {
            let slot = &mut pools
                .iter_mut()
                .find(|(p, _)| *p == grant.pool)
                .expect("all pools")
                .1;
            *slot = slot.checked_sub(grant.amount).ok_or_else(|| {
                StateError::Genesis(format!("grants exceed the {} pool", grant.pool.name()))
            })?;
            let entry = out.entry(grant.address).or_default();
            *entry = entry
                .checked_add(grant.amount)
                .expect("bounded by the supply");
        }
        for (pool, left) in pools {
            let entry = out.entry(pool.address(self.suite)).or_default();
            *entry = entry.checked_add(left).expect("bounded by the supply");
        }
        Ok(out.into_iter().collect())
    }

    /// Writes the genesis accounts into an empty state.
    pub fn apply<S: NodeStore>(&self, state: &mut State<S>) -> Result<(), StateError> {
        for (address, balance) in self.balances()? {
            state.set_account(&address, &Account { nonce: 0, balance })?;
        }
        Ok(())
    }
}
