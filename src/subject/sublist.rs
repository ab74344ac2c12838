//! The `Sublist`: a shard-local token trie of subscriptions with a bounded match cache.
//!
//! Behaviour follows nats-server's `server/sublist.go`: each trie level has children keyed
//! by literal token plus one `*` child and one `>` child; a node holds the plain entries and
//! the queue groups subscribed to exactly the subject that leads to it. Matching a published
//! subject walks the literal child, the `*` child and the `>` child at each level, and queue
//! groups of the same name found under different patterns are merged into one group, so one
//! message reaches one member of `q` however many patterns `q` subscribed with.
//!
//! The design is ours: one owner (`&mut self`, no locks, not `Send`), entries of any
//! `T: Clone + PartialEq` (the shard stores its own subscription handles), results shared as
//! `Rc` so a cache hit costs a hash lookup and a reference-count increment and never
//! allocates. Entries keep insertion order within a node so results are deterministic, and
//! removal prunes nodes left empty so churn does not grow the trie.
//!
//! Recursion (the `*` branch of a match, removal with pruning, `for_each`) is at most one
//! frame per token; the token count is bounded by `max_control_line`.

use std::collections::HashMap;

/// Hashing for subjects: foldhash with a per-process random seed. Subjects come from
/// clients, but both maps are bounded or per subscription, and SipHash cost a third of
/// the publish path in profiles.
type SubjectHasher = foldhash::fast::RandomState;
use std::rc::Rc;

use super::validate::{
    is_valid_subject, subject_has_wildcard, subject_matches, FULL_WILDCARD, PARTIAL_WILDCARD,
    TOKEN_SEPARATOR,
};

/// What an insert changed, for deciding whether to announce interest to other shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsertOutcome {
    /// True when no entry existed before for this exact (subject, queue) pair.
    pub first_for_subject_queue: bool,
}

/// What a remove changed, for deciding whether to withdraw interest from other shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoveOutcome {
    /// True when an entry equal to the one given was found (and removed).
    pub found: bool,
    /// True when `found` and no entry is left for this exact (subject, queue) pair; always
    /// false when nothing was found, so a stray UNSUB never withdraws interest.
    pub last_for_subject_queue: bool,
}

impl RemoveOutcome {
    /// Nothing equal to the entry was stored under that subject and queue.
    const NOT_FOUND: Self = Self {
        found: false,
        last_for_subject_queue: false,
    };
}

/// One queue group in a match result: deliver to one of `members`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup<T> {
    /// The queue name, byte for byte as the client sent it.
    pub name: Box<[u8]>,
    /// Members from every matching pattern, never empty, in trie order.
    pub members: Vec<T>,
}

/// Everything a published subject matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SublistResult<T> {
    /// Plain subscriptions: each gets a copy.
    pub plain: Vec<T>,
    /// One group per distinct queue name matched, each with at least one member.
    pub queues: Vec<QueueGroup<T>>,
}

impl<T> SublistResult<T> {
    /// A result with no entries.
    pub fn empty() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }

    /// True when nothing matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

/// Counters with nats-server's `SublistStats` meaning (the field names are its JSON keys).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SublistStats {
    /// Entries currently stored.
    pub num_subscriptions: u64,
    /// Results currently cached.
    pub num_cache: u64,
    /// Inserts since creation.
    pub num_inserts: u64,
    /// Successful removes since creation.
    pub num_removes: u64,
    /// Calls to `matches` since creation, cache hits included.
    pub num_matches: u64,
    /// Cache hits divided by `num_matches`; 0 before the first match.
    pub cache_hit_rate: f64,
    /// Largest fanout among cached results (plain entries plus queue groups).
    pub max_fanout: u64,
    /// Mean fanout over cached results; 0 when the cache holds no fanout.
    pub avg_fanout: f64,
}

impl SublistStats {
    /// The counters of two Sublists together (one per account), as nats-server sums
    /// its accounts' Sublists for `/subsz`.
    pub fn merged(&self, other: &SublistStats) -> SublistStats {
        let num_matches = self.num_matches + other.num_matches;
        let hits = self.cache_hit_rate * self.num_matches as f64
            + other.cache_hit_rate * other.num_matches as f64;
        let num_cache = self.num_cache + other.num_cache;
        let fanout_total =
            self.avg_fanout * self.num_cache as f64 + other.avg_fanout * other.num_cache as f64;
        let ratio = |numerator: f64, denominator: u64| {
            if denominator == 0 {
                0.0
            } else {
                numerator / denominator as f64
            }
        };
        SublistStats {
            num_subscriptions: self.num_subscriptions + other.num_subscriptions,
            num_cache,
            num_inserts: self.num_inserts + other.num_inserts,
            num_removes: self.num_removes + other.num_removes,
            num_matches,
            cache_hit_rate: ratio(hits, num_matches),
            max_fanout: self.max_fanout.max(other.max_fanout),
            avg_fanout: ratio(fanout_total, num_cache),
        }
    }
}

