//! The publish path: match local subscribers and deliver to them; match other shards'
//! interest and hand one envelope to each interested shard; pick one member per queue
//! group across all shards; answer requests that reach no one with the 503 status.

use std::rc::Rc;

use bumpalo::collections::Vec as ArenaVec;

use super::imports;
use super::Shard;
use crate::auth::accounts::AccountId;
use crate::conn::{CachedRoute, ConnId, SubRef};
use crate::io::Backend;
use crate::proto::encode::{encode_delivery, encode_no_responders, Delivery};
use crate::proto::errors::close_reason;
use crate::router::interest::RemoteInterest;
use crate::router::{Envelope, ShardMsg};
use crate::subject::sublist::{QueueGroup, SublistResult};

/// Local subscribers and, if any peer has interest at all, the peers' interest.
pub(super) type Route = (
    Rc<SublistResult<SubRef>>,
    Option<Rc<SublistResult<RemoteInterest>>>,
);

/// Where one publish goes on one peer shard.
struct PeerDestination<'arena> {
    /// The peer shard.
    shard: usize,
    /// Its plain subscribers want it.
    plain: bool,
    /// Queue groups whose chosen member lives there.
    queues: ArenaVec<'arena, &'arena [u8]>,
}

impl<B: Backend> Shard<B> {
    /// Routes one message published by `publisher` on this shard, along `route`
    /// (from [`Shard::route`]).
    pub(super) fn publish(
        &mut self,
        publisher: ConnId,
        message: &Delivery<'_>,
        route: Route,
        answered_by_server: bool,
    ) {
        let conn = &self.conns[publisher.index as usize];
        let (echo, account) = (conn.options.echo, conn.account);
        let mut delivered = self.deliver_route(account, publisher, echo, message, route);
        if self.auth.crosses_accounts(account) {
            if self.auth.accounts.has_stream_exports_imported(account) {
                delivered += self.publish_to_stream_imports(account, message);
            }
            if self.auth.accounts.has_service_imports(account) {
                delivered += self.publish_to_service_import(account, message);
            }
        }
        if message.subject.first() == Some(&b'_')
            && message.subject.starts_with(imports::SERVICE_REPLY_PREFIX)
        {
            delivered += self.publish_service_reply(account, message);
        }
        if delivered == 0 && !answered_by_server {
            crate::debug!(
                "shard {}: no interest in {:?}",
                self.id,
                String::from_utf8_lossy(message.subject)
            );
            if let Some(reply) = message.reply {
                self.answer_no_responders(publisher, message.subject, reply);
            }
        }
    }

    /// Delivers a message along a route in one account: local subscribers, one member
    /// per queue group across shards, one envelope per interested peer. Returns how
    /// many local subscribers and peers it went to. Inlined: it is the publish path.
    #[inline]
    pub(super) fn deliver_route(
        &mut self,
        account: AccountId,
        publisher: ConnId,
        echo: bool,
        message: &Delivery<'_>,
        route: Route,
    ) -> usize {
        let (local, remote) = route;
        if local.is_empty() && remote.is_none() {
            return 0; // nobody anywhere: skip the arena and the destination list
        }
        let mut delivered = 0usize;
        for sub in &local.plain {
            if echo || sub.0.conn != publisher {
                delivered += usize::from(self.deliver_local(sub, message));
            }
        }
        let arena = std::mem::take(&mut self.arena);
        let mut destinations: ArenaVec<'_, PeerDestination<'_>> = ArenaVec::new_in(&arena);
        if let Some(remote) = &remote {
            for interest in &remote.plain {
                destination(&mut destinations, &arena, interest.shard).plain = true;
            }
        }
        for group in &local.queues {
            let remote_group = remote
                .as_ref()
                .and_then(|r| find_group(&r.queues, &group.name));
            if let Some(member) = self.pick_local_member(group, publisher, echo) {
                delivered += usize::from(self.deliver_local(&member, message));
            } else if let Some(shard) = remote_group.and_then(|g| self.pick_remote(g)) {
                let name = arena.alloc_slice_copy(&group.name);
                destination(&mut destinations, &arena, shard)
                    .queues
                    .push(name);
            }
        }
        if let Some(remote) = &remote {
            for group in &remote.queues {
                if find_group(&local.queues, &group.name).is_some() {
                    continue; // handled above, local members first
                }
                if let Some(shard) = self.pick_remote(group) {
                    let name = arena.alloc_slice_copy(&group.name);
                    destination(&mut destinations, &arena, shard)
                        .queues
                        .push(name);
                }
            }
        }
        delivered += destinations.len();
        self.send_envelopes(account, &destinations, message);
        drop(destinations);
        self.arena = arena;
        delivered
    }

    /// Local subscribers and peer interest of a subject in an account, without the
    /// per-connection cache (imports, server messages).
    pub(super) fn route_in(&mut self, account: AccountId, subject: &[u8]) -> Route {
        let tables = &mut self.accounts[account.index()];
        let local = tables.sublist.matches(subject);
        let remote = (!tables.interest.is_empty()).then(|| tables.interest.matches(subject));
        (local, remote)
    }

