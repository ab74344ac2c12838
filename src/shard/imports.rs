//! Messages that cross accounts: stream imports (a publish in the exporting account
//! reaches the importers' subscribers, renamed), service imports (a request in the
//! importing account reaches the exporter's responders) and the replies that find their
//! way back.
//!
//! A service reply subject is rewritten to
//! `_R_.<tag><kind>.<importer>.<request>.<original reply>` in the exporting account,
//! where `<request>` is unique per request. The tag is a keyed hash (a per-process
//! secret) of all the rest, so only the exporting account can answer, and only to
//! replies it was given. Carrying the route in the subject keeps the shards stateless:
//! the responder may sit on any shard. The kind says whether the export answers once
//! (`singleton`, nats-server's default); the shard a singleton answer is published on
//! drops a second answer to the same request (two responders answering from two shards
//! both get through: a difference the README lists).

use super::Shard;
use crate::auth::accounts::AccountId;
use crate::auth::ResponseType;
use crate::conn::ConnId;
use crate::io::Backend;
use crate::proto::encode::Delivery;

/// nats-server's reserved prefix of service-import reply subjects.
pub const SERVICE_REPLY_PREFIX: &[u8] = b"_R_.";
/// Hex digits of the tag (48 bits).
const TAG_HEX_DIGITS: usize = 12;
/// The kind letter after the tag: one answer, or any number.
const SINGLETON: u8 = b's';
const MANY: u8 = b'm';
/// Singleton answers each shard remembers, to drop second answers.
pub const ANSWERED_REPLIES_MAX: usize = 64 * 1024;
/// How long an answered singleton is remembered (nats-server's default response
/// threshold: 2 minutes).
pub const ANSWERED_REPLY_MEMORY: std::time::Duration = std::time::Duration::from_secs(120);
/// A publisher that is not a client (imports, server messages): matches no connection.
pub const NO_PUBLISHER: ConnId = ConnId {
    index: u32::MAX,
    generation: u32::MAX,
};

impl<B: Backend> Shard<B> {
    /// True when a publish that reaches no one in its own account reaches someone
    /// through its account's imports, so it needs no interest wait or no-responders
    /// probe (a request through a service import would otherwise probe every shard).
    pub(super) fn reaches_through_imports(&mut self, publisher: ConnId, subject: &[u8]) -> bool {
        let account = self.conns[publisher.index as usize].account;
        if !self.auth.crosses_accounts(account) {
            return false;
        }
        let mut services = Vec::new();
        self.auth
            .accounts
            .service_targets(account, subject, &mut services);
        let mut streams = Vec::new();
        self.auth
            .accounts
            .stream_targets(account, subject, &mut streams);
        let targets = services
            .into_iter()
            .map(|target| (target.exporter, target.subject))
            .chain(streams);
        for (target_account, target_subject) in targets {
            let (local, remote) = self.route_in(target_account, &target_subject);
            if !local.is_empty() || remote.is_some_and(|remote| !remote.is_empty()) {
                return true;
            }
        }
        false
    }

    /// Delivers a message published in `exporter` to every stream import it feeds.
    pub(super) fn publish_to_stream_imports(
        &mut self,
        exporter: AccountId,
        message: &Delivery<'_>,
    ) -> usize {
        let mut targets = Vec::new();
        self.auth
            .accounts
            .stream_targets(exporter, message.subject, &mut targets);
        let mut delivered = 0;
        for (importer, subject) in targets {
            let routed = Delivery {
                subject: &subject,
                ..*message
            };
            let route = self.route_in(importer, &subject);
            delivered += self.deliver_route(importer, NO_PUBLISHER, true, &routed, route);
        }
        delivered
    }

    /// Delivers a request published in `importer` to the exporter of the service it
    /// imports, with a reply subject that routes answers back.
    pub(super) fn publish_to_service_import(
        &mut self,
        importer: AccountId,
        message: &Delivery<'_>,
    ) -> usize {
        let mut targets = Vec::new();
        self.auth
            .accounts
            .service_targets(importer, message.subject, &mut targets);
        let secret = self.shared.service_reply_secret;
        let mut delivered = 0;
        for target in targets {
            let kind = if target.response_type == ResponseType::Singleton {
                SINGLETON
            } else {
                MANY
            };
            let request = self.next_request_token();
            let route = ReplyRoute {
                exporter: target.exporter,
                importer,
                kind,
                request: &request,
            };
            let reply = message
                .reply
                .map(|reply| service_reply(&secret, &route, reply));
            let routed = Delivery {
                subject: &target.subject,
                reply: reply.as_deref(),
                ..*message
            };
            let route = self.route_in(target.exporter, &target.subject);
            delivered += self.deliver_route(target.exporter, NO_PUBLISHER, true, &routed, route);
        }
        delivered
    }

    /// Delivers an answer published in `exporter` on a service reply subject to the
    /// requester's reply subject in the importing account.
    pub(super) fn publish_service_reply(
        &mut self,
        exporter: AccountId,
        message: &Delivery<'_>,
    ) -> usize {
        let secret = self.shared.service_reply_secret;
        let Some((importer, kind, reply)) =
            decode_service_reply(&secret, exporter, message.subject)
        else {
            return 0;
        };
        if importer.index() >= self.accounts.len() {
            return 0;
        }
        if kind == SINGLETON && !self.first_answer(message.subject) {
            return 0;
        }
        let routed = Delivery {
            subject: reply,
            reply: None,
            ..*message
        };
        let route = self.route_in(importer, reply);
        let mut delivered = self.deliver_route(importer, NO_PUBLISHER, true, &routed, route);
        // The requester may itself be an exporter's responder (chained imports).
        if reply.starts_with(SERVICE_REPLY_PREFIX) {
            delivered += self.publish_service_reply(importer, &routed);
        }
        delivered
    }
}

