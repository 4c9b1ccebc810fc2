//! The state transition's rules for every transaction: validity (an invalid transaction makes
//! its block invalid and changes nothing), metering (fees grow with bytes and with on-chain
//! work; a failed transaction is included and pays), the block gas limit, parameters that
//! change at the next block, first registrations, and who may share a data key.

mod common;
// The knowledge domain's rules, in this binary (one link fewer for CI).
#[path = "domains/knowledge.rs"]
mod knowledge;

use common::{GAS, Harness, code, file};
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    AccountAction, Amount, DataAction, ParamsAction, StorageAction, Transaction, WorkKind,
};
use metamesh_state::{
    AccountEvent, BlockError, Code, DataRecord, Event, ParamsEvent, Record, StateKey, TxError,
    VerifiedTx, intrinsic_gas,
};

fn transfer(to: Address, mmt: u128) -> AccountAction {
    AccountAction::Transfer {
        to,
        amount: Amount::from_mmt(mmt),
    }
}

fn invalid_code(result: Result<metamesh_state::BlockOutcome, BlockError>) -> Code {
    match result {
        Err(BlockError::Invalid { rejection, .. }) => rejection.code,
        other => panic!("expected an invalid block, got {other:?}"),
    }
}

#[test]
fn invalid_transactions_make_the_block_invalid_and_change_nothing() {
    for suite in Suite::ALL {
        let mut h = Harness::new(suite, 2, |_| {});
        h.block(&[]).unwrap();
        let root = h.root();
        let to = h.user(1);
        let sign = |h: &Harness, chain: u64, nonce: u64, price: Amount, gas: u64| {
            let tx = Transaction {
                chain_id: chain,
                nonce,
                gas_price: price,
                gas_limit: gas,
                action: transfer(to, 1).into(),
            }
            .sign(&h.keys[0])
            .unwrap();
            VerifiedTx::new(tx, suite)
        };
        let price = h.params().min_gas_price;
        let cases = [
            (sign(&h, 99, 0, price, GAS), Code::WrongChain),
            (sign(&h, common::CHAIN, 1, price, GAS), Code::NonceTooHigh),
            (
                sign(&h, common::CHAIN, 0, Amount(price.0 - 1), GAS),
                Code::GasPriceTooLow,
            ),
            (sign(&h, common::CHAIN, 0, price, 1_000), Code::IntrinsicGas),
            (
                sign(&h, common::CHAIN, 0, price, h.params().block_gas_limit + 1),
                Code::BlockGasExceeded,
            ),
            (
                sign(&h, common::CHAIN, 0, Amount::from_mmt(1), 21_000_000),
                Code::CannotPayGas,
            ),
        ];
        for (tx, expected) in cases {
            assert_eq!(invalid_code(h.block(&[tx])), expected, "{suite}");
            assert_eq!(h.root(), root);
        }
        // A signature made for another transaction.
        let mut forged = sign(&h, common::CHAIN, 0, price, GAS).tx;
        forged.signature = sign(&h, common::CHAIN, 5, price, GAS).tx.signature;
        let forged = VerifiedTx::new(forged, suite);
        let expected = match suite {
            // `sm` signatures carry their key: the check fails outright.
            Suite::Sm => Code::BadSignature,
            // `eth` recovers some unrelated account with nothing to pay with.
            Suite::Eth => Code::CannotPayGas,
        };
        assert_eq!(invalid_code(h.block(&[forged])), expected, "{suite}");
        // A valid transaction, then the same nonce again.
        let ok = h.tx(0, transfer(to, 1));
        let again = sign(&h, common::CHAIN, 0, Amount(price.0 + 1), GAS);
        assert_eq!(
            invalid_code(h.block(&[ok.clone(), again])),
            Code::StaleNonce
        );
        assert_eq!(
            h.root(),
            root,
            "{suite}: nothing of the invalid block stays"
        );
        h.block(&[ok]).unwrap();
        assert_ne!(h.root(), root);
    }
}

#[test]
fn a_failed_included_transaction_pays_for_its_gas_and_nothing_else() {
    let mut h = Harness::new(Suite::Sm, 2, |_| {});
    let (me, you) = (h.user(0), h.user(1));
    let (before, yours, sealer) = (h.balance(&me), h.balance(&you), h.balance(&h.sealer));
    let receipt = h.run(0, transfer(you, 5_000));
    assert_eq!(code(&receipt), Some(Code::InsufficientBalance));
    let fee = Amount(h.params().min_gas_price.0 * u128::from(receipt.gas_used));
    assert!(receipt.gas_used > intrinsic_gas(&h.params(), 150));
    assert_eq!(h.balance(&me), before.checked_sub(fee).unwrap());
    assert_eq!(h.nonce(&me), 1);
    assert_eq!(h.balance(&you), yours);
    let reward = h.params().sealing_reward;
    assert_eq!(
        h.balance(&h.sealer),
        sealer
            .checked_add(fee)
            .unwrap()
            .checked_add(reward)
            .unwrap()
    );
    assert_eq!(
        receipt.events,
        vec![Event::Accounts(AccountEvent::Fee {
            from: me,
            sealer: h.sealer,
            amount: fee
        })],
        "a failed transaction's only event is its fee"
    );
    h.assert_supply();
}

