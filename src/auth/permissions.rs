//! A user's publish and subscribe permissions, compiled, and the per-connection state that
//! goes with them: reply grants (`allow_responses`) and a publish decision cache.
//!
//! [`CompiledPermissions`] is what nats-server's `client.setPermissions` builds from a
//! [`Permissions`]: one small Sublist (`PatternSet`) per allow and deny list. The checks
//! follow `server/client.go`: publishing is `pubAllowedFullCheck` (allow list first, no
//! allow list = allowed, then deny wins), subscribing is `canSubscribeInternal` (the
//! subscribed subject is matched as literal tokens against the patterns; queue-scoped
//! entries `"subject queue"` are judged with `queueMatches`), and deny entries that a
//! wildcard or queue subscription can overlap load a delivery-time filter
//! (`loadMsgDenyFilterIfNeeded` with `SubjectsCollide`, then `checkDenySub` on every
//! delivery to that connection).
//!
//! `allow_responses` follows `validateResponsePermissions`: a `max` of 0 means the default
//! (1), and when no publish allow list is given the allow list becomes empty, so the user
//! may publish only to reply subjects of requests it received. Those temporary rights live
//! in a per-connection [`ReplyGrants`], bounded like everything else.
//!
//! Architecture Invariant: a `CompiledPermissions` is immutable after construction and
//! shared (`Arc`) by every connection of the user on every shard; per-connection state
//! ([`ReplyGrants`], [`PublishCache`]) is owned by the connection's shard.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use super::pattern::{is_valid_config_subject, split_subject_queue, subjects_collide, PatternSet};
use super::{Permissions, ResponsePermission, DEFAULT_RESPONSE_MSGS_MAX};
use crate::subject::validate::subject_has_wildcard;

/// nats-server's `replyPermLimit`: reply grants added since the last prune that trigger a
/// prune of used-up and expired grants.
pub const REPLY_GRANTS_PRUNE_AFTER: u32 = 4096;

/// nats-server's `replyPruneTime`: a grant added this long after the last prune triggers
/// a prune.
pub const REPLY_GRANTS_PRUNE_INTERVAL: Duration = Duration::from_secs(1);

/// Most reply grants one connection holds. nats-server has no hard limit (its map only
/// shrinks by pruning used-up and expired grants); we keep 16 times its prune trigger, and
/// past that drop [`PRUNE_SIZE`] grants in hash order, as nats-server drops cache entries.
pub const REPLY_GRANTS_MAX: usize = 16 * REPLY_GRANTS_PRUNE_AFTER as usize;

/// nats-server's `pruneSize`: entries dropped at once when a bounded map is full.
pub const PRUNE_SIZE: usize = 32;

/// nats-server's `maxPermCacheSize`: publish decisions cached per connection.
pub const PUBLISH_CACHE_ENTRIES_MAX: usize = 128;

const _: () = assert!(REPLY_GRANTS_MAX > REPLY_GRANTS_PRUNE_AFTER as usize + PRUNE_SIZE);
const _: () = assert!(PUBLISH_CACHE_ENTRIES_MAX.is_power_of_two());

/// One list of a [`CompiledPermissions`] and whether it exists.
///
/// `None` = no such list (everything passes an absent allow list, nothing is denied by an
/// absent deny list).
type CompiledList = Option<PatternSet>;

/// A subscribe deny entry, kept for the delivery filter decision (nats-server's `darray`).
#[derive(Debug)]
struct DenyEntry {
    /// The denied subject pattern.
    subject: Box<[u8]>,
}

