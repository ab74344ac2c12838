//! The one table of raw wire cases: what a client sends on a fresh connection and the exact
//! bytes nats-server 2.15.1 answers after its greeting INFO line, and whether it then closes
//! the connection. The same rows drive the parser's unit tests (included with `#[path]`),
//! the socket tests against ringnats (`tests/wire_black_box.rs`) and the differential run
//! against the reference server (`tests/differential.rs`), which also checks that every
//! `expect` below is still what the reference sends, so the table cannot drift from reality.
//!
//! Plain data with no dependencies. Conventions:
//! - Each case is one connection. `expect` excludes the first INFO line; INFO lines inside
//!   `expect` are masked the way `tests/common/mod.rs` masks them (`"server_id":"*"`,
//!   `"port":*`, ...).
//! - A case that keeps the connection open ends its input with `PING\r\n`, and its `expect`
//!   ends with `PONG\r\n`: that proves the parser is back in step after the case.
//! - Cases never depend on which member of a queue group is picked, since that is random.
//! - Set `"verbose":false,"pedantic":false` unless the case is about them, because
//!   nats-server turns both on when CONNECT leaves them out.
//!
//! To add a case: write `input` and `closes`, leave `expect` empty, run
//! `cargo test --test differential`; the failure prints what the reference sent as a
//! literal to paste in, after you have checked it is what you meant to pin down.
//!
//! The harness knows an open case is finished when its answer holds as many `PONG` lines as
//! `expect` does, so no payload in this table may itself be a line reading `PONG`.

// Each including crate reads a different subset of these fields and helpers.
#![allow(dead_code)]

/// One raw conversation on a single fresh connection.
pub struct WireCase {
    /// Unique snake_case name, used in failure messages and by the parser tests.
    pub name: &'static str,
    /// What behaviour this case guards, and where it comes from.
    pub why: &'static str,
    /// Bytes the client sends right after reading the greeting INFO line, in one write.
    pub input: &'static [u8],
    /// Exact bytes the server sends after the greeting INFO line (INFO lines masked).
    pub expect: &'static [u8],
    /// Whether the server closes the connection after sending `expect`.
    pub closes: bool,
}

/// The greeting every connection gets before anything is sent, masked: the field order
/// and the trailing space before CRLF are part of the wire format clients see.
pub const GREETING_INFO: &[u8] = concat!(
    "INFO {\"server_id\":\"*\",\"server_name\":\"*\",\"version\":\"2.15.1\",",
    "\"proto\":1,\"git_commit\":\"*\",\"go\":\"*\",\"host\":\"*\",\"port\":*,",
    "\"headers\":true,\"max_payload\":1048576,\"client_id\":*,\"client_ip\":\"*\",",
    "\"api_lvl\":5,\"xkey\":\"*\"} \r\n"
)
.as_bytes();

/// `CONNECT` with verbose and pedantic off, then the given parts, as bytes.
macro_rules! quiet {
    ($($part:expr),* $(,)?) => {
        concat!("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n", $($part),*).as_bytes()
    };
}

/// Literal parts joined, as bytes.
macro_rules! bytes {
    ($($part:expr),* $(,)?) => {
        concat!($($part),*).as_bytes()
    };
}

/// The masked INFO nats-server pushes after the first PONG to a `protocol:1` client.
macro_rules! connect_info_line {
    () => {
        concat!(
            "INFO {\"server_id\":\"*\",\"server_name\":\"*\",\"version\":\"2.15.1\",",
            "\"proto\":1,\"git_commit\":\"*\",\"go\":\"*\",\"host\":\"*\",\"port\":*,",
            "\"headers\":true,\"max_payload\":1048576,\"client_id\":*,\"client_ip\":\"*\",",
            "\"connect_info\":true,\"remote_account\":\"$G\",\"api_lvl\":5,\"xkey\":\"*\"} \r\n"
        )
    };
}

/// `prefix`, then `fill` repeated, then `suffix`, exactly `N` bytes: for cases whose
/// point is a length (a control line over 4096 bytes, a payload bigger than one read).
const fn filled<const N: usize>(prefix: &[u8], fill: u8, suffix: &[u8]) -> [u8; N] {
    assert!(prefix.len() + suffix.len() <= N);
    let mut out = [fill; N];
    let mut index = 0;
    while index < prefix.len() {
        out[index] = prefix[index];
        index += 1;
    }
    index = 0;
    while index < suffix.len() {
        out[N - suffix.len() + index] = suffix[index];
        index += 1;
    }
    out
}

/// Longer than nats-server's default `max_control_line` of 4096 bytes.
const LONG_TOKEN_BYTES: usize = 5000;
/// Bigger than nats-server's first 512-byte read buffer, so the payload spans reads.
const BIG_PAYLOAD_BYTES: usize = 5000;

