//! A model-based property test over every action kind: random blocks of transfers, parameter
//! changes, registrations, attestations, key grants, storage offers, deals, acceptances and
//! proofs run through `apply_block`, while a model written from the rules alone predicts each
//! outcome and every movement of MMT (fees, transfers, stakes, escrows, prices, rewards within
//! each purpose's budget, boundary fees from deal reserves, refunds, slashes, sealing rewards).
//! After every block the state and the model agree on every balance, the storage module holds
//! exactly the escrows, reserves and stakes, and all balances sum to the 2,300,000,000 MMT
//! supply.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::Harness;
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    AccountAction, Action, Amount, DataAction, ParamsAction, StorageAction, TOTAL_SUPPLY, WorkKind,
};
use metamesh_state::{Code, Deal, Pool, Receipt, deal_id, escrow_account};
use metamesh_storage::{Cid, build_proof, cid_from_bytes};
use proptest::prelude::*;

const USERS: usize = 4;
const GAS: u64 = 5_000_000;
const GIB: u128 = 1 << 30;

#[derive(Clone, Debug)]
enum Op {
    Transfer {
        from: usize,
        to: usize,
        mmt: u128,
    },
    Params {
        by: usize,
        which: u8,
        mmt: u128,
    },
    Register {
        by: usize,
        digest: u8,
        file: Option<usize>,
        encrypted: bool,
    },
    Attest {
        by: usize,
        digest: u8,
    },
    Share {
        by: usize,
        file: usize,
        to: usize,
    },
    Offer {
        by: usize,
        stake: u128,
        cheap: bool,
        small: bool,
    },
    Deal {
        by: usize,
        file: usize,
        replicas: u64,
        duration: u64,
        dear: bool,
    },
    Accept {
        by: usize,
        deal: usize,
    },
    /// `epoch`: the epoch the proof names, `shown` its path and leaf bytes (filled in when it
    /// is aimed).
    Prove {
        by: usize,
        deal: usize,
        junk: bool,
        epoch: u64,
        shown: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0..USERS;
    prop_oneof![
        2 => (u.clone(), u.clone(), 0u128..1500).prop_map(|(from, to, mmt)| Op::Transfer { from, to, mmt }),
        1 => (u.clone(), 0u8..3, 0u128..4).prop_map(|(by, which, mmt)| Op::Params { by, which, mmt }),
        2 => (u.clone(), 0u8..4, prop::option::of(0usize..3), any::<bool>())
            .prop_map(|(by, digest, file, encrypted)| Op::Register { by, digest, file, encrypted }),
        1 => (u.clone(), 0u8..4).prop_map(|(by, digest)| Op::Attest { by, digest }),
        2 => (u.clone(), 0usize..3, u.clone()).prop_map(|(by, file, to)| Op::Share { by, file, to }),
        3 => (u.clone(), 0u128..60, any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(by, stake, cheap, small)| Op::Offer { by, stake, cheap, small }),
        3 => (u.clone(), 0usize..3, 1u64..4, 3u64..40, any::<bool>())
            .prop_map(|(by, file, replicas, duration, dear)| Op::Deal { by, file, replicas, duration, dear }),
        5 => (u.clone(), 0usize..64).prop_map(|(by, deal)| Op::Accept { by, deal }),
        8 => (u.clone(), 0usize..64, prop::bool::weighted(0.15)).prop_map(|(by, deal, junk)| Op::Prove { by, deal, junk, epoch: 0, shown: 0 }),
    ]
}

/// Points an acceptance or a proof at a deal the model knows (and a proof, usually, at a
/// holder with an open challenge), so the storage paths are walked often.
fn aim(op: Op, model: &Model, w: &World) -> Option<Op> {
    let n = model.deals.len();
    match op {
        Op::Accept { by, deal } => (n > 0).then(|| Op::Accept { by, deal: deal % n }),
        Op::Prove { by, deal, junk, .. } => {
            let open: Vec<usize> = (0..n)
                .filter(|i| model.deals[*i].holders.iter().any(|h| h.open.is_some()))
                .collect();
            let deal = if open.is_empty() || deal % 7 == 6 {
                deal % n.max(1)
            } else {
                open[deal % open.len()]
            };
            let d = model.deals.get(deal)?;
            let holder = d
                .holders
                .iter()
                .filter(|h| h.open.is_some())
                .find_map(|h| (0..USERS).find(|i| w.h.user(*i) == h.provider));
            let by = if deal % 5 == 4 {
                by
            } else {
                holder.unwrap_or(by)
            };
            // The proof answers the challenge open before this block's boundaries run.
            let chain: Deal = w.h.state.load(&d.id).ok()??;
            let (epoch, offset) = chain
                .holders
                .iter()
                .find(|h| h.provider == w.h.user(by))
                .and_then(|h| h.challenge)
                .map_or((0, 0), |c| (c.epoch, c.offset));
            let file = w.files.iter().find(|f| f.0.to_bytes() == chain.cid)?;
            let p = build_proof(&file.1, &file.0, offset).ok()?;
            let shown = (p.path.iter().map(Vec::len).sum::<usize>() + p.leaf.len()) as u64;
            Some(Op::Prove {
                by,
                deal,
                junk,
                epoch,
                shown,
            })
        }
        other => Some(other),
    }
}

#[derive(Clone, Debug, Default)]
struct MNode {
    capacity: u64,
    price: u128,
    stake: u128,
    bonded: u128,
    committed: u64,
}

#[derive(Clone, Debug)]
struct MHolder {
    provider: Address,
    bond: u128,
    /// (epoch, deadline) of the open challenge.
    open: Option<(u64, u64)>,
}

#[derive(Clone, Debug)]
struct MDeal {
    id: [u8; 32],
    owner: Address,
    size: u64,
    replicas: u64,
    price: u128,
    start: u64,
    end: u64,
    escrow: u128,
    fee: u128,
    reserve: u128,
    next_due: u64,
    proof_bytes: u64,
    ended: bool,
    holders: Vec<MHolder>,
}

/// The rules, stated again as plainly as possible.
#[derive(Clone, Debug)]
struct Model {
    balances: BTreeMap<Address, u128>,
    sealing_reward: u128,
    storage_reward: u128,
    /// Per reward epoch: sealing, storage.
    budgets: [u128; 2],
    pending: Option<(u64, u8, u128)>,
    /// (epoch, spent) of sealing and of storage.
    spent: [(u64, u128); 2],
    registered: BTreeSet<u8>,
    cids: BTreeMap<usize, (Address, bool)>,
    grants: BTreeSet<(usize, Address)>,
    attested: BTreeSet<u8>,
    nodes: BTreeMap<Address, MNode>,
    deals: Vec<MDeal>,
}

struct World {
    h: Harness,
    files: Vec<(Cid, HashMap<Cid, Vec<u8>>, u64)>,
    pool: Address,
    module: Address,
    price: u128,
}

impl Model {
    fn bal(&mut self, a: &Address) -> &mut u128 {
        self.balances.entry(*a).or_default()
    }

