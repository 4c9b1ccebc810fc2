//! The genesis file: chain id, suite, Clique parameters, the chain parameters, and the one-time
//! creation of the whole MMT supply in five pools. Nothing is minted later; grants move MMT out
//! of a pool.

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, TOTAL_SUPPLY};
use metamesh_trie::NodeStore;
use serde::{Deserialize, Serialize};

use crate::{Account, Params, State, StateError};

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

    /// Its byte in state keys.
    pub const fn byte(self) -> u8 {
        match self {
            Pool::Founders => 0,
            Pool::Community => 1,
            Pool::Ecosystem => 2,
            Pool::Airdrops => 3,
            Pool::PrivatePlacement => 4,
        }
    }

    pub fn from_byte(b: u8) -> Option<Pool> {
        Self::ALL.into_iter().find(|p| p.byte() == b)
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
        if let Err(rule) = self.params.check() {
            return bad(format!(
                "params break rule {rule} (docs/FORMATS.md, \"The parameters record\")"
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

    /// Writes the genesis accounts and the parameters record into an empty state.
    pub fn apply<S: NodeStore + Clone>(&self, state: &mut State<S>) -> Result<(), StateError> {
        for (address, balance) in self.balances()? {
            state.set_account(&address, &Account { nonce: 0, balance })?;
        }
        state.save(&(), &self.params)
    }

    /// The canonical bytes of everything the genesis block commits to outside its state
    /// (whose root covers the accounts and the parameters): what the genesis hash depends on.
    ///
    /// `rlp([chain_id, suite (0 sm | 1 eth), timestamp, period, epoch, [signer, …],
    ///       [[address, amount, pool], …], parameters record])`
    pub fn canonical_bytes(&self) -> Vec<u8> {
        use alloy_rlp::Encodable;
        let mut p = Vec::new();
        self.chain_id.encode(&mut p);
        u8::from(self.suite == Suite::Eth).encode(&mut p);
        self.timestamp.encode(&mut p);
        self.clique.period.encode(&mut p);
        self.clique.epoch.encode(&mut p);
        let mut signers = Vec::new();
        for s in &self.clique.signers {
            s.0.encode(&mut signers);
        }
        metamesh_primitives::rlp::encode_list(&signers, &mut p);
        let mut grants = Vec::new();
        for g in &self.grants {
            let mut e = Vec::new();
            g.address.0.encode(&mut e);
            g.amount.0.encode(&mut e);
            g.pool.byte().encode(&mut e);
            metamesh_primitives::rlp::encode_list(&e, &mut grants);
        }
        metamesh_primitives::rlp::encode_list(&grants, &mut p);
        self.params.encode().as_slice().encode(&mut p);
        metamesh_primitives::rlp::list(&p)
    }
}
