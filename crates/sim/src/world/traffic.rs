//! The users' side: transfers submitted to live honest nodes at random times.

use metamesh_primitives::{AccountAction, Amount, Transaction};

use super::{Sim, USERS};

impl Sim {
    /// A user sends one MMT to another through a random live honest node.
    pub(super) fn transfer(&mut self) {
        let live: Vec<usize> = (0..self.sc.nodes)
            .filter(|i| self.nodes[*i].live.is_some() && self.sc.is_honest(*i))
            .collect();
        if live.is_empty() {
            return;
        }
        let target = live[self.rng.below(live.len() as u64) as usize];
        let from = self.rng.below(USERS as u64) as usize;
        let to = (from + 1 + self.rng.below(USERS as u64 - 1) as usize) % USERS;
        let node = self.nodes[target]
            .live
            .as_ref()
            .expect("live")
            .handler
            .node()
            .clone();
        let sender = self.users[from].public_key().address();
        let nonce = node.with_chain(|c| c.state().account(&sender).map(|a| a.nonce).unwrap_or(0));
        let tx = Transaction {
            chain_id: self.genesis.chain_id,
            nonce,
            gas_price: self.genesis.params.min_gas_price,
            gas_limit: 40_000,
            action: AccountAction::Transfer {
                to: self.users[to].public_key().address(),
                amount: Amount::from_mmt(1),
            }
            .into(),
        }
        .sign(&self.users[from])
        .expect("signing");
        match node.submit(&tx.to_rlp()) {
            Ok(hash) => {
                self.report.transfers_submitted += 1;
                self.checker.submitted(hash);
            }
            Err(_) => self.report.transfers_refused += 1,
        }
        self.process(target);
    }
}
