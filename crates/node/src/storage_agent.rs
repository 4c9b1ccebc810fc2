//! The storage node's agent: with a registered offer (`storage offer`) and a signer key, it
//! takes deals that pay its price and fit its free capacity (fetching and pinning the data
//! first), and answers each challenge to it with a proof built from its own store. If the data
//! is gone it cannot answer, and the chain records the miss.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use metamesh_crypto::Address;
use metamesh_primitives::{Action, Hash};
use metamesh_state::{Deal, DealIndex, Provider, StateKey};
use metamesh_storage::{PinInfo, build_proof, parse_cid};
use tokio::sync::watch;

use crate::NodeService;

const GIB: u64 = 1 << 30;

/// What the agent sees at the head.
struct View {
    me: Address,
    provider: Provider,
    head: u64,
    deals: Vec<(Hash, Deal)>,
}

fn view(node: &NodeService) -> Option<View> {
    let me = node.signer()?;
    node.with_chain(|chain| {
        let state = chain.state();
        let provider: Provider = state.record(&StateKey::Provider(me)).ok()??;
        let index: DealIndex = state.record(&StateKey::DealIndex).ok()?.unwrap_or_default();
        let deals = index
            .0
            .iter()
            .filter_map(|id| Some((*id, state.record::<Deal>(&StateKey::Deal(*id)).ok()??)))
            .collect();
        Some(View {
            me,
            provider,
            head: chain.head().number,
            deals,
        })
    })
}

/// Whether this node would take a replica of `deal` now.
fn wants(view: &View, deal: &Deal) -> bool {
    let asks = view
        .provider
        .price
        .0
        .saturating_mul(u128::from(deal.size.div_ceil(GIB)));
    (deal.holders.len() as u64) < deal.replicas
        && view.head < deal.end
        && !deal.holders.iter().any(|h| h.provider == view.me)
        && view
            .provider
            .capacity
            .saturating_sub(view.provider.committed)
            >= deal.size
        && deal.price.0 >= asks
}

/// Runs until `shutdown` turns true.
pub async fn run_storage_agent(node: Arc<NodeService>, mut shutdown: watch::Receiver<bool>) {
    let Some(content) = node.content().cloned() else {
        return;
    };
    let mut heads = node.subscribe_heads();
    // Challenges answered, with the head when the proof went out: resent if still open two
    // blocks later (a proof can be dropped or crowded out of blocks).
    let mut answered: HashMap<(Hash, u64), u64> = HashMap::new();
    let mut unanswerable: HashSet<(Hash, u64)> = HashSet::new();
    let taking: Arc<std::sync::Mutex<HashSet<Hash>>> = Default::default();
    loop {
        tokio::select! {
            _ = heads.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
        let Some(view) = view(&node) else { continue };
        release_ended(&node, &content, view.head);
        for (id, deal) in &view.deals {
            let mine = deal.holders.iter().find(|h| h.provider == view.me);
            if let Some(ch) = mine.and_then(|h| h.challenge) {
                let key = (*id, ch.epoch);
                let recent = answered.get(&key).is_some_and(|at| view.head < at + 2);
                if recent || unanswerable.contains(&key) || view.head > ch.deadline {
                    continue;
                }
                answered.insert(key, view.head);
                let Ok(root) = parse_cid(&deal.cid) else {
                    continue;
                };
                match build_proof(content.store(), &root, ch.offset) {
                    Ok(proof) => {
                        let action = Action::ProveStorage {
                            deal: *id,
                            epoch: ch.epoch,
                            path: proof.path,
                            leaf: proof.leaf,
                        };
                        match node.submit_own(action) {
                            Ok(_) => {
                                tracing::info!(deal = %hex::encode(id), epoch = ch.epoch, "storage proof sent")
                            }
                            Err(e) => {
                                tracing::warn!(deal = %hex::encode(id), "storage proof refused: {e}")
                            }
                        }
                    }
                    Err(e) => {
                        unanswerable.insert(key);
                        tracing::warn!(
                            deal = %hex::encode(id), epoch = ch.epoch,
                            "cannot answer the storage challenge: {e}"
                        )
                    }
                }
            } else if mine.is_none()
                && wants(&view, deal)
                && taking.lock().expect("lock").insert(*id)
            {
                let (node, content, taking, id, deal) = (
                    node.clone(),
                    content.clone(),
                    taking.clone(),
                    *id,
                    deal.clone(),
                );
                tokio::spawn(async move {
                    let taken = take(&node, &content, &id, &deal).await;
                    if let Err(e) = &taken {
                        tracing::warn!(deal = %hex::encode(id), "not taking the deal: {e}");
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        taking.lock().expect("lock").remove(&id);
                    }
                });
            }
        }
    }
}

/// Unpins the data of deals this agent took that have ended (the next collection frees it).
fn release_ended(node: &NodeService, content: &crate::Content, head: u64) {
    let Ok(pins) = content.store().pins() else {
        return;
    };
    for (cid, info) in pins {
        let Some(id) = info
            .name
            .strip_prefix("deal 0x")
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| Hash::try_from(b.as_slice()).ok())
        else {
            continue;
        };
        let ended = node.with_chain(|chain| {
            chain
                .state()
                .record::<Deal>(&StateKey::Deal(id))
                .ok()
                .flatten()
                .is_some_and(|d| head >= d.end && d.escrow == metamesh_primitives::Amount::ZERO)
        });
        if ended && content.store().unpin(&cid).is_ok() {
            tracing::info!(deal = %hex::encode(id), %cid, "deal ended; data unpinned");
        }
    }
}

/// Fetches and pins the deal's data, then accepts the deal on chain.
async fn take(
    node: &NodeService,
    content: &crate::Content,
    id: &Hash,
    deal: &Deal,
) -> Result<(), String> {
    let root = parse_cid(&deal.cid).map_err(|e| e.to_string())?;
    // Internal nodes add well under 1/64 of a file; anything bigger is not the declared file.
    let bound = deal.size + deal.size / 64 + (1 << 20);
    let fetched = tokio::time::timeout(
        Duration::from_secs(300),
        content.fetch_bounded(&root, None, bound),
    )
    .await
    .map_err(|_| "fetching the data took over 5 minutes".to_string())?
    .map_err(|e| e.to_string())?;
    // The owner's declared size decides where challenges fall: take only a deal that tells
    // the truth about the file.
    let actual = match metamesh_storage::node(content.store(), &root).map_err(|e| e.to_string())? {
        metamesh_storage::Node::Raw(bytes) => bytes.len() as u64,
        metamesh_storage::Node::Pb { data, .. } => data.filesize.unwrap_or(0),
    };
    if actual != deal.size {
        return Err(format!(
            "the deal says {} bytes but the file holds {actual}",
            deal.size
        ));
    }
    let info = PinInfo {
        name: format!("deal 0x{}", hex::encode(id)),
        size: deal.size,
        profile: String::new(),
        encrypted: false,
    };
    content
        .store()
        .pin(&root, &info)
        .map_err(|e| e.to_string())?;
    content.provide(&root);
    node.submit_own(Action::AcceptDeal { deal: *id })
        .map_err(|e| e.to_string())?;
    tracing::info!(deal = %hex::encode(id), blocks = fetched.blocks, "deal taken");
    Ok(())
}