#[test]
fn module_accounts_take_no_transfers() {
    let mut h = Harness::new(Suite::Eth, 1, |_| {});
    let module = metamesh_state::escrow_account(Suite::Eth);
    let receipt = h.run(0, transfer(module, 1));
    assert_eq!(code(&receipt), Some(Code::ModuleAccount));
    assert_eq!(h.balance(&module), Amount::ZERO);
    h.assert_supply();
}

#[test]
fn out_of_gas_pays_the_whole_limit_and_writes_nothing() {
    let mut h = Harness::new(Suite::Sm, 1, |_| {});
    let action = DataAction::Attest {
        digest: [3; 32],
        kind: WorkKind::Paper,
        metadata: vec![],
    };
    let size = h.signed(0, 0, 30_000, action.clone().into()).size;
    let limit = intrinsic_gas(&h.params(), size) + 300;
    let tx = h.signed(0, 0, limit, action.into());
    let receipt = h.block(&[tx]).unwrap().receipts.remove(0);
    assert_eq!(code(&receipt), Some(Code::OutOfGas));
    assert_eq!(receipt.gas_used, limit);
    assert_eq!(h.state.get(&StateKey::Attestation([3; 32])).unwrap(), None);
}

#[test]
fn fees_grow_with_bytes_and_with_on_chain_work() {
    let mut h = Harness::new(Suite::Sm, 2, |_| {});
    let attest = |d: u8, metadata: Vec<u8>| DataAction::Attest {
        digest: [d; 32],
        kind: WorkKind::Result,
        metadata,
    };
    let small = h.run(0, attest(1, vec![]));
    let large = h.run(0, attest(2, vec![7; 1000]));
    assert!(small.outcome.is_ok() && large.outcome.is_ok());
    let p = h.params();
    // The bytes travel (16 a byte) and are stored (10 a byte).
    assert!(
        large.gas_used >= small.gas_used + 1000 * (p.gas_tx_byte + p.gas_write_byte),
        "{} then {}",
        small.gas_used,
        large.gas_used
    );
    // A deal hashes its root block on chain: a bigger root costs more.
    let offer = StorageAction::Offer {
        capacity: 1 << 30,
        price: Amount::ZERO,
        stake: Amount::from_mmt(100),
    };
    assert!(h.run(1, offer).outcome.is_ok());
    let deal = |cid: &metamesh_storage::Cid, blocks: &std::collections::HashMap<_, Vec<u8>>| {
        StorageAction::Deal {
            cid: cid.to_bytes(),
            root: blocks[cid].clone(),
            replicas: 1,
            duration: 30,
            price: Amount::from_mmt(1),
        }
    };
    let (one_leaf, b1) = file(1_000, 1);
    let (many_leaves, b2) = file(262_144 * 3, 2);
    let cheap = h.run(0, deal(&one_leaf, &b1));
    let dear = h.run(0, deal(&many_leaves, &b2));
    assert!(
        cheap.outcome.is_ok() && dear.outcome.is_ok(),
        "{cheap:?} {dear:?}"
    );
    // (The one-leaf root carries its 1,000 bytes; the other root is a small node.)
    assert_ne!(cheap.gas_used, dear.gas_used);
    h.assert_supply();
}

#[test]
fn a_block_over_its_gas_limit_is_invalid() {
    let mut h = Harness::new(Suite::Sm, 6, |g| {
        g.params.block_gas_limit = 2_000_000;
        g.params.max_tx_bytes = 32 * 1024;
        g.params.max_proof_tx_bytes = 64 * 1024;
        g.params.max_challenge_bytes = 64 * 1024;
    });
    let limit = h.params().block_gas_limit;
    // Each uses about 430,000 gas (16 KiB carried and stored): five fill the block.
    let txs: Vec<VerifiedTx> = (0..6)
        .map(|i| {
            let action = DataAction::Attest {
                digest: [i as u8; 32],
                kind: WorkKind::Dataset,
                metadata: vec![i as u8; 16 * 1024],
            };
            h.signed(i, 0, 500_000, action.into())
        })
        .collect();
    assert_eq!(invalid_code(h.block(&txs[..5])), Code::BlockGasExceeded);
    let out = h.block(&txs[..4]).unwrap();
    assert!(
        out.gas_used > limit * 3 / 4 && out.gas_used <= limit,
        "{}",
        out.gas_used
    );
    // A header that names another gas limit.
    let mut env = h.env();
    env.gas_limit += 1;
    let err = metamesh_state::apply_block(&mut h.state, &env, &[]).unwrap_err();
    assert!(matches!(err, BlockError::GasLimit { .. }), "{err:?}");
}

