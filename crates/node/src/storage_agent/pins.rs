//! The agent's pins: one per file, named for every deal this node took on it
//! (`deal 0x<id> 0x<id>…`), so taking a second deal on a file it holds never lets the first
//! deal's data go when the second ends; a pin the operator made is left as it is (it keeps the
//! data whatever the deals do). Names change one at a time, under the content store's lock.

use metamesh_crypto::Address;
use metamesh_primitives::Hash;
use metamesh_state::Deal;
use metamesh_storage::{Cid, PinInfo, StorageError};

use crate::NodeService;

const PREFIX: &str = "deal ";

/// The deals a pin is held for, when the agent made it.
fn deals_of(name: &str) -> Option<Vec<Hash>> {
    name.strip_prefix(PREFIX)?
        .split(' ')
        .map(|word| {
            let bytes = hex::decode(word.strip_prefix("0x")?).ok()?;
            Hash::try_from(bytes.as_slice()).ok()
        })
        .collect()
}

fn name_of(deals: &[Hash]) -> String {
    let ids: Vec<String> = deals
        .iter()
        .map(|d| format!("0x{}", hex::encode(d)))
        .collect();
    format!("{PREFIX}{}", ids.join(" "))
}

/// Pins `root` (`size` bytes) for deal `id`, besides whatever it is pinned for already.
pub(super) fn hold(
    content: &crate::Content,
    root: &Cid,
    id: &Hash,
    size: u64,
) -> Result<(), StorageError> {
    let _one_at_a_time = content.deal_pins();
    let store = content.store();
    let info = match store.pin_info(root)? {
        None => PinInfo {
            name: name_of(&[*id]),
            size,
            profile: String::new(),
            encrypted: false,
        },
        Some(info) => match deals_of(&info.name) {
            None => return Ok(()),
            Some(deals) if deals.contains(id) => return Ok(()),
            Some(mut deals) => {
                deals.push(*id);
                PinInfo {
                    name: name_of(&deals),
                    ..info
                }
            }
        },
    };
    store.pin(root, &info)
}

/// Lets go of the deals this node pinned data for and does not hold: ended ones, and ones whose
/// replicas others took (an acceptance that lost the race). A file no deal needs any more is
/// unpinned, and the next collection frees it.
pub(super) fn release(node: &NodeService, content: &crate::Content, me: &Address, head: u64) {
    let _one_at_a_time = content.deal_pins();
    let Ok(pins) = content.store().pins() else {
        return;
    };
    for (cid, info) in pins {
        let Some(deals) = deals_of(&info.name) else {
            continue;
        };
        let (kept, gone): (Vec<Hash>, Vec<Hash>) = deals
            .iter()
            .partition(|id| still_needed(node, me, head, id));
        for id in &gone {
            tracing::info!(deal = %hex::encode(id), %cid, "deal ended or others took its replicas: its hold on the data goes");
        }
        if kept.is_empty() {
            if content.store().unpin(&cid).is_ok() {
                tracing::info!(%cid, "no deal of this node needs the data: unpinned");
            }
        } else if !gone.is_empty() {
            let info = PinInfo {
                name: name_of(&kept),
                ..info
            };
            if let Err(e) = content.store().pin(&cid, &info) {
                tracing::warn!(%cid, "renaming the pin: {e}");
            }
        }
    }
}

/// Whether deal `id` still needs this node's copy: it runs, and this node holds a replica or
/// may still take one. A deal the chain does not know (yet) is kept.
fn still_needed(node: &NodeService, me: &Address, head: u64, id: &Hash) -> bool {
    let deal = node.with_chain(|chain| chain.state().load::<Deal>(id).ok().flatten());
    let Some(deal) = deal else { return true };
    let ended = deal.ended() && head >= deal.end;
    let held = deal.holders.iter().any(|h| h.provider == *me);
    let lost = !held && deal.holders.len() as u64 >= deal.replicas;
    !(ended || lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_list_every_deal_and_only_agent_names_parse() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let name = name_of(&[a, b]);
        assert_eq!(deals_of(&name), Some(vec![a, b]));
        assert_eq!(deals_of(&name_of(&[a])), Some(vec![a]));
        assert_eq!(deals_of("results of run 7"), None);
        assert_eq!(deals_of("deal 0xzz"), None);
        assert_eq!(deals_of("deal 0x0102"), None, "not a 32-byte id");
    }
}