/// A trie node: the entries for the subject that leads here, and the next level.
struct Node<T> {
    /// Children for literal tokens; never keyed by a lone `*` or `>`. Keyed with std's
    /// randomly seeded SipHash because tokens come from clients, who could otherwise craft
    /// colliding ones.
    literal_children: HashMap<Box<[u8]>, Node<T>, SubjectHasher>,
    /// Child for a `*` token.
    partial_wildcard: Option<Box<Node<T>>>,
    /// Child for a `>` token; has no children itself since `>` is always last.
    full_wildcard: Option<Box<Node<T>>>,
    /// Plain entries, in insertion order.
    plain: Vec<T>,
    /// Queue groups with at least one member each, in order of first insertion.
    queues: Vec<QueueGroup<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            literal_children: HashMap::default(),
            partial_wildcard: None,
            full_wildcard: None,
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

/// A cached match result.
struct CacheEntry<T> {
    /// The shared result handed out on every hit.
    result: Rc<SublistResult<T>>,
    /// Set by a hit, cleared by a sweep: a second chance so sweeps keep the hot subjects.
    referenced: bool,
}

/// Splits off the first token: `(token, Some(rest))`, or `(subject, None)` on the last one.
#[inline]
fn split_first_token(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(TOKEN_SEPARATOR, subject) {
        Some(index) => (&subject[..index], Some(&subject[index + 1..])),
        None => (subject, None),
    }
}

/// True when a published subject has an empty token, which matches nothing.
#[inline]
fn has_empty_token(subject: &[u8]) -> bool {
    subject.first().is_none_or(|&byte| byte == TOKEN_SEPARATOR)
        || subject.last() == Some(&TOKEN_SEPARATOR)
        || memchr::memmem::find(subject, b"..").is_some()
}

impl<T: Clone + PartialEq> Node<T> {
    /// True when the node holds nothing and leads nowhere, so its parent may drop it.
    fn is_empty(&self) -> bool {
        self.plain.is_empty()
            && self.queues.is_empty()
            && self.literal_children.is_empty()
            && self.partial_wildcard.is_none()
            && self.full_wildcard.is_none()
    }

    /// The child for `token`, created when missing.
    fn child_or_insert(&mut self, token: &[u8]) -> &mut Node<T> {
        match token {
            [PARTIAL_WILDCARD] => self.partial_wildcard.get_or_insert_with(Box::default),
            [FULL_WILDCARD] => self.full_wildcard.get_or_insert_with(Box::default),
            _ => {
                // Look up before inserting so the common existing-child case does not
                // allocate an owned key.
                if !self.literal_children.contains_key(token) {
                    self.literal_children.insert(token.into(), Node::default());
                }
                self.literal_children
                    .get_mut(token)
                    .expect("child was just ensured")
            }
        }
    }

    /// Stores `entry` here; true when it is the first for its (subject, queue) pair.
    fn add_entry(&mut self, queue: Option<&[u8]>, entry: T) -> bool {
        let Some(name) = queue else {
            self.plain.push(entry);
            return self.plain.len() == 1;
        };
        if let Some(group) = self.queues.iter_mut().find(|group| *group.name == *name) {
            group.members.push(entry);
            return false;
        }
        self.queues.push(QueueGroup {
            name: name.into(),
            members: vec![entry],
        });
        true
    }

    /// Removes one entry equal to `entry` stored here, keeping the others in order.
    ///
    /// Linear in the entries of this (subject, queue): `T` has no `Hash` bound, and one
    /// shard's subscribers to one exact subject are usually few.
    fn remove_entry(&mut self, queue: Option<&[u8]>, entry: &T) -> RemoveOutcome {
        let Some(name) = queue else {
            let Some(position) = self.plain.iter().position(|stored| stored == entry) else {
                return RemoveOutcome::NOT_FOUND;
            };
            self.plain.remove(position);
            return RemoveOutcome {
                found: true,
                last_for_subject_queue: self.plain.is_empty(),
            };
        };
        let Some(group_index) = self.queues.iter().position(|group| *group.name == *name) else {
            return RemoveOutcome::NOT_FOUND;
        };
        let members = &mut self.queues[group_index].members;
        let Some(position) = members.iter().position(|stored| stored == entry) else {
            return RemoveOutcome::NOT_FOUND;
        };
        members.remove(position);
        let last = members.is_empty();
        if last {
            self.queues.remove(group_index);
        }
        RemoveOutcome {
            found: true,
            last_for_subject_queue: last,
        }
    }