#[test]
fn a_builder_leaves_out_what_does_not_fit() {
    let mut h = Harness::new(Suite::Sm, 2, |_| {});
    let env = h.env();
    let txs = [
        h.signed(0, 0, GAS, transfer(Address([1; 20]), 1).into()),
        h.signed(0, 2, GAS, transfer(Address([1; 20]), 1).into()),
        h.signed(1, 0, GAS, transfer(Address([1; 20]), 1).into()),
    ];
    let mut block = metamesh_state::BlockExecutor::begin(&mut h.state, &env).unwrap();
    assert!(block.push(&txs[0]).is_ok());
    assert!(
        matches!(block.push(&txs[1]), Err(TxError::Invalid(r)) if r.code == Code::NonceTooHigh)
    );
    assert!(block.push(&txs[2]).is_ok());
    let out = block.finish().unwrap();
    assert_eq!(
        out.receipts.len(),
        3,
        "two transactions and the system receipt"
    );
    assert!(out.receipts.last().unwrap().is_system());
}

#[test]
fn parameters_change_at_the_next_block_and_only_by_their_authority() {
    let mut h = Harness::new(Suite::Sm, 2, |g| {
        g.params.params_authority = Address([0; 20])
    });
    let change = |name: &str, value: Vec<u8>| ParamsAction::Change {
        changes: vec![(name.into(), value)],
    };
    let none = h.run(0, change("storageEpoch", vec![20]));
    assert_eq!(
        code(&none),
        Some(Code::NotParamsAuthority),
        "no authority at all"
    );

    let authority = Harness::new(Suite::Sm, 2, |_| {}).user(0);
    let mut h = Harness::new(Suite::Sm, 2, |g| g.params.params_authority = authority);
    assert_eq!(
        code(&h.run(1, change("storageEpoch", vec![20]))),
        Some(Code::NotParamsAuthority)
    );
    assert_eq!(
        code(&h.run(0, change("noSuch", vec![1]))),
        Some(Code::UnknownParam)
    );
    assert_eq!(
        code(&h.run(0, change("storageEpoch", vec![0, 1]))),
        Some(Code::BadParamValue)
    );
    let broken = h.run(0, change("proofWindow", vec![50]));
    assert_eq!(code(&broken), Some(Code::ParamsInvalid));
    assert_eq!(broken.outcome.unwrap_err().args, vec![6]);

    let old = h.params().min_gas_price;
    let doubled = Amount(old.0 * 2);
    let bytes = doubled.0.to_be_bytes();
    let value = bytes[bytes.iter().position(|b| *b != 0).unwrap()..].to_vec();
    let scheduled = h.run(0, change("minGasPrice", value));
    assert!(scheduled.outcome.is_ok(), "{scheduled:?}");
    let at = h.number + 1;
    assert!(
        scheduled
            .events
            .contains(&Event::Params(ParamsEvent::Scheduled {
                block: at,
                names: vec!["minGasPrice".into()],
            }))
    );
    // Still the old price in this block's state; the next block runs with the new one.
    assert_eq!(
        metamesh_state::params_at(&h.state, h.number)
            .unwrap()
            .min_gas_price,
        old
    );
    assert_eq!(h.params().min_gas_price, doubled);
    let cheap = Transaction {
        chain_id: common::CHAIN,
        nonce: h.nonce(&h.user(1)),
        gas_price: old,
        gas_limit: GAS,
        action: transfer(Address([1; 20]), 1).into(),
    }
    .sign(&h.keys[1])
    .unwrap();
    let cheap = VerifiedTx::new(cheap, Suite::Sm);
    assert_eq!(invalid_code(h.block(&[cheap])), Code::GasPriceTooLow);
    let out = h.block(&[]).unwrap();
    assert_eq!(
        out.system_events()[0],
        Event::Params(ParamsEvent::Changed {
            names: vec!["minGasPrice".into()]
        })
    );
    let stored: metamesh_state::Params = h.state.load(&()).unwrap().unwrap();
    assert_eq!(stored.min_gas_price, doubled);
    assert!(h.state.get(&StateKey::PendingParams).unwrap().is_none());
}

