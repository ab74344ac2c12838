//! Messages that cross accounts: stream imports (a publish in the exporting account
//! reaches the importers' subscribers, renamed), service imports (a request in the
//! importing account reaches the exporter's responders) and the replies that find their
//! way back.
//!
//! A service reply subject is rewritten to `_R_.<tag>.<importer>.<original reply>` in
//! the exporting account. The tag is a keyed hash (a per-process secret) of exporter,
//! importer and reply, so only the exporting account can answer, and only to replies
//! it was given. Carrying the route in the subject keeps the shards stateless: the
//! responder may sit on any shard. Unlike nats-server, a `singleton` response is not
//! cut off after the first reply (documented in the README).

use super::Shard;
use crate::auth::accounts::AccountId;
use crate::conn::ConnId;
use crate::io::Backend;
use crate::proto::encode::Delivery;

/// nats-server's reserved prefix of service-import reply subjects.
pub const SERVICE_REPLY_PREFIX: &[u8] = b"_R_.";
/// Hex digits of the tag (48 bits).
const TAG_HEX_DIGITS: usize = 12;
/// A publisher that is not a client (imports, server messages): matches no connection.
pub const NO_PUBLISHER: ConnId = ConnId {
    index: u32::MAX,
    generation: u32::MAX,
};

impl<B: Backend> Shard<B> {
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
            let reply = message
                .reply
                .map(|reply| service_reply(&secret, target.exporter, importer, reply));
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
        let Some((importer, reply)) = decode_service_reply(&secret, exporter, message.subject)
        else {
            return 0;
        };
        if importer.index() >= self.accounts.len() {
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

fn tag(secret: &[u8; 16], exporter: AccountId, importer: AccountId, reply: &[u8]) -> String {
    let mut input = Vec::with_capacity(24 + reply.len());
    input.extend_from_slice(secret);
    input.extend_from_slice(&exporter.0.to_be_bytes());
    input.extend_from_slice(&importer.0.to_be_bytes());
    input.extend_from_slice(reply);
    let digest = crate::config::digest::sha256(&input);
    digest[..TAG_HEX_DIGITS / 2]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `_R_.<tag>.<importer>.<reply>`.
fn service_reply(
    secret: &[u8; 16],
    exporter: AccountId,
    importer: AccountId,
    reply: &[u8],
) -> Vec<u8> {
    let mut subject = SERVICE_REPLY_PREFIX.to_vec();
    subject.extend_from_slice(tag(secret, exporter, importer, reply).as_bytes());
    subject.push(b'.');
    subject.extend_from_slice(importer.0.to_string().as_bytes());
    subject.push(b'.');
    subject.extend_from_slice(reply);
    subject
}

/// The importer and original reply of a service reply subject answered in `exporter`;
/// `None` when it is not one this server made for that exporter.
fn decode_service_reply<'s>(
    secret: &[u8; 16],
    exporter: AccountId,
    subject: &'s [u8],
) -> Option<(AccountId, &'s [u8])> {
    let rest = subject.strip_prefix(SERVICE_REPLY_PREFIX)?;
    let mut parts = rest.splitn(3, |&byte| byte == b'.');
    let tag_text = parts.next()?;
    let importer: u32 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let reply = parts.next()?;
    let importer = AccountId(importer);
    (tag_text == tag(secret, exporter, importer, reply).as_bytes()).then_some((importer, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_replies_round_trip_only_for_their_exporter() {
        let secret = [7u8; 16];
        let (exporter, importer) = (AccountId(3), AccountId(2));
        let subject = service_reply(&secret, exporter, importer, b"_INBOX.abc.1");
        assert!(subject.starts_with(b"_R_."));
        assert_eq!(
            decode_service_reply(&secret, exporter, &subject),
            Some((importer, &b"_INBOX.abc.1"[..]))
        );
        assert_eq!(decode_service_reply(&secret, AccountId(4), &subject), None);
        let mut forged = subject.clone();
        let last = forged.len() - 1;
        forged[last] = b'2';
        assert_eq!(decode_service_reply(&secret, exporter, &forged), None);
        assert_eq!(decode_service_reply(&secret, exporter, b"_R_.x"), None);
    }
}