    /// Removes `entry` from the node `rest` leads to below `self`, pruning emptied children.
    fn remove_below(&mut self, rest: &[u8], queue: Option<&[u8]>, entry: &T) -> RemoveOutcome {
        let (token, remainder) = split_first_token(rest);
        let child = match token {
            [PARTIAL_WILDCARD] => self.partial_wildcard.as_deref_mut(),
            [FULL_WILDCARD] => self.full_wildcard.as_deref_mut(),
            _ => self.literal_children.get_mut(token),
        };
        let Some(child) = child else {
            return RemoveOutcome::NOT_FOUND;
        };
        let outcome = match remainder {
            None => child.remove_entry(queue, entry),
            Some(remainder) => child.remove_below(remainder, queue, entry),
        };
        let child_is_empty = child.is_empty();
        if child_is_empty {
            self.drop_child(token);
        }
        outcome
    }

    /// Drops the child for `token`.
    fn drop_child(&mut self, token: &[u8]) {
        match token {
            [PARTIAL_WILDCARD] => self.partial_wildcard = None,
            [FULL_WILDCARD] => self.full_wildcard = None,
            _ => {
                self.literal_children.remove(token);
            }
        }
    }

    /// Appends this node's entries to `result`, merging queue groups by name.
    fn add_to_result(&self, result: &mut SublistResult<T>) {
        result.plain.extend_from_slice(&self.plain);
        for group in &self.queues {
            match result
                .queues
                .iter_mut()
                .find(|found| found.name == group.name)
            {
                Some(found) => found.members.extend_from_slice(&group.members),
                None => result.queues.push(group.clone()),
            }
        }
    }

    /// Collects every entry whose subject matches the literal tokens in `rest`, in
    /// nats-server's order (`matchLevel`), which is the order a connection with several
    /// matching subscriptions receives its copies in: at each level the `>` child, then
    /// everything below the `*` child, then the literal child; at the last token the
    /// literal child before the `*` child.
    fn collect(&self, rest: &[u8], result: &mut SublistResult<T>) {
        let mut node = self;
        let mut rest = rest;
        loop {
            let (token, remainder) = split_first_token(rest);
            if let Some(full_wildcard) = &node.full_wildcard {
                full_wildcard.add_to_result(result);
            }
            let Some(remainder) = remainder else {
                if let Some(child) = node.literal_children.get(token) {
                    child.add_to_result(result);
                }
                if let Some(partial_wildcard) = &node.partial_wildcard {
                    partial_wildcard.add_to_result(result);
                }
                return;
            };
            if let Some(partial_wildcard) = &node.partial_wildcard {
                partial_wildcard.collect(remainder, result);
            }
            let Some(child) = node.literal_children.get(token) else {
                return;
            };
            (node, rest) = (child, remainder);
        }
    }

    /// Calls `visit` for every entry at or below this node; `subject` is this node's subject.
    fn visit_all(&self, subject: &mut Vec<u8>, visit: &mut impl FnMut(&[u8], Option<&[u8]>, &T)) {
        for entry in &self.plain {
            visit(subject, None, entry);
        }
        for group in &self.queues {
            for entry in &group.members {
                visit(subject, Some(&group.name), entry);
            }
        }
        let children = self
            .literal_children
            .iter()
            .map(|(token, child)| (&token[..], child))
            .chain(
                self.partial_wildcard
                    .as_deref()
                    .map(|child| (&[PARTIAL_WILDCARD][..], child)),
            )
            .chain(
                self.full_wildcard
                    .as_deref()
                    .map(|child| (&[FULL_WILDCARD][..], child)),
            );
        for (token, child) in children {
            let parent_length = subject.len();
            if parent_length > 0 {
                subject.push(TOKEN_SEPARATOR);
            }
            subject.extend_from_slice(token);
            child.visit_all(subject, visit);
            subject.truncate(parent_length);
        }
    }
}

/// A subscription list: subject patterns (with optional queue group) to entries of type `T`.
pub struct Sublist<T> {
    /// The trie's root level; it holds no entries itself (no subject is empty).
    root: Node<T>,
    /// Cached results by published subject; `len() <= cache_entries_max` at all times, and
    /// every entry holds what a fresh walk of the trie would return, possibly in another
    /// order (entries inserted since the walk come last, as in nats-server).
    cache: HashMap<Box<[u8]>, CacheEntry<T>, SubjectHasher>,
    /// The cache bound; 0 disables the cache.
    cache_entries_max: usize,
    /// The shared empty result, so misses that match nothing do not allocate a result.
    empty: Rc<SublistResult<T>>,
    /// Entries stored now.
    subscription_count: usize,
    /// Inserts since creation.
    insert_count: u64,
    /// Successful removes since creation.
    remove_count: u64,
    /// Calls to `matches` since creation.
    match_count: u64,
    /// Calls to `matches` answered from the cache.
    cache_hit_count: u64,
    /// Bumped by every insert and successful remove: a match result taken at one
    /// generation is still exact while the generation is unchanged.
    generation: u64,
}

impl<T: Clone + PartialEq> Sublist<T> {
    /// An empty list caching up to `cache_entries_max` results (nats-server uses 1024); 0
    /// disables the cache.
    pub fn new(cache_entries_max: usize) -> Self {
        Self {
            root: Node::default(),
            cache: HashMap::with_capacity_and_hasher(cache_entries_max, SubjectHasher::default()),
            generation: 0,
            cache_entries_max,
            empty: Rc::new(SublistResult::empty()),
            subscription_count: 0,
            insert_count: 0,
            remove_count: 0,
            match_count: 0,
            cache_hit_count: 0,
        }
    }