impl<B: Backend> Shard<B> {
    /// A token no other request gets: this shard's id and its request count, in hex.
    fn next_request_token(&mut self) -> String {
        self.service_requests += 1;
        format!("{:x}{:x}", self.id, self.service_requests)
    }

    /// Remembers a singleton answer; false when this request was answered already.
    fn first_answer(&mut self, subject: &[u8]) -> bool {
        let now = std::time::Instant::now();
        let answered = &mut self.answered_replies;
        while let Some((at, oldest)) = answered.order.front() {
            if now.duration_since(*at) < ANSWERED_REPLY_MEMORY
                && answered.order.len() < ANSWERED_REPLIES_MAX
            {
                break;
            }
            answered.set.remove(oldest);
            answered.order.pop_front();
        }
        if !answered.set.insert(subject.into()) {
            return false;
        }
        answered.order.push_back((now, subject.into()));
        true
    }
}

/// Singleton answers seen on this shard, oldest first, bounded by
/// [`ANSWERED_REPLIES_MAX`] and [`ANSWERED_REPLY_MEMORY`].
#[derive(Default)]
pub struct AnsweredReplies {
    /// The service reply subjects answered.
    set: std::collections::HashSet<Box<[u8]>>,
    /// The same, with when they were answered, oldest first.
    order: std::collections::VecDeque<(std::time::Instant, Box<[u8]>)>,
}

/// What a service reply subject carries besides the original reply.
struct ReplyRoute<'a> {
    /// The account whose responders answer.
    exporter: AccountId,
    /// The account the requester is in.
    importer: AccountId,
    /// [`SINGLETON`] or [`MANY`].
    kind: u8,
    /// Unique per request.
    request: &'a str,
}

fn tag(secret: &[u8; 16], route: &ReplyRoute<'_>, reply: &[u8]) -> String {
    let mut input = Vec::with_capacity(64 + reply.len());
    input.extend_from_slice(secret);
    input.extend_from_slice(&route.exporter.0.to_be_bytes());
    input.extend_from_slice(&route.importer.0.to_be_bytes());
    input.push(route.kind);
    input.extend_from_slice(route.request.as_bytes());
    input.push(b'.');
    input.extend_from_slice(reply);
    let digest = crate::config::digest::sha256(&input);
    digest[..TAG_HEX_DIGITS / 2]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `_R_.<tag><kind>.<importer>.<request>.<reply>`.
fn service_reply(secret: &[u8; 16], route: &ReplyRoute<'_>, reply: &[u8]) -> Vec<u8> {
    let mut subject = SERVICE_REPLY_PREFIX.to_vec();
    subject.extend_from_slice(tag(secret, route, reply).as_bytes());
    subject.push(route.kind);
    subject.push(b'.');
    subject.extend_from_slice(route.importer.0.to_string().as_bytes());
    subject.push(b'.');
    subject.extend_from_slice(route.request.as_bytes());
    subject.push(b'.');
    subject.extend_from_slice(reply);
    subject
}

/// The importer, kind and original reply of a service reply subject answered in
/// `exporter`; `None` when it is not one this server made for that exporter.
fn decode_service_reply<'s>(
    secret: &[u8; 16],
    exporter: AccountId,
    subject: &'s [u8],
) -> Option<(AccountId, u8, &'s [u8])> {
    let rest = subject.strip_prefix(SERVICE_REPLY_PREFIX)?;
    let mut parts = rest.splitn(4, |&byte| byte == b'.');
    let (kind, tag_text) = parts.next()?.split_last()?;
    let importer = AccountId(std::str::from_utf8(parts.next()?).ok()?.parse().ok()?);
    let request = std::str::from_utf8(parts.next()?).ok()?;
    let reply = parts.next()?;
    let route = ReplyRoute {
        exporter,
        importer,
        kind: *kind,
        request,
    };
    (tag_text == tag(secret, &route, reply).as_bytes()).then_some((importer, *kind, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_replies_round_trip_only_for_their_exporter() {
        let secret = [7u8; 16];
        let (exporter, importer) = (AccountId(3), AccountId(2));
        let route = ReplyRoute {
            exporter,
            importer,
            kind: SINGLETON,
            request: "1f",
        };
        let subject = service_reply(&secret, &route, b"_INBOX.abc.1");
        assert!(subject.starts_with(b"_R_."));
        assert_eq!(
            decode_service_reply(&secret, exporter, &subject),
            Some((importer, SINGLETON, &b"_INBOX.abc.1"[..]))
        );
        assert_eq!(decode_service_reply(&secret, AccountId(4), &subject), None);
        let mut forged = subject.clone();
        let last = forged.len() - 1;
        forged[last] = b'2';
        assert_eq!(decode_service_reply(&secret, exporter, &forged), None);
        assert_eq!(decode_service_reply(&secret, exporter, b"_R_.x"), None);
    }
}
