//! The community-pool drain: an owner and a provider who collude open a deal on a DAG whose
//! links repeat one child, so a few blocks answer a challenge at any offset of an enormous
//! "file", and one passed challenge pays a reward on that size.

use std::collections::HashMap;

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::{Action, Amount, Transaction};
use metamesh_state::{
    BlockEnv, Deal, Genesis, Pool, State, StateKey, VerifiedTx, apply_block, deal_id,
};
use metamesh_storage::{
    Cid, CidVersion, DAG_PB, DataType, PbLink, PbNode, RAW, UnixFsData, build_proof, sha2_256,
};
use metamesh_trie::MemoryStore;
use prost::Message as _;

const CHAIN: u64 = 9;

fn cid(codec: u64, bytes: &[u8]) -> Cid {
    let mh = cid::multihash::Multihash::<64>::wrap(0x12, &sha2_256(bytes)).unwrap();
    Cid::new(CidVersion::V1, codec, mh).unwrap()
}

/// A DAG of `depth` levels whose every node links 174 times to one child.
fn repeated_dag() -> (Cid, u64, HashMap<Cid, Vec<u8>>) {
    let leaf = vec![7u8; 262_144];
    let mut blocks = HashMap::new();
    let mut child = cid(RAW, &leaf);
    let mut size = leaf.len() as u64;
    blocks.insert(child, leaf);
    for _ in 0..6 {
        let data = UnixFsData {
            r#type: DataType::File as i32,
            data: None,
            filesize: Some(size * 174),
            blocksizes: vec![size; 174],
            hash_type: None,
            fanout: None,
        };
        let node = PbNode {
            links: (0..174)
                .map(|_| PbLink {
                    hash: Some(child.to_bytes()),
                    name: Some(String::new()),
                    tsize: Some(size),
                })
                .collect(),
            data: Some(data.encode_to_vec()),
        }
        .encode_to_vec();
        child = cid(DAG_PB, &node);
        size *= 174;
        blocks.insert(child, node);
    }
    (child, size, blocks)
}

#[test]
fn colluding_owner_and_provider_cannot_drain_the_community_pool() {
    let suite = Suite::Sm;
    let owner = SecretKey::from_bytes(suite, &[1; 32]).unwrap();
    let provider = SecretKey::from_bytes(suite, &[2; 32]).unwrap();
    let genesis = Genesis::dev(
        CHAIN,
        suite,
        0,
        1,
        vec![Address([0xee; 20])],
        &[owner.public_key().address(), provider.public_key().address()],
        Amount::from_mmt(1000),
    );
    let mut state = State::empty(suite, MemoryStore::new());
    genesis.apply(&mut state).unwrap();
    let pool = Pool::Community.address(suite);
    let before = state.account(&pool).unwrap().balance;
    let (root, size, blocks) = repeated_dag();
    let mut number = 0;
    let mut block = |state: &mut State<MemoryStore>, key: Option<&SecretKey>, action: Option<Action>| {
        number += 1;
        let env = BlockEnv {
            chain_id: CHAIN,
            number,
            timestamp: number,
            parent_hash: suite.hash(&number.to_be_bytes()),
            sealer: Address([0xee; 20]),
            params: genesis.params.clone(),
        };
        let txs: Vec<VerifiedTx> = key
            .zip(action)
            .map(|(key, action)| {
                let nonce = state.account(&key.public_key().address()).unwrap().nonce;
                let tx = Transaction { chain_id: CHAIN, nonce, fee: "0.01".parse().unwrap(), action }
                    .sign(key)
                    .unwrap();
                VerifiedTx::new(tx, suite)
            })
            .into_iter()
            .collect();
        apply_block(state, &env, &txs).unwrap()
    };
    block(&mut state, Some(&provider), Some(Action::StorageOffer { capacity: u64::MAX, price: Amount::ZERO }));
    let nonce = state.account(&owner.public_key().address()).unwrap().nonce;
    block(&mut state, Some(&owner), Some(Action::StorageDeal {
        cid: root.to_string(),
        size,
        replicas: 1,
        duration: 1000,
        price: Amount::from_mmt(1),
    }));
    let id = deal_id(suite, &owner.public_key().address(), nonce);
    block(&mut state, Some(&provider), Some(Action::AcceptDeal { deal: id }));
    for _ in 4..10 {
        block(&mut state, None, None);
    }
    block(&mut state, None, None); // block 10: the challenge
    let deal: Deal = state.record(&StateKey::Deal(id)).unwrap().unwrap();
    let ch = deal.holders[0].challenge.unwrap();
    let proof = build_proof(&blocks, &root, ch.offset).unwrap();
    block(&mut state, Some(&provider), Some(Action::ProveStorage {
        deal: id,
        epoch: ch.epoch,
        path: proof.path,
        leaf: proof.leaf,
    }));
    let after = state.account(&pool).unwrap().balance;
    let paid = before.checked_sub(after).unwrap();
    assert!(
        paid < Amount::from_mmt(1_000),
        "one proof of a {size}-byte DAG held in 7 blocks took {paid} from the community pool"
    );
}
