//! The agent's pins: one per file, named for every deal this node took on it
//! (`deal 0x<id> 0x<id>…`), so taking a second deal on a file it holds never lets the first
//! deal's data go when the second ends; a pin the operator made is left as it is (it keeps the
//! data whatever the deals do). The agent's changes go one at a time, under the content store's
//! lock, and each is made only on the pin as it was read (`BlockStore::swap_pin`), so an
//! operator's pin or unpin in between is never overwritten.

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
    // The operator may pin or unpin the same file meanwhile: each change is made only on the
    // pin as it was read, else read again.
    for _ in 0..8 {
        let current = store.pin_info(root)?;
        let info = match &current {
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
                        ..info.clone()
                    }
                }
            },
        };
        let expected = current.as_ref().map(|i| i.name.as_str());
        if store.swap_pin(root, expected, Some(&info))? {
            return Ok(());
        }
    }
    Err(StorageError::Io(format!(
        "the pin of {root} kept changing while this deal was added to it"
    )))
}

/// Lets go of the deals this node pinned data for and does not hold: ended ones, and ones whose
/// replicas others took (an acceptance that lost the race). A file no deal needs any more is
/// unpinned, and the next collection frees it. A pin changed meanwhile (by the operator) is
/// left for the next step to judge.
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
        if gone.is_empty() {
            continue;
        }
        let to = (!kept.is_empty()).then(|| PinInfo {
            name: name_of(&kept),
            ..info.clone()
        });
        match content
            .store()
            .swap_pin(&cid, Some(&info.name), to.as_ref())
        {
            Ok(true) => {
                for id in &gone {
                    tracing::info!(deal = %hex::encode(id), %cid, "deal ended or others took its replicas: its hold on the data goes");
                }
                if kept.is_empty() {
                    tracing::info!(%cid, "no deal of this node needs the data: unpinned");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(%cid, "changing the pin: {e}"),
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