    /// Adds `entry` under `subject` (and `queue`, for a queue subscription).
    ///
    /// The caller has validated `subject` with [`is_valid_subject`]; an invalid one is a bug
    /// and panics. The same entry may be inserted more than once; each copy counts.
    pub fn insert(&mut self, subject: &[u8], queue: Option<&[u8]>, entry: T) -> InsertOutcome {
        assert!(
            is_valid_subject(subject),
            "Sublist::insert needs a validated subject"
        );
        let mut node = &mut self.root;
        for token in subject.split(|&byte| byte == TOKEN_SEPARATOR) {
            node = node.child_or_insert(token);
        }
        let first_for_subject_queue = node.add_entry(queue, entry.clone());
        self.subscription_count += 1;
        self.insert_count += 1;
        self.generation += 1;
        self.add_to_cache_results(subject, queue, &entry);
        InsertOutcome {
            first_for_subject_queue,
        }
    }

    /// Removes one entry equal to `entry` stored under exactly `subject` and `queue`.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, entry: &T) -> RemoveOutcome {
        let outcome = self.root.remove_below(subject, queue, entry);
        if outcome.found {
            assert!(self.subscription_count > 0, "a found entry was counted");
            self.subscription_count -= 1;
            self.remove_count += 1;
            self.generation += 1;
            self.invalidate_cache(subject);
        }
        outcome
    }

    /// Everything the published `literal_subject` reaches. Its tokens are taken literally;
    /// a subject with an empty token matches nothing.
    pub fn matches(&mut self, literal_subject: &[u8]) -> Rc<SublistResult<T>> {
        self.match_count += 1;
        if let Some(cached) = self.cache.get_mut(literal_subject) {
            cached.referenced = true;
            self.cache_hit_count += 1;
            return Rc::clone(&cached.result);
        }
        if has_empty_token(literal_subject) {
            return Rc::clone(&self.empty);
        }
        let mut found = SublistResult::empty();
        self.root.collect(literal_subject, &mut found);
        let result = if found.is_empty() {
            Rc::clone(&self.empty)
        } else {
            Rc::new(found)
        };
        self.add_to_cache(literal_subject, &result);
        result
    }

    /// Changes with every insert and remove (see the field); lets callers keep their own
    /// one-entry caches of match results.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Entries stored now.
    pub fn count(&self) -> usize {
        self.subscription_count
    }

    /// Counters and cache fanout, as nats-server's `Sublist.Stats`.
    pub fn stats(&self) -> SublistStats {
        let fanouts = self
            .cache
            .values()
            .map(|cached| (cached.result.plain.len() + cached.result.queues.len()) as u64);
        let (fanout_total, fanout_max) = fanouts.fold((0, 0), |(total, max), fanout| {
            (total + fanout, max.max(fanout))
        });
        let ratio = |numerator: u64, denominator: u64| {
            if numerator == 0 {
                0.0
            } else {
                numerator as f64 / denominator as f64
            }
        };
        SublistStats {
            num_subscriptions: self.subscription_count as u64,
            num_cache: self.cache.len() as u64,
            num_inserts: self.insert_count,
            num_removes: self.remove_count,
            num_matches: self.match_count,
            cache_hit_rate: ratio(self.cache_hit_count, self.match_count),
            max_fanout: fanout_max,
            avg_fanout: ratio(fanout_total, self.cache.len() as u64),
        }
    }

    /// Calls `visit(subject, queue, entry)` for every stored entry. Entries of one subject
    /// come in insertion order; subjects come in no particular order.
    pub fn for_each(&self, mut visit: impl FnMut(&[u8], Option<&[u8]>, &T)) {
        let mut subject = Vec::new();
        self.root.visit_all(&mut subject, &mut visit);
    }

    /// Caches `result` for `literal_subject`, sweeping first when the cache is full.
    fn add_to_cache(&mut self, literal_subject: &[u8], result: &Rc<SublistResult<T>>) {
        if self.cache_entries_max == 0 {
            return;
        }
        if self.cache.len() >= self.cache_entries_max {
            self.sweep_cache();
        }
        let entry = CacheEntry {
            result: Rc::clone(result),
            referenced: false,
        };
        self.cache.insert(literal_subject.into(), entry);
        assert!(self.cache.len() <= self.cache_entries_max);
    }

    /// Shrinks a full cache to a quarter of its bound (nats-server sweeps 1024 down to 256),
    /// keeping only entries hit since the last sweep. Sweeping in bulk rather than evicting
    /// one entry per miss keeps the amortised cost per miss constant.
    fn sweep_cache(&mut self) {
        let keep_max = self.cache_entries_max / 4;
        let mut kept = 0;
        self.cache.retain(|_, cached| {
            let keep = cached.referenced && kept < keep_max;
            kept += usize::from(keep);
            cached.referenced = false;
            keep
        });
    }

