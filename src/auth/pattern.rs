//! Subject comparisons used by permissions and imports, as nats-server 2.15.1 makes them.
//!
//! Permission lists are matched the way nats-server matches them: each list is a small
//! Sublist ([`PatternSet`]) and the subject asked about is walked token by token *as
//! literal tokens*, so a `*` or `>` token in the asked subject is only matched by a `*` or
//! `>` pattern token (nats-server `Sublist.Match` / `NumInterest`). That is why
//! `SUB foo.>` passes `allow: foo.*`: the `>` token is one literal token under `foo.*`.
//!
//! The two pattern-vs-pattern comparisons are ports of `server/sublist.go`:
//! [`is_subset_match`] (`isSubsetMatchTokenized`: is every subject matched by `subject`
//! also matched by `test`) and [`subjects_collide`] (`SubjectsCollide`: could one
//! literal subject match both). Both keep nats-server's shortcuts, which look at the
//! first byte of a token only (a `test` token `*x` behaves like `*`); the unit tests
//! record them.

use std::collections::HashMap;
use std::ops::ControlFlow;

use crate::subject::validate::{
    is_wildcard_token, FULL_WILDCARD, PARTIAL_WILDCARD, TOKEN_SEPARATOR,
};

/// Hashing for the literal children of a [`PatternSet`] node. Keys come from the
/// configuration; lookups come from clients but never insert.
type TokenHasher = foldhash::fast::RandomState;

/// Splits a subject into tokens like Go's `strings.Split` (an empty subject is one empty
/// token).
pub(crate) fn tokens(subject: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> + Clone {
    subject.split(|&byte| byte == TOKEN_SEPARATOR)
}

/// True when some token of `subject` is empty (`""`, `.a`, `a.`, `a..b`): nats-server's
/// `Sublist.Match` returns nothing for such a subject.
pub(crate) fn has_empty_token(subject: &[u8]) -> bool {
    tokens(subject).any(<[u8]>::is_empty)
}

/// nats-server's `IsValidSubject`, used on permission and import subjects from the
/// configuration: non-empty tokens, nothing after `>`, no space, tab, CR, LF or form feed.
pub(crate) fn is_valid_config_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut after_full_wildcard = false;
    for token in tokens(subject) {
        if token.is_empty() || after_full_wildcard {
            return false;
        }
        if token
            .iter()
            .any(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
        {
            return false;
        }
        after_full_wildcard = token == [FULL_WILDCARD];
    }
    true
}

/// nats-server's `splitSubjectQueue`: `"subject"` or `"subject queue"` (separated by
/// white space), both parts valid subjects. `None` for anything else.
pub(crate) fn split_subject_queue(entry: &str) -> Option<(&[u8], Option<&[u8]>)> {
    let mut fields = entry.split_whitespace();
    let subject = fields.next()?.as_bytes();
    let queue = fields.next().map(str::as_bytes);
    if fields.next().is_some() || !is_valid_config_subject(subject) {
        return None;
    }
    if queue.is_some_and(|queue| !is_valid_config_subject(queue)) {
        return None;
    }
    Some((subject, queue))
}

/// True when the token starts like a wildcard: nats-server's shortcut in
/// `isSubsetMatchTokenized` and `tokensCanMatch`, which look at the first byte only.
fn starts_with(token: &[u8], byte: u8) -> bool {
    token.first() == Some(&byte)
}

/// nats-server's `isSubsetMatchTokenized`: true when every subject `subject` matches is
/// also matched by `test` (both may hold wildcards), e.g. `foo.*` against `>`, `*.*` or
/// `foo.*`, but not against `foo.bar`.
pub(crate) fn is_subset_match(subject: &[u8], test: &[u8]) -> bool {
    is_subset_match_tokens(tokens(subject), tokens(test))
}

/// [`is_subset_match`] on token iterators (no allocation: it runs on the delivery path
/// for wildcard queue names).
fn is_subset_match_tokens<'a>(
    mut subject: impl Iterator<Item = &'a [u8]>,
    test: impl Iterator<Item = &'a [u8]>,
) -> bool {
    for test_token in test {
        let Some(token) = subject.next() else {
            return false;
        };
        if test_token.is_empty() {
            return false;
        }
        if test_token == [FULL_WILDCARD] {
            return true;
        }
        if token.is_empty() || token == [FULL_WILDCARD] {
            return false;
        }
        if token == [PARTIAL_WILDCARD] {
            if test_token != [PARTIAL_WILDCARD] {
                return false;
            }
            continue;
        }
        if !starts_with(test_token, PARTIAL_WILDCARD) && token != test_token {
            return false;
        }
    }
    subject.next().is_none()
}

