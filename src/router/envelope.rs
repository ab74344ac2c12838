//! The messages shards send each other through their rings.
//!
//! An [`Envelope`] owns its bytes in a single allocation (subject, reply, headers,
//! payload back to back), so handing a message to another core costs one allocation and
//! one copy, and ownership moves through the ring to the receiving shard, which frees it.

use crate::proto::parser::SizeText;

/// A message published on one shard for the subscribers of another.
#[derive(Debug)]
pub struct Envelope {
    /// subject ++ reply ++ headers ++ payload.
    bytes: Box<[u8]>,
    /// Length of the subject at the start of `bytes`.
    subject_len: u32,
    /// Length of the reply subject; `u32::MAX` when there is none.
    reply_len: u32,
    /// Length of the header block; `u32::MAX` when published without headers.
    headers_len: u32,
    /// The account whose subscribers it is for (an index into the account table).
    pub account: u32,
    /// Deliver to the receiving shard's plain (non-queue) subscribers.
    pub plain: bool,
    /// Queue groups the publishing shard chose this shard for: deliver to one member
    /// of each.
    pub queues: Vec<Box<[u8]>>,
    /// The client that published it, on the sending shard (`None`: the server), so a
    /// subscriber that fell behind can stall it.
    pub origin: Option<crate::conn::ConnId>,
    /// The publisher's size arguments as written, when not canonical (rare: kept out
    /// of line so the common envelope stays small).
    size_text: Option<Box<OwnedSizeText>>,
}

/// An owned [`SizeText`].
#[derive(Debug, Clone)]
struct OwnedSizeText {
    header: Option<Box<[u8]>>,
    total: Box<[u8]>,
}

const ABSENT: u32 = u32::MAX;

impl Envelope {
    /// Copies one published message into an envelope.
    pub fn new(
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> Self {
        let total = subject.len()
            + reply.map_or(0, <[u8]>::len)
            + headers.map_or(0, <[u8]>::len)
            + payload.len();
        let mut bytes = Vec::with_capacity(total);
        bytes.extend_from_slice(subject);
        bytes.extend_from_slice(reply.unwrap_or_default());
        bytes.extend_from_slice(headers.unwrap_or_default());
        bytes.extend_from_slice(payload);
        let length = |part: Option<&[u8]>| part.map_or(ABSENT, |part| part.len() as u32);
        Self {
            bytes: bytes.into_boxed_slice(),
            subject_len: subject.len() as u32,
            reply_len: length(reply),
            headers_len: length(headers),
            account: 0,
            plain: false,
            queues: Vec::new(),
            origin: None,
            size_text: None,
        }
    }

    fn part_len(len: u32) -> usize {
        if len == ABSENT {
            0
        } else {
            len as usize
        }
    }

    /// The subject it was published to.
    pub fn subject(&self) -> &[u8] {
        &self.bytes[..self.subject_len as usize]
    }

    /// The reply subject, if any.
    pub fn reply(&self) -> Option<&[u8]> {
        let start = self.subject_len as usize;
        (self.reply_len != ABSENT).then(|| &self.bytes[start..start + self.reply_len as usize])
    }

    /// The header block, if published with HPUB.
    pub fn headers(&self) -> Option<&[u8]> {
        let start = self.subject_len as usize + Self::part_len(self.reply_len);
        (self.headers_len != ABSENT).then(|| &self.bytes[start..start + self.headers_len as usize])
    }

    /// Keeps the publisher's size arguments as written (see [`SizeText`]).
    pub fn set_size_text(&mut self, text: Option<SizeText<'_>>) {
        self.size_text = text.map(|text| {
            Box::new(OwnedSizeText {
                header: text.header.map(Into::into),
                total: text.total.into(),
            })
        });
    }

    /// The publisher's size arguments as written, when not canonical.
    pub fn size_text(&self) -> Option<SizeText<'_>> {
        self.size_text.as_deref().map(|text| SizeText {
            header: text.header.as_deref(),
            total: &text.total,
        })
    }

    /// Bytes the envelope carries (subject, reply, headers and payload), as the mesh
    /// counts what is in flight between two shards.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        let start = self.subject_len as usize
            + Self::part_len(self.reply_len)
            + Self::part_len(self.headers_len);
        &self.bytes[start..]
    }

    /// A copy for another shard (fan-out to several peers).
    pub fn clone_for_peer(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            subject_len: self.subject_len,
            reply_len: self.reply_len,
            headers_len: self.headers_len,
            account: self.account,
            plain: false,
            queues: Vec::new(),
            origin: self.origin,
            size_text: self.size_text.clone(),
        }
    }
}

impl ShardMsg {
    /// Message bytes this carries, for the mesh's in-flight bound (control messages
    /// count as nothing).
    pub fn size(&self) -> usize {
        match self {
            ShardMsg::Deliver(envelope) => envelope.size(),
            _ => 0,
        }
    }
}

/// Everything one shard says to another.
#[derive(Debug)]
pub enum ShardMsg {
    /// Deliver a message to local subscribers (see [`Envelope`]).
    Deliver(Envelope),
    /// The sender now has `weight` local subscriptions on (subject, queue); 0 means it
    /// has none left. Plain subscriptions report 1 or 0. `seq` orders the sender's
    /// interest changes for the subscribe barrier.
    Interest {
        /// The sender's interest sequence number for this change.
        seq: u64,
        /// The account the subject pattern belongs to.
        account: u32,
        /// Subject pattern.
        subject: Box<[u8]>,
        /// Queue group, if any.
        queue: Option<Box<[u8]>>,
        /// Number of local members (queue) or 1/0 (plain).
        weight: u32,
    },
    /// The receiver of interest changes up to `seq` has applied them.
    InterestAck {
        /// Highest interest sequence applied.
        seq: u64,
    },
    /// "Handle everything you have received, then answer": sent before a request that
    /// reaches no one gets its no-responders status.
    Probe {
        /// Identifies the probe at the sender.
        token: u64,
    },
    /// The answer to [`ShardMsg::Probe`], sent after the peer handled its pending io.
    ProbeAck {
        /// The probe's token.
        token: u64,
    },
    /// A subscriber of the sender fell behind: park this publisher of the receiver until
    /// [`ShardMsg::StallRelease`], within its stall budget (see `shard::stall`).
    Stall {
        /// The publisher, on the receiving shard.
        publisher: crate::conn::ConnId,
        /// The subscriber, on the sending shard (names the gate).
        subscriber: crate::conn::ConnId,
    },
    /// The sender's subscriber caught up: release the publishers parked for it.
    StallRelease {
        /// The subscriber, on the sending shard.
        subscriber: crate::conn::ConnId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let envelope = Envelope::new(
            b"foo.bar",
            Some(b"_INBOX.1"),
            Some(b"NATS/1.0\r\n\r\n"),
            b"hi",
        );
        assert_eq!(envelope.subject(), b"foo.bar");
        assert_eq!(envelope.reply(), Some(&b"_INBOX.1"[..]));
        assert_eq!(envelope.headers(), Some(&b"NATS/1.0\r\n\r\n"[..]));
        assert_eq!(envelope.payload(), b"hi");
        let bare = Envelope::new(b"a", None, None, b"");
        assert_eq!(
            (bare.reply(), bare.headers(), bare.payload()),
            (None, None, &b""[..])
        );
    }
}