/// A user's permissions, compiled for matching. `Send + Sync`; share it with `Arc`.
#[derive(Debug)]
pub struct CompiledPermissions {
    /// `publish.allow`; `Some(empty)` only when `allow_responses` turned publishing off.
    publish_allow: CompiledList,
    /// `publish.deny`; `None` when absent or empty.
    publish_deny: CompiledList,
    /// `subscribe.allow`; `None` when absent or empty (nats-server: `len(allow) > 0`).
    subscribe_allow: CompiledList,
    /// `subscribe.deny`; `None` when absent or empty. Also the delivery filter's list.
    subscribe_deny: CompiledList,
    /// The subscribe deny entries that compiled, for [`Self::subscription_needs_delivery_filter`].
    subscribe_deny_entries: Vec<DenyEntry>,
    /// `allow_responses`, normalised (`msgs_max` 0 -> 1).
    response: Option<ResponsePermission>,
    /// The permissions as configured, for `$SYS.REQ.USER.INFO` (nats-server's
    /// `publicPermissions`).
    public: Permissions,
}

impl CompiledPermissions {
    /// Compiles `permissions` as nats-server's `setPermissions` does, after its config
    /// parser and `validateResponsePermissions` ran.
    ///
    /// Entries that are not valid subjects are skipped (nats-server logs and skips them).
    /// An empty allow list counts as no list, because nats-server's parser turns
    /// `publish: []` into no list (checked on 2.15.1: `publish: []` allows everything);
    /// the one exception is `allow_responses` without a publish allow list, which leaves
    /// an empty publish allow list: only reply subjects may be published to.
    pub fn new(permissions: &Permissions) -> CompiledPermissions {
        let response = permissions.response.map(|response| ResponsePermission {
            msgs_max: if response.msgs_max == 0 {
                DEFAULT_RESPONSE_MSGS_MAX
            } else {
                response.msgs_max
            },
            expires: response.expires,
        });
        let publish = permissions.publish.as_ref();
        let mut publish_allow = compile_publish(publish.and_then(|p| p.allow.as_deref()));
        if response.is_some() && publish_allow.is_none() {
            publish_allow = Some(PatternSet::new());
        }
        let publish_deny = compile_publish(publish.and_then(|p| p.deny.as_deref()));
        let subscribe = permissions.subscribe.as_ref();
        let (subscribe_allow, _) = compile_subscribe(subscribe.and_then(|s| s.allow.as_deref()));
        let (subscribe_deny, subscribe_deny_entries) =
            compile_subscribe(subscribe.and_then(|s| s.deny.as_deref()));
        CompiledPermissions {
            publish_allow,
            publish_deny,
            subscribe_allow,
            subscribe_deny,
            subscribe_deny_entries,
            response,
            public: permissions.clone(),
        }
    }

    /// The permissions as configured (what `$SYS.REQ.USER.INFO` reports).
    pub fn public(&self) -> &Permissions {
        &self.public
    }

    /// True when publishing is checked at all; false means every publish is allowed, so a
    /// caller can skip [`Self::can_publish`] and any cache.
    pub fn restricts_publish(&self) -> bool {
        self.publish_allow.is_some() || self.publish_deny.is_some()
    }

    /// True when the user may publish on `subject` (nats-server's `pubAllowedFullCheck`
    /// without the reply grants; see [`ReplyGrants::publish_allowed`]).
    ///
    /// Patterns match the subject's tokens literally; a subject with an empty token
    /// matches no pattern, so it fails an allow list and passes a deny list.
    pub fn can_publish(&self, subject: &[u8]) -> bool {
        let allowed = self
            .publish_allow
            .as_ref()
            .is_none_or(|allow| allow.matches_plain(subject));
        allowed
            && !self
                .publish_deny
                .as_ref()
                .is_some_and(|deny| deny.matches_plain(subject))
    }

    /// [`Self::can_publish`] through a per-connection [`PublishCache`].
    pub fn can_publish_cached(&self, cache: &mut PublishCache, subject: &[u8]) -> bool {
        if !self.restricts_publish() {
            return true;
        }
        if let Some(allowed) = cache.get(subject) {
            return allowed;
        }
        let allowed = self.can_publish(subject);
        cache.insert(subject, allowed);
        allowed
    }

