//! The state transition against an independent model of its rules, on random blocks of random
//! (often invalid) transactions, in both suites: receipts, balances, nonces and records agree;
//! the supply is conserved after every block; a rejected transaction changes nothing.

use std::collections::BTreeMap;

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::{Action, Amount, SignedTransaction, TOTAL_SUPPLY, Transaction, WorkKind};
use metamesh_state::{
    Account, BlockEnv, CliqueParams, Genesis, Grant, Params, Pool, State, StateKey, VerifiedTx,
    apply_block,
};
use metamesh_trie::MemoryStore;
use proptest::prelude::*;

const CHAIN_ID: u64 = 7;
const USERS: usize = 4;

#[derive(Clone, Debug)]
enum Kind {
    Transfer { to: usize, amount: u64 },
    Register { digest: u8 },
    Attest { digest: u8 },
}

#[derive(Clone, Debug)]
struct TxSpec {
    from: usize,
    kind: Kind,
    fee_milli: u64,
    nonce_shift: i8,
    wrong_chain: bool,
    bad_signature: bool,
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    let kind = prop_oneof![
        (0..USERS, 0u64..3_000).prop_map(|(to, amount)| Kind::Transfer { to, amount }),
        (0u8..4).prop_map(|digest| Kind::Register { digest }),
        (0u8..4).prop_map(|digest| Kind::Attest { digest }),
    ];
    (
        0..USERS,
        kind,
        0u64..3,
        prop::sample::select(vec![0i8, 0, 0, 0, -1, 1]),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(from, kind, fee_milli, nonce_shift, wrong_chain, bad_signature)| TxSpec {
                from,
                kind,
                fee_milli,
                nonce_shift,
                wrong_chain,
                bad_signature,
            },
        )
}

struct World {
    suite: Suite,
    keys: Vec<SecretKey>,
    sealer: Address,
    params: Params,
}

impl World {
    fn new(suite: Suite) -> Self {
        let keys = (0..USERS)
            .map(|i| SecretKey::from_bytes(suite, &suite.hash(&[i as u8])).unwrap())
            .collect();
        World {
            suite,
            keys,
            sealer: Address([0xee; 20]),
            params: Params {
                min_fee: "0.001".parse().unwrap(),
                sealing_reward: Amount::from_mmt(2),
                ..Params::default()
            },
        }
    }

    fn user(&self, i: usize) -> Address {
        self.keys[i].public_key().address()
    }

    fn genesis(&self) -> Genesis {
        Genesis {
            chain_id: CHAIN_ID,
            suite: self.suite,
            timestamp: 0,
            clique: CliqueParams {
                period: 1,
                epoch: 30_000,
                signers: vec![self.sealer],
            },
            params: self.params.clone(),
            grants: (0..USERS)
                .map(|i| Grant {
                    address: self.user(i),
                    amount: "2".parse().unwrap(),
                    pool: Pool::Airdrops,
                })
                .collect(),
        }
    }

    /// Every account that can ever hold MMT here.
    fn accounts(&self) -> Vec<Address> {
        let mut all: Vec<Address> = Pool::ALL.iter().map(|p| p.address(self.suite)).collect();
        all.extend((0..USERS).map(|i| self.user(i)));
        all.push(self.sealer);
        all
    }
}

fn digest(d: u8) -> [u8; 32] {
    [d; 32]
}

/// The rules, stated again as plainly as possible.
#[derive(Clone, Default)]
struct Model {
    accounts: BTreeMap<Address, Account>,
    data: BTreeMap<[u8; 32], Address>,
    attested: BTreeMap<[u8; 32], Address>,
}

impl Model {
    fn apply(&mut self, w: &World, spec: &TxSpec, tx: &SignedTransaction) -> bool {
        let sender = w.user(spec.from);
        let acct = self.accounts.get(&sender).copied().unwrap_or_default();
        let amount = match spec.kind {
            Kind::Transfer { amount, .. } => Amount(amount as u128 * 1_000_000_000_000_000),
            _ => Amount::ZERO,
        };
        let ok = !spec.wrong_chain
            && !spec.bad_signature
            && tx.tx.nonce == acct.nonce
            && tx.tx.fee >= w.params.min_fee
            && tx.tx.fee.0 + amount.0 <= acct.balance.0
            && match spec.kind {
                Kind::Register { digest: d } => !self.data.contains_key(&digest(d)),
                Kind::Attest { digest: d } => !self.attested.contains_key(&digest(d)),
                Kind::Transfer { .. } => true,
            };
        if !ok {
            return false;
        }
        let a = self.accounts.entry(sender).or_default();
        a.nonce += 1;
        a.balance = Amount(a.balance.0 - tx.tx.fee.0 - amount.0);
        match spec.kind {
            Kind::Transfer { to, .. } => {
                self.accounts.entry(w.user(to)).or_default().balance.0 += amount.0
            }
            Kind::Register { digest: d } => drop(self.data.insert(digest(d), sender)),
            Kind::Attest { digest: d } => drop(self.attested.insert(digest(d), sender)),
        }
        self.accounts.entry(w.sealer).or_default().balance.0 += tx.tx.fee.0;
        true
    }

