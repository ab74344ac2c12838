//! Encoders for server -> client frames: MSG, HMSG and the no-responders status.
//!
//! These run once per delivery, so they append straight into the subscriber's outbound
//! buffer with no formatting machinery and no allocation beyond the buffer's growth.

/// Appends the decimal digits of `value`.
#[inline]
pub fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// One message as a subscriber receives it.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// The subject it was published to.
    pub subject: &'a [u8],
    /// The subscriber's sid.
    pub sid: &'a [u8],
    /// The reply subject, if any.
    pub reply: Option<&'a [u8]>,
    /// The header block (`NATS/1.0\r\n...\r\n\r\n`), if published with HPUB.
    pub headers: Option<&'a [u8]>,
    /// The payload.
    pub payload: &'a [u8],
    /// The publisher's size arguments as written, when not canonical (echoed).
    pub size_text: Option<crate::proto::parser::SizeText<'a>>,
}

/// Appends a MSG or HMSG frame. Headers are dropped (MSG) for subscribers that did not
/// announce header support, as nats-server does; returns the bytes counted as payload
/// for statistics.
pub fn encode_delivery(out: &mut Vec<u8>, delivery: &Delivery<'_>, subscriber_has_headers: bool) {
    let headers = delivery.headers.filter(|_| subscriber_has_headers);
    out.reserve(delivery.subject.len() + delivery.sid.len() + delivery.payload.len() + 48);
    out.extend_from_slice(if headers.is_some() { b"HMSG " } else { b"MSG " });
    out.extend_from_slice(delivery.subject);
    out.push(b' ');
    out.extend_from_slice(delivery.sid);
    out.push(b' ');
    if let Some(reply) = delivery.reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    // nats-server copies the size arguments as the publisher wrote them (`01` stays
    // `01`), except when it strips the headers and the size changes.
    let text = delivery
        .size_text
        .filter(|text| text.header.is_some() == headers.is_some());
    if let Some(headers) = headers {
        match text {
            Some(text) => out.extend_from_slice(text.header.unwrap_or_default()),
            None => push_decimal(out, headers.len() as u64),
        }
        out.push(b' ');
        match text {
            Some(text) => out.extend_from_slice(text.total),
            None => push_decimal(out, (headers.len() + delivery.payload.len()) as u64),
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(headers);
    } else {
        match text {
            Some(text) => out.extend_from_slice(text.total),
            None => push_decimal(out, delivery.payload.len() as u64),
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(delivery.payload);
    out.extend_from_slice(b"\r\n");
}

/// Appends the 503 status nats-server sends when a request reaches no subscriber:
/// `HMSG <reply> <sid> <hl> <hl>\r\nNATS/1.0 503\r\nNats-Subject: <subject>\r\n\r\n\r\n`.
pub fn encode_no_responders(out: &mut Vec<u8>, reply: &[u8], sid: &[u8], subject: &[u8]) {
    const STATUS: &[u8] = b"NATS/1.0 503\r\nNats-Subject: ";
    let header_bytes = STATUS.len() + subject.len() + 4;
    out.extend_from_slice(b"HMSG ");
    out.extend_from_slice(reply);
    out.push(b' ');
    out.extend_from_slice(sid);
    out.push(b' ');
    push_decimal(out, header_bytes as u64);
    out.push(b' ');
    push_decimal(out, header_bytes as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(STATUS);
    out.extend_from_slice(subject);
    out.extend_from_slice(b"\r\n\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_digits_are_echoed_unless_the_headers_are_stripped() {
        use crate::proto::parser::SizeText;
        let mut delivery = Delivery {
            subject: b"foo",
            sid: b"1",
            reply: None,
            headers: None,
            payload: b"x",
            size_text: Some(SizeText {
                header: None,
                total: b"01",
            }),
        };
        let mut out = Vec::new();
        encode_delivery(&mut out, &delivery, true);
        assert_eq!(out, b"MSG foo 1 01\r\nx\r\n");
        delivery.headers = Some(b"NATS/1.0\r\n\r\n");
        delivery.size_text = Some(SizeText {
            header: Some(b"012"),
            total: b"013",
        });
        out.clear();
        encode_delivery(&mut out, &delivery, true);
        assert_eq!(out, b"HMSG foo 1 012 013\r\nNATS/1.0\r\n\r\nx\r\n");
        out.clear();
        encode_delivery(&mut out, &delivery, false);
        assert_eq!(out, b"MSG foo 1 1\r\nx\r\n", "downgraded: the new size");
    }

    #[test]
    fn msg_and_hmsg_and_downgrade() {
        let delivery = Delivery {
            subject: b"foo",
            sid: b"1",
            reply: Some(b"r"),
            headers: Some(b"NATS/1.0\r\n\r\n"),
            payload: b"hi",
            size_text: None,
        };
        let mut out = Vec::new();
        encode_delivery(&mut out, &delivery, true);
        assert_eq!(out, b"HMSG foo 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        out.clear();
        encode_delivery(&mut out, &delivery, false);
        assert_eq!(out, b"MSG foo 1 r 2\r\nhi\r\n");
    }

    #[test]
    fn no_responders_frame_matches_nats_server() {
        let mut out = Vec::new();
        encode_no_responders(&mut out, b"r", b"9", b"q");
        assert_eq!(
            out,
            b"HMSG r 9 33 33\r\nNATS/1.0 503\r\nNats-Subject: q\r\n\r\n\r\n"
        );
    }

    #[test]
    fn decimals() {
        let mut out = Vec::new();
        for value in [0u64, 7, 10, 1234567890, u64::MAX] {
            out.clear();
            push_decimal(&mut out, value);
            assert_eq!(out, value.to_string().as_bytes());
        }
    }
}