    /// True when the user may subscribe to `subject`, in queue group `queue` if given
    /// (nats-server's `canSubscribeInternal` for a client connection).
    ///
    /// Allow list: a plain entry must match; with a queue and matching queue-scoped
    /// entries, the queue decides instead (so `allow: ["foo bar"]` refuses `SUB foo fizz`
    /// even when `foo` is also allowed plainly). Deny list: a plain match denies; with a
    /// queue, a matching queue-scoped entry whose queue accepts it denies. An empty queue
    /// counts as none.
    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let queue = queue.filter(|queue| !queue.is_empty());
        let mut allowed = true;
        if let Some(allow) = &self.subscribe_allow {
            let matched = allow.match_queue(subject, queue);
            allowed = matched.plain;
            if queue.is_some() && matched.queue_entries {
                allowed = matched.queue_accepted;
            }
        }
        if allowed {
            if let Some(deny) = &self.subscribe_deny {
                let matched = deny.match_queue(subject, queue);
                allowed = !matched.plain;
                if allowed && queue.is_some() && matched.queue_entries {
                    allowed = !matched.queue_accepted;
                }
            }
        }
        allowed
    }

    /// True when an allowed plain subscription to `subject` must switch on the
    /// connection's delivery filter ([`Self::delivery_denied`]): it has a wildcard and
    /// can overlap a subscribe deny entry.
    pub fn subscription_needs_delivery_filter(&self, subject: &[u8]) -> bool {
        self.subscription_needs_delivery_filter_in_queue(subject, None)
    }

    /// [`Self::subscription_needs_delivery_filter`] for a queue subscription: nats-server
    /// 2.15.1 (`loadMsgDenyFilterIfNeeded`) also switches the filter on for a queue
    /// subscription without wildcard, because a queue-scoped deny entry may apply to it.
    ///
    /// nats-server keeps the filter on for the rest of the connection's life and then
    /// checks *every* delivery to the connection, whichever subscription it is for.
    pub fn subscription_needs_delivery_filter_in_queue(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
    ) -> bool {
        let has_queue = queue.is_some_and(|queue| !queue.is_empty());
        (has_queue || subject_has_wildcard(subject))
            && self
                .subscribe_deny_entries
                .iter()
                .any(|entry| subjects_collide(&entry.subject, subject))
    }

    /// True when a message on `subject` must not be delivered to a plain subscription of
    /// a connection whose delivery filter is on (nats-server's `checkDenySub`).
    pub fn delivery_denied(&self, subject: &[u8]) -> bool {
        self.delivery_denied_to_queue(subject, None)
    }

    /// [`Self::delivery_denied`] for a subscription in queue group `queue`: a matching
    /// plain deny entry denies, and so does a matching queue-scoped one whose queue
    /// accepts `queue`.
    pub fn delivery_denied_to_queue(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let Some(deny) = &self.subscribe_deny else {
            return false;
        };
        let queue = queue.filter(|queue| !queue.is_empty());
        let matched = deny.match_queue(subject, queue);
        matched.plain || (queue.is_some() && matched.queue_entries && matched.queue_accepted)
    }

    /// `allow_responses`, with nats-server's defaults applied (`msgs_max` 0 -> 1).
    pub fn response(&self) -> Option<ResponsePermission> {
        self.response
    }
}

/// Compiles a publish list (nats-server: invalid entries are skipped; a deny entry
/// written `"subject queue"` keeps its subject and drops the queue, which has no meaning
/// for publishing).
fn compile_publish(entries: Option<&[String]>) -> CompiledList {
    let entries = entries.filter(|entries| !entries.is_empty())?;
    let mut set = PatternSet::new();
    for entry in entries {
        if is_valid_config_subject(entry.as_bytes()) {
            set.insert(entry.as_bytes(), None);
        } else if let Some((subject, _queue)) = split_subject_queue(entry) {
            set.insert(subject, None);
        }
    }
    Some(set)
}