    fn mv(&mut self, from: &Address, to: &Address, amount: u128) {
        *self.bal(from) -= amount;
        *self.bal(to) += amount;
    }

    /// What the community pool pays now for a request of `amount` for purpose `what` (0
    /// sealing, 1 storage), within that purpose's budget.
    fn pay(&mut self, w: &World, number: u64, what: usize, to: &Address, amount: u128) -> u128 {
        let epoch = number / w.h.genesis.params.reward_epoch;
        if self.spent[what].0 != epoch {
            self.spent[what] = (epoch, 0);
        }
        let paid = amount
            .min(self.budgets[what].saturating_sub(self.spent[what].1))
            .min(self.balances[&w.pool]);
        self.spent[what].1 += paid;
        self.mv(&w.pool.clone(), to, paid);
        paid
    }

    fn begin(&mut self, w: &World, number: u64) {
        if let Some((at, which, v)) = self.pending
            && at <= number
        {
            match which {
                0 => self.sealing_reward = v,
                1 => self.storage_reward = v,
                _ => self.budgets[1] = v,
            }
            self.pending = None;
        }
        let p = &w.h.genesis.params;
        let (epoch_len, window, permille) = (
            p.storage_epoch,
            p.proof_window,
            u128::from(p.storage_slash_permille),
        );
        let mut due: Vec<(u64, [u8; 32])> = self
            .deals
            .iter()
            .filter(|d| !d.ended && d.next_due <= number)
            .map(|d| (d.next_due, d.id))
            .collect();
        due.sort();
        let mut asked = 0u64;
        for (_, id) in due {
            let i = self.deals.iter().position(|d| d.id == id).unwrap();
            let mut d = self.deals[i].clone();
            // The proofs this boundary's challenges will ask for, within the block's share.
            let each = if d.proof_bytes == 0 {
                p.max_proof_tx_bytes
            } else {
                d.proof_bytes
            };
            let demand = if number >= d.end {
                0
            } else {
                each * d.holders.len() as u64
            };
            if asked > 0 && asked + demand > p.max_challenge_bytes {
                break;
            }
            asked += demand;
            let fee = d.fee.min(d.reserve);
            d.reserve -= fee;
            self.mv(&w.module, &w.h.sealer, fee);
            for h in &mut d.holders {
                if h.open.take().is_some() {
                    let refund = d.price.min(d.escrow);
                    d.escrow -= refund;
                    self.mv(&w.module, &d.owner, refund);
                    let slashed = h.bond / 1000 * permille;
                    h.bond -= slashed;
                    let n = self.nodes.get_mut(&h.provider).unwrap();
                    n.stake -= slashed;
                    n.bonded -= slashed;
                    self.mv(&w.module, &w.pool, slashed);
                }
            }
            if number >= d.end {
                self.mv(&w.module, &d.owner, d.escrow + d.reserve);
                d.reserve = 0;
                for h in &d.holders {
                    let n = self.nodes.get_mut(&h.provider).unwrap();
                    n.committed -= d.size;
                    n.bonded -= h.bond;
                }
                d.escrow = 0;
                d.ended = true;
            } else {
                let epoch = (d.next_due - d.start) / epoch_len;
                for h in &mut d.holders {
                    h.open = Some((epoch, number + window));
                }
                d.next_due = (d.next_due + epoch_len).max(number + window + 1);
            }
            self.deals[i] = d;
        }
    }

