//! The community-pool drain, and what now stops it. An owner and a provider who collude open a
//! deal on a DAG whose links repeat one child, so a few blocks answer a challenge at any offset
//! of an enormous "file", and one passed challenge paid a reward on that size: on the tree
//! before this test's fix, one proof took all 575,000,000 MMT. Now the chain reads the size from
//! the root block, refuses roots that repeat a child or whose sizes do not add up, refuses
//! proofs whose path does, and no pool pays more than its per-epoch budget. A DAG whose links
//! are distinct within each node but which reuses a block across nodes passes every check one
//! proof can make; two proofs that show the block at two offsets stop the deal's rewards.

mod common;

use std::collections::HashMap;

use common::{Harness, code, file};
use metamesh_crypto::Suite;
use metamesh_primitives::{Amount, StorageAction};
use metamesh_state::{Code, Deal, Event, Pool, StorageEvent, deal_id};
use metamesh_storage::{
    Cid, CidVersion, DAG_PB, DataType, PbLink, PbNode, RAW, UnixFsData, build_proof, sha2_256,
};
use prost::Message as _;

fn cid(codec: u64, bytes: &[u8]) -> Cid {
    let mh = cid::multihash::Multihash::<64>::wrap(0x12, &sha2_256(bytes)).unwrap();
    Cid::new(CidVersion::V1, codec, mh).unwrap()
}

/// A File node over `children` (CID, size) declaring `filesize`.
fn node(children: &[(Cid, u64)], filesize: u64) -> (Cid, Vec<u8>) {
    let data = UnixFsData {
        r#type: DataType::File as i32,
        data: None,
        filesize: Some(filesize),
        blocksizes: children.iter().map(|c| c.1).collect(),
        hash_type: None,
        fanout: None,
    };
    let bytes = PbNode {
        links: children
            .iter()
            .map(|(c, s)| PbLink {
                hash: Some(c.to_bytes()),
                name: Some(String::new()),
                tsize: Some(*s),
            })
            .collect(),
        data: Some(data.encode_to_vec()),
    }
    .encode_to_vec();
    (cid(DAG_PB, &bytes), bytes)
}

/// `levels` levels, every node linking 174 times to one child (six levels: 7.3e18 bytes
/// claimed, 7 blocks held). With `distinct_root`, a root above links that and a different
/// child, so the root alone looks honest.
fn repeated_dag(levels: usize, distinct_root: bool) -> (Cid, HashMap<Cid, Vec<u8>>) {
    let leaf = vec![7u8; 262_144];
    let mut blocks = HashMap::new();
    let mut child = cid(RAW, &leaf);
    let mut size = leaf.len() as u64;
    blocks.insert(child, leaf);
    for _ in 0..levels {
        let (c, bytes) = node(&vec![(child, size); 174], size * 174);
        blocks.insert(c, bytes);
        child = c;
        size *= 174;
    }
    if !distinct_root {
        return (child, blocks);
    }
    let other = vec![8u8; 262_144];
    let other_cid = cid(RAW, &other);
    blocks.insert(other_cid, other);
    let (root, bytes) = node(&[(child, size), (other_cid, 262_144)], size + 262_144);
    blocks.insert(root, bytes);
    (root, blocks)
}

/// The path an attacker would send: every node from the root down to the leaf holding
/// `offset`, chosen by the block sizes without any check.
fn by_hand(
    blocks: &HashMap<Cid, Vec<u8>>,
    root: &Cid,
    offset: u64,
) -> metamesh_storage::StorageProof {
    let mut proof = metamesh_storage::StorageProof::default();
    let (mut at, mut cid) = (offset, *root);
    loop {
        let bytes = blocks[&cid].clone();
        if cid.codec() == RAW {
            proof.leaf = bytes;
            return proof;
        }
        let pb = PbNode::decode(bytes.as_slice()).unwrap();
        let data = UnixFsData::decode(pb.data.as_deref().unwrap()).unwrap();
        let mut next = None;
        for (link, size) in pb.links.iter().zip(&data.blocksizes) {
            if at < *size {
                next = Some(Cid::try_from(link.hash.as_deref().unwrap()).unwrap());
                break;
            }
            at -= size;
        }
        proof.path.push(bytes);
        cid = next.unwrap();
    }
}

fn deal(root: &Cid, blocks: &HashMap<Cid, Vec<u8>>) -> StorageAction {
    StorageAction::Deal {
        cid: root.to_bytes(),
        root: blocks[root].clone(),
        replicas: 1,
        duration: 1000,
        price: Amount::from_mmt(1),
    }
}