/// Compiles a subscribe list of `"subject"` and `"subject queue"` entries, returning the
/// entries that compiled as well (the delivery filter needs them).
fn compile_subscribe(entries: Option<&[String]>) -> (CompiledList, Vec<DenyEntry>) {
    let Some(entries) = entries.filter(|entries| !entries.is_empty()) else {
        return (None, Vec::new());
    };
    let mut set = PatternSet::new();
    let mut compiled = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some((subject, queue)) = split_subject_queue(entry) {
            set.insert(subject, queue);
            compiled.push(DenyEntry {
                subject: subject.into(),
            });
        }
    }
    (Some(set), compiled)
}

/// One temporary publish right to a reply subject.
#[derive(Clone, Copy, Debug)]
struct ReplyGrant {
    /// When the request carrying the reply subject was delivered.
    granted_at: Instant,
    /// Publishes to the reply subject so far (nats-server's `resp.n`).
    uses: i64,
}

/// A connection's temporary publish rights to reply subjects of requests it received
/// (`allow_responses`), nats-server's `client.replies`.
///
/// Use it the way nats-server does: [`Self::on_delivery`] when a message with a reply
/// subject is delivered to the connection, [`Self::publish_allowed`] when the connection
/// publishes. A grant allows `msgs_max` publishes (negative = any number) for `expires`
/// (zero = forever); a publish exactly at the expiry instant is still allowed.
#[derive(Debug)]
pub struct ReplyGrants {
    /// The rule the grants follow (normalised by [`CompiledPermissions::response`]).
    permission: ResponsePermission,
    /// Live grants by reply subject; at most [`REPLY_GRANTS_MAX`] entries.
    grants: HashMap<Box<[u8]>, ReplyGrant, foldhash::fast::RandomState>,
    /// Grants added since the last prune (nats-server's `repliesSincePrune`).
    added_since_prune: u32,
    /// When the last prune ran; `None` before the first (so the first grant prunes).
    last_prune: Option<Instant>,
}

impl ReplyGrants {
    /// No grants yet, following `permission` (see [`CompiledPermissions::response`]).
    pub fn new(permission: ResponsePermission) -> ReplyGrants {
        ReplyGrants {
            permission,
            grants: HashMap::default(),
            added_since_prune: 0,
            last_prune: None,
        }
    }

    /// Number of grants held (live or not yet pruned).
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// True when no grant is held.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// What nats-server's `deliverMsg` does for a delivered message with reply subject
    /// `reply`: unless the connection may already publish there (its permissions, or a
    /// live grant, which this check *uses up by one*, as nats-server's
    /// `pubAllowedFullCheck` does), grant it afresh.
    ///
    /// So with `max: 1`, two requests delivered with the same reply subject leave no
    /// right to answer (observed on 2.15.1), and a third grants one again.
    pub fn on_delivery(&mut self, permissions: &CompiledPermissions, reply: &[u8], now: Instant) {
        if reply.is_empty() || permissions.can_publish(reply) || self.try_use(reply, now) {
            return;
        }
        self.grant(reply, now);
    }

    /// True when the connection may publish on `subject`: its permissions allow it, or a
    /// grant does (using it up by one).
    pub fn publish_allowed(
        &mut self,
        permissions: &CompiledPermissions,
        subject: &[u8],
        now: Instant,
    ) -> bool {
        permissions.can_publish(subject) || self.try_use(subject, now)
    }

    /// Grants (or re-grants, resetting use count and time) a publish right to `reply`.
    pub fn grant(&mut self, reply: &[u8], now: Instant) {
        let fresh = ReplyGrant {
            granted_at: now,
            uses: 0,
        };
        match self.grants.get_mut(reply) {
            Some(grant) => *grant = fresh,
            None => {
                self.grants.insert(reply.into(), fresh);
            }
        }
        self.added_since_prune += 1;
        let prune_due = self
            .last_prune
            .is_none_or(|last| now.saturating_duration_since(last) > REPLY_GRANTS_PRUNE_INTERVAL);
        if self.added_since_prune > REPLY_GRANTS_PRUNE_AFTER || prune_due {
            self.prune(now);
        }
        if self.grants.len() > REPLY_GRANTS_MAX {
            let victims: Vec<Box<[u8]>> = self.grants.keys().take(PRUNE_SIZE).cloned().collect();
            for victim in victims {
                self.grants.remove(&victim);
            }
        }
        debug_assert!(self.grants.len() <= REPLY_GRANTS_MAX);
    }