    fn reward(&mut self, w: &World) {
        let pool = self
            .accounts
            .entry(Pool::Community.address(w.suite))
            .or_default();
        let r = w.params.sealing_reward.0.min(pool.balance.0);
        pool.balance.0 -= r;
        self.accounts.entry(w.sealer).or_default().balance.0 += r;
    }
}

fn build(w: &World, model: &Model, spec: &TxSpec) -> SignedTransaction {
    let sender = w.user(spec.from);
    let nonce = model.accounts.get(&sender).map_or(0, |a| a.nonce);
    let action = match spec.kind {
        Kind::Transfer { to, amount } => Action::Transfer {
            to: w.user(to),
            amount: Amount(amount as u128 * 1_000_000_000_000_000),
        },
        Kind::Register { digest: d } => Action::RegisterData {
            digest: digest(d),
            size: 1,
            cid: String::new(),
            encrypted: false,
            profile: String::new(),
            title: "t".into(),
            licence: "CC-BY-4.0".into(),
            metadata: vec![],
        },
        Kind::Attest { digest: d } => Action::Attest {
            digest: digest(d),
            kind: WorkKind::Paper,
            metadata: vec![],
        },
    };
    let tx = Transaction {
        chain_id: if spec.wrong_chain {
            CHAIN_ID + 1
        } else {
            CHAIN_ID
        },
        nonce: nonce.saturating_add_signed(spec.nonce_shift as i64),
        fee: Amount(spec.fee_milli as u128 * 1_000_000_000_000_000),
        action,
    };
    let mut signed = tx.sign(&w.keys[spec.from]).unwrap();
    if spec.bad_signature {
        // Sign a different transaction: the signature is valid, but not for this one.
        let mut other = signed.tx.clone();
        other.nonce = other.nonce.wrapping_add(1000);
        signed.signature = other.sign(&w.keys[spec.from]).unwrap().signature;
    }
    signed
}