/// nats-server's `SubjectsCollide`: true when some literal subject could match both
/// `first` and `second`.
pub(crate) fn subjects_collide(first: &[u8], second: &[u8]) -> bool {
    if first == second {
        return true;
    }
    let (first_partial, first_full) = wildcards_in(first);
    let (second_partial, second_full) = wildcards_in(second);
    let first_literal = !(first_partial || first_full);
    let second_literal = !(second_partial || second_full);
    match (first_literal, second_literal) {
        (true, true) => return false,
        (true, false) => return is_subset_match(first, second),
        (false, true) => return is_subset_match(second, first),
        (false, false) => {}
    }
    let first_len = tokens(first).count();
    let second_len = tokens(second).count();
    if !first_full && !second_full && first_len != second_len {
        return false;
    }
    if (first_len < second_len && !first_full) || (second_len < first_len && !second_full) {
        return false;
    }
    tokens(first)
        .zip(tokens(second))
        .all(|(first, second)| tokens_can_match(first, second))
}

/// nats-server's `analyzeTokens`: (has a `*` token, has a `>` token).
fn wildcards_in(subject: &[u8]) -> (bool, bool) {
    let partial = tokens(subject).any(|token| token == [PARTIAL_WILDCARD]);
    let full = tokens(subject).any(|token| token == [FULL_WILDCARD]);
    (partial, full)
}

/// nats-server's `tokensCanMatch` (first byte only, like nats-server).
fn tokens_can_match(first: &[u8], second: &[u8]) -> bool {
    let (Some(&a), Some(&b)) = (first.first(), second.first()) else {
        return false;
    };
    let wildcard = |byte| byte == PARTIAL_WILDCARD || byte == FULL_WILDCARD;
    wildcard(a) || wildcard(b) || first == second
}

/// What a [`PatternSet`] entry carries: plain, or scoped to a queue name.
#[derive(Debug, Default)]
struct Entries {
    /// An entry without a queue ends at this node.
    plain: bool,
    /// Queue names of the queue-scoped entries ending at this node (no duplicates).
    queues: Vec<Box<[u8]>>,
}

/// One trie node: the entries whose pattern ends here, and the next level.
#[derive(Debug, Default)]
struct Node {
    /// Entries whose pattern ends at this node (never set on the root).
    entries: Entries,
    /// Children by literal token (never `*` or `>`, which have their own slots).
    literal: HashMap<Box<[u8]>, u32, TokenHasher>,
    /// The child for a `*` token.
    partial: Option<u32>,
    /// The child for a `>` token; it has no children of its own.
    full: Option<u32>,
}

/// What one match found: entries without a queue, and the queue names of queue-scoped
/// entries, as visited.
pub(crate) struct Matched<'a> {
    /// An entry without a queue matched.
    pub plain: bool,
    /// The queue names of the matching queue-scoped entries at one node.
    pub queues: &'a [Box<[u8]>],
}

/// A permissions Sublist: subject patterns, each plain or scoped to a queue name, matched
/// against a subject whose tokens are taken literally (see the module docs).
///
/// Built once from the configuration; `Send + Sync` and never mutated after
/// construction, so shards share it through an `Arc`.
#[derive(Debug)]
pub(crate) struct PatternSet {
    /// `nodes[0]` is the root; children are indices into this vector.
    nodes: Vec<Node>,
}

impl PatternSet {
    /// An empty set: matches nothing.
    pub(crate) fn new() -> PatternSet {
        PatternSet {
            nodes: vec![Node::default()],
        }
    }

    /// Adds `subject` (a valid subject, see [`is_valid_config_subject`]), plain or scoped
    /// to `queue`.
    pub(crate) fn insert(&mut self, subject: &[u8], queue: Option<&[u8]>) {
        assert!(
            is_valid_config_subject(subject),
            "pattern checked by the caller"
        );
        let mut node = 0usize;
        for token in tokens(subject) {
            node = self.child(node, token);
        }
        let entries = &mut self.nodes[node].entries;
        match queue {
            None => entries.plain = true,
            Some(queue) => {
                if !entries.queues.iter().any(|known| **known == *queue) {
                    entries.queues.push(queue.into());
                }
            }
        }
    }

    /// The child of `node` for `token`, created when missing.
    fn child(&mut self, node: usize, token: &[u8]) -> usize {
        let next = u32::try_from(self.nodes.len()).expect("permission patterns fit in u32");
        let slot = match token {
            [PARTIAL_WILDCARD] => self.nodes[node].partial.get_or_insert(next),
            [FULL_WILDCARD] => self.nodes[node].full.get_or_insert(next),
            _ => self.nodes[node].literal.entry(token.into()).or_insert(next),
        };
        let child = *slot as usize;
        if child == self.nodes.len() {
            self.nodes.push(Node::default());
        }
        child
    }