    /// Local subscribers and peer interest for a subject published by `publisher`,
    /// from the connection's one-entry route cache when both tables are unchanged.
    pub(super) fn route(&mut self, publisher: ConnId, subject: &[u8]) -> Route {
        let account = self.conns[publisher.index as usize].account;
        let tables = &self.accounts[account.index()];
        let local_generation = tables.sublist.generation();
        let remote_generation = tables.interest.generation();
        if let Some(cached) = &self.conns[publisher.index as usize].last_route {
            if cached.local_generation == local_generation
                && cached.remote_generation == remote_generation
                && *cached.subject == *subject
            {
                return (cached.local.clone(), cached.remote.clone());
            }
        }
        let (local, remote) = self.route_in(account, subject);
        self.conns[publisher.index as usize].last_route = Some(Box::new(CachedRoute {
            subject: subject.into(),
            local: local.clone(),
            remote: remote.clone(),
            local_generation,
            remote_generation,
        }));
        (local, remote)
    }

    fn send_envelopes(
        &mut self,
        account: AccountId,
        destinations: &[PeerDestination<'_>],
        message: &Delivery<'_>,
    ) {
        if destinations.is_empty() {
            return;
        }
        // One copy of the message per peer; the last peer takes the original.
        let mut envelope = Envelope::new(
            message.subject,
            message.reply,
            message.headers,
            message.payload,
        );
        envelope.account = account.0;
        envelope.set_size_text(message.size_text);
        envelope.origin = match self.producer {
            super::stall::Producer::Local(publisher) => Some(publisher),
            _ => None,
        };
        let mut template = Some(envelope);
        for (index, destination) in destinations.iter().enumerate() {
            let mut envelope = if index + 1 == destinations.len() {
                template.take().expect("last use of the template")
            } else {
                template
                    .as_ref()
                    .expect("template kept until last")
                    .clone_for_peer()
            };
            envelope.plain = destination.plain;
            envelope.queues = destination
                .queues
                .iter()
                .map(|name| Box::from(*name))
                .collect();
            if let Some(outbox) = self.links.outboxes[destination.shard].as_mut() {
                outbox.send(ShardMsg::Deliver(envelope));
            }
            if let super::stall::Producer::Local(publisher) = self.producer {
                self.check_remote_gate(publisher, destination.shard);
            }
        }
    }

    /// Delivers an envelope from `peer` to this shard's subscribers; a subscriber behind
    /// its stall gate asks `peer` to stall the publisher.
    pub(super) fn deliver_envelope(&mut self, peer: usize, envelope: &Envelope) {
        self.producer = match envelope.origin {
            Some(conn) => super::stall::Producer::Remote { shard: peer, conn },
            None => super::stall::Producer::Server,
        };
        self.deliver_envelope_locally(envelope);
        self.producer = super::stall::Producer::Server;
        if let (Some(hit), Some(publisher)) = (self.stall_hit.take(), envelope.origin) {
            self.stall_remote_producer(peer, publisher, hit);
        }
    }

    fn deliver_envelope_locally(&mut self, envelope: &Envelope) {
        let message = Delivery {
            subject: envelope.subject(),
            sid: b"",
            reply: envelope.reply(),
            headers: envelope.headers(),
            payload: envelope.payload(),
            size_text: envelope.size_text(),
        };
        let Some(tables) = self.accounts.get_mut(envelope.account as usize) else {
            return;
        };
        let local = tables.sublist.matches(message.subject);
        if envelope.plain {
            for sub in &local.plain {
                self.deliver_local(sub, &message);
            }
        }
        for name in &envelope.queues {
            let Some(group) = find_group(&local.queues, name) else {
                continue;
            };
            // No echo question here: the publisher lives on another shard.
            let unknown = ConnId {
                index: u32::MAX,
                generation: u32::MAX,
            };
            if let Some(member) = self.pick_local_member(group, unknown, true) {
                self.deliver_local(&member, &message);
            }
        }
    }

    /// Appends one MSG/HMSG to a local subscriber's outbound queue. Returns false when
    /// the subscriber is gone or past its auto-unsubscribe limit.
    fn deliver_local(&mut self, sub: &SubRef, message: &Delivery<'_>) -> bool {
        let subscription = &sub.0;
        let max = subscription.deliveries_max.get();
        let delivered = subscription.delivered.get();
        if max > 0 && delivered >= max {
            return false;
        }
        let pending_max = self.config.pending_bytes_max as usize;
        let target = subscription.conn;
        let Some(conn) = self
            .conns
            .get_mut(target.index as usize)
            .filter(|conn| conn.id == target && conn.is_open())
        else {
            return false;
        };
        if conn.permissions.is_some() && !permitted_delivery(conn, subscription, message) {
            return false;
        }
        if conn.stall_gate.is_some() && !self.pass_stall_gate(target) {
            return false;
        }
        let conn = &mut self.conns[target.index as usize];
        subscription.delivered.set(delivered + 1);
        let delivery = Delivery {
            sid: &subscription.sid,
            ..*message
        };
        let headers_supported = conn.options.headers;
        encode_delivery(conn.output(), &delivery, headers_supported);
        let size = (message.payload.len() + message.headers.map_or(0, <[u8]>::len)) as u64;
        conn.stats.out_msgs += 1;
        conn.stats.out_bytes += size;
        self.turn_stats.out_msgs += 1;
        self.turn_stats.out_bytes += size;
        let over = conn.pending_bytes() > pending_max;
        let id = conn.id;
        let held = conn.barrier_seq > 0;
        if over {
            self.slow_consumer(id, close_reason::SLOW_CONSUMER_PENDING_BYTES);
            return true;
        }
        self.update_stall_gate(id);
        if !held {
            self.mark_dirty(id);
        }
        if max > 0 && delivered + 1 >= max {
            self.remove_subscription(&subscription.clone());
        }
        true
    }

    /// Picks a random member of a local queue group, skipping closed connections and,
    /// without echo, the publisher.
    fn pick_local_member(
        &mut self,
        group: &QueueGroup<SubRef>,
        publisher: ConnId,
        echo: bool,
    ) -> Option<SubRef> {
        let members = &group.members;
        if members.is_empty() {
            return None;
        }
        let start = (self.next_random() % members.len() as u64) as usize;
        (0..members.len())
            .map(|offset| &members[(start + offset) % members.len()])
            .find(|member| {
                let id = member.0.conn;
                (echo || id != publisher)
                    && self
                        .conns
                        .get(id.index as usize)
                        .is_some_and(|c| c.id == id && c.is_open())
            })
            .cloned()
    }

    /// Picks a peer shard for a queue group, weighted by its member count there.
    fn pick_remote(&mut self, group: &QueueGroup<RemoteInterest>) -> Option<usize> {
        let total: u64 = group
            .members
            .iter()
            .map(|m| u64::from(m.weight.get()))
            .sum();
        if total == 0 {
            return None;
        }
        let mut point = self.next_random() % total;
        for member in &group.members {
            let weight = u64::from(member.weight.get());
            if point < weight {
                return Some(member.shard);
            }
            point -= weight;
        }
        None
    }

    /// Sends the 503 no-responders status to a requester that asked for it, through its
    /// own subscription on the reply subject (nats-server's `sendNoRespondersReply`).
    fn answer_no_responders(&mut self, publisher: ConnId, subject: &[u8], reply: &[u8]) {
        let conn = &self.conns[publisher.index as usize];
        if !conn.options.no_responders || !conn.is_open() {
            return;
        }
        let account = conn.account;
        let matched: Rc<_> = self.accounts[account.index()].sublist.matches(reply);
        let Some(sub) = matched.plain.iter().find(|sub| sub.0.conn == publisher) else {
            return;
        };
        let sid = sub.0.sid.clone();
        let conn = &mut self.conns[publisher.index as usize];
        encode_no_responders(conn.output(), reply, &sid, subject);
        if conn.barrier_seq == 0 {
            self.mark_dirty(publisher);
        }
    }

    /// A number in 0..1 from the same generator (ping jitter).
    pub(super) fn random_fraction(&mut self) -> f64 {
        (self.next_random() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// xorshift64*: cheap, good enough to spread queue-group deliveries.
    fn next_random(&mut self) -> u64 {
        let mut x = self.random_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random_state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The subscriber-side permission work of a delivery (cold: only for clients with
/// permissions): the deny filter of wildcard subscriptions, and the response right a
/// request grants (`allow_responses`).
#[cold]
fn permitted_delivery(
    conn: &mut crate::conn::Conn,
    subscription: &crate::conn::Subscription,
    message: &Delivery<'_>,
) -> bool {
    let Some(permissions) = conn.permissions.as_ref() else {
        return true;
    };
    if conn.delivery_filter
        && permissions.delivery_denied_to_queue(message.subject, subscription.queue.as_deref())
    {
        return false;
    }
    if let (Some(grants), Some(reply)) = (conn.reply_grants.as_mut(), message.reply) {
        grants.on_delivery(permissions, reply, std::time::Instant::now());
    }
    true
}

fn find_group<'a, T>(groups: &'a [QueueGroup<T>], name: &[u8]) -> Option<&'a QueueGroup<T>> {
    groups.iter().find(|group| &*group.name == name)
}

/// The destination entry for a shard, created on first use.
fn destination<'v, 'arena>(
    destinations: &'v mut ArenaVec<'arena, PeerDestination<'arena>>,
    arena: &'arena bumpalo::Bump,
    shard: usize,
) -> &'v mut PeerDestination<'arena> {
    let index = match destinations.iter().position(|d| d.shard == shard) {
        Some(index) => index,
        None => {
            destinations.push(PeerDestination {
                shard,
                plain: false,
                queues: ArenaVec::new_in(arena),
            });
            destinations.len() - 1
        }
    };
    &mut destinations[index]
}
