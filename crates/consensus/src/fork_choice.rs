//! Which of two chain heads to follow: highest total difficulty, then EIP-3436's tie breaks.

use std::cmp::Ordering;

use metamesh_primitives::Hash;

/// What fork choice needs to know about a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkCandidate {
    pub total_difficulty: u128,
    pub number: u64,
    /// Blocks since the head's sealer was last in turn (`Snapshot::turn_distance` at the parent).
    pub turn_distance: u64,
    pub hash: Hash,
}

/// `Ordering::Greater` when `a` is preferred over `b`. In order:
///
/// 1. higher total difficulty;
/// 2. lower block number (EIP-3436: with equal difficulty, the shorter chain had more in-turn
///    blocks);
/// 3. the sealer least recently in turn (larger distance);
/// 4. the lower hash.
///
/// The order is total: two distinct heads never tie, so every node picks the same one.
pub fn compare(a: &ForkCandidate, b: &ForkCandidate) -> Ordering {
    a.total_difficulty
        .cmp(&b.total_difficulty)
        .then(b.number.cmp(&a.number))
        .then(a.turn_distance.cmp(&b.turn_distance))
        .then(b.hash.cmp(&a.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(td: u128, number: u64, distance: u64, hash: u8) -> ForkCandidate {
        ForkCandidate {
            total_difficulty: td,
            number,
            turn_distance: distance,
            hash: [hash; 32],
        }
    }

    #[test]
    fn tie_breaks_follow_eip_3436() {
        assert_eq!(compare(&c(10, 5, 0, 1), &c(9, 5, 0, 1)), Ordering::Greater);
        assert_eq!(compare(&c(10, 5, 0, 1), &c(10, 6, 0, 1)), Ordering::Greater);
        assert_eq!(compare(&c(10, 5, 3, 1), &c(10, 5, 1, 1)), Ordering::Greater);
        assert_eq!(compare(&c(10, 5, 1, 1), &c(10, 5, 1, 2)), Ordering::Greater);
        assert_eq!(compare(&c(10, 5, 1, 2), &c(10, 5, 1, 2)), Ordering::Equal);
    }
}
