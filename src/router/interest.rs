//! Other shards' interest: which peer shards want which subject patterns, and for queue
//! groups how many members each has, so a publish knows where to send envelopes.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::subject::sublist::{Sublist, SublistResult};

/// One peer shard's interest in one (subject, queue) pair, as stored in the Sublist.
#[derive(Clone, Debug)]
pub struct RemoteInterest {
    /// The peer shard.
    pub shard: usize,
    /// Members of the queue group there (1 for plain interest); shared with the table
    /// so weight updates reach cached match results.
    pub weight: Rc<Cell<u32>>,
}

impl PartialEq for RemoteInterest {
    fn eq(&self, other: &Self) -> bool {
        self.shard == other.shard && Rc::ptr_eq(&self.weight, &other.weight)
    }
}

type InterestKey = (usize, Box<[u8]>, Option<Box<[u8]>>);

/// The interest of every peer shard, as last announced.
pub struct InterestTable {
    /// Patterns -> interested shards.
    sublist: Sublist<RemoteInterest>,
    /// (shard, subject, queue) -> its weight cell, to update or remove entries.
    weights: HashMap<InterestKey, Rc<Cell<u32>>>,
}

impl InterestTable {
    /// An empty table with a match cache of `cache_entries_max`.
    pub fn new(cache_entries_max: usize) -> Self {
        Self {
            sublist: Sublist::new(cache_entries_max),
            weights: HashMap::new(),
        }
    }

    /// Applies a peer's announcement: `weight` members on (subject, queue), 0 = none.
    pub fn apply(&mut self, shard: usize, subject: &[u8], queue: Option<&[u8]>, weight: u32) {
        let key: InterestKey = (shard, subject.into(), queue.map(Into::into));
        match (self.weights.get(&key), weight) {
            (Some(cell), 0) => {
                let entry = RemoteInterest {
                    shard,
                    weight: cell.clone(),
                };
                self.sublist.remove(subject, queue, &entry);
                self.weights.remove(&key);
            }
            (Some(cell), weight) => cell.set(weight),
            (None, 0) => {}
            (None, weight) => {
                let cell = Rc::new(Cell::new(weight));
                let entry = RemoteInterest {
                    shard,
                    weight: cell.clone(),
                };
                self.sublist.insert(subject, queue, entry);
                self.weights.insert(key, cell);
            }
        }
    }

    /// The peers interested in a published subject.
    pub fn matches(&mut self, subject: &[u8]) -> Rc<SublistResult<RemoteInterest>> {
        self.sublist.matches(subject)
    }

    /// Changes whenever an entry is added or removed (weights are shared cells, so a
    /// weight update needs no new generation).
    pub fn generation(&self) -> u64 {
        self.sublist.generation()
    }

    /// True when no peer has announced any interest (a publish can skip the lookup).
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_update_and_remove() {
        let mut table = InterestTable::new(16);
        table.apply(1, b"foo.*", Some(b"q"), 2);
        table.apply(2, b"foo.bar", None, 1);
        let result = table.matches(b"foo.bar");
        assert_eq!(result.plain.len(), 1);
        assert_eq!(result.queues.len(), 1);
        assert_eq!(result.queues[0].members[0].weight.get(), 2);
        table.apply(1, b"foo.*", Some(b"q"), 5);
        assert_eq!(
            table.matches(b"foo.bar").queues[0].members[0].weight.get(),
            5
        );
        table.apply(1, b"foo.*", Some(b"q"), 0);
        table.apply(2, b"foo.bar", None, 0);
        let result = table.matches(b"foo.bar");
        assert!(result.plain.is_empty() && result.queues.is_empty());
        assert!(table.is_empty());
    }
}