#[test]
fn first_registration_wins_and_proves_against_the_root() {
    let mut h = Harness::new(Suite::Sm, 2, |_| {});
    let (cid, _) = file(100, 1);
    let register = |cid: Vec<u8>, digest: u8| DataAction::Register {
        digest: [digest; 32],
        size: 100,
        cid,
        encrypted: false,
        profile: "unixfs-v0-2015".into(),
        title: "t".into(),
        licence: "CC-BY-4.0".into(),
        metadata: vec![],
    };
    assert!(h.run(0, register(cid.to_bytes(), 9)).outcome.is_ok());
    let first_block = h.number;
    let again = h.run(1, register(Vec::new(), 9));
    assert_eq!(code(&again), Some(Code::ProfileWithoutCid));
    let mut second = register(Vec::new(), 9);
    if let DataAction::Register { profile, .. } = &mut second {
        profile.clear();
    }
    let r = h.run(1, second);
    assert_eq!(code(&r), Some(Code::DigestRegistered));
    assert_eq!(r.outcome.unwrap_err().args, vec![u128::from(first_block)]);
    // One CID, one registration, however it is spelled: text is not a CID on chain.
    assert_eq!(
        code(&h.run(1, register(cid.to_bytes(), 10))),
        Some(Code::CidRegistered)
    );
    assert_eq!(
        code(&h.run(1, register(cid.to_string().into_bytes(), 11))),
        Some(Code::BadCid)
    );

    let record: DataRecord = h.state.load(&[9; 32]).unwrap().unwrap();
    assert_eq!((record.owner, record.block), (h.user(0), first_block));
    let key = StateKey::Data([9; 32]);
    let proof = h.state.prove(&key).unwrap();
    let value = metamesh_trie::verify_proof::<metamesh_trie::Sm3>(
        &h.root(),
        &h.state.trie_key(&key),
        &proof,
    )
    .unwrap()
    .unwrap();
    assert_eq!(DataRecord::decode(&value).unwrap(), record);
}

#[test]
fn only_the_owner_or_a_grantee_shares_a_key() {
    let mut h = Harness::new(Suite::Sm, 4, |_| {});
    let (cid, _) = file(5_000, 3);
    let (plain, _) = file(5_000, 4);
    let register =
        |cid: &metamesh_storage::Cid, digest: u8, encrypted: bool| DataAction::Register {
            digest: [digest; 32],
            size: 5_000,
            cid: cid.to_bytes(),
            encrypted,
            profile: "unixfs-v0-2015".into(),
            title: String::new(),
            licence: String::new(),
            metadata: vec![],
        };
    let pk = |h: &Harness, i: usize| h.keys[i].public_key().to_uncompressed().to_vec();
    let share = |cid: &metamesh_storage::Cid, to: Vec<u8>| DataAction::ShareKey {
        cid: cid.to_bytes(),
        recipient: to,
        wrapped: vec![1; 100],
    };
    assert_eq!(
        code(&h.run(0, share(&cid, pk(&h, 1)))),
        Some(Code::CidNotRegistered)
    );
    assert!(h.run(0, register(&cid, 1, true)).outcome.is_ok());
    assert!(h.run(0, register(&plain, 2, false)).outcome.is_ok());
    assert_eq!(
        code(&h.run(0, share(&plain, pk(&h, 1)))),
        Some(Code::NotEncrypted)
    );
    assert_eq!(
        code(&h.run(2, share(&cid, pk(&h, 2)))),
        Some(Code::NotOwnerOrGrantee)
    );
    assert!(
        h.run(0, share(&cid, pk(&h, 1))).outcome.is_ok(),
        "the owner shares"
    );
    assert!(
        h.run(1, share(&cid, pk(&h, 2))).outcome.is_ok(),
        "a grantee passes it on"
    );
    assert_eq!(
        code(&h.run(3, share(&cid, pk(&h, 3)))),
        Some(Code::NotOwnerOrGrantee)
    );
    let bad = DataAction::ShareKey {
        cid: cid.to_bytes(),
        recipient: vec![4; 65],
        wrapped: vec![1],
    };
    assert_eq!(code(&h.run(0, bad)), Some(Code::BadRecipient));
    let empty = DataAction::ShareKey {
        cid: cid.to_bytes(),
        recipient: pk(&h, 3),
        wrapped: vec![],
    };
    assert_eq!(code(&h.run(0, empty)), Some(Code::WrappedKeySize));
    let grants: metamesh_state::KeyGrants = h
        .state
        .load(&metamesh_state::grants_id(
            Suite::Sm,
            &cid.to_bytes(),
            &h.user(2),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(grants.0.len(), 1);
    assert_eq!(grants.0[0].granter, h.user(1));
}