    /// Appends a just-inserted entry to every cached result its `pattern` matches, as
    /// nats-server's `addToCache` does: a cached subject then delivers to the new
    /// subscription after the ones it already had, which is nats-server's delivery order
    /// (a fresh walk would put it in trie order). A literal pattern touches one key; a
    /// wildcard scans the bounded cache, as nats-server does.
    fn add_to_cache_results(&mut self, pattern: &[u8], queue: Option<&[u8]>, entry: &T) {
        if self.cache.is_empty() {
            return;
        }
        let add = |cached: &mut CacheEntry<T>| {
            let result = Rc::make_mut(&mut cached.result);
            match queue {
                None => result.plain.push(entry.clone()),
                Some(name) => match result.queues.iter_mut().find(|g| *g.name == *name) {
                    Some(group) => group.members.push(entry.clone()),
                    None => result.queues.push(QueueGroup {
                        name: name.into(),
                        members: vec![entry.clone()],
                    }),
                },
            }
        };
        if subject_has_wildcard(pattern) {
            for (literal_subject, cached) in self.cache.iter_mut() {
                if subject_matches(pattern, literal_subject) {
                    add(cached);
                }
            }
        } else if let Some(cached) = self.cache.get_mut(pattern) {
            add(cached);
        }
    }

    /// Drops every cached result that `pattern` (just removed) can match, as
    /// nats-server's `removeFromCache` does; the next match walks the trie again.
    fn invalidate_cache(&mut self, pattern: &[u8]) {
        if self.cache.is_empty() {
            return;
        }
        if subject_has_wildcard(pattern) {
            self.cache
                .retain(|literal_subject, _| !subject_matches(pattern, literal_subject));
        } else {
            self.cache.remove(pattern);
        }
    }

