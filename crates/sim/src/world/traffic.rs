//! The users' side: transfers, registrations and attestations submitted to live honest nodes
//! at random times, and the storage market played by the users themselves — two storage nodes
//! that stake, take replicas and answer their challenges, owners who open deals on small files,
//! and a parameters authority that changes the block gas limit once.

use std::collections::HashMap;

use metamesh_crypto::Address;
use metamesh_primitives::{
    AccountAction, Action, Amount, DataAction, ParamsAction, StorageAction, Transaction, WorkKind,
};
use metamesh_state::{CollectionId, Deal};
use metamesh_storage::{Cid, Profile, build_proof, cid_from_bytes, import_bytes};

use super::{Sim, USERS};

/// Users 0 and 1 are storage nodes; the last user is the parameters authority.
pub(super) const PROVIDERS: usize = 2;
pub(super) const AUTHORITY: usize = USERS - 1;
/// The block gas limit the authority sets.
pub(super) const NEW_GAS_LIMIT: u64 = 90_000_000;

/// The small files deals are opened on: root CID and every block.
pub(super) fn files() -> Vec<(Cid, HashMap<Cid, Vec<u8>>)> {
    [3_000usize, 300_000, 600_000]
        .iter()
        .enumerate()
        .map(|(n, size)| {
            let bytes: Vec<u8> = (0..*size).map(|i| (i * 13 + n * 7) as u8).collect();
            let mut blocks = Vec::new();
            let root = import_bytes(Profile::KUBO_DEFAULT, &bytes, &mut blocks).expect("import");
            (
                root.cid,
                blocks.into_iter().map(|b| (b.cid, b.data)).collect(),
            )
        })
        .collect()
}

impl Sim {
    fn live_honest(&self) -> Vec<usize> {
        (0..self.sc.nodes)
            .filter(|i| self.nodes[*i].live.is_some() && self.sc.is_honest(*i))
            .collect()
    }

    fn user_address(&self, u: usize) -> Address {
        self.users[u].public_key().address()
    }

    /// Signs `action` from user `u` at its next nonce and submits it to a random live honest
    /// node; false if the node refused it.
    pub(super) fn submit(
        &mut self,
        u: usize,
        action: Action,
        gas: u64,
    ) -> Option<metamesh_primitives::Hash> {
        let live = self.live_honest();
        if live.is_empty() {
            return None;
        }
        let target = live[self.rng.below(live.len() as u64) as usize];
        let node = self.nodes[target]
            .live
            .as_ref()
            .expect("live")
            .handler
            .node()
            .clone();
        let sender = self.user_address(u);
        let tx = Transaction {
            chain_id: self.genesis.chain_id,
            nonce: node.next_nonce(&sender),
            gas_price: self.genesis.params.min_gas_price,
            gas_limit: gas,
            action,
        }
        .sign(&self.users[u])
        .expect("signing");
        let result = node.submit(&tx.to_rlp()).ok();
        self.process(target);
        result
    }

    /// A user sends one MMT to another, or (with storage traffic) registers or attests data.
    pub(super) fn traffic(&mut self) {
        if self.sc.storage && self.rng.chance(300) {
            return self.data_action();
        }
        let from = self.rng.below(USERS as u64) as usize;
        let to = (from + 1 + self.rng.below(USERS as u64 - 1) as usize) % USERS;
        let action = AccountAction::Transfer {
            to: self.user_address(to),
            amount: Amount::from_mmt(1),
        };
        match self.submit(from, action.into(), 40_000) {
            Some(hash) => {
                self.report.transfers_submitted += 1;
                self.checker.submitted(hash);
            }
            None => self.report.transfers_refused += 1,
        }
    }

    fn data_action(&mut self) {
        let u = self.rng.below(USERS as u64) as usize;
        let digest = self.genesis.suite.hash(&self.rng.next_u64().to_be_bytes());
        let action = if self.rng.chance(500) {
            let file = &self.files[self.rng.below(self.files.len() as u64) as usize];
            DataAction::Register {
                digest,
                size: 1,
                cid: file.0.to_bytes(),
                encrypted: false,
                profile: "unixfs-v0-2015".into(),
                title: "sim".into(),
                licence: "CC0-1.0".into(),
                metadata: vec![],
            }
        } else {
            DataAction::Attest {
                digest,
                kind: WorkKind::Result,
                metadata: b"sim".to_vec(),
            }
        };
        if self.submit(u, action.into(), 300_000).is_some() {
            self.report.storage_submitted += 1;
        }
    }

