//! What the pool knows about room without walking it: per sender, how many of its transactions
//! wait behind a nonce gap; over all senders, how many wait so, and every sender's last
//! transaction ordered by price (queued and runnable apart). Choosing what to drop is then a
//! lookup, not a walk over every entry under the pool's lock, which a stream of cheap queued
//! submissions could otherwise force.

use std::{cmp::Reverse, collections::BTreeSet};

use metamesh_crypto::Address;
use metamesh_primitives::Amount;

use super::Queue;

/// A sender's last transaction: its price, then the sender (reversed, so that among equal
/// prices the highest address is the least, as the pool has always ordered ties).
pub(super) type Tail = (Amount, Reverse<Address>);

/// What [`Room`] counted for one sender, kept on its queue so it can be taken back.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Mark {
    queued: usize,
    /// The tail and whether it waits behind a gap.
    tail: Option<(Tail, bool)>,
}

#[derive(Debug, Default)]
pub(super) struct Room {
    queued: usize,
    queued_tails: BTreeSet<Tail>,
    runnable_tails: BTreeSet<Tail>,
}

impl Room {
    /// Transactions waiting behind nonce gaps, over all senders.
    pub(super) fn queued(&self) -> usize {
        self.queued
    }

    /// Takes back what was counted for a sender.
    pub(super) fn forget(&mut self, mark: &mut Mark) {
        self.queued -= mark.queued;
        if let Some((tail, queued)) = mark.tail.take() {
            self.tails(queued).remove(&tail);
        }
        mark.queued = 0;
    }

    /// Counts `sender`'s queue as it is now.
    pub(super) fn note(&mut self, sender: Address, queue: &Queue) -> Mark {
        let run_end = queue.run_end(queue.base);
        let queued = queue.txs.range(run_end..).count();
        self.queued += queued;
        let tail = queue.txs.last_key_value().map(|(&last, e)| {
            let tail = (e.tx.tx.tx.gas_price, Reverse(sender));
            let is_queued = last >= run_end;
            self.tails(is_queued).insert(tail);
            (tail, is_queued)
        });
        Mark { queued, tail }
    }

    /// The cheapest last transaction, queued or runnable, of a sender `skip` does not exclude.
    pub(super) fn cheapest(&self, queued: bool, skip: impl Fn(&Address) -> bool) -> Option<Tail> {
        let tails = if queued {
            &self.queued_tails
        } else {
            &self.runnable_tails
        };
        tails.iter().find(|(_, Reverse(s))| !skip(s)).copied()
    }

    fn tails(&mut self, queued: bool) -> &mut BTreeSet<Tail> {
        if queued {
            &mut self.queued_tails
        } else {
            &mut self.runnable_tails
        }
    }
}