const LONG_PUB_PREFIX: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB ";
const LONG_PUB_SUFFIX: &[u8] = b" 1\r\na\r\nPING\r\n";
const LONG_PUB_SUBJECT: [u8; LONG_PUB_PREFIX.len() + LONG_TOKEN_BYTES + LONG_PUB_SUFFIX.len()] =
    filled(LONG_PUB_PREFIX, b'a', LONG_PUB_SUFFIX);

const LONG_SUB_PREFIX: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB ";
const LONG_SUB_SUFFIX: &[u8] = b" 1\r\nPING\r\n";
const LONG_SUB_SUBJECT: [u8; LONG_SUB_PREFIX.len() + LONG_TOKEN_BYTES + LONG_SUB_SUFFIX.len()] =
    filled(LONG_SUB_PREFIX, b'a', LONG_SUB_SUFFIX);

const LONG_LINE_NO_END: [u8; LONG_PUB_PREFIX.len() + LONG_TOKEN_BYTES] =
    filled(LONG_PUB_PREFIX, b'a', b"");

const BIG_PUB_PREFIX: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB big 1\r\nPUB big 5000\r\n";
const BIG_PUB_SUFFIX: &[u8] = b"\r\nPING\r\n";
const BIG_PUB: [u8; BIG_PUB_PREFIX.len() + BIG_PAYLOAD_BYTES + BIG_PUB_SUFFIX.len()] =
    filled(BIG_PUB_PREFIX, b'x', BIG_PUB_SUFFIX);
const BIG_MSG_PREFIX: &[u8] = b"MSG big 1 5000\r\n";
const BIG_MSG_SUFFIX: &[u8] = b"\r\nPONG\r\n";
const BIG_MSG: [u8; BIG_MSG_PREFIX.len() + BIG_PAYLOAD_BYTES + BIG_MSG_SUFFIX.len()] =
    filled(BIG_MSG_PREFIX, b'x', BIG_MSG_SUFFIX);