/// User 0 opens a deal on `root` and user 1 (staking `stake` MMT first, if given) takes it.
fn held_deal(
    h: &mut Harness,
    root: &Cid,
    blocks: &HashMap<Cid, Vec<u8>>,
    stake: Option<u128>,
) -> metamesh_primitives::Hash {
    if let Some(stake) = stake {
        let offer = StorageAction::Offer {
            capacity: 1 << 30,
            price: Amount::ZERO,
            stake: Amount::from_mmt(stake),
        };
        assert!(h.run(1, offer).outcome.is_ok());
    }
    let nonce = h.nonce(&h.user(0));
    assert!(h.run(0, deal(root, blocks)).outcome.is_ok());
    let id = deal_id(Suite::Sm, &h.user(0), nonce);
    assert!(h.run(1, StorageAction::Accept { deal: id }).outcome.is_ok());
    id
}

/// At the deal's next boundary, user 1 answers its challenge with an honest proof.
fn prove_next(
    h: &mut Harness,
    id: &metamesh_primitives::Hash,
    root: &Cid,
    blocks: &HashMap<Cid, Vec<u8>>,
) -> metamesh_state::Receipt {
    let due = h.state.load::<Deal>(id).unwrap().unwrap().next_due;
    h.until(due);
    let ch = h.state.load::<Deal>(id).unwrap().unwrap().holders[0]
        .challenge
        .unwrap();
    let p = build_proof(blocks, root, ch.offset).unwrap();
    let prove = StorageAction::Prove {
        deal: *id,
        epoch: ch.epoch,
        path: p.path,
        leaf: p.leaf,
    };
    h.run(1, prove)
}

#[test]
fn colluding_owner_and_provider_cannot_drain_the_community_pool() {
    let mut h = Harness::new(Suite::Sm, 2, |_| {});
    let pool = Pool::Community.address(Suite::Sm);
    let before = h.balance(&pool);
    let offer = StorageAction::Offer {
        capacity: u64::MAX,
        price: Amount::ZERO,
        stake: Amount::from_mmt(500),
    };
    assert!(h.run(1, offer).outcome.is_ok());

    // The root repeats its child: refused when the deal opens.
    let (root, blocks) = repeated_dag(6, false);
    assert_eq!(
        code(&h.run(0, deal(&root, &blocks))),
        Some(Code::DuplicateLinks)
    );

    // A root that claims more than its children hold: refused too.
    let (a, ab) = file(300_000, 1);
    let mut inflated_blocks = ab.clone();
    let (inflated, bytes) = node(&[(a, 300_000)], 1 << 50);
    inflated_blocks.insert(inflated, bytes);
    assert_eq!(
        code(&h.run(0, deal(&inflated, &inflated_blocks))),
        Some(Code::SizeMismatch)
    );

    // Hidden below an honest-looking root, the giant opens as a deal, but no node can hold
    // it: a replica bonds stake per GiB of the size the root states.
    let (root, blocks) = repeated_dag(6, true);
    let nonce = h.nonce(&h.user(0));
    assert!(h.run(0, deal(&root, &blocks)).outcome.is_ok());
    let id = deal_id(Suite::Sm, &h.user(0), nonce);
    assert_eq!(
        code(&h.run(1, StorageAction::Accept { deal: id })),
        Some(Code::StakeTooSmall)
    );

    // A repetition small enough to bond (8 GiB claimed, two leaves held): the deal opens and
    // is taken, but no challenge into the repeated part can be answered.
    let (root, blocks) = repeated_dag(2, true);
    let nonce = h.nonce(&h.user(0));
    let r = h.run(0, deal(&root, &blocks));
    assert!(r.outcome.is_ok(), "{r:?}");
    let id = deal_id(Suite::Sm, &h.user(0), nonce);
    assert!(h.run(1, StorageAction::Accept { deal: id }).outcome.is_ok());
    let mut refused = 0;
    for _ in 0..5 {
        let due = h.state.load::<Deal>(&id).unwrap().unwrap().next_due;
        h.until(due);
        let d: Deal = h.state.load(&id).unwrap().unwrap();
        let ch = d.holders[0].challenge.unwrap();
        // The builder itself refuses the repeated part; build the proof by hand.
        let proof = by_hand(&blocks, &root, ch.offset);
        let r = h.run(
            1,
            StorageAction::Prove {
                deal: id,
                epoch: ch.epoch,
                path: proof.path,
                leaf: proof.leaf,
            },
        );
        let c = code(&r);
        // The last leaf is the honest one: that challenge may pass.
        assert!(c == Some(Code::DuplicateLinks) || c.is_none(), "{r:?}");
        refused += usize::from(c.is_some());
    }
    assert!(refused >= 4, "{refused} of 5 refused");
    // Each refused challenge became a miss at the next boundary, and slashed the bond.
    let due = h.state.load::<Deal>(&id).unwrap().unwrap().next_due;
    h.until(due);
    let node: metamesh_state::StorageNode = h.state.load(&h.user(1)).unwrap().unwrap();
    assert!(
        node.misses >= 4 && node.stake < Amount::from_mmt(500),
        "{node:?}"
    );

    // What left the pool: the sealing rewards, at most one honest pass's reward, less the
    // slashes that went into it — nowhere near a drain.
    let now = h.balance(&pool);
    let sealing = Amount(h.params().sealing_reward.0 * u128::from(h.number));
    let out = before.0 as i128 - now.0 as i128;
    assert!(
        out <= sealing.0 as i128 + Amount::from_mmt(5).0 as i128,
        "{out}"
    );
    h.assert_supply();
}