    /// True when the trie holds nothing at all beyond its root.
    #[cfg(test)]
    fn is_pruned(&self) -> bool {
        self.root.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain entries and (name, members) queue groups of a match, in result order.
    fn matched(sublist: &mut Sublist<u32>, subject: &str) -> (Vec<u32>, Vec<(String, Vec<u32>)>) {
        let result = sublist.matches(subject.as_bytes());
        let queues = result
            .queues
            .iter()
            .map(|group| {
                let name = String::from_utf8(group.name.to_vec()).unwrap();
                (name, group.members.clone())
            })
            .collect();
        (result.plain.clone(), queues)
    }

    fn plain(sublist: &mut Sublist<u32>, subject: &str) -> Vec<u32> {
        let (mut entries, queues) = matched(sublist, subject);
        assert!(queues.is_empty());
        entries.sort_unstable();
        entries
    }

    #[test]
    fn literal_subjects_match_exactly() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b"foo", None, 1);
        sublist.insert(b"foo.bar", None, 2);
        sublist.insert(b"foo.bar.baz", None, 3);
        assert_eq!(plain(&mut sublist, "foo"), [1]);
        assert_eq!(plain(&mut sublist, "foo.bar"), [2]);
        assert_eq!(plain(&mut sublist, "foo.bar.baz"), [3]);
        assert_eq!(plain(&mut sublist, "foo.baz"), [0; 0]);
        assert_eq!(plain(&mut sublist, "Foo"), [0; 0]);
        assert_eq!(sublist.count(), 3);
    }

    #[test]
    fn partial_wildcard_matches_exactly_one_token() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b"*", None, 1);
        sublist.insert(b"foo.*", None, 2);
        sublist.insert(b"*.bar", None, 3);
        sublist.insert(b"foo.*.baz", None, 4);
        assert_eq!(plain(&mut sublist, "foo"), [1]);
        assert_eq!(plain(&mut sublist, "foo.bar"), [2, 3]);
        assert_eq!(plain(&mut sublist, "foo.baz"), [2]);
        assert_eq!(plain(&mut sublist, "foo.x.baz"), [4]);
        assert_eq!(plain(&mut sublist, "foo.x.y.baz"), [0; 0]);
    }

    #[test]
    fn full_wildcard_matches_one_or_more_trailing_tokens() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b">", None, 1);
        sublist.insert(b"foo.>", None, 2);
        sublist.insert(b"foo.*.>", None, 3);
        assert_eq!(plain(&mut sublist, "foo"), [1]);
        assert_eq!(plain(&mut sublist, "foo.bar"), [1, 2]);
        assert_eq!(plain(&mut sublist, "foo.bar.baz"), [1, 2, 3]);
        assert_eq!(plain(&mut sublist, "bar.baz"), [1]);
    }

    #[test]
    fn published_wildcard_tokens_are_literal() {
        // Observed on nats-server 2.15.1: `PUB foo.*` reaches `foo.*` and `foo.>`, not
        // `foo.bar`; a literal `*` token is only matched by wildcards.
        let mut sublist = Sublist::new(1024);
        sublist.insert(b"foo.bar", None, 1);
        sublist.insert(b"foo.*", None, 2);
        sublist.insert(b"foo.>", None, 3);
        assert_eq!(plain(&mut sublist, "foo.*"), [2, 3]);
        assert_eq!(plain(&mut sublist, "foo.>"), [2, 3]);
        // Not-whole-token stars are ordinary bytes on both sides.
        sublist.insert(b"foo*", None, 4);
        assert_eq!(plain(&mut sublist, "foo*"), [4]);
    }

    #[test]
    fn subjects_with_an_empty_token_match_nothing() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b">", None, 1);
        sublist.insert(b"*", None, 2);
        for subject in ["", ".", "foo..bar", ".foo", "foo.", ".."] {
            assert!(
                sublist.matches(subject.as_bytes()).is_empty(),
                "{subject:?}"
            );
        }
        assert_eq!(
            sublist.stats().num_cache,
            0,
            "invalid subjects are not cached"
        );
    }

    #[test]
    fn queue_groups_are_merged_across_patterns() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b"foo.bar", Some(b"q"), 1);
        sublist.insert(b"foo.*", Some(b"q"), 2);
        sublist.insert(b"foo.>", Some(b"q"), 3);
        sublist.insert(b"foo.*", Some(b"other"), 4);
        sublist.insert(b"foo.bar", None, 5);
        let (plain, queues) = matched(&mut sublist, "foo.bar");
        assert_eq!(plain, [5]);
        let mut queues = queues;
        queues
            .iter_mut()
            .for_each(|(_, members)| members.sort_unstable());
        queues.sort();
        assert_eq!(
            queues,
            [("other".into(), vec![4]), ("q".into(), vec![1, 2, 3])]
        );
    }

    #[test]
    fn entries_keep_insertion_order_within_a_node() {
        let mut sublist = Sublist::new(1024);
        for entry in [5, 3, 9, 1] {
            sublist.insert(b"foo", None, entry);
            sublist.insert(b"foo", Some(b"q"), entry);
        }
        sublist.remove(b"foo", None, &3);
        let (plain, queues) = matched(&mut sublist, "foo");
        assert_eq!(plain, [5, 9, 1]);
        assert_eq!(queues, [("q".into(), vec![5, 3, 9, 1])]);
    }

    #[test]
    fn insert_reports_the_first_entry_per_subject_and_queue() {
        let mut sublist = Sublist::new(0);
        let first = |outcome: InsertOutcome| outcome.first_for_subject_queue;
        assert!(first(sublist.insert(b"foo", None, 1)));
        assert!(!first(sublist.insert(b"foo", None, 2)));
        assert!(first(sublist.insert(b"foo", Some(b"q"), 3)));
        assert!(!first(sublist.insert(b"foo", Some(b"q"), 4)));
        assert!(first(sublist.insert(b"foo", Some(b"r"), 5)));
        assert!(first(sublist.insert(b"foo.*", None, 6)));
        assert!(first(sublist.insert(b"foo.>", Some(b"q"), 7)));
        assert_eq!(sublist.count(), 7);
    }

    #[test]
    fn remove_reports_found_and_last() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b"foo", None, 1);
        sublist.insert(b"foo", None, 1);
        sublist.insert(b"foo", Some(b"q"), 2);
        let outcome = |found, last_for_subject_queue| RemoveOutcome {
            found,
            last_for_subject_queue,
        };
        assert_eq!(sublist.remove(b"foo", None, &1), outcome(true, false));
        assert_eq!(sublist.remove(b"foo", None, &1), outcome(true, true));
        assert_eq!(sublist.remove(b"foo", None, &1), outcome(false, false));
        assert_eq!(sublist.remove(b"foo", None, &2), outcome(false, false));
        assert_eq!(
            sublist.remove(b"foo", Some(b"r"), &2),
            outcome(false, false)
        );
        assert_eq!(sublist.remove(b"foo.bar", None, &2), outcome(false, false));
        assert_eq!(sublist.remove(b"foo", Some(b"q"), &2), outcome(true, true));
        assert_eq!(sublist.count(), 0);
        assert!(sublist.is_pruned());
    }

    #[test]
    fn removal_prunes_empty_nodes_but_keeps_used_ones() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b"a.b.c.d", None, 1);
        sublist.insert(b"a.*.>", Some(b"q"), 2);
        sublist.insert(b"a", None, 3);
        sublist.remove(b"a.b.c.d", None, &1);
        assert_eq!(
            sublist.root.literal_children[&b"a"[..]]
                .literal_children
                .len(),
            0
        );
        assert_eq!(plain(&mut sublist, "a"), [3]);
        sublist.remove(b"a", None, &3);
        assert!(!sublist.is_pruned());
        sublist.remove(b"a.*.>", Some(b"q"), &2);
        assert!(sublist.is_pruned());
    }

    #[test]
    fn cache_hits_return_the_cached_result_and_changes_invalidate_it() {
        let mut sublist = Sublist::new(1024);
        sublist.insert(b"foo.bar", None, 1);
        let first = sublist.matches(b"foo.bar");
        let second = sublist.matches(b"foo.bar");
        assert!(
            Rc::ptr_eq(&first, &second),
            "a hit hands out the cached result"
        );
        sublist.insert(b"foo.*", None, 2);
        assert_eq!(plain(&mut sublist, "foo.bar"), [1, 2]);
        sublist.insert(b"foo.bar", None, 3);
        assert_eq!(plain(&mut sublist, "foo.bar"), [1, 2, 3]);
        sublist.remove(b"foo.*", None, &2);
        assert_eq!(plain(&mut sublist, "foo.bar"), [1, 3]);
        sublist.remove(b"foo.bar", None, &1);
        assert_eq!(plain(&mut sublist, "foo.bar"), [3]);
        // Unrelated changes leave the entry alone.
        let cached = sublist.matches(b"foo.bar");
        sublist.insert(b"baz.*", None, 4);
        sublist.insert(b"foo.bar.baz", None, 5);
        assert!(Rc::ptr_eq(&cached, &sublist.matches(b"foo.bar")));
    }

    #[test]
    fn cache_stays_within_its_bound_and_keeps_hot_subjects() {
        let mut sublist = Sublist::new(8);
        sublist.insert(b">", None, 1);
        let hot = sublist.matches(b"hot");
        for round in 0..20 {
            assert!(Rc::ptr_eq(&hot, &sublist.matches(b"hot")), "round {round}");
            for index in 0..7 {
                sublist.matches(format!("cold.{round}.{index}").as_bytes());
                assert!(sublist.stats().num_cache <= 8);
            }
        }
    }

    #[test]
    fn zero_cache_entries_disables_the_cache() {
        let mut sublist = Sublist::new(0);
        sublist.insert(b"foo", None, 1);
        assert_eq!(plain(&mut sublist, "foo"), [1]);
        assert_eq!(plain(&mut sublist, "foo"), [1]);
        let stats = sublist.stats();
        assert_eq!((stats.num_cache, stats.num_matches), (0, 2));
        assert_eq!(stats.cache_hit_rate, 0.0);
    }

    #[test]
    fn stats_follow_nats_server_semantics() {
        let mut sublist = Sublist::new(1024);
        assert_eq!(sublist.stats(), SublistStats::default());
        sublist.insert(b"foo", None, 1);
        sublist.insert(b"foo", Some(b"q"), 2);
        sublist.insert(b"foo", Some(b"q"), 3);
        sublist.insert(b"bar", None, 4);
        sublist.insert(b"baz", None, 5);
        sublist.remove(b"baz", None, &5);
        sublist.remove(b"baz", None, &5);
        sublist.matches(b"foo");
        sublist.matches(b"foo");
        sublist.matches(b"foo");
        sublist.matches(b"bar");
        let stats = sublist.stats();
        assert_eq!(stats.num_subscriptions, 4);
        assert_eq!(stats.num_inserts, 5);
        assert_eq!(stats.num_removes, 1);
        assert_eq!(stats.num_matches, 4);
        assert_eq!(stats.num_cache, 2);
        assert_eq!(stats.cache_hit_rate, 0.5);
        // `foo` fans out to one plain entry and one queue group; `bar` to one entry.
        assert_eq!(stats.max_fanout, 2);
        assert_eq!(stats.avg_fanout, 1.5);
    }

    #[test]
    fn for_each_visits_every_entry_with_its_subject_and_queue() {
        let mut sublist = Sublist::new(0);
        sublist.insert(b"foo", None, 1);
        sublist.insert(b"foo.*", Some(b"q"), 2);
        sublist.insert(b"foo.*.>", None, 3);
        sublist.insert(b">", None, 4);
        sublist.insert(b"foo", None, 5);
        let mut seen = Vec::new();
        sublist.for_each(|subject, queue, &entry| {
            let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
            seen.push((text(subject), queue.map(text), entry));
        });
        seen.sort();
        let expected = [
            (">", None, 4),
            ("foo", None, 1),
            ("foo", None, 5),
            ("foo.*", Some("q"), 2),
            ("foo.*.>", None, 3),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|&(subject, queue, entry)| (subject.to_string(), queue.map(String::from), entry))
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    #[should_panic(expected = "validated subject")]
    fn inserting_an_unvalidated_subject_is_a_bug() {
        Sublist::new(0).insert(b"foo..bar", None, 1);
    }
}