    /// The outcome of one transaction (its gas fee is settled by the caller).
    fn apply(
        &mut self,
        w: &World,
        number: u64,
        op: &Op,
        nonce: u64,
        reserve: u128,
    ) -> Result<(), Code> {
        let user = |i: usize| w.h.user(i);
        let p = &w.h.genesis.params;
        match *op {
            Op::Transfer { from, to, mmt } => {
                let amount = Amount::from_mmt(mmt).0;
                if self.balances[&user(from)] - reserve < amount {
                    return Err(Code::InsufficientBalance);
                }
                self.mv(&user(from), &user(to), amount);
            }
            Op::Params { by, which, mmt } => {
                if by != 0 {
                    return Err(Code::NotParamsAuthority);
                }
                self.pending = Some((number + 1, which, Amount::from_mmt(mmt).0));
            }
            Op::Register {
                by,
                digest,
                file,
                encrypted,
            } => {
                if let Some(f) = file
                    && self.cids.contains_key(&f)
                {
                    return Err(Code::CidRegistered);
                }
                if self.registered.contains(&digest) {
                    return Err(Code::DigestRegistered);
                }
                self.registered.insert(digest);
                if let Some(f) = file {
                    self.cids.insert(f, (user(by), encrypted));
                }
            }
            Op::Attest { digest, .. } => {
                if !self.attested.insert(digest) {
                    return Err(Code::DigestAttested);
                }
            }
            Op::Share { by, file, to } => {
                let Some((owner, encrypted)) = self.cids.get(&file).copied() else {
                    return Err(Code::CidNotRegistered);
                };
                if !encrypted {
                    return Err(Code::NotEncrypted);
                }
                if owner != user(by) && !self.grants.contains(&(file, user(by))) {
                    return Err(Code::NotOwnerOrGrantee);
                }
                self.grants.insert((file, user(to)));
            }
            Op::Offer {
                by,
                stake,
                cheap,
                small,
            } => {
                let me = user(by);
                let n = self.nodes.get(&me).cloned().unwrap_or_default();
                let capacity = if small { 1_000 } else { 1 << 30 };
                let stake = Amount::from_mmt(stake).0;
                if capacity < n.committed {
                    return Err(Code::CapacityBelowCommitted);
                }
                if stake < n.bonded {
                    return Err(Code::StakeBelowBonded);
                }
                if stake > n.stake {
                    if self.balances[&me] - reserve < stake - n.stake {
                        return Err(Code::InsufficientBalance);
                    }
                    self.mv(&me, &w.module, stake - n.stake);
                } else {
                    self.mv(&w.module, &me, n.stake - stake);
                }
                let price = if cheap {
                    0
                } else {
                    Amount::from_mmt(1).0 / 100
                };
                self.nodes.insert(
                    me,
                    MNode {
                        capacity,
                        price,
                        stake,
                        ..n
                    },
                );
            }
            Op::Deal {
                by,
                file,
                replicas,
                duration,
                dear,
            } => {
                let me = user(by);
                let epoch = p.storage_epoch;
                if duration < epoch + 1 {
                    return Err(Code::BadDuration);
                }
                let price = if dear {
                    Amount::from_mmt(1).0
                } else {
                    Amount::from_mmt(1).0 / 20
                };
                let n = (duration - 1) / epoch;
                let escrow = price * u128::from(replicas) * u128::from(n);
                if escrow < p.min_deal_escrow.0 {
                    return Err(Code::EscrowTooSmall);
                }
                let fee = w.price * u128::from(p.gas_deal_epoch) * u128::from(replicas);
                let held = fee * u128::from(n + 1);
                if self.balances[&me] - reserve < escrow + held {
                    return Err(Code::InsufficientBalance);
                }
                self.mv(&me, &w.module, escrow + held);
                self.deals.push(MDeal {
                    id: deal_id(w.h.suite, &me, nonce),
                    owner: me,
                    size: w.files[file].2,
                    replicas,
                    price,
                    start: number,
                    end: number + (n + 1) * epoch,
                    escrow,
                    fee,
                    reserve: held,
                    // Only the end, until a first holder.
                    next_due: number + (n + 1) * epoch,
                    proof_bytes: 0,
                    ended: false,
                    holders: vec![],
                });
            }
            Op::Accept { by, deal } => {
                let me = user(by);
                let Some(d) = self.deals.get(deal).cloned() else {
                    unreachable!("filtered")
                };
                let Some(n) = self.nodes.get(&me).cloned() else {
                    return Err(Code::NotAStorageNode);
                };
                let gib = u128::from(d.size).div_ceil(GIB);
                let bond = p.storage_stake_per_gib.0 * gib;
                if d.ended {
                    return Err(Code::DealEnded);
                } else if d.holders.len() as u64 >= d.replicas {
                    return Err(Code::ReplicasTaken);
                } else if d.holders.iter().any(|h| h.provider == me) {
                    return Err(Code::AlreadyHolds);
                } else if d.owner == me {
                    return Err(Code::OwnerCannotHold);
                } else if n.capacity.saturating_sub(n.committed) < d.size {
                    return Err(Code::NoRoom);
                } else if d.price < n.price * gib {
                    return Err(Code::PriceBelowAsk);
                } else if n.stake - n.bonded < bond {
                    return Err(Code::StakeTooSmall);
                }
                let node = self.nodes.get_mut(&me).unwrap();
                node.committed += d.size;
                node.bonded += bond;
                if d.holders.is_empty() {
                    let epoch = p.storage_epoch;
                    let next = d.start + ((number - d.start) / epoch + 1) * epoch;
                    let dm = &mut self.deals[deal];
                    dm.next_due = dm.next_due.min(next);
                }
                self.deals[deal].holders.push(MHolder {
                    provider: me,
                    bond,
                    open: None,
                });
            }
            Op::Prove {
                by,
                deal,
                junk,
                epoch,
                shown,
            } => {
                let me = user(by);
                let d = self.deals[deal].clone();
                let Some(i) = d.holders.iter().position(|h| h.provider == me) else {
                    return Err(Code::NotAHolder);
                };
                let Some((open, deadline)) = d.holders[i].open else {
                    return Err(Code::NoOpenChallenge);
                };
                if open != epoch {
                    return Err(Code::WrongEpoch);
                }
                if number > deadline {
                    return Err(Code::ChallengeClosed);
                }
                if junk {
                    return Err(Code::ProofHash);
                }
                let paid = d.price.min(d.escrow);
                self.deals[deal].escrow -= paid;
                self.deals[deal].proof_bytes = d.proof_bytes.max(shown);
                self.deals[deal].holders[i].open = None;
                self.mv(&w.module, &me, paid);
                let due = self.storage_reward * u128::from(d.size) / GIB;
                self.pay(w, number, 1, &me, due);
            }
        }
        Ok(())
    }
}

/// The transaction for `op`, or `None` when the generator has nothing sensible to send.
fn action(w: &World, model: &Model, op: &Op, number: u64) -> Option<Action> {
    let user = |i: usize| w.h.user(i);
    Some(match *op {
        Op::Transfer { to, mmt, .. } => AccountAction::Transfer {
            to: user(to),
            amount: Amount::from_mmt(mmt),
        }
        .into(),
        Op::Params { which, mmt, .. } => {
            let name = ["sealingReward", "storageReward", "storageBudget"][which as usize];
            let v = Amount::from_mmt(mmt).0.to_be_bytes();
            let value = v[v.iter().position(|b| *b != 0).unwrap_or(16)..].to_vec();
            ParamsAction::Change {
                changes: vec![(name.into(), value)],
            }
            .into()
        }
        Op::Register {
            digest,
            file,
            encrypted,
            ..
        } => DataAction::Register {
            digest: [digest; 32],
            size: 1,
            cid: file.map_or_else(Vec::new, |f| w.files[f].0.to_bytes()),
            encrypted,
            profile: if file.is_some() {
                "unixfs-v0-2015".into()
            } else {
                String::new()
            },
            title: "t".into(),
            licence: "CC0".into(),
            metadata: vec![],
        }
        .into(),
        Op::Attest { digest, .. } => DataAction::Attest {
            digest: [digest; 32],
            kind: WorkKind::Paper,
            metadata: vec![1, 2],
        }
        .into(),
        Op::Share { file, to, .. } => DataAction::ShareKey {
            cid: w.files[file].0.to_bytes(),
            recipient: w.h.keys[to].public_key().to_uncompressed().to_vec(),
            wrapped: vec![9; 80],
        }
        .into(),
        Op::Offer {
            stake,
            cheap,
            small,
            ..
        } => StorageAction::Offer {
            capacity: if small { 1_000 } else { 1 << 30 },
            price: Amount(if cheap {
                0
            } else {
                Amount::from_mmt(1).0 / 100
            }),
            stake: Amount::from_mmt(stake),
        }
        .into(),
        Op::Deal {
            file,
            replicas,
            duration,
            dear,
            ..
        } => StorageAction::Deal {
            cid: w.files[file].0.to_bytes(),
            root: w.files[file].1[&w.files[file].0].clone(),
            replicas,
            duration,
            price: Amount(if dear {
                Amount::from_mmt(1).0
            } else {
                Amount::from_mmt(1).0 / 20
            }),
        }
        .into(),
        Op::Accept { deal, .. } => StorageAction::Accept {
            deal: model.deals.get(deal)?.id,
        }
        .into(),
        Op::Prove { by, deal, junk, .. } => {
            let d = model.deals.get(deal)?;
            let chain: Deal = w.h.state.load(&d.id).unwrap()?;
            let me = user(by);
            let (epoch, offset) = chain
                .holders
                .iter()
                .find(|h| h.provider == me)
                .and_then(|h| h.challenge)
                .map_or((0, 0), |c| (c.epoch, c.offset));
            let file = w
                .files
                .iter()
                .find(|f| f.0.to_bytes() == chain.cid)
                .unwrap();
            let root = cid_from_bytes(&chain.cid).unwrap();
            let mut p = build_proof(&file.1, &root, offset).unwrap();
            if junk {
                p.leaf[0] ^= 1;
            }
            let _ = number;
            StorageAction::Prove {
                deal: d.id,
                epoch,
                path: p.path,
                leaf: p.leaf,
            }
            .into()
        }
    })
}

fn check(w: &World, model: &Model) -> Result<(), TestCaseError> {
    let mut sum = 0u128;
    for (a, expected) in &model.balances {
        let got = w.h.balance(a).0;
        prop_assert_eq!(
            got,
            *expected,
            "balance of {} after block {}",
            a,
            w.h.number
        );
        sum += got;
    }
    prop_assert_eq!(sum, TOTAL_SUPPLY.0, "the supply after block {}", w.h.number);
    let escrows: u128 = model.deals.iter().map(|d| d.escrow + d.reserve).sum();
    let stakes: u128 = model.nodes.values().map(|n| n.stake).sum();
    prop_assert_eq!(w.h.balance(&w.module).0, escrows + stakes);
    Ok(())
}

fn run(eth: bool, blocks: Vec<Vec<Op>>) -> Result<(), TestCaseError> {
    let suite = if eth { Suite::Eth } else { Suite::Sm };
    let authority = Harness::new(suite, USERS, |_| {}).user(0);
    let h = Harness::new(suite, USERS, |g| {
        g.params.params_authority = authority;
        g.params.storage_epoch = 4;
        g.params.proof_window = 2;
        g.params.reward_epoch = 16;
        g.params.sealing_budget = Amount::from_mmt(20);
        g.params.storage_budget = Amount::from_mmt(40);
        g.params.storage_reward = Amount::from_mmt(5_000);
    });
    let files = [1_000usize, 300_000, 700_000]
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let (cid, blocks) = common::file(*size, i as u8 + 1);
            (cid, blocks, *size as u64)
        })
        .collect();
    let mut w = World {
        pool: Pool::Community.address(suite),
        module: escrow_account(suite),
        price: h.genesis.params.min_gas_price.0,
        files,
        h,
    };
    let p = &w.h.genesis.params;
    let mut model = Model {
        balances: w
            .h
            .accounts()
            .into_iter()
            .map(|a| (a, w.h.balance(&a).0))
            .collect(),
        sealing_reward: p.sealing_reward.0,
        storage_reward: p.storage_reward.0,
        budgets: [p.sealing_budget.0, p.storage_budget.0],
        pending: None,
        spent: [(0, 0); 2],
        registered: BTreeSet::new(),
        cids: BTreeMap::new(),
        grants: BTreeSet::new(),
        attested: BTreeSet::new(),
        nodes: BTreeMap::new(),
        deals: Vec::new(),
    };
    let reserve = w.price * u128::from(GAS);
    for ops in blocks {
        let number = w.h.number + 1;
        let mut planned = model.clone();
        planned.begin(&w, number);
        let mut txs = Vec::new();
        let mut kept = Vec::new();
        let mut nonces: HashMap<usize, u64> = HashMap::new();
        for op in ops {
            let Some(op) = aim(op, &planned, &w) else {
                continue;
            };
            let by = match op {
                Op::Transfer { from, .. } => from,
                Op::Params { by, .. }
                | Op::Register { by, .. }
                | Op::Attest { by, .. }
                | Op::Share { by, .. }
                | Op::Offer { by, .. }
                | Op::Deal { by, .. }
                | Op::Accept { by, .. }
                | Op::Prove { by, .. } => by,
            };
            // One transaction per sender per block keeps the model's view of nonces simple.
            if nonces.contains_key(&by) || planned.balances[&w.h.user(by)] < reserve {
                continue;
            }
            let Some(action) = action(&w, &planned, &op, number) else {
                continue;
            };
            let nonce = w.h.nonce(&w.h.user(by));
            nonces.insert(by, nonce);
            txs.push(w.h.signed(by, nonce, GAS, action));
            kept.push((by, nonce, op));
        }
        let out =
            w.h.block(&txs)
                .map_err(|e| TestCaseError::fail(format!("block {number}: {e}")))?;
        for ((by, nonce, op), receipt) in kept.iter().zip(out.tx_receipts()) {
            let me = w.h.user(*by);
            let expected = planned.apply(&w, number, op, *nonce, reserve);
            let got = receipt.outcome.as_ref().map(|_| ()).map_err(|r| r.code);
            prop_assert_eq!(
                got,
                expected,
                "block {}: {:?} gave {:?}",
                number,
                op,
                receipt
            );
            let fee = w.price * u128::from(receipt.gas_used);
            planned.mv(&me, &w.h.sealer, fee);
        }
        let sealer = w.h.sealer;
        let reward = planned.sealing_reward;
        planned.pay(&w, number, 0, &sealer, reward);
        model = planned;
        check(&w, &model)?;
        let _: &Receipt = out.receipts.last().unwrap();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_action_matches_the_model_and_conserves_the_supply(
        eth in any::<bool>(),
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..6), 1..40),
    ) {
        run(eth, blocks)?;
    }
}