    /// Every two virtual seconds: the storage nodes stake once, owners sometimes open a deal,
    /// and the nodes take free replicas and answer their open challenges.
    pub(super) fn storage_round(&mut self) {
        let live = self.live_honest();
        let Some(&at) = live.first() else { return };
        let node = self.nodes[at]
            .live
            .as_ref()
            .expect("live")
            .handler
            .node()
            .clone();
        let mut actions: Vec<(usize, Action, u64)> = Vec::new();
        for p in 0..PROVIDERS {
            let me = self.user_address(p);
            let registered = node.with_chain(|c| {
                c.state()
                    .load::<metamesh_state::StorageNode>(&me)
                    .ok()
                    .flatten()
                    .is_some()
            });
            if !registered {
                let offer = StorageAction::Offer {
                    capacity: 1 << 30,
                    price: Amount::ZERO,
                    stake: Amount::from_mmt(100),
                };
                actions.push((p, offer.into(), 200_000));
            }
        }
        if self.rng.chance(150) {
            let owner = PROVIDERS + self.rng.below((AUTHORITY - PROVIDERS) as u64) as usize;
            let (cid, blocks) = &self.files[self.rng.below(self.files.len() as u64) as usize];
            let deal = StorageAction::Deal {
                cid: cid.to_bytes(),
                root: blocks[cid].clone(),
                replicas: 1 + self.rng.below(2),
                duration: 25 + self.rng.below(30),
                price: "0.2".parse().expect("constant"),
            };
            actions.push((owner, deal.into(), 1_000_000));
        }
        let deals: Vec<([u8; 32], Deal)> = node.with_chain(|c| {
            let state = c.state();
            state
                .entries(CollectionId::RunningDeals, &[], 256)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, _)| {
                    let id: [u8; 32] = k.try_into().ok()?;
                    Some((id, state.load::<Deal>(&id).ok()??))
                })
                .collect()
        });
        for (id, deal) in deals {
            for p in 0..PROVIDERS {
                let me = self.user_address(p);
                match deal.holders.iter().find(|h| h.provider == me) {
                    None if (deal.holders.len() as u64) < deal.replicas && deal.owner != me => {
                        actions.push((p, StorageAction::Accept { deal: id }.into(), 200_000));
                    }
                    Some(h) => {
                        let Some(ch) = h.challenge else { continue };
                        let Some(file) = self.files.iter().find(|f| f.0.to_bytes() == deal.cid)
                        else {
                            continue;
                        };
                        let root = cid_from_bytes(&deal.cid).expect("a deal's CID");
                        let Ok(proof) = build_proof(&file.1, &root, ch.offset) else {
                            continue;
                        };
                        let prove = StorageAction::Prove {
                            deal: id,
                            epoch: ch.epoch,
                            path: proof.path,
                            leaf: proof.leaf,
                        };
                        actions.push((p, prove.into(), 6_000_000));
                    }
                    None => {}
                }
            }
        }
        for (u, action, gas) in actions {
            if self.submit(u, action, gas).is_some() {
                self.report.storage_submitted += 1;
            }
        }
    }

    /// The authority's change of the block gas limit, sent again until it is included.
    pub(super) fn change_params(&mut self) {
        if self.params_change_included() {
            return;
        }
        let v = NEW_GAS_LIMIT.to_be_bytes();
        let value = v[v.iter().position(|b| *b != 0).expect("nonzero")..].to_vec();
        let change = ParamsAction::Change {
            changes: vec![("blockGasLimit".into(), value)],
        };
        self.submit(AUTHORITY, change.into(), 300_000);
    }

    /// Whether some live honest node's chain already carries the change.
    fn params_change_included(&self) -> bool {
        self.live_honest().iter().any(|i| {
            self.nodes[*i]
                .live
                .as_ref()
                .expect("live")
                .handler
                .node()
                .with_chain(|c| {
                    metamesh_state::params_at(&c.state(), c.head().number + 1)
                        .is_ok_and(|p| p.block_gas_limit == NEW_GAS_LIMIT)
                })
        })
    }
}