/// Every case, grouped: CONNECT, PING/PONG, PUB/SUB, subjects, headers, no-responders,
/// then the errors that close the connection.
pub const WIRE_CASES: &[WireCase] = &[
    // ---- CONNECT ----
    WireCase {
        name: "connect_empty_turns_on_verbose",
        why: "CONNECT {} leaves verbose at its default true, so CONNECT is answered with +OK \
              (client.go: defaults before CONNECT are verbose, pedantic, echo)",
        input: bytes!("CONNECT {}\r\n", "PING\r\n"),
        expect: b"+OK\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "connect_verbose_ok_but_not_for_ping",
        why: "verbose mode acknowledges CONNECT with +OK but never acknowledges PING",
        input: bytes!("CONNECT {\"verbose\":true}\r\n", "PING\r\n"),
        expect: b"+OK\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "connect_verbose_no_ok_for_pong",
        why: "a PONG from the client is not acknowledged even in verbose mode",
        input: bytes!("CONNECT {\"verbose\":true}\r\n", "PONG\r\n", "PING\r\n"),
        expect: b"+OK\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "connect_quiet",
        why: "verbose:false suppresses +OK; the baseline every other quiet case builds on",
        input: quiet!("PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "connect_protocol_0_no_second_info",
        why: "protocol 0 (the default) gets no async INFO after the first PONG",
        input: bytes!("CONNECT {\"verbose\":false,\"protocol\":0}\r\n", "PING\r\n", "PING\r\n"),
        expect: b"PONG\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "connect_protocol_1_second_info",
        why: "protocol 1 gets a second INFO with connect_info and remote_account right after \
              the first PONG, and only then",
        input: bytes!("CONNECT {\"verbose\":false,\"protocol\":1}\r\n", "PING\r\n", "PING\r\n"),
        expect: concat!("PONG\r\n", connect_info_line!(), "PONG\r\n").as_bytes(),
        closes: false,
    },
    WireCase {
        name: "connect_protocol_1_verbose",
        why: "the +OK for CONNECT comes before the PONG, and the second INFO after it",
        input: bytes!("CONNECT {\"verbose\":true,\"protocol\":1}\r\n", "PING\r\n", "PING\r\n"),
        expect: concat!("+OK\r\nPONG\r\n", connect_info_line!(), "PONG\r\n").as_bytes(),
        closes: false,
    },
    WireCase {
        name: "connect_protocol_1_info_after_first_pong_after_connect",
        why: "a PONG sent before CONNECT does not count: the second INFO follows the first \
              PONG after a protocol 1 CONNECT",
        input: bytes!(
            "PING\r\n",
            "CONNECT {\"verbose\":false,\"protocol\":1}\r\n",
            "PING\r\n",
            "PING\r\n"
        ),
        expect: concat!("PONG\r\nPONG\r\n", connect_info_line!(), "PONG\r\n").as_bytes(),
        closes: false,
    },
    WireCase {
        name: "connect_protocol_2_rejected",
        why: "protocol above 1 is refused with -ERR 'invalid client protocol' and a close",
        input: bytes!("CONNECT {\"verbose\":false,\"protocol\":2}\r\n", "PING\r\n"),
        expect: b"-ERR 'invalid client protocol'\r\n",
        closes: true,
    },
    WireCase {
        name: "connect_protocol_negative_rejected",
        why: "protocol below 0 is refused the same way as protocol 2",
        input: bytes!("CONNECT {\"verbose\":false,\"protocol\":-1}\r\n", "PING\r\n"),
        expect: b"-ERR 'invalid client protocol'\r\n",
        closes: true,
    },
    WireCase {
        name: "connect_protocol_string_closes_silently",
        why: "a JSON type mismatch in CONNECT is a parse error: close with no -ERR",
        input: bytes!("CONNECT {\"verbose\":false,\"protocol\":\"1\"}\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "connect_verbose_string_closes_silently",
        why: "a boolean field given as a string is a JSON type error: close with no -ERR",
        input: bytes!("CONNECT {\"verbose\":\"yes\"}\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "connect_no_responders_without_headers",
        why: "no_responders needs headers: -ERR 'no responders requires headers support' \
              and close",
        input: bytes!("CONNECT {\"verbose\":false,\"no_responders\":true}\r\n", "PING\r\n"),
        expect: b"-ERR 'no responders requires headers support'\r\n",
        closes: true,
    },
    WireCase {
        name: "connect_bad_json_closes_silently",
        why: "truncated CONNECT JSON closes the connection without an -ERR",
        input: bytes!("CONNECT {\"verbose\":false\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "connect_not_json_closes_silently",
        why: "a CONNECT argument that is not JSON closes the connection without an -ERR",
        input: bytes!("CONNECT xyz\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "connect_json_array_closes_silently",
        why: "CONNECT must carry an object; an array is a parse error with a silent close",
        input: bytes!("CONNECT []\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "connect_without_argument_closes_silently",
        why: "CONNECT with no JSON at all closes the connection without an -ERR",
        input: bytes!("CONNECT\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "connect_unknown_field_ignored",
        why: "unknown CONNECT keys are ignored, as Go's JSON decoding does",
        input: bytes!("CONNECT {\"verbose\":false,\"foo\":1}\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "connect_twice_allowed",
        why: "a second CONNECT on the same connection is accepted",
        input: quiet!("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "connect_spaces_around_json",
        why: "runs of spaces before the JSON and a space after it are tolerated",
        input: bytes!("CONNECT  {\"verbose\":false} \r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "line_feed_only_line_endings",
        why: "control lines may end in a bare LF; the server still answers with CRLF",
        input: bytes!("CONNECT {\"verbose\":false}\n", "PING\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "ops_before_connect_are_verbose",
        why: "without auth, ops before CONNECT are accepted, under the verbose default",
        input: bytes!("SUB foo 1\r\n", "PUB foo 1\r\na\r\n", "PING\r\n"),
        expect: b"+OK\r\n+OK\r\nMSG foo 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    // ---- PING / PONG ----
    WireCase {
        name: "ping_before_connect",
        why: "PING before CONNECT is answered (no auth configured)",
        input: b"PING\r\n",
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pong_from_client_ignored",
        why: "an unsolicited PONG from the client produces nothing",
        input: quiet!("PONG\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "ops_are_case_insensitive",
        why: "op names are case-insensitive, including mixed case",
        input: bytes!(
            "connect {\"verbose\":false}\r\n",
            "sub foo 1\r\n",
            "Pub foo 1\r\na\r\n",
            "pInG\r\n"
        ),
        expect: b"MSG foo 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "ping_trailing_whitespace_and_argument_ignored",
        why: "anything after PING on its line is ignored: spaces, tabs, words",
        input: quiet!("PING \r\n", "PING\t\r\n", "PING foo\r\n", "PING\r\n"),
        expect: b"PONG\r\nPONG\r\nPONG\r\nPONG\r\n",
        closes: false,
    },
    // ---- PUB / SUB / UNSUB ----
    WireCase {
        name: "sub_pub_to_self",
        why: "the basic round trip: MSG <subject> <sid> <size>, payload, CRLF",
        input: quiet!("SUB foo 1\r\n", "PUB foo 5\r\nhello\r\n", "PING\r\n"),
        expect: b"MSG foo 1 5\r\nhello\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pub_with_reply",
        why: "the reply subject goes between sid and size in MSG",
        input: quiet!("SUB foo 1\r\n", "PUB foo bar 5\r\nhello\r\n", "PING\r\n"),
        expect: b"MSG foo 1 bar 5\r\nhello\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "verbose_ok_for_sub_pub_unsub",
        why: "verbose mode sends +OK for CONNECT, SUB, PUB and UNSUB, in order with the MSG",
        input: bytes!(
            "CONNECT {\"verbose\":true}\r\n",
            "SUB foo 1\r\n",
            "PUB foo 5\r\nhello\r\n",
            "UNSUB 1\r\n",
            "PING\r\n"
        ),
        expect: b"+OK\r\n+OK\r\n+OK\r\nMSG foo 1 5\r\nhello\r\n+OK\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "verbose_ok_for_pub_with_reply",
        why: "a PUB with a reply subject and no subscriber still gets +OK",
        input: bytes!(
            "CONNECT {\"verbose\":true,\"pedantic\":false}\r\n",
            "PUB foo bar 1\r\na\r\n",
            "PING\r\n"
        ),
        expect: b"+OK\r\n+OK\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "echo_off_suppresses_own_messages",
        why: "echo:false means a connection never receives what it published itself",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"echo\":false}\r\n",
            "SUB foo 1\r\n",
            "PUB foo 5\r\nhello\r\n",
            "PING\r\n"
        ),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pub_empty_payload",
        why: "a zero-byte payload is still followed by CRLF, on both sides",
        input: quiet!("SUB foo 1\r\n", "PUB foo 0\r\n\r\n", "PING\r\n"),
        expect: b"MSG foo 1 0\r\n\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pub_payload_containing_crlf",
        why: "payloads are skipped by length, so CRLF inside one is data, not a line end",
        input: quiet!("SUB foo 1\r\n", "PUB foo 4\r\na\r\nb\r\n", "PING\r\n"),
        expect: b"MSG foo 1 4\r\na\r\nb\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "overlapping_subscriptions_deliver_in_subject_tree_order",
        why: "one connection's copies of a message come in nats-server's match order: `>` \
              children, then `*` subtrees, then literals, the last token's literal before \
              its `*`",
        input: quiet!(
            "SUB foo.* 1\r\nSUB foo.bar 2\r\nSUB > 3\r\nSUB foo.> 4\r\n",
            "SUB *.bar 5\r\nSUB *.* 6\r\nSUB *.> 7\r\nPUB foo.bar 1\r\nx\r\nPING\r\n"
        ),
        expect: bytes!(
            "MSG foo.bar 3 1\r\nx\r\nMSG foo.bar 7 1\r\nx\r\nMSG foo.bar 5 1\r\nx\r\n",
            "MSG foo.bar 6 1\r\nx\r\nMSG foo.bar 4 1\r\nx\r\nMSG foo.bar 2 1\r\nx\r\n",
            "MSG foo.bar 1 1\r\nx\r\nPONG\r\n"
        ),
        closes: false,
    },
    WireCase {
        name: "subscriptions_added_after_a_publish_deliver_last",
        why: "nats-server appends a new subscription to the cached match of a subject already \
              published to, so it gets its copy after the older ones",
        input: quiet!(
            "SUB foo.* 1\r\nPUB foo.bar 1\r\nx\r\nSUB foo.bar 2\r\nSUB > 3\r\n",
            "PUB foo.bar 1\r\ny\r\nPING\r\n"
        ),
        expect: bytes!(
            "MSG foo.bar 1 1\r\nx\r\nMSG foo.bar 1 1\r\ny\r\nMSG foo.bar 2 1\r\ny\r\n",
            "MSG foo.bar 3 1\r\ny\r\nPONG\r\n"
        ),
        closes: false,
    },
    WireCase {
        name: "an_unsubscribe_resets_the_delivery_order",
        why: "removing a subscription drops the cached matches, so the next publish walks the \
              subject tree again",
        input: quiet!(
            "SUB foo.bar 2\r\nSUB > 3\r\nPUB foo.bar 1\r\nx\r\nUNSUB 3\r\nSUB > 3\r\n",
            "PUB foo.bar 1\r\ny\r\nPING\r\n"
        ),
        expect: bytes!(
            "MSG foo.bar 3 1\r\nx\r\nMSG foo.bar 2 1\r\nx\r\nMSG foo.bar 3 1\r\ny\r\n",
            "MSG foo.bar 2 1\r\ny\r\nPONG\r\n"
        ),
        closes: false,
    },
    WireCase {
        name: "pub_size_leading_zero_echoed",
        why: "nats-server copies the client's size bytes into MSG verbatim: PUB foo 01 gives \
              MSG foo 1 01",
        input: quiet!("SUB foo 1\r\n", "PUB foo 01\r\na\r\n", "PING\r\n"),
        expect: b"MSG foo 1 01\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "hpub_sizes_leading_zero_echoed",
        why: "HPUB's header and total size bytes are copied into HMSG verbatim too",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n",
            "HPUB foo 012 0014\r\nNATS/1.0\r\n\r\nxy\r\nPING\r\n"
        ),
        expect: b"HMSG foo 1 012 0014\r\nNATS/1.0\r\n\r\nxy\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pub_payload_spanning_reads",
        why: "a 5000-byte payload is bigger than one 512-byte read; it must arrive whole",
        input: &BIG_PUB,
        expect: &BIG_MSG,
        closes: false,
    },
    WireCase {
        name: "tabs_and_runs_of_spaces_separate_fields",
        why: "fields are split on runs of spaces and tabs, and trailing blanks are ignored",
        input: quiet!(
            "SUB\tfoo \t 1  \r\n",
            "PUB   foo\t\tbar \t 1   \r\na\r\n",
            "PING\r\n"
        ),
        expect: b"MSG foo 1 bar 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "sid_may_be_any_token",
        why: "a sid is an opaque token, not a number; it is echoed back and UNSUB takes it",
        input: quiet!(
            "SUB foo abc\r\n",
            "PUB foo 1\r\na\r\n",
            "UNSUB abc\r\n",
            "PUB foo 1\r\nb\r\n",
            "PING\r\n"
        ),
        expect: b"MSG foo abc 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "sub_duplicate_sid_ignored",
        why: "a SUB reusing a live sid is ignored: the first subscription stays, the second \
              subject gets nothing",
        input: quiet!(
            "SUB foo 1\r\n",
            "SUB bar 1\r\n",
            "PUB foo 1\r\na\r\n",
            "PUB bar 1\r\nb\r\n",
            "PING\r\n"
        ),
        expect: b"MSG foo 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "unsub_stops_delivery",
        why: "after UNSUB the subscription receives nothing",
        input: quiet!("SUB foo 1\r\n", "UNSUB 1\r\n", "PUB foo 1\r\na\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "unsub_max_two",
        why: "UNSUB <sid> 2 auto-unsubscribes after exactly two deliveries",
        input: quiet!(
            "SUB foo 1\r\n",
            "UNSUB 1 2\r\n",
            "PUB foo 1\r\na\r\n",
            "PUB foo 1\r\nb\r\n",
            "PUB foo 1\r\nc\r\n",
            "PING\r\n"
        ),
        expect: b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "unsub_max_already_reached",
        why: "UNSUB with a max already reached by past deliveries removes the sub at once",
        input: quiet!(
            "SUB foo 1\r\n",
            "PUB foo 1\r\na\r\n",
            "UNSUB 1 1\r\n",
            "PUB foo 1\r\nb\r\n",
            "PING\r\n"
        ),
        expect: b"MSG foo 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "unsub_max_zero_removes_now",
        why: "UNSUB <sid> 0 is a plain unsubscribe",
        input: quiet!("SUB foo 1\r\n", "UNSUB 1 0\r\n", "PUB foo 1\r\na\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "unsub_max_not_a_number_removes_now",
        why: "a max that does not parse is treated as no max: a plain unsubscribe, no error",
        input: quiet!("SUB foo 1\r\n", "UNSUB 1 x\r\n", "PUB foo 1\r\na\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "unsub_unknown_sid_is_fine",
        why: "UNSUB of a sid that does not exist is not an error; verbose still says +OK",
        input: bytes!("CONNECT {\"verbose\":true}\r\n", "UNSUB 99\r\n", "PING\r\n"),
        expect: b"+OK\r\n+OK\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "queue_sub_to_self",
        why: "a queue subscription with one member receives the message, with no queue name \
              in MSG",
        input: quiet!("SUB foo q 1\r\n", "PUB foo 2\r\nhi\r\n", "PING\r\n"),
        expect: b"MSG foo 1 2\r\nhi\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "plain_sub_delivered_before_queue_sub",
        why: "nats-server delivers to plain subscriptions first, then one member per queue \
              group, whatever the SUB order",
        input: quiet!("SUB foo q 1\r\n", "SUB foo 2\r\n", "PUB foo 1\r\na\r\n", "PING\r\n"),
        expect: b"MSG foo 2 1\r\na\r\nMSG foo 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "queue_name_with_wildcard_accepted",
        why: "the queue name is not checked as a subject: q.* is accepted silently",
        input: quiet!("SUB foo q.* 1\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    // ---- subjects and wildcards ----
    WireCase {
        name: "wildcard_star_matches_one_token",
        why: "foo.* matches foo.bar but not foo.bar.baz",
        input: quiet!(
            "SUB foo.* 1\r\n",
            "PUB foo.bar 1\r\na\r\n",
            "PUB foo.bar.baz 1\r\nb\r\n",
            "PING\r\n"
        ),
        expect: b"MSG foo.bar 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "wildcard_gt_matches_one_or_more_tokens",
        why: "foo.> matches foo.bar and foo.bar.baz but not foo itself",
        input: quiet!(
            "SUB foo.> 1\r\n",
            "PUB foo.bar 1\r\na\r\n",
            "PUB foo.bar.baz 1\r\nb\r\n",
            "PUB foo 1\r\nc\r\n",
            "PING\r\n"
        ),
        expect: b"MSG foo.bar 1 1\r\na\r\nMSG foo.bar.baz 1 1\r\nb\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "bare_gt_matches_everything",
        why: "SUB > receives any subject, and MSG carries the published subject",
        input: quiet!("SUB > 1\r\n", "PUB a.b.c 1\r\na\r\n", "PING\r\n"),
        expect: b"MSG a.b.c 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "bare_star_matches_single_token_subjects",
        why: "SUB * matches a but not a.b",
        input: quiet!(
            "SUB * 1\r\n",
            "PUB a 1\r\na\r\n",
            "PUB a.b 1\r\nb\r\n",
            "PING\r\n"
        ),
        expect: b"MSG a 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "subjects_are_case_sensitive",
        why: "SUB Foo does not match foo, unlike op names",
        input: quiet!(
            "SUB Foo 1\r\n",
            "PUB foo 1\r\na\r\n",
            "PUB Foo 1\r\nb\r\n",
            "PING\r\n"
        ),
        expect: b"MSG Foo 1 1\r\nb\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "star_inside_token_is_literal",
        why: "a wildcard must be a whole token: foo*.bar is a literal subject",
        input: quiet!("SUB foo*.bar 1\r\n", "PUB foo*.bar 1\r\na\r\n", "PING\r\n"),
        expect: b"MSG foo*.bar 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "utf8_subject_round_trip",
        why: "subjects are bytes; valid UTF-8 passes through unchanged",
        input: quiet!("SUB f\u{e9} 1\r\n", "PUB f\u{e9} 1\r\na\r\n", "PING\r\n"),
        expect: "MSG f\u{e9} 1 1\r\na\r\nPONG\r\n".as_bytes(),
        closes: false,
    },
    WireCase {
        name: "wildcard_publish_without_pedantic_delivered",
        why: "without pedantic, a PUB to foo.* is not checked and reaches a matching sub",
        input: quiet!("SUB foo.* 1\r\n", "PUB foo.* 1\r\na\r\n", "PING\r\n"),
        expect: b"MSG foo.* 1 1\r\na\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "invalid_publish_subject_without_pedantic_ignored",
        why: "without pedantic, a PUB to foo..bar raises no error",
        input: quiet!("PUB foo..bar 1\r\na\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pedantic_publish_star_rejected",
        why: "pedantic: PUB to a wildcard subject gets -ERR 'Invalid Publish Subject' and the \
              connection stays open",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n",
            "PUB foo.* 1\r\na\r\n",
            "PING\r\n"
        ),
        expect: b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pedantic_publish_gt_rejected",
        why: "pedantic: PUB to foo.> is refused like foo.*",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n",
            "PUB foo.> 1\r\na\r\n",
            "PING\r\n"
        ),
        expect: b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pedantic_publish_empty_token_rejected",
        why: "pedantic: PUB to foo..bar is refused with the same error",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n",
            "PUB foo..bar 1\r\na\r\n",
            "PING\r\n"
        ),
        expect: b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "pedantic_publish_trailing_dot_rejected",
        why: "pedantic: PUB to foo. (empty last token) is refused",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n",
            "PUB foo. 1\r\na\r\n",
            "PING\r\n"
        ),
        expect: b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "sub_empty_token_rejected",
        why: "SUB foo..bar gets -ERR 'Invalid Subject' whatever the mode; the connection \
              stays open",
        input: quiet!("SUB foo..bar 1\r\n", "PING\r\n"),
        expect: b"-ERR 'Invalid Subject'\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "sub_gt_not_last_rejected",
        why: "> must be the last token: SUB foo.>.bar is an invalid subject",
        input: quiet!("SUB foo.>.bar 1\r\n", "PING\r\n"),
        expect: b"-ERR 'Invalid Subject'\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "sub_leading_and_trailing_dot_rejected",
        why: "an empty first or last token makes the subject invalid",
        input: quiet!("SUB .foo 1\r\n", "SUB foo. 2\r\n", "PING\r\n"),
        expect: b"-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "sub_invalid_subject_verbose_no_ok",
        why: "in verbose mode an invalid SUB gets only the -ERR, no +OK",
        input: bytes!("CONNECT {\"verbose\":true}\r\n", "SUB foo..bar 1\r\n", "PING\r\n"),
        expect: b"+OK\r\n-ERR 'Invalid Subject'\r\nPONG\r\n",
        closes: false,
    },
    // ---- headers ----
    WireCase {
        name: "hpub_round_trip",
        why: "HPUB from a headers:true client reaches its own headers:true sub as HMSG",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "SUB foo 1\r\n",
            "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            "PING\r\n"
        ),
        expect: b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "hpub_with_reply_and_header",
        why: "HMSG carries the reply subject and the header block byte for byte",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "SUB foo 1\r\n",
            "HPUB foo r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n",
            "PING\r\n"
        ),
        expect: b"HMSG foo 1 r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "hpub_header_block_not_checked",
        why: "the header block is passed through without checking it starts NATS/1.0",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "SUB foo 1\r\n",
            "HPUB foo 2 4\r\n\r\nhi\r\n",
            "PING\r\n"
        ),
        expect: b"HMSG foo 1 2 4\r\n\r\nhi\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "hpub_verbose_ok",
        why: "verbose mode acknowledges HPUB with +OK like PUB",
        input: bytes!(
            "CONNECT {\"verbose\":true,\"headers\":true}\r\n",
            "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            "PING\r\n"
        ),
        expect: b"+OK\r\n+OK\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "hpub_without_headers_closes_silently",
        why: "HPUB from a client that did not set headers:true closes with no -ERR",
        input: quiet!(
            "SUB foo 1\r\n",
            "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            "PING\r\n"
        ),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "hpub_header_size_above_total_closes",
        why: "a header size larger than the total size is a protocol violation: silent close",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "HPUB foo 12 10\r\nNATS/1.0\r\n\r\n",
            "PING\r\n"
        ),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "hpub_negative_size_closes",
        why: "a negative header size is a protocol violation: silent close",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "HPUB foo -1 4\r\n",
            "PING\r\n"
        ),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "hpub_one_size_closes",
        why: "HPUB needs both a header size and a total size: silent close",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "HPUB foo 4\r\n",
            "PING\r\n"
        ),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "hpub_payload_too_big",
        why: "an HPUB total over max_payload gets -ERR 'Maximum Payload Violation' and close",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "HPUB foo 12 2000000\r\n"
        ),
        expect: b"-ERR 'Maximum Payload Violation'\r\n",
        closes: true,
    },
    // ---- no responders ----
    WireCase {
        name: "no_responders_503",
        why: "a request nobody receives, from a no_responders client subscribed to its reply \
              subject, gets the exact 503 HMSG (client.go)",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
            "SUB inbox.1 7\r\n",
            "PUB nobody inbox.1 0\r\n\r\n",
            "PING\r\n"
        ),
        expect: b"HMSG inbox.1 7 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "no_responders_503_via_wildcard_sub",
        why: "the 503 goes to a wildcard sub matching the reply subject, with the reply subject \
              in HMSG",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
            "SUB _INBOX.* 1\r\n",
            "PUB svc _INBOX.x 0\r\n\r\n",
            "PING\r\n"
        ),
        expect: b"HMSG _INBOX.x 1 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "no_responders_503_for_hpub",
        why: "an HPUB request with no receiver gets the same 503 (its headers are not echoed)",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
            "SUB r 1\r\n",
            "HPUB svc r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            "PING\r\n"
        ),
        expect: b"HMSG r 1 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "no_responders_503_despite_echo_off",
        why: "echo:false does not suppress the server-generated 503 to the requester",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"echo\":false,\"headers\":true,\"no_responders\":true}\r\n",
            "SUB r 1\r\n",
            "PUB svc r 0\r\n\r\n",
            "PING\r\n"
        ),
        expect: b"HMSG r 1 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\nPONG\r\n",
        closes: false,
    },
    WireCase {
        name: "no_responders_needs_reply_sub",
        why: "with no sub on the reply subject there is nobody to tell: nothing is sent",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
            "PUB svc _INBOX.x 0\r\n\r\n",
            "PING\r\n"
        ),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "no_responders_off_no_503",
        why: "headers alone, without no_responders, never produce a 503",
        input: bytes!(
            "CONNECT {\"verbose\":false,\"headers\":true}\r\n",
            "SUB _INBOX.x 1\r\n",
            "PUB svc _INBOX.x 0\r\n\r\n",
            "PING\r\n"
        ),
        expect: b"PONG\r\n",
        closes: false,
    },
    // ---- ops a client may send that do nothing ----
    WireCase {
        name: "ok_from_client_ignored",
        why: "+OK from a client is parsed and ignored",
        input: quiet!("+OK\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    WireCase {
        name: "info_from_client_ignored",
        why: "INFO from a client is parsed and ignored",
        input: quiet!("INFO {}\r\n", "PING\r\n"),
        expect: b"PONG\r\n",
        closes: false,
    },
    // ---- errors that close the connection ----
    WireCase {
        name: "unknown_op",
        why: "an unknown op gets -ERR 'Unknown Protocol Operation' and a close",
        input: quiet!("FOO\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "empty_line_is_unknown_op",
        why: "a bare CRLF is not a no-op: it is an unknown operation",
        input: quiet!("\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "leading_space_is_unknown_op",
        why: "whitespace before an op name is not skipped",
        input: quiet!(" PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "msg_from_client_rejected",
        why: "MSG is server-to-client only",
        input: quiet!("MSG foo 1 1\r\na\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "route_op_from_client_rejected",
        why: "route ops (RS+) are refused on a client connection",
        input: quiet!("RS+ foo\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "err_from_client_closes_silently",
        why: "-ERR from a client closes the connection without a reply",
        input: quiet!("-ERR 'x'\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "pub_without_arguments_is_unknown_op",
        why: "PUB with no arguments fails in the op parser, not the argument parser",
        input: quiet!("PUB\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "pub_one_argument_closes_silently",
        why: "PUB with a subject but no size is a protocol violation: close, no -ERR",
        input: quiet!("PUB foo\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "pub_too_many_arguments_closes_silently",
        why: "PUB a b c 1 (four arguments) closes with no -ERR",
        input: quiet!("PUB a b c 1\r\nx\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "pub_size_not_a_number_closes_silently",
        why: "a PUB size that is not digits closes with no -ERR",
        input: quiet!("PUB foo bar\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "pub_negative_size_closes_silently",
        why: "PUB foo -1 closes with no -ERR",
        input: quiet!("PUB foo -1\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "pub_plus_sign_size_closes_silently",
        why: "a size with a + sign is not digits: close with no -ERR",
        input: quiet!("PUB foo +1\r\na\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "pub_overflowing_size_closes_silently",
        why: "a size that overflows int64 closes with no -ERR (client.go)",
        input: quiet!("PUB foo 99999999999999999999\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "pub_payload_too_big",
        why: "a PUB size over max_payload (1 MiB) gets -ERR 'Maximum Payload Violation' and a \
              close, before any payload is read",
        input: quiet!("PUB foo 2000000\r\n"),
        expect: b"-ERR 'Maximum Payload Violation'\r\n",
        closes: true,
    },
    WireCase {
        name: "payload_not_followed_by_crlf",
        why: "the payload must end in CRLF exactly at its size; a stray byte there is an \
              unknown op",
        input: quiet!("PUB foo 1\r\nabX\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "payload_shorter_than_size",
        why: "a payload shorter than its size swallows the CRLF and the next op's first bytes",
        input: quiet!("PUB foo 3\r\nab\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "control_line_too_long_pub",
        why: "a PUB control line over max_control_line (4096) gets -ERR 'maximum control line \
              exceeded' and a close",
        input: &LONG_PUB_SUBJECT,
        expect: b"-ERR 'maximum control line exceeded'\r\n",
        closes: true,
    },
    WireCase {
        name: "control_line_too_long_sub",
        why: "the control-line limit applies to SUB too",
        input: &LONG_SUB_SUBJECT,
        expect: b"-ERR 'maximum control line exceeded'\r\n",
        closes: true,
    },
    WireCase {
        name: "control_line_too_long_without_line_end",
        why: "the limit fires on an unterminated line too, so a client cannot make the server \
              buffer forever",
        input: &LONG_LINE_NO_END,
        expect: b"-ERR 'maximum control line exceeded'\r\n",
        closes: true,
    },
    WireCase {
        name: "sub_without_arguments_is_unknown_op",
        why: "SUB with no arguments fails in the op parser",
        input: quiet!("SUB\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "sub_without_sid_closes_silently",
        why: "SUB with a subject and no sid closes with no -ERR",
        input: quiet!("SUB foo\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "sub_too_many_arguments_closes_silently",
        why: "SUB foo q 1 2 (four arguments) closes with no -ERR",
        input: quiet!("SUB foo q 1 2\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
    WireCase {
        name: "unsub_without_arguments_is_unknown_op",
        why: "UNSUB with no arguments fails in the op parser",
        input: quiet!("UNSUB\r\n", "PING\r\n"),
        expect: b"-ERR 'Unknown Protocol Operation'\r\n",
        closes: true,
    },
    WireCase {
        name: "unsub_too_many_arguments_closes_silently",
        why: "UNSUB 1 2 3 closes with no -ERR",
        input: quiet!("UNSUB 1 2 3\r\n", "PING\r\n"),
        expect: b"",
        closes: true,
    },
];