fn run(eth: bool, blocks: Vec<Vec<TxSpec>>) -> Result<(), TestCaseError> {
    let w = World::new(if eth { Suite::Eth } else { Suite::Sm });
    let store = MemoryStore::new();
    let mut state = State::empty(w.suite, &store);
    let genesis = w.genesis();
    genesis.validate().unwrap();
    genesis.apply(&mut state).unwrap();
    let mut model = Model::default();
    for (a, balance) in genesis.balances().unwrap() {
        model.accounts.insert(a, Account { nonce: 0, balance });
    }
    for (n, specs) in blocks.iter().enumerate() {
        let env = BlockEnv {
            chain_id: CHAIN_ID,
            number: n as u64 + 1,
            timestamp: 100 + n as u64,
            parent_hash: [n as u8; 32],
            sealer: w.sealer,
            params: w.params.clone(),
        };
        let mut txs = Vec::new();
        let mut expected = Vec::new();
        let mut planned = model.clone();
        for spec in specs {
            let tx = build(&w, &planned, spec);
            expected.push(planned.apply(&w, spec, &tx));
            txs.push(VerifiedTx::new(tx, w.suite));
        }
        planned.reward(&w);
        let outcome = apply_block(&mut state, &env, &txs).unwrap();
        let got: Vec<bool> = outcome.receipts.iter().map(|r| r.outcome.is_ok()).collect();
        prop_assert_eq!(
            &got,
            &expected,
            "block {} receipts: {:?}",
            n + 1,
            outcome.receipts
        );
        model = planned;

        let mut sum = 0u128;
        for a in w.accounts() {
            let acct = state.account(&a).unwrap();
            prop_assert_eq!(acct, model.accounts.get(&a).copied().unwrap_or_default());
            sum += acct.balance.0;
        }
        prop_assert_eq!(sum, TOTAL_SUPPLY.0, "supply after block {}", n + 1);
        for d in 0u8..4 {
            prop_assert_eq!(
                state.data(&digest(d)).unwrap().map(|r| r.owner),
                model.data.get(&digest(d)).copied()
            );
            prop_assert_eq!(
                state.attestation(&digest(d)).unwrap().map(|r| r.owner),
                model.attested.get(&digest(d)).copied()
            );
        }
        store.apply(&state.commit());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn transition_matches_the_model_and_conserves_supply(
        eth in any::<bool>(),
        blocks in prop::collection::vec(prop::collection::vec(tx_spec(), 0..8), 1..8),
    ) {
        run(eth, blocks)?;
    }
}

#[test]
fn a_rejected_transaction_changes_nothing() {
    for suite in Suite::ALL {
        let w = World::new(suite);
        let store = MemoryStore::new();
        let mut state = State::empty(suite, &store);
        w.genesis().apply(&mut state).unwrap();
        store.apply(&state.commit());
        let root = state.root();
        let env = BlockEnv {
            chain_id: CHAIN_ID,
            number: 1,
            timestamp: 1,
            parent_hash: [0; 32],
            sealer: w.sealer,
            params: Params {
                sealing_reward: Amount::ZERO,
                ..w.params.clone()
            },
        };
        let model = Model::default();
        // A signature made for another transaction: `sm` signatures carry their key, so it fails
        // outright; `eth` recovers some unrelated, empty account, which cannot pay.
        let cases = [
            (
                TxSpec {
                    from: 0,
                    kind: Kind::Transfer { to: 1, amount: 1 },
                    fee_milli: 1,
                    nonce_shift: 0,
                    wrong_chain: true,
                    bad_signature: false,
                },
                "wrong chain id",
            ),
            (
                TxSpec {
                    from: 0,
                    kind: Kind::Transfer { to: 1, amount: 1 },
                    fee_milli: 1,
                    nonce_shift: 0,
                    wrong_chain: false,
                    bad_signature: true,
                },
                if suite == Suite::Sm {
                    "bad signature"
                } else {
                    "insufficient balance"
                },
            ),
            (
                TxSpec {
                    from: 0,
                    kind: Kind::Transfer { to: 1, amount: 1 },
                    fee_milli: 1,
                    nonce_shift: 1,
                    wrong_chain: false,
                    bad_signature: false,
                },
                "nonce too high",
            ),
            (
                TxSpec {
                    from: 0,
                    kind: Kind::Transfer { to: 1, amount: 1 },
                    fee_milli: 0,
                    nonce_shift: 0,
                    wrong_chain: false,
                    bad_signature: false,
                },
                "below the minimum",
            ),
            (
                TxSpec {
                    from: 0,
                    kind: Kind::Transfer {
                        to: 1,
                        amount: 2_999,
                    },
                    fee_milli: 2,
                    nonce_shift: 0,
                    wrong_chain: false,
                    bad_signature: false,
                },
                "insufficient balance",
            ),
        ];
        for (spec, reason) in cases {
            let tx = VerifiedTx::new(build(&w, &model, &spec), suite);
            let outcome = apply_block(&mut state, &env, &[tx]).unwrap();
            let err = outcome.receipts[0].outcome.clone().unwrap_err();
            assert!(err.contains(reason), "{suite}: {err} (wanted {reason})");
            assert_eq!(
                state.root(),
                root,
                "{suite}: state changed by a rejected transaction"
            );
        }
    }
}

#[test]
fn first_registration_wins_and_proves_against_the_root() {
    let w = World::new(Suite::Sm);
    let store = MemoryStore::new();
    let mut state = State::empty(Suite::Sm, &store);
    w.genesis().apply(&mut state).unwrap();
    let mut model = Model::default();
    for (a, balance) in w.genesis().balances().unwrap() {
        model.accounts.insert(a, Account { nonce: 0, balance });
    }
    let env = |number| BlockEnv {
        chain_id: CHAIN_ID,
        number,
        timestamp: 1_000 + number,
        parent_hash: [0; 32],
        sealer: w.sealer,
        params: w.params.clone(),
    };
    let spec = |from| TxSpec {
        from,
        kind: Kind::Register { digest: 9 },
        fee_milli: 1,
        nonce_shift: 0,
        wrong_chain: false,
        bad_signature: false,
    };
    let first = VerifiedTx::new(build(&w, &model, &spec(0)), Suite::Sm);
    let second = VerifiedTx::new(build(&w, &model, &spec(1)), Suite::Sm);
    apply_block(&mut state, &env(1), &[first]).unwrap();
    let outcome = apply_block(&mut state, &env(2), &[second]).unwrap();
    assert!(
        outcome.receipts[0]
            .outcome
            .clone()
            .unwrap_err()
            .contains("already registered")
    );
    let record = state.data(&digest(9)).unwrap().unwrap();
    assert_eq!(
        (record.owner, record.block, record.time),
        (w.user(0), 1, 1_001)
    );

    let commit = state.commit();
    store.apply(&commit);
    let key = StateKey::Data(digest(9));
    let proof = state.prove(&key).unwrap();
    let value = metamesh_trie::verify_proof::<metamesh_trie::Sm3>(
        &commit.root,
        &state.trie_key(&key),
        &proof,
    )
    .unwrap()
    .unwrap();
    assert_eq!(metamesh_state::DataRecord::decode(&value).unwrap(), record);
}