    /// Calls `visit` for every node whose entries match the literal `subject`, until it
    /// breaks. A subject with an empty token matches nothing (nats-server returns an
    /// empty result for it).
    pub(crate) fn for_each_match(
        &self,
        subject: &[u8],
        visit: &mut dyn FnMut(Matched<'_>) -> ControlFlow<()>,
    ) {
        if has_empty_token(subject) {
            return;
        }
        let _ = self.walk(0, Some(subject), visit);
    }

    /// One level of [`Self::for_each_match`]: `rest` is what is left of the subject, or
    /// `None` once every token is consumed. Recursion depth is the token count.
    fn walk(
        &self,
        node: usize,
        rest: Option<&[u8]>,
        visit: &mut dyn FnMut(Matched<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let here = &self.nodes[node];
        let Some(rest) = rest else {
            return visit_entries(&here.entries, visit);
        };
        let (token, tail) = match memchr::memchr(TOKEN_SEPARATOR, rest) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        if let Some(full) = here.full {
            visit_entries(&self.nodes[full as usize].entries, visit)?;
        }
        if let Some(partial) = here.partial {
            self.walk(partial as usize, tail, visit)?;
        }
        // A `*` or `>` token of the subject is only ever matched by the wildcard slots
        // above: the literal map never holds them.
        if !is_wildcard_token(token) {
            if let Some(&child) = here.literal.get(token) {
                self.walk(child as usize, tail, visit)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// True when some plain (queue-less) entry matches `subject`: nats-server's
    /// `NumInterest(subject)` plain count is non-zero.
    pub(crate) fn matches_plain(&self, subject: &[u8]) -> bool {
        let mut found = false;
        self.for_each_match(subject, &mut |matched| {
            if matched.plain {
                found = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        found
    }

    /// Matches `subject` for a subscription check: (a plain entry matched, some
    /// queue-scoped entry matched, one of those queue entries accepts `queue`), with
    /// nats-server's `queueMatches` deciding the last one.
    pub(crate) fn match_queue(&self, subject: &[u8], queue: Option<&[u8]>) -> QueueMatch {
        let mut result = QueueMatch::default();
        self.for_each_match(subject, &mut |matched| {
            result.plain |= matched.plain;
            if !matched.queues.is_empty() {
                result.queue_entries = true;
                if let Some(queue) = queue {
                    result.queue_accepted |= matched
                        .queues
                        .iter()
                        .any(|pattern| queue_matches(queue, pattern));
                }
            }
            ControlFlow::Continue(())
        });
        result
    }
}

/// Reports one node's entries, if it has any.
fn visit_entries(
    entries: &Entries,
    visit: &mut dyn FnMut(Matched<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if entries.plain || !entries.queues.is_empty() {
        visit(Matched {
            plain: entries.plain,
            queues: &entries.queues,
        })?;
    }
    ControlFlow::Continue(())
}

/// The outcome of [`PatternSet::match_queue`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueueMatch {
    /// A plain entry matched the subject.
    pub plain: bool,
    /// Some queue-scoped entry matched the subject.
    pub queue_entries: bool,
    /// Some matching queue-scoped entry's queue accepts the queue asked about.
    pub queue_accepted: bool,
}

/// nats-server's per-group test in `queueMatches`: the queue name equals the permitted
/// one, or the permitted one has a wildcard token and covers it (`subjectIsSubsetMatch`;
/// `*` and `>` are also valid literal queue names, hence the equality test first).
pub(crate) fn queue_matches(queue: &[u8], permitted: &[u8]) -> bool {
    queue == permitted
        || (crate::subject::validate::subject_has_wildcard(permitted)
            && is_subset_match(queue, permitted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::validate::subject_matches;
    use proptest::prelude::*;

    #[test]
    fn subset_match_follows_nats_server() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo.*", ">", true),
            ("foo.*", "*.*", true),
            ("foo.*", "foo.*", true),
            ("foo.*", "foo.bar", false),
            ("foo.bar", "foo.*", true),
            ("foo.bar", "foo.>", true),
            ("foo", "foo.>", false),
            ("foo.>", "foo.*", false),
            ("foo.>", "foo.>", true),
            ("foo.bar.baz", "foo.*", false),
            ("foo", "foo.bar", false),
            ("q.1", "q.*", true),
            // nats-server compares only the first byte of a `test` token with `*`.
            ("foo.bar", "foo.*x", true),
        ];
        for &(subject, test, expected) in cases {
            assert_eq!(
                is_subset_match(subject.as_bytes(), test.as_bytes()),
                expected,
                "{subject} within {test}"
            );
        }
    }

    /// Cases from nats-server's `TestSublistSubjectCollide` plus the four from
    /// `TestClientSubscribeDenyWildcardOverlapBlocksDelivery`.
    #[test]
    fn collide_follows_nats_server() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo.*", "foo.*.bar.>", false),
            ("foo.*.bar.>", "foo.*", false),
            ("foo.*", "foo.foo", true),
            ("foo.*", "*.foo", true),
            ("foo.bar.>", "*.bar.foo", true),
            ("foo.bar", "foo.bar", true),
            ("foo.bar", "foo.baz", false),
            ("*.secret", "foo.*", true),
            ("foo.*.bar", "foo.baz.*", true),
            ("*.*.bar", "foo.*.*", true),
            ("a.>", "*.b", true),
            ("a.*", "b.*", false),
            ("a.>", "a", false),
            (">", "a", true),
        ];
        for &(first, second, expected) in cases {
            assert_eq!(
                subjects_collide(first.as_bytes(), second.as_bytes()),
                expected,
                "{first} vs {second}"
            );
        }
    }

    #[test]
    fn subject_queue_entries_split_like_nats_server() {
        assert_eq!(split_subject_queue("foo"), Some((&b"foo"[..], None)));
        assert_eq!(
            split_subject_queue("  foo.*   q.> "),
            Some((&b"foo.*"[..], Some(&b"q.>"[..])))
        );
        assert_eq!(split_subject_queue("foo q extra"), None);
        assert_eq!(split_subject_queue("foo..bar q"), None);
        assert_eq!(split_subject_queue("foo q..x"), None);
        assert_eq!(split_subject_queue(""), None);
    }

    #[test]
    fn set_matches_subject_tokens_literally() {
        let mut set = PatternSet::new();
        set.insert(b"foo.*", None);
        set.insert(b"bar.>", None);
        assert!(set.matches_plain(b"foo.bar"));
        // `SUB foo.>` and `SUB foo.*` are one literal token under `foo.*`.
        assert!(set.matches_plain(b"foo.>"));
        assert!(set.matches_plain(b"foo.*"));
        assert!(!set.matches_plain(b"foo"));
        assert!(!set.matches_plain(b"foo.bar.baz"));
        assert!(set.matches_plain(b"bar.x.y"));
        assert!(!set.matches_plain(b">"));
        assert!(!set.matches_plain(b"foo..bar"));
        assert!(!set.matches_plain(b""));
    }

    #[test]
    fn queue_scoped_entries_are_grouped_by_name() {
        let mut set = PatternSet::new();
        set.insert(b"foo", Some(b"q1"));
        set.insert(b"foo", Some(b"q1"));
        set.insert(b"*", Some(b"v1.*"));
        let matched = set.match_queue(b"foo", Some(b"v1.prod"));
        assert_eq!(
            matched,
            QueueMatch {
                plain: false,
                queue_entries: true,
                queue_accepted: true
            }
        );
        assert!(!set.match_queue(b"foo", Some(b"q2")).queue_accepted);
        assert!(set.match_queue(b"foo", Some(b"q1")).queue_accepted);
        assert!(!set.match_queue(b"foo", None).queue_accepted);
    }

    fn token_strategy() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("a"), Just("b"), Just("c"), Just("*"), Just(">")]
    }

    fn subject_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(token_strategy(), 1..5).prop_map(|tokens| tokens.join("."))
    }

    proptest! {
        /// The set agrees with the naive matcher of `subject::validate`, which treats the
        /// published subject's tokens literally, as the Sublist does.
        #[test]
        fn set_agrees_with_naive_matcher(
            patterns in proptest::collection::vec(subject_strategy(), 0..6),
            subject in subject_strategy(),
        ) {
            let mut set = PatternSet::new();
            let mut valid = Vec::new();
            for pattern in &patterns {
                if is_valid_config_subject(pattern.as_bytes()) {
                    set.insert(pattern.as_bytes(), None);
                    valid.push(pattern.clone());
                }
            }
            let expected = valid.iter().any(|p| subject_matches(p.as_bytes(), subject.as_bytes()));
            prop_assert_eq!(set.matches_plain(subject.as_bytes()), expected);
        }

        /// A literal subject covered by a pattern collides with it, and subset implies
        /// collision.
        #[test]
        fn collide_is_consistent_with_matching(first in subject_strategy(), second in subject_strategy()) {
            let (a, b) = (first.as_bytes(), second.as_bytes());
            prop_assume!(is_valid_config_subject(a) && is_valid_config_subject(b));
            prop_assert_eq!(subjects_collide(a, b), subjects_collide(b, a));
            if is_subset_match(a, b) {
                prop_assert!(subjects_collide(a, b));
            }
            if !crate::subject::validate::subject_has_wildcard(a) {
                prop_assert_eq!(subjects_collide(a, b), subject_matches(b, a));
            }
        }
    }
}