    /// Uses the grant for `subject` once (nats-server's `responseAllowed`): false when
    /// there is none, or it is used up (`uses > msgs_max`) or expired, which also drops it.
    pub fn try_use(&mut self, subject: &[u8], now: Instant) -> bool {
        let Some(grant) = self.grants.get_mut(subject) else {
            return false;
        };
        grant.uses += 1;
        let used_up = self.permission.msgs_max > 0 && grant.uses > self.permission.msgs_max;
        let expired = is_expired(self.permission.expires, grant.granted_at, now);
        if used_up || expired {
            self.grants.remove(subject);
            return false;
        }
        true
    }

    /// nats-server's `pruneReplyPerms`: drops grants that are used up (`uses >=
    /// msgs_max`) or expired.
    fn prune(&mut self, now: Instant) {
        let ResponsePermission { msgs_max, expires } = self.permission;
        self.grants.retain(|_, grant| {
            let used_up = msgs_max > 0 && grant.uses >= msgs_max;
            !used_up && !is_expired(expires, grant.granted_at, now)
        });
        self.added_since_prune = 0;
        self.last_prune = Some(now);
    }
}

/// True when a grant from `granted_at` has expired at `now` (zero `expires` = never).
fn is_expired(expires: Duration, granted_at: Instant, now: Instant) -> bool {
    !expires.is_zero() && now.saturating_duration_since(granted_at) > expires
}

/// One slot of a [`PublishCache`].
#[derive(Clone, Debug, Default)]
struct CacheSlot {
    /// The subject cached here; empty = free slot (an empty subject is never cached).
    subject: Vec<u8>,
    /// The decision for `subject`.
    allowed: bool,
}

/// A connection's bounded cache of publish decisions, standing in for nats-server's
/// `perms.pcache` (at most [`PUBLISH_CACHE_ENTRIES_MAX`] entries).
///
/// Direct-mapped: a subject lives in the slot its hash picks and evicts whoever was
/// there, so a steady publish stream reuses the slots' buffers and does not allocate.
/// The slots are allocated on first use, so connections without publish permissions pay
/// nothing. Clear it when the connection's permissions change (config reload).
#[derive(Debug, Default)]
pub struct PublishCache {
    /// [`PUBLISH_CACHE_ENTRIES_MAX`] slots once used, empty before.
    slots: Vec<CacheSlot>,
    /// Picks a subject's slot.
    hasher: foldhash::fast::FixedState,
}

impl PublishCache {
    /// An empty cache; allocates nothing until the first insert.
    pub fn new() -> PublishCache {
        PublishCache::default()
    }

    /// The slot index for `subject`.
    fn slot(&self, subject: &[u8]) -> usize {
        (self.hasher.hash_one(subject) as usize) & (PUBLISH_CACHE_ENTRIES_MAX - 1)
    }

    /// The cached decision for `subject`, if any.
    pub fn get(&self, subject: &[u8]) -> Option<bool> {
        let slot = self.slots.get(self.slot(subject))?;
        (!subject.is_empty() && slot.subject == subject).then_some(slot.allowed)
    }

    /// Caches `allowed` for `subject`, evicting the slot's previous subject.
    pub fn insert(&mut self, subject: &[u8], allowed: bool) {
        if subject.is_empty() {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![CacheSlot::default(); PUBLISH_CACHE_ENTRIES_MAX];
        }
        let index = self.slot(subject);
        let slot = &mut self.slots[index];
        slot.subject.clear();
        slot.subject.extend_from_slice(subject);
        slot.allowed = allowed;
    }

    /// Forgets every decision (keeps the slots' buffers).
    pub fn clear(&mut self) {
        for slot in &mut self.slots {
            slot.subject.clear();
        }
    }
}

#[cfg(test)]
mod tests;