#[test]
fn no_reward_passes_the_pool_budget() {
    // An honest deal, but a reward rate that would pay out the pool: the budget holds it.
    let mut h = Harness::new(Suite::Sm, 2, |g| {
        g.params.storage_reward = Amount::from_mmt(1_000_000_000);
        g.params.storage_budget = Amount::from_mmt(100);
    });
    let (cid, blocks) = file(262_144 * 3, 9);
    let id = held_deal(&mut h, &cid, &blocks, Some(10));
    let pool = Pool::Community.address(Suite::Sm);
    let (before, from) = (h.balance(&pool), h.number);
    let r = prove_next(&mut h, &id, &cid, &blocks);
    assert!(r.outcome.is_ok(), "{r:?}");
    let paid = before.checked_sub(h.balance(&pool)).unwrap();
    // The storage budget, and the sealing rewards of the blocks since.
    let sealing = h.params().sealing_reward.0 * u128::from(h.number - from);
    assert!(paid.0 <= Amount::from_mmt(100).0 + sealing, "{paid}");
    assert!(
        paid.0 >= Amount::from_mmt(100).0,
        "{paid}: the budget was reached"
    );
    // Storage rewards have their own budget: the sealers are still paid in the same epoch.
    let sealer = h.sealer;
    let sealed = h.balance(&sealer);
    h.until(h.number + 3);
    let reward = h.params().sealing_reward;
    assert!(h.balance(&sealer).0 >= sealed.0 + 3 * reward.0);
    h.assert_supply();
}

/// Eight nodes each link one shared leaf and one of their own: every node's links are distinct
/// and every size adds up, yet half the "file" is one block.
fn shared_leaf_dag() -> (Cid, HashMap<Cid, Vec<u8>>) {
    let leaf = |seed: u8| -> Vec<u8> { (0..262_144u32).map(|i| (i % 251) as u8 ^ seed).collect() };
    let mut blocks = HashMap::new();
    let shared = leaf(0);
    let shared_cid = cid(RAW, &shared);
    blocks.insert(shared_cid, shared);
    let mut children = Vec::new();
    for i in 1..=8u8 {
        let own = leaf(i);
        let own_cid = cid(RAW, &own);
        blocks.insert(own_cid, own);
        let (c, bytes) = node(&[(shared_cid, 262_144), (own_cid, 262_144)], 524_288);
        blocks.insert(c, bytes);
        children.push((c, 524_288));
    }
    let (root, bytes) = node(&children, 8 * 524_288);
    blocks.insert(root, bytes);
    (root, blocks)
}

#[test]
fn a_block_shown_at_two_offsets_stops_the_deals_rewards() {
    let mut h = Harness::new(Suite::Sm, 2, |g| {
        g.params.storage_reward = Amount::from_mmt(1_000);
    });
    let (root, blocks) = shared_leaf_dag();
    let id = held_deal(&mut h, &root, &blocks, Some(100));
    let (mut rewarded, mut unrewarded, mut repeated) = (0, 0, 0);
    for _ in 0..60 {
        // Every proof is valid on its own: the builder finds nothing wrong with one path.
        let r = prove_next(&mut h, &id, &root, &blocks);
        assert!(r.outcome.is_ok(), "{r:?}");
        for e in &r.events {
            match e {
                Event::Storage(StorageEvent::Proved { reward, .. }) if reward.0 > 0 => {
                    assert_eq!(repeated, 0, "a reward after the repeat was shown");
                    rewarded += 1;
                }
                Event::Storage(StorageEvent::Proved { .. }) => unrewarded += 1,
                Event::Storage(StorageEvent::BlockRepeated { .. }) => repeated += 1,
                _ => {}
            }
        }
        if unrewarded >= 3 {
            break;
        }
    }
    assert_eq!(repeated, 1, "the repeat is reported once");
    assert!(unrewarded >= 3, "{rewarded} rewarded, {unrewarded} not");
    assert!(!h.state.load::<Deal>(&id).unwrap().unwrap().rewarded);
    // Until the repeat showed, a few passes were paid; the bond still stands behind each.
    assert!(
        rewarded < 20,
        "{rewarded} passes paid before the repeat showed"
    );
    // The mark is on the file: a fresh deal on it earns nothing from its first proof on.
    let again = held_deal(&mut h, &root, &blocks, None);
    let r = prove_next(&mut h, &again, &root, &blocks);
    assert!(r.events.iter().any(|e| matches!(e,
        Event::Storage(StorageEvent::Proved { reward, .. }) if reward.0 == 0)));
    assert!(r.events.iter().any(|e| matches!(e,
        Event::Storage(StorageEvent::BlockRepeated { block, .. }) if block.is_empty())));
    h.assert_supply();
}