#[cfg(test)]
mod model_tests {
    //! The Sublist against a naive model: a list of (pattern, queue, entry) matched with
    //! `subject_matches`, compared as multisets after every operation.

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Operation {
        Insert(Vec<u8>, Option<Vec<u8>>, u8),
        Remove(Vec<u8>, Option<Vec<u8>>, u8),
        Match(Vec<u8>),
    }

    /// A valid pattern of one to three tokens over a small alphabet, so collisions are common.
    fn pattern() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "*", ">"]), 1..=3).prop_map(
            |mut tokens| {
                if let Some(index) = tokens.iter().position(|&token| token == ">") {
                    tokens.truncate(index + 1);
                }
                tokens.join(".").into_bytes()
            },
        )
    }

    /// A published subject: literal `*` and `>` tokens, and sometimes an empty token.
    fn literal() -> impl Strategy<Value = Vec<u8>> {
        let token = prop::sample::select(vec!["a", "b", "c", "*", ">", "a", "b", ""]);
        prop::collection::vec(token, 1..=4).prop_map(|tokens| tokens.join(".").into_bytes())
    }

    fn queue() -> impl Strategy<Value = Option<Vec<u8>>> {
        prop::sample::select(vec![None, None, Some(b"q".to_vec()), Some(b"r".to_vec())])
    }

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            3 => (pattern(), queue(), 0..4u8).prop_map(|(p, q, e)| Operation::Insert(p, q, e)),
            2 => (pattern(), queue(), 0..4u8).prop_map(|(p, q, e)| Operation::Remove(p, q, e)),
            4 => literal().prop_map(Operation::Match),
        ]
    }

    type Model = Vec<(Vec<u8>, Option<Vec<u8>>, u8)>;

    /// Sorted plain entries and queue name -> sorted members.
    type Normalized = (Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>);

    fn model_match(model: &Model, subject: &[u8]) -> Normalized {
        let mut plain = Vec::new();
        let mut queues: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for (pattern, queue, entry) in model {
            if !subject_matches(pattern, subject) {
                continue;
            }
            match queue {
                None => plain.push(*entry),
                Some(name) => queues.entry(name.clone()).or_default().push(*entry),
            }
        }
        plain.sort_unstable();
        queues
            .values_mut()
            .for_each(|members| members.sort_unstable());
        (plain, queues)
    }

    fn normalize(result: &SublistResult<u8>) -> Normalized {
        let mut plain = result.plain.clone();
        plain.sort_unstable();
        let mut queues = BTreeMap::new();
        for group in &result.queues {
            assert!(!group.members.is_empty(), "empty queue group in a result");
            let mut members = group.members.clone();
            members.sort_unstable();
            let duplicate = queues.insert(group.name.to_vec(), members);
            assert!(duplicate.is_none(), "queue group listed twice");
        }
        (plain, queues)
    }

    fn apply(sublist: &mut Sublist<u8>, model: &mut Model, operation: Operation) {
        match operation {
            Operation::Insert(pattern, queue, entry) => {
                let first = !model.iter().any(|(p, q, _)| *p == pattern && *q == queue);
                let outcome = sublist.insert(&pattern, queue.as_deref(), entry);
                assert_eq!(outcome.first_for_subject_queue, first);
                model.push((pattern, queue, entry));
            }
            Operation::Remove(pattern, queue, entry) => {
                let outcome = sublist.remove(&pattern, queue.as_deref(), &entry);
                let wanted = (pattern, queue, entry);
                let position = model.iter().position(|stored| *stored == wanted);
                assert_eq!(outcome.found, position.is_some());
                if let Some(position) = position {
                    model.remove(position);
                }
                let (pattern, queue, _) = wanted;
                let last = position.is_some()
                    && !model.iter().any(|(p, q, _)| *p == pattern && *q == queue);
                assert_eq!(outcome.last_for_subject_queue, last);
            }
            Operation::Match(subject) => {
                let result = sublist.matches(&subject);
                assert_eq!(normalize(&result), model_match(model, &subject));
            }
        }
        assert_eq!(sublist.count(), model.len());
    }

    fn run(cache_entries_max: usize, operations: Vec<Operation>) {
        let mut sublist = Sublist::new(cache_entries_max);
        let mut model = Model::new();
        for operation in operations {
            apply(&mut sublist, &mut model, operation);
            assert!(sublist.stats().num_cache as usize <= cache_entries_max);
        }
        let mut stored = Vec::new();
        sublist.for_each(|subject, queue, &entry| {
            stored.push((subject.to_vec(), queue.map(<[u8]>::to_vec), entry));
        });
        stored.sort();
        let mut expected = model.clone();
        expected.sort();
        assert_eq!(stored, expected);
        for (pattern, queue, entry) in model.drain(..) {
            assert!(sublist.remove(&pattern, queue.as_deref(), &entry).found);
        }
        assert!(sublist.is_pruned(), "emptied trie still has nodes");
    }

    proptest! {
        #[test]
        fn sublist_agrees_with_the_naive_model(
            cache_entries_max in prop::sample::select(vec![0usize, 1, 2, 1024]),
            operations in prop::collection::vec(operation(), 1..200),
        ) {
            run(cache_entries_max, operations);
        }
    }
}
