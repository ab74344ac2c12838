//! The client-protocol parser: turns the bytes a NATS client sends into [`Op`]s that borrow
//! the read buffer, and resumes where it stopped when an op is split across reads.
//!
//! nats-server (`server/parser.go`) walks every byte through a ~70-state machine. This parser
//! instead identifies the op from its first bytes, finds the end of the control line with
//! `memchr`, splits the arguments into fixed arrays of offsets, and then jumps over the
//! payload by its declared length. Its state holds offsets into the caller's buffer, never
//! pointers, so the caller may move the unconsumed bytes between calls; and it never
//! searches a byte twice: a split control line resumes its `\n` search where it stopped,
//! and a split payload is only length-checked.
//!
//! What it accepts and how it fails is nats-server 2.15.1's, observed on the binary and read
//! in `parser.go` / `client.go` (the table in the tests holds the cases):
//! - Op names are case-insensitive. `PUB`, `HPUB`, `SUB`, `UNSUB` and `-ERR` need a space
//!   or tab after the name; `CONNECT` and `INFO` do not (`CONNECT{}` is accepted); `PING`,
//!   `PONG` and `+OK` ignore anything up to the `\n` (`PINGxyz\r\n` is a PING).
//! - A line ends at `\n`; a bare LF is accepted. The argument is everything from the first
//!   non-blank byte after the name up to the `\n`, less one byte if a `\r` appeared after its
//!   first byte (nats-server's `drop`). That first byte is taken whatever it is, even `\r` or
//!   `\n`, so `PUB \r\n` has the one-byte argument `\r`.
//! - PUB and HPUB split their arguments on spaces and tabs; SUB and UNSUB also on `\r` and
//!   `\n`. Sizes are 1 to 9 ASCII digits (nats-server's `parseSize`); anything else,
//!   including a sign or a 10th digit, is a bad size, and so is an int64 overflow.
//! - The payload must be followed by exactly `\r\n`.
//! - `max_control_line` bounds the argument (not the op name, not the blanks after it), on
//!   every complete line and on every incomplete one.
//!
//! Deliberate differences, for inputs no client sends: nats-server treats `HMSG` from a
//! client as a zero-byte PUB when it arrives in one read and as an unknown op when split;
//! here it is always an unknown op. nats-server discards blanks after an op name and the
//! text after `PING`/`PONG`/`+OK` without limit; since this parser cannot consume bytes
//! without returning an op, more than `control_line_bytes_max` of either is an error, so
//! the caller's buffer stays bounded.

use std::fmt;

use memchr::memchr;

/// nats-server's `MAX_CONTROL_LINE_SIZE` (const.go), the default `max_control_line`.
pub const CONTROL_LINE_BYTES_MAX_DEFAULT: usize = 4096;
/// nats-server's `MAX_PAYLOAD_SIZE` (const.go), the default `max_payload`.
pub const PAYLOAD_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
/// nats-server's `parseSize` rejects sizes longer than nine digits ("999M").
const SIZE_DIGITS_MAX: usize = 9;
/// `PUB <subject> [reply] <size>`.
const PUB_ARGUMENTS_MAX: usize = 3;
/// `HPUB <subject> [reply] <header size> <total size>`.
const HPUB_ARGUMENTS_MAX: usize = 4;
/// `SUB <subject> [queue] <sid>`.
const SUB_ARGUMENTS_MAX: usize = 3;
/// `UNSUB <sid> [max]`.
const UNSUB_ARGUMENTS_MAX: usize = 2;

/// The two limits nats-server applies while parsing; both come from `Config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// `max_control_line`: the longest argument text a control line may carry.
    pub control_line_bytes_max: usize,
    /// `max_payload`: the largest declared PUB size or HPUB total size.
    pub payload_bytes_max: usize,
}

impl Default for ParserLimits {
    fn default() -> Self {
        Self {
            control_line_bytes_max: CONTROL_LINE_BYTES_MAX_DEFAULT,
            payload_bytes_max: PAYLOAD_BYTES_MAX_DEFAULT,
        }
    }
}

/// The size arguments of a PUB or HPUB as the client wrote them, kept only when they are
/// not canonical decimal (a leading zero): nats-server copies them into the MSG/HMSG it
/// delivers (`PUB foo 01` arrives as `MSG foo 1 01`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeText<'a> {
    /// HPUB's header size as written; `None` for PUB.
    pub header: Option<&'a [u8]>,
    /// The (total) size as written.
    pub total: &'a [u8],
}

/// One client op, borrowing the buffer passed to [`Parser::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// `CONNECT <json>`. The JSON is not checked here; nats-server closes the connection
    /// silently ("Protocol Violation") when it does not unmarshal, e.g. for `CONNECT\r\n`,
    /// whose argument is the single byte `\r`.
    Connect {
        /// The argument as sent, normally a JSON object.
        json: &'a [u8],
    },
    /// `PUB <subject> [reply] <size>` and its payload.
    Pub {
        /// Not validated: subject checks belong to the connection layer (pedantic mode).
        subject: &'a [u8],
        /// The reply subject, if given.
        reply: Option<&'a [u8]>,
        /// Exactly the declared number of bytes.
        payload: &'a [u8],
        /// The size as written, when not canonical.
        size_text: Option<SizeText<'a>>,
    },
    /// `HPUB <subject> [reply] <header size> <total size>` and its message.
    HPub {
        /// Not validated, as for PUB.
        subject: &'a [u8],
        /// The reply subject, if given.
        reply: Option<&'a [u8]>,
        /// The first `header size` bytes of the message, normally `NATS/1.0\r\n` through
        /// the blank line. nats-server does not check them; a zero header size delivers a
        /// plain MSG.
        headers: &'a [u8],
        /// The remaining `total size - header size` bytes.
        payload: &'a [u8],
        /// The sizes as written, when not canonical.
        size_text: Option<SizeText<'a>>,
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// Not validated: an invalid subject gets `-ERR 'Invalid Subject'` from the
        /// connection layer, which keeps the connection open.
        subject: &'a [u8],
        /// The queue group, if given.
        queue: Option<&'a [u8]>,
        /// The client's subscription id, any text.
        sid: &'a [u8],
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// The client's subscription id; unknown ids are not an error.
        sid: &'a [u8],
        /// `None` when absent or not a valid size (nats-server's -1 for both). nats-server
        /// unsubscribes at once unless `max` is above the number of messages delivered.
        max: Option<u64>,
    },
    /// `PING`: answer `PONG`.
    Ping,
    /// `PONG`: an answer to our PING.
    Pong,
    /// `INFO <json>` from a client: nats-server unmarshals and ignores it, closing silently
    /// ("Protocol Violation") when the JSON is invalid.
    Info {
        /// The argument as sent.
        json: &'a [u8],
    },
    /// `+OK`: ignored.
    Ok,
    /// `-ERR <message>`: nats-server logs it and closes the connection, sending nothing,
    /// with close reason "Parse Error".
    Err {
        /// The argument as sent, quotes included.
        message: &'a [u8],
    },
}

/// What one call to [`Parser::parse`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// A complete op.
    Op {
        /// The op, borrowing the buffer.
        op: Op<'a>,
        /// How many bytes at the front of the buffer it took.
        consumed: usize,
    },
    /// The op at the front is incomplete: call again with these bytes and more appended.
    NeedMore,
    /// The connection must be closed, after sending [`ParseError::err_text`] if any.
    Error(ParseError),
}

/// A client protocol error. Every variant closes the connection; they differ in the
/// `-ERR` sent first and in the close reason `/connz` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// `-ERR 'Unknown Protocol Operation'`, then close ("Protocol Violation").
    UnknownOperation(Unrecognized),
    /// `-ERR 'maximum control line exceeded'`, then close ("Maximum Control Line Exceeded").
    ControlLineTooLong,
    /// `-ERR 'Maximum Payload Violation'`, then close ("Maximum Message Payload Exceeded").
    PayloadTooLarge {
        /// The declared PUB size or HPUB total size.
        size: usize,
    },
    /// Close silently ("Protocol Violation"): the op name was fine, its arguments were not.
    ProtocolViolation(Violation),
}

/// Why nats-server's byte-by-byte parser would have failed (its `parseErr` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrecognized {
    /// The bytes at an op boundary do not begin a client op.
    OperationName,
    /// A payload was not followed by `\r\n`.
    PayloadTerminator,
}

/// Which argument check failed (nats-server's `processPub` etc. error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// PUB with other than 2 or 3 arguments.
    PubArguments,
    /// PUB size not 1 to 9 decimal digits.
    PubSize,
    /// HPUB from a connection that did not ask for headers in CONNECT.
    HeadersNotSupported,
    /// HPUB with other than 3 or 4 arguments.
    HPubArguments,
    /// HPUB header size not 1 to 9 decimal digits.
    HPubHeaderSize,
    /// HPUB total size not 1 to 9 decimal digits.
    HPubTotalSize,
    /// HPUB header size larger than its total size.
    HPubHeaderLargerThanTotal,
    /// SUB with other than 2 or 3 arguments.
    SubArguments,
    /// UNSUB with other than 1 or 2 arguments.
    UnsubArguments,
}

impl ParseError {
    /// The text nats-server sends as `-ERR '<text>'` before closing; `None` closes silently.
    #[must_use]
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            ParseError::UnknownOperation(_) => Some("Unknown Protocol Operation"),
            ParseError::ControlLineTooLong => Some("maximum control line exceeded"),
            ParseError::PayloadTooLarge { .. } => Some("Maximum Payload Violation"),
            ParseError::ProtocolViolation(_) => None,
        }
    }

    /// Whether the connection closes. Always true: every parse error ends the connection;
    /// the method exists so callers handle all protocol errors the same way.
    #[must_use]
    pub fn closes_connection(&self) -> bool {
        true
    }

    /// nats-server's `ClosedState` string, as `/connz?state=closed` reports it.
    #[must_use]
    pub fn close_reason(&self) -> &'static str {
        match self {
            ParseError::ControlLineTooLong => "Maximum Control Line Exceeded",
            ParseError::PayloadTooLarge { .. } => "Maximum Message Payload Exceeded",
            ParseError::UnknownOperation(_) | ParseError::ProtocolViolation(_) => {
                "Protocol Violation"
            }
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnknownOperation(Unrecognized::OperationName) => {
                f.write_str("unknown protocol operation")
            }
            ParseError::UnknownOperation(Unrecognized::PayloadTerminator) => {
                f.write_str("payload not followed by CRLF")
            }
            ParseError::ControlLineTooLong => f.write_str("maximum control line exceeded"),
            ParseError::PayloadTooLarge { size } => {
                write!(f, "maximum payload exceeded: {size} bytes")
            }
            ParseError::ProtocolViolation(violation) => write!(f, "{violation:?}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The client ops, as the parser tells them apart before their arguments are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Pub,
    HPub,
    Sub,
    Unsub,
    Connect,
    Info,
    Ping,
    Pong,
    Ok,
    Err,
}

impl OpKind {
    /// The op name in upper case, as it starts the line.
    const fn name(self) -> &'static [u8] {
        match self {
            OpKind::Pub => b"PUB",
            OpKind::HPub => b"HPUB",
            OpKind::Sub => b"SUB",
            OpKind::Unsub => b"UNSUB",
            OpKind::Connect => b"CONNECT",
            OpKind::Info => b"INFO",
            OpKind::Ping => b"PING",
            OpKind::Pong => b"PONG",
            OpKind::Ok => b"+OK",
            OpKind::Err => b"-ERR",
        }
    }

    /// nats-server has an `OP_<NAME>` state accepting only a space or tab for these.
    const fn blank_required(self) -> bool {
        matches!(
            self,
            OpKind::Pub | OpKind::HPub | OpKind::Sub | OpKind::Unsub | OpKind::Err
        )
    }

    /// PING, PONG and +OK have no argument; whatever precedes their `\n` is ignored.
    const fn has_arguments(self) -> bool {
        !matches!(self, OpKind::Ping | OpKind::Pong | OpKind::Ok)
    }
}

/// A range of the caller's buffer, stored as offsets so the buffer may move between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    /// First byte. Invariant: `start <= end`.
    start: usize,
    /// One past the last byte.
    end: usize,
}

impl Span {
    const EMPTY: Span = Span { start: 0, end: 0 };

    fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.start..self.end]
    }
}

/// How far the search for the end of a control line has gone.
#[derive(Debug, Clone, Copy)]
struct LineProgress {
    /// The op named at the start of the line.
    kind: OpKind,
    /// The argument's first byte; `None` while only blanks follow the name (ops with
    /// arguments only).
    arg_start: Option<usize>,
    /// The next byte to examine: all before it are blanks (while `arg_start` is `None`) or
    /// known not to be `\n`.
    cursor: usize,
}

/// A PUB or HPUB whose control line is parsed and whose payload is awaited.
#[derive(Debug, Clone, Copy)]
struct PayloadProgress {
    /// The subject argument.
    subject: Span,
    /// The reply argument, if given.
    reply: Option<Span>,
    /// HPUB's header size, at most `total_bytes`; `None` for PUB.
    header_bytes: Option<usize>,
    /// Where the payload starts: one past the control line's `\n`.
    payload_start: usize,
    /// The declared size (HPUB: total size), at most `payload_bytes_max`.
    total_bytes: usize,
    /// Where the size arguments are, when either is not canonical: (header, total).
    size_text: Option<(Option<Span>, Span)>,
}

/// Where the parser is within the op at the front of the buffer.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Nothing known beyond, possibly, an incomplete op name (at most 6 bytes, re-read).
    Start,
    /// The op is known; its line end is being searched for.
    Line(LineProgress),
    /// The control line is parsed; the payload and its `\r\n` are awaited.
    Payload(PayloadProgress),
}

/// A complete control line.
#[derive(Debug, Clone, Copy)]
struct ControlLine {
    /// The op named at the start of the line.
    kind: OpKind,
    /// The argument text, after nats-server's trailing-`\r` drop.
    arg: Span,
    /// One past the `\n`.
    next: usize,
}

/// The resumable parser for one client connection.
#[derive(Debug)]
pub struct Parser {
    /// Fixed at construction.
    limits: ParserLimits,
    /// nats-server's `c.headers`: CONNECT asked for headers and the server supports them.
    /// False until the connection layer says otherwise, as in nats-server.
    headers_supported: bool,
    /// Progress within the op at the front of the buffer; `Start` after every op or error.
    state: State,
    /// The buffer length at the last `NeedMore`; the next buffer must be at least as long.
    /// Zero in `State::Start`.
    seen_bytes: usize,
    /// Bytes searched for blanks or `\n`, to let tests prove nothing is searched twice.
    #[cfg(test)]
    searched_bytes: usize,
}

impl Parser {
    /// A parser at an op boundary, with headers not yet enabled.
    #[must_use]
    pub fn new(limits: ParserLimits) -> Self {
        Self {
            limits,
            headers_supported: false,
            state: State::Start,
            seen_bytes: 0,
            #[cfg(test)]
            searched_bytes: 0,
        }
    }

    /// Changes the limits for the ops that follow (config reload); an op already
    /// half parsed keeps the checks it passed.
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.limits = limits;
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> ParserLimits {
        self.limits
    }

    /// Allows HPUB. Call after a CONNECT with `"headers":true` when the server supports
    /// headers; until then an HPUB closes the connection silently, before its sizes are
    /// even checked against `max_payload`, as in nats-server.
    pub fn set_headers_supported(&mut self, supported: bool) {
        self.headers_supported = supported;
    }

    /// Whether HPUB is allowed.
    #[must_use]
    pub fn headers_supported(&self) -> bool {
        self.headers_supported
    }

    /// While a PUB/HPUB payload is awaited, the total length of the op (control line,
    /// payload and its `\r\n`), so the caller can make room for it in one go.
    #[must_use]
    pub fn bytes_needed(&self) -> Option<usize> {
        match self.state {
            State::Payload(payload) => Some(payload.payload_start + payload.total_bytes + 2),
            State::Start | State::Line(_) => None,
        }
    }

    /// Forgets any partial op, e.g. when the connection's buffer is discarded.
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.seen_bytes = 0;
    }

    /// Parses the op at the front of `buf`, which holds the connection's unconsumed bytes
    /// starting at an op boundary. After `NeedMore`, call again with the same bytes plus
    /// more appended. After an error the connection must be closed; the parser is reset.
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than the buffer of the previous `NeedMore`: the caller dropped
    /// bytes the parser had already examined.
    #[must_use]
    pub fn parse<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        assert!(
            buf.len() >= self.seen_bytes,
            "parser resumed with {} bytes after seeing {}",
            buf.len(),
            self.seen_bytes
        );
        let step = match self.state {
            State::Start => self.start_op(buf),
            State::Line(line) => self.continue_line(buf, line),
            State::Payload(payload) => self.finish_payload(buf, payload),
        };
        if let Step::NeedMore = step {
            self.seen_bytes = buf.len();
        } else {
            self.reset();
        }
        step
    }

    fn start_op<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        match identify(buf) {
            Identified::Op(kind) => {
                let name_bytes = kind.name().len();
                let line = LineProgress {
                    kind,
                    arg_start: (!kind.has_arguments()).then_some(name_bytes),
                    cursor: name_bytes,
                };
                self.continue_line(buf, line)
            }
            Identified::NeedMore => Step::NeedMore,
            Identified::Unknown => {
                Step::Error(ParseError::UnknownOperation(Unrecognized::OperationName))
            }
        }
    }

    fn continue_line<'a>(&mut self, buf: &'a [u8], line: LineProgress) -> Step<'a> {
        match self.find_line_end(buf, line) {
            Ok(Some(line)) => self.dispatch(buf, line),
            Ok(None) => Step::NeedMore,
            Err(error) => Step::Error(error),
        }
    }

    /// Resumes the search for the line end; `Ok(None)` means the line is incomplete and the
    /// progress is saved.
    fn find_line_end(
        &mut self,
        buf: &[u8],
        mut line: LineProgress,
    ) -> Result<Option<ControlLine>, ParseError> {
        let Some(arg_start) = self.find_arg_start(buf, &mut line)? else {
            self.state = State::Line(line);
            return Ok(None);
        };
        let searched = &buf[line.cursor..];
        self.count_searched(searched.len());
        let Some(offset) = memchr(b'\n', searched) else {
            if self.partial_line_too_long(buf, line.kind, arg_start) {
                return Err(ParseError::ControlLineTooLong);
            }
            line.cursor = buf.len();
            self.state = State::Line(line);
            return Ok(None);
        };
        let newline = line.cursor + offset;
        let arg_end = newline - dropped_bytes(buf, line.kind, arg_start, newline);
        if arg_end - arg_start > self.limits.control_line_bytes_max {
            return Err(ParseError::ControlLineTooLong);
        }
        let arg = Span {
            start: arg_start,
            end: arg_end,
        };
        Ok(Some(ControlLine {
            kind: line.kind,
            arg,
            next: newline + 1,
        }))
    }

    /// Resumes skipping the blanks between the op name and its argument; `Ok(None)` while
    /// only blanks have arrived.
    fn find_arg_start(
        &mut self,
        buf: &[u8],
        line: &mut LineProgress,
    ) -> Result<Option<usize>, ParseError> {
        if line.arg_start.is_some() {
            return Ok(line.arg_start);
        }
        let found = self.skip_blanks(buf, line.cursor);
        // Beyond nats-server, which discards blanks unbounded: see the module docs.
        let name_bytes = line.kind.name().len();
        if found.unwrap_or(buf.len()) - name_bytes > self.limits.control_line_bytes_max {
            return Err(ParseError::ControlLineTooLong);
        }
        // nats-server takes the argument's first byte unexamined, even a `\n`, so the
        // search for the line end starts after it.
        line.cursor = found.map_or(buf.len(), |start| start + 1);
        line.arg_start = found;
        Ok(found)
    }

    /// The first non-blank at or after `from`, if the buffer has one.
    fn skip_blanks(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let found = buf[from..].iter().position(|&byte| !is_blank(byte));
        self.count_searched(found.map_or(buf.len() - from, |offset| offset + 1));
        found.map(|offset| from + offset)
    }

    /// nats-server's check on an incomplete argument at the end of a read (parser.go's
    /// split-buffer path): its length so far, less a `\r` already dropped, over the limit.
    fn partial_line_too_long(&self, buf: &[u8], kind: OpKind, arg_start: usize) -> bool {
        let limit = self.limits.control_line_bytes_max;
        let raw_bytes = buf.len() - arg_start;
        if raw_bytes <= limit {
            return false;
        }
        // Only at exactly one byte over can the drop matter, so only then is it looked for.
        raw_bytes > limit + 1 || dropped_bytes(buf, kind, arg_start, buf.len()) == 0
    }

    fn dispatch<'a>(&mut self, buf: &'a [u8], line: ControlLine) -> Step<'a> {
        let arg = line.arg.of(buf);
        let op = match line.kind {
            OpKind::Pub | OpKind::HPub => {
                return match self.parse_publish(buf, line) {
                    Ok(payload) => self.finish_payload(buf, payload),
                    Err(error) => Step::Error(error),
                };
            }
            OpKind::Sub => parse_sub(buf, line.arg),
            OpKind::Unsub => parse_unsub(buf, line.arg),
            OpKind::Connect => Ok(Op::Connect { json: arg }),
            OpKind::Info => Ok(Op::Info { json: arg }),
            OpKind::Err => Ok(Op::Err { message: arg }),
            OpKind::Ping => Ok(Op::Ping),
            OpKind::Pong => Ok(Op::Pong),
            OpKind::Ok => Ok(Op::Ok),
        };
        match op {
            Ok(op) => Step::Op {
                op,
                consumed: line.next,
            },
            Err(error) => Step::Error(error),
        }
    }

    /// PUB and HPUB arguments, checked in nats-server's order (`processPub`,
    /// `processHeaderPub`): arity, sizes, then `max_payload`.
    fn parse_publish(&self, buf: &[u8], line: ControlLine) -> Result<PayloadProgress, ParseError> {
        let arguments = if line.kind == OpKind::Pub {
            pub_arguments(buf, line.arg)
        } else if self.headers_supported {
            hpub_arguments(buf, line.arg)
        } else {
            Err(Violation::HeadersNotSupported)
        };
        let arguments = arguments.map_err(ParseError::ProtocolViolation)?;
        if arguments.total_bytes > self.limits.payload_bytes_max {
            return Err(ParseError::PayloadTooLarge {
                size: arguments.total_bytes,
            });
        }
        let canonical = |span: Span| !non_canonical_size(span.of(buf));
        let size_text = (!(arguments.header_text.is_none_or(canonical)
            && canonical(arguments.total_text)))
        .then_some((arguments.header_text, arguments.total_text));
        Ok(PayloadProgress {
            subject: arguments.subject,
            reply: arguments.reply,
            header_bytes: arguments.header_bytes,
            payload_start: line.next,
            total_bytes: arguments.total_bytes,
            size_text,
        })
    }

    /// Completes a PUB/HPUB once its payload and `\r\n` are in `buf`; the payload itself is
    /// never examined, only the two bytes after it, each as soon as it arrives.
    fn finish_payload<'a>(&mut self, buf: &'a [u8], payload: PayloadProgress) -> Step<'a> {
        let end = payload.payload_start + payload.total_bytes;
        let terminator_ok = matches!(buf.get(end), None | Some(b'\r'))
            && matches!(buf.get(end + 1), None | Some(b'\n'));
        if !terminator_ok {
            return Step::Error(ParseError::UnknownOperation(
                Unrecognized::PayloadTerminator,
            ));
        }
        if buf.len() < end + 2 {
            self.state = State::Payload(payload);
            return Step::NeedMore;
        }
        let subject = payload.subject.of(buf);
        let reply = payload.reply.map(|reply| reply.of(buf));
        let message = &buf[payload.payload_start..end];
        let size_text = payload.size_text.map(|(header, total)| SizeText {
            header: header.map(|header| header.of(buf)),
            total: total.of(buf),
        });
        let op = match payload.header_bytes {
            None => Op::Pub {
                subject,
                reply,
                payload: message,
                size_text,
            },
            Some(header_bytes) => Op::HPub {
                subject,
                reply,
                headers: &message[..header_bytes],
                payload: &message[header_bytes..],
                size_text,
            },
        };
        Step::Op {
            op,
            consumed: end + 2,
        }
    }

    #[cfg(test)]
    fn count_searched(&mut self, bytes: usize) {
        self.searched_bytes += bytes;
    }

    #[cfg(not(test))]
    #[inline(always)]
    #[allow(clippy::unused_self)] // Mirrors the test build's counting method.
    fn count_searched(&mut self, _bytes: usize) {}
}

/// The outcome of reading an op name.
enum Identified {
    Op(OpKind),
    NeedMore,
    Unknown,
}

/// Reads the op name at the front of `buf`, failing as soon as a byte rules out every
/// client op, as nats-server does (so `FOO` fails before any `\n` arrives).
fn identify(buf: &[u8]) -> Identified {
    let Some(&first) = buf.first() else {
        return Identified::NeedMore;
    };
    let kind = match first.to_ascii_uppercase() {
        b'P' => match buf.get(1).map(u8::to_ascii_uppercase) {
            None => return Identified::NeedMore,
            Some(b'U') => OpKind::Pub,
            Some(b'I') => OpKind::Ping,
            Some(b'O') => OpKind::Pong,
            Some(_) => return Identified::Unknown,
        },
        b'H' => OpKind::HPub,
        b'S' => OpKind::Sub,
        b'U' => OpKind::Unsub,
        b'C' => OpKind::Connect,
        b'I' => OpKind::Info,
        b'+' => OpKind::Ok,
        b'-' => OpKind::Err,
        // Includes MSG, and the route/leaf ops R*, L* and A* a client may not send.
        _ => return Identified::Unknown,
    };
    let name = kind.name();
    let available = buf.len().min(name.len());
    let matches = buf[..available]
        .iter()
        .zip(name)
        .all(|(byte, expected)| byte.to_ascii_uppercase() == *expected);
    if !matches {
        return Identified::Unknown;
    }
    if available < name.len() {
        return Identified::NeedMore;
    }
    if !kind.blank_required() {
        return Identified::Op(kind);
    }
    match buf.get(name.len()) {
        None => Identified::NeedMore,
        Some(&byte) if is_blank(byte) => Identified::Op(kind),
        Some(_) => Identified::Unknown,
    }
}

/// How many bytes nats-server drops from the end of a line ending before `end`: for ops
/// with arguments one if a `\r` appeared after the argument's first byte (its `drop` flag
/// is set by any `\r`, not only the last); for PING/PONG/+OK nothing matters but a final
/// `\r`, which is not counted against the limit.
fn dropped_bytes(buf: &[u8], kind: OpKind, arg_start: usize, end: usize) -> usize {
    let after_first = (arg_start + usize::from(kind.has_arguments())).min(end);
    let examined = &buf[after_first..end];
    match examined.last() {
        Some(b'\r') => 1,
        Some(_) if kind.has_arguments() => usize::from(memchr(b'\r', examined).is_some()),
        Some(_) | None => 0,
    }
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// SUB and UNSUB split with nats-server's `splitArg`, which also breaks on `\r` and `\n`.
fn is_sub_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits the argument into at most `N` tokens; a count of `N + 1` means "more than N".
fn split_arguments<const N: usize>(
    buf: &[u8],
    arg: Span,
    is_separator: impl Fn(u8) -> bool,
) -> ([Span; N], usize) {
    let mut tokens = [Span::EMPTY; N];
    let mut count = 0;
    let mut index = arg.start;
    while index < arg.end {
        if is_separator(buf[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < arg.end && !is_separator(buf[index]) {
            index += 1;
        }
        if count == N {
            return (tokens, N + 1);
        }
        tokens[count] = Span { start, end: index };
        count += 1;
    }
    (tokens, count)
}

/// nats-server's `parseSize`: one to nine ASCII digits, else invalid.
fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > SIZE_DIGITS_MAX {
        return None;
    }
    digits.iter().try_fold(0usize, |value, &digit| {
        digit
            .is_ascii_digit()
            .then(|| value * 10 + usize::from(digit - b'0'))
    })
}

/// True for a size written with a leading zero (`01`, `00`): it must be echoed as written.
fn non_canonical_size(digits: &[u8]) -> bool {
    digits.len() > 1 && digits[0] == b'0'
}

/// The arguments of a PUB or HPUB.
struct PublishArguments {
    subject: Span,
    reply: Option<Span>,
    /// HPUB's header size; `None` for PUB.
    header_bytes: Option<usize>,
    /// The (total) size.
    total_bytes: usize,
    /// Where HPUB's header size is written.
    header_text: Option<Span>,
    /// Where the (total) size is written.
    total_text: Span,
}

/// `PUB <subject> [reply] <size>`.
fn pub_arguments(buf: &[u8], arg: Span) -> Result<PublishArguments, Violation> {
    let (tokens, count) = split_arguments::<PUB_ARGUMENTS_MAX>(buf, arg, is_blank);
    let (subject, reply, total) = match count {
        2 => (tokens[0], None, tokens[1]),
        3 => (tokens[0], Some(tokens[1]), tokens[2]),
        _ => return Err(Violation::PubArguments),
    };
    let total_bytes = parse_size(total.of(buf)).ok_or(Violation::PubSize)?;
    Ok(PublishArguments {
        subject,
        reply,
        header_bytes: None,
        total_bytes,
        header_text: None,
        total_text: total,
    })
}

/// `HPUB <subject> [reply] <header size> <total size>`.
fn hpub_arguments(buf: &[u8], arg: Span) -> Result<PublishArguments, Violation> {
    let (tokens, count) = split_arguments::<HPUB_ARGUMENTS_MAX>(buf, arg, is_blank);
    let (subject, reply, header, total) = match count {
        3 => (tokens[0], None, tokens[1], tokens[2]),
        4 => (tokens[0], Some(tokens[1]), tokens[2], tokens[3]),
        _ => return Err(Violation::HPubArguments),
    };
    let header_bytes = parse_size(header.of(buf)).ok_or(Violation::HPubHeaderSize)?;
    let total_bytes = parse_size(total.of(buf)).ok_or(Violation::HPubTotalSize)?;
    if header_bytes > total_bytes {
        return Err(Violation::HPubHeaderLargerThanTotal);
    }
    Ok(PublishArguments {
        subject,
        reply,
        header_bytes: Some(header_bytes),
        total_bytes,
        header_text: Some(header),
        total_text: total,
    })
}

fn parse_sub(buf: &[u8], arg: Span) -> Result<Op<'_>, ParseError> {
    let (tokens, count) = split_arguments::<SUB_ARGUMENTS_MAX>(buf, arg, is_sub_separator);
    let (subject, queue, sid) = match count {
        2 => (tokens[0], None, tokens[1]),
        3 => (tokens[0], Some(tokens[1]), tokens[2]),
        _ => return Err(ParseError::ProtocolViolation(Violation::SubArguments)),
    };
    Ok(Op::Sub {
        subject: subject.of(buf),
        queue: queue.map(|queue| queue.of(buf)),
        sid: sid.of(buf),
    })
}

fn parse_unsub(buf: &[u8], arg: Span) -> Result<Op<'_>, ParseError> {
    let (tokens, count) = split_arguments::<UNSUB_ARGUMENTS_MAX>(buf, arg, is_sub_separator);
    let max = match count {
        1 => None,
        2 => parse_size(tokens[1].of(buf)).map(|max| max as u64),
        _ => return Err(ParseError::ProtocolViolation(Violation::UnsubArguments)),
    };
    Ok(Op::Unsub {
        sid: tokens[0].of(buf),
        max,
    })
}

/// The shared table of wire cases: bytes a client sends and what nats-server 2.15.1 does
/// with them, for the parser tests here and for socket tests elsewhere.
#[cfg(test)]
pub(crate) mod wire_cases {
    use super::{Op, ParseError, ParserLimits, Unrecognized, Violation};

    /// Small limits so the limit cases stay short; a reference nats-server for these
    /// cases runs with `max_control_line: 64` and `max_payload: 32`.
    pub(crate) const WIRE_CASE_LIMITS: ParserLimits = ParserLimits {
        control_line_bytes_max: 64,
        payload_bytes_max: 32,
    };

    /// How the connection stands after the input.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum WireEnd {
        /// Every byte formed an op; the connection is open.
        Open,
        /// The last op is incomplete; the connection is open, waiting.
        Incomplete,
        /// The connection is closed with this error.
        Error(ParseError),
    }

    /// One case. A CONNECT whose JSON contains `"headers":true` enables HPUB for the rest
    /// of the case, as the connection layer would.
    #[derive(Debug)]
    pub(crate) struct WireCase {
        pub(crate) name: &'static str,
        pub(crate) input: &'static [u8],
        pub(crate) ops: &'static [Op<'static>],
        pub(crate) end: WireEnd,
    }

    use WireEnd::{Error, Incomplete, Open};

    const fn case(
        name: &'static str,
        input: &'static [u8],
        ops: &'static [Op<'static>],
        end: WireEnd,
    ) -> WireCase {
        WireCase {
            name,
            input,
            ops,
            end,
        }
    }

    const fn publish(subject: &'static [u8], payload: &'static [u8]) -> Op<'static> {
        Op::Pub {
            subject,
            reply: None,
            payload,
            size_text: None,
        }
    }

    const fn subscribe(subject: &'static [u8], sid: &'static [u8]) -> Op<'static> {
        Op::Sub {
            subject,
            queue: None,
            sid,
        }
    }

    const HEADERS_ON: Op<'static> = Op::Connect {
        json: br#"{"headers":true}"#,
    };
    const UNKNOWN: WireEnd = Error(ParseError::UnknownOperation(Unrecognized::OperationName));
    const UNTERMINATED: WireEnd = Error(ParseError::UnknownOperation(
        Unrecognized::PayloadTerminator,
    ));
    const LONG_LINE: WireEnd = Error(ParseError::ControlLineTooLong);
    const fn violation(violation: Violation) -> WireEnd {
        Error(ParseError::ProtocolViolation(violation))
    }
    const fn too_large(size: usize) -> WireEnd {
        Error(ParseError::PayloadTooLarge { size })
    }

    pub(crate) const WIRE_CASES: &[WireCase] = &[
        // PUB
        case("pub", b"PUB foo 5\r\nhello\r\n", &[publish(b"foo", b"hello")], Open),
        case(
            "pub_reply",
            b"PUB foo bar 5\r\nhello\r\n",
            &[Op::Pub {
                subject: b"foo",
                reply: Some(b"bar"),
                payload: b"hello",
                size_text: None,
            }],
            Open,
        ),
        case("pub_zero_payload", b"PUB foo 0\r\n\r\n", &[publish(b"foo", b"")], Open),
        case(
            "pub_payload_with_crlf",
            b"PUB foo 6\r\nab\r\ncd\r\n",
            &[publish(b"foo", b"ab\r\ncd")],
            Open,
        ),
        case(
            "pub_payload_that_looks_like_ops",
            b"PUB foo 12\r\nPING\r\nPONG\r\n\r\n",
            &[publish(b"foo", b"PING\r\nPONG\r\n")],
            Open,
        ),
        case(
            "pub_payload_at_max_payload",
            b"PUB foo 32\r\n0123456789abcdef0123456789abcdef\r\n",
            &[publish(b"foo", b"0123456789abcdef0123456789abcdef")],
            Open,
        ),
        case(
            "pub_case_insensitive",
            b"pub foo 1\r\nx\r\nPuB foo 1\r\ny\r\n",
            &[publish(b"foo", b"x"), publish(b"foo", b"y")],
            Open,
        ),
        case(
            "pub_tabs_and_runs_of_blanks",
            b"PUB\t foo \t\tbar  2  \r\nhi\r\n",
            &[Op::Pub {
                subject: b"foo",
                reply: Some(b"bar"),
                payload: b"hi",
                size_text: None,
            }],
            Open,
        ),
        case("pub_bare_lf", b"PUB foo 2\nhi\r\n", &[publish(b"foo", b"hi")], Open),
        case(
            "pub_leading_zeros",
            b"PUB foo 002\r\nhi\r\n",
            &[Op::Pub {
                subject: b"foo",
                reply: None,
                payload: b"hi",
                size_text: Some(super::SizeText {
                    header: None,
                    total: b"002",
                }),
            }],
            Open,
        ),
        case(
            "pub_cr_inside_subject_is_kept",
            b"PUB foo\rx 0\r\n\r\n",
            &[publish(b"foo\rx", b"")],
            Open,
        ),
        // HPUB
        case(
            "hpub",
            b"CONNECT {\"headers\":true}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            &[
                HEADERS_ON,
                Op::HPub {
                    subject: b"foo",
                    reply: None,
                    headers: b"NATS/1.0\r\n\r\n",
                    payload: b"hi",
                    size_text: None,
                },
            ],
            Open,
        ),
        case(
            "hpub_reply_lowercase_tabs",
            b"CONNECT {\"headers\":true}\r\nhpub\tfoo\tbar\t18  20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\n",
            &[
                HEADERS_ON,
                Op::HPub {
                    subject: b"foo",
                    reply: Some(b"bar"),
                    headers: b"NATS/1.0\r\nA: B\r\n\r\n",
                    payload: b"hi",
                    size_text: None,
                },
            ],
            Open,
        ),
        case(
            "hpub_headers_only",
            b"CONNECT {\"headers\":true}\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            &[
                HEADERS_ON,
                Op::HPub {
                    subject: b"foo",
                    reply: None,
                    headers: b"NATS/1.0\r\n\r\n",
                    payload: b"",
                    size_text: None,
                },
            ],
            Open,
        ),
        case(
            "hpub_zero_header_size",
            b"CONNECT {\"headers\":true}\r\nHPUB foo 0 2\r\nhi\r\n",
            &[
                HEADERS_ON,
                Op::HPub {
                    subject: b"foo",
                    reply: None,
                    headers: b"",
                    payload: b"hi",
                    size_text: None,
                },
            ],
            Open,
        ),
        // SUB and UNSUB
        case("sub", b"SUB foo 1\r\n", &[subscribe(b"foo", b"1")], Open),
        case(
            "sub_queue_tabs_lowercase",
            b"sub\tfoo\t\tq \t1  \r\n",
            &[Op::Sub {
                subject: b"foo",
                queue: Some(b"q"),
                sid: b"1",
            }],
            Open,
        ),
        case(
            "sub_cr_inside_bare_lf_drops_last_byte",
            b"SUB foo\rbar 1\n",
            &[subscribe(b"foo", b"bar")],
            Open,
        ),
        case(
            "unsub",
            b"UNSUB 1\r\nunsub 2 10\r\nUNSUB\t3\t0\r\n",
            &[
                Op::Unsub {
                    sid: b"1",
                    max: None,
                },
                Op::Unsub {
                    sid: b"2",
                    max: Some(10),
                },
                Op::Unsub {
                    sid: b"3",
                    max: Some(0),
                },
            ],
            Open,
        ),
        case(
            "unsub_max_invalid_is_absent",
            b"UNSUB 1 abc\r\nUNSUB 1 1000000000\r\n",
            &[
                Op::Unsub {
                    sid: b"1",
                    max: None,
                },
                Op::Unsub {
                    sid: b"1",
                    max: None,
                },
            ],
            Open,
        ),
        // PING, PONG, CONNECT, INFO, +OK, -ERR
        case("ping_pong", b"PING\r\nPONG\r\n", &[Op::Ping, Op::Pong], Open),
        case("ping_mixed_case", b"ping\r\npInG\r\n", &[Op::Ping, Op::Ping], Open),
        case(
            "ping_ignores_trailing_text",
            b"PINGxyz\r\nPING foo bar\r\n",
            &[Op::Ping, Op::Ping],
            Open,
        ),
        case("ping_bare_lf", b"PING\n", &[Op::Ping], Open),
        case("ping_lone_cr_is_ignored", b"PING\rPING\r\n", &[Op::Ping], Open),
        case(
            "connect",
            b"CONNECT {\"verbose\":false}\r\n",
            &[Op::Connect {
                json: b"{\"verbose\":false}",
            }],
            Open,
        ),
        case(
            "connect_without_blank",
            b"CONNECT{}\r\nconnect\t {}\r\n",
            &[Op::Connect { json: b"{}" }, Op::Connect { json: b"{}" }],
            Open,
        ),
        case(
            "info",
            b"INFO {}\r\nINFO{}\r\n",
            &[Op::Info { json: b"{}" }, Op::Info { json: b"{}" }],
            Open,
        ),
        case("ok", b"+OK\r\n+ok junk\r\n", &[Op::Ok, Op::Ok], Open),
        case(
            "err_from_client",
            b"-ERR 'boom'\r\n",
            &[Op::Err {
                message: b"'boom'",
            }],
            Open,
        ),
        case(
            "pipelined",
            b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nPING\r\n",
            &[
                subscribe(b"foo", b"1"),
                publish(b"foo", b"hi"),
                Op::Unsub {
                    sid: b"1",
                    max: None,
                },
                Op::Ping,
            ],
            Open,
        ),
        case(
            "control_line_at_limit",
            b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\r\n",
            &[subscribe(
                b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                b"1",
            )],
            Open,
        ),
        // Incomplete
        case(
            "incomplete_line_at_limit_with_cr",
            b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r",
            &[],
            Incomplete,
        ),
        case("incomplete_payload", b"PUB foo 5\r\nhel", &[], Incomplete),
        // Unknown Protocol Operation
        case("unknown_op", b"FOO\r\n", &[], UNKNOWN),
        case("unknown_op_without_newline", b"FOO", &[], UNKNOWN),
        case("blank_before_op", b" PING\r\n", &[], UNKNOWN),
        case("empty_line", b"\r\n", &[], UNKNOWN),
        case("truncated_op_name", b"PIN\r\n", &[], UNKNOWN),
        case("pub_without_blank", b"PUB\r\n", &[], UNKNOWN),
        case("pub_with_suffix", b"PUBX foo 1\r\n", &[], UNKNOWN),
        case("unsub_without_blank", b"UNSUB\r\n", &[], UNKNOWN),
        case("err_without_blank", b"-ERR\r\n", &[], UNKNOWN),
        case("msg_from_client", b"MSG foo 1 2\r\n", &[], UNKNOWN),
        case("hmsg_from_client", b"HMSG foo 1 2 3\r\nPING\r\n", &[], UNKNOWN),
        case("route_sub_from_client", b"RS+ foo\r\n", &[], UNKNOWN),
        case("leaf_sub_from_client", b"LS+ foo\r\n", &[], UNKNOWN),
        case("account_sub_from_client", b"A+ foo\r\n", &[], UNKNOWN),
        case("unknown_after_valid", b"PING\r\nXYZ\r\n", &[Op::Ping], UNKNOWN),
        case("payload_longer_than_size", b"PUB foo 1\r\nxy\r\n", &[], UNTERMINATED),
        case("payload_bare_lf", b"PUB foo 1\r\nx\nPING\r\n", &[], UNTERMINATED),
        case("payload_missing", b"PUB foo 0\r\nPING\r\n", &[], UNTERMINATED),
        // Silent close: bad arguments
        case(
            "pub_four_arguments",
            b"PUB a b c 1\r\n",
            &[],
            violation(Violation::PubArguments),
        ),
        case(
            "pub_blank_then_cr",
            b"PUB \r\n",
            &[],
            violation(Violation::PubArguments),
        ),
        case(
            "pub_one_argument",
            b"PUB foo\r\n",
            &[],
            violation(Violation::PubArguments),
        ),
        case(
            "pub_negative_size",
            b"PUB foo -1\r\n",
            &[],
            violation(Violation::PubSize),
        ),
        case(
            "pub_signed_size",
            b"PUB foo +1\r\n",
            &[],
            violation(Violation::PubSize),
        ),
        case(
            "pub_non_numeric_size",
            b"PUB foo 1a\r\n",
            &[],
            violation(Violation::PubSize),
        ),
        case(
            "pub_ten_digit_size",
            b"PUB foo 1000000000\r\n",
            &[],
            violation(Violation::PubSize),
        ),
        case(
            "pub_size_overflows_int64",
            b"PUB foo 99999999999999999999\r\n",
            &[],
            violation(Violation::PubSize),
        ),
        case(
            "pub_size_with_inner_cr",
            b"PUB foo 5\r\r\n",
            &[],
            violation(Violation::PubSize),
        ),
        case(
            "hpub_without_headers",
            b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            &[],
            violation(Violation::HeadersNotSupported),
        ),
        case(
            "hpub_too_large_without_headers",
            b"HPUB foo 1 33\r\n",
            &[],
            violation(Violation::HeadersNotSupported),
        ),
        case(
            "hpub_two_arguments",
            b"CONNECT {\"headers\":true}\r\nHPUB foo 2\r\n",
            &[HEADERS_ON],
            violation(Violation::HPubArguments),
        ),
        case(
            "hpub_five_arguments",
            b"CONNECT {\"headers\":true}\r\nHPUB foo a b 1 2\r\n",
            &[HEADERS_ON],
            violation(Violation::HPubArguments),
        ),
        case(
            "hpub_bad_header_size",
            b"CONNECT {\"headers\":true}\r\nHPUB foo x 2\r\n",
            &[HEADERS_ON],
            violation(Violation::HPubHeaderSize),
        ),
        case(
            "hpub_bad_total_size",
            b"CONNECT {\"headers\":true}\r\nHPUB foo 1 -2\r\n",
            &[HEADERS_ON],
            violation(Violation::HPubTotalSize),
        ),
        case(
            "hpub_header_larger_than_total",
            b"CONNECT {\"headers\":true}\r\nHPUB foo 12 10\r\n",
            &[HEADERS_ON],
            violation(Violation::HPubHeaderLargerThanTotal),
        ),
        case(
            "sub_one_argument",
            b"SUB foo\r\n",
            &[],
            violation(Violation::SubArguments),
        ),
        case(
            "sub_four_arguments",
            b"SUB foo q 1 x\r\n",
            &[],
            violation(Violation::SubArguments),
        ),
        case(
            "sub_blank_then_cr",
            b"SUB \r\n",
            &[],
            violation(Violation::SubArguments),
        ),
        case(
            "unsub_blank_then_cr",
            b"UNSUB \r\n",
            &[],
            violation(Violation::UnsubArguments),
        ),
        case(
            "unsub_three_arguments",
            b"UNSUB 1 2 3\r\n",
            &[],
            violation(Violation::UnsubArguments),
        ),
        // Maximum Payload Violation
        case("pub_over_max_payload", b"PUB foo 33\r\n", &[], too_large(33)),
        case(
            "pub_nine_digit_size",
            b"PUB foo 999999999\r\n",
            &[],
            too_large(999_999_999),
        ),
        case(
            "hpub_total_over_max_payload",
            b"CONNECT {\"headers\":true}\r\nHPUB foo 1 33\r\n",
            &[HEADERS_ON],
            too_large(33),
        ),
        // maximum control line exceeded
        case(
            "control_line_one_over",
            b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\r\n",
            &[],
            LONG_LINE,
        ),
        case(
            "control_line_over_without_newline",
            b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &[],
            LONG_LINE,
        ),
        case(
            "control_line_connect",
            b"CONNECT {\"verbose\":false                                                  }\r\n",
            &[],
            LONG_LINE,
        ),
        case(
            "control_line_err",
            b"-ERR xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
            &[],
            LONG_LINE,
        ),
        case(
            "control_line_unsub",
            b"UNSUB 11111111111111111111111111111111111111111111111111111111111111111\r\n",
            &[],
            LONG_LINE,
        ),
        case(
            "control_line_checked_before_payload_size",
            b"PUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 99\r\n",
            &[],
            LONG_LINE,
        ),
    ];
}

/// The socket-level wire table shared with the black-box and differential tests.
#[cfg(test)]
#[path = "../../tests/wire_cases/table.rs"]
mod shared_wire_cases;

#[cfg(test)]
mod tests {
    use super::wire_cases::{WireEnd, WIRE_CASES, WIRE_CASE_LIMITS};
    use super::*;
    use proptest::prelude::*;

    /// Ops rendered as text: comparable across buffers, and readable when a test fails.
    fn render(op: &Op<'_>) -> String {
        fn text(bytes: &[u8]) -> String {
            format!("\"{}\"", bytes.escape_ascii())
        }
        fn optional(bytes: Option<&[u8]>) -> String {
            bytes.map_or_else(|| "-".to_string(), text)
        }
        fn size_suffix(size_text: &Option<SizeText<'_>>) -> String {
            size_text.map_or_else(String::new, |size| {
                format!(" sizes {} {}", optional(size.header), text(size.total))
            })
        }
        match op {
            Op::Connect { json } => format!("CONNECT {}", text(json)),
            Op::Pub {
                subject,
                reply,
                payload,
                size_text,
            } => format!(
                "PUB {} {} {}{}",
                text(subject),
                optional(*reply),
                text(payload),
                size_suffix(size_text)
            ),
            Op::HPub {
                subject,
                reply,
                headers,
                payload,
                size_text,
            } => format!(
                "HPUB {} {} {} {}{}",
                text(subject),
                optional(*reply),
                text(headers),
                text(payload),
                size_suffix(size_text)
            ),
            Op::Sub {
                subject,
                queue,
                sid,
            } => format!("SUB {} {} {}", text(subject), optional(*queue), text(sid)),
            Op::Unsub { sid, max } => format!("UNSUB {} {max:?}", text(sid)),
            Op::Ping => "PING".to_string(),
            Op::Pong => "PONG".to_string(),
            Op::Info { json } => format!("INFO {}", text(json)),
            Op::Ok => "+OK".to_string(),
            Op::Err { message } => format!("-ERR {}", text(message)),
        }
    }

    /// The shared socket table (the one the black-box and differential tests run):
    /// every case parses the same whole, split at every byte offset and byte by byte,
    /// and a case that keeps its connection open is fully parsed, ending in its PING.
    #[test]
    fn shared_wire_table_parses_the_same_however_it_is_split() {
        use super::shared_wire_cases::WIRE_CASES as SOCKET_CASES;
        let limits = ParserLimits::default();
        assert!(SOCKET_CASES.len() >= 50, "the shared table is included");
        for case in SOCKET_CASES {
            let whole = run(limits, [case.input]);
            for offset in 1..case.input.len() {
                let (first, second) = case.input.split_at(offset);
                assert_eq!(
                    run(limits, [first, second]),
                    whole,
                    "{} split at {offset}",
                    case.name
                );
            }
            let bytes = case.input.chunks(1);
            assert_eq!(run(limits, bytes), whole, "{} byte by byte", case.name);
            if !case.closes {
                assert_eq!(whole.end, WireEnd::Open, "{}", case.name);
                assert_eq!(
                    whole.ops.last().map(String::as_str),
                    Some("PING"),
                    "{}",
                    case.name
                );
            }
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        ops: Vec<String>,
        end: WireEnd,
    }

    /// Plays the connection layer: a growable buffer, bytes consumed on `Op`, more appended
    /// on `NeedMore`, and HPUB enabled by a CONNECT asking for headers.
    fn run<'i>(limits: ParserLimits, chunks: impl IntoIterator<Item = &'i [u8]>) -> Outcome {
        run_with(Parser::new(limits), chunks)
    }

    fn run_with<'i>(mut parser: Parser, chunks: impl IntoIterator<Item = &'i [u8]>) -> Outcome {
        let mut buffer = Vec::new();
        let mut ops = Vec::new();
        for chunk in chunks {
            buffer.extend_from_slice(chunk);
            loop {
                match parser.parse(&buffer) {
                    Step::Op { op, consumed } => {
                        if let Op::Connect { json } = op {
                            let headers = br#""headers":true"#;
                            if json.windows(headers.len()).any(|window| window == headers) {
                                parser.set_headers_supported(true);
                            }
                        }
                        ops.push(render(&op));
                        buffer.drain(..consumed);
                    }
                    Step::NeedMore => break,
                    Step::Error(error) => {
                        return Outcome {
                            ops,
                            end: WireEnd::Error(error),
                        }
                    }
                }
            }
        }
        let end = if buffer.is_empty() {
            WireEnd::Open
        } else {
            WireEnd::Incomplete
        };
        Outcome { ops, end }
    }

    fn expected(case: &wire_cases::WireCase) -> Outcome {
        Outcome {
            ops: case.ops.iter().map(render).collect(),
            end: case.end,
        }
    }

    #[test]
    fn wire_cases_parse_whole() {
        for case in WIRE_CASES {
            let outcome = run(WIRE_CASE_LIMITS, [case.input]);
            assert_eq!(outcome, expected(case), "case {}", case.name);
        }
    }

    #[test]
    fn wire_cases_parse_the_same_split_at_every_offset() {
        for case in WIRE_CASES {
            for split in 0..=case.input.len() {
                let (first, second) = case.input.split_at(split);
                let outcome = run(WIRE_CASE_LIMITS, [first, second]);
                assert_eq!(
                    outcome,
                    expected(case),
                    "case {} split at {split}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn wire_cases_parse_the_same_one_byte_at_a_time() {
        for case in WIRE_CASES {
            let outcome = run(WIRE_CASE_LIMITS, case.input.chunks(1));
            assert_eq!(outcome, expected(case), "case {}", case.name);
        }
    }

    #[test]
    fn wire_case_names_are_unique() {
        let mut names: Vec<_> = WIRE_CASES.iter().map(|case| case.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn errors_carry_nats_server_texts_and_close_reasons() {
        let cases = [
            (
                ParseError::UnknownOperation(Unrecognized::OperationName),
                Some("Unknown Protocol Operation"),
                "Protocol Violation",
            ),
            (
                ParseError::UnknownOperation(Unrecognized::PayloadTerminator),
                Some("Unknown Protocol Operation"),
                "Protocol Violation",
            ),
            (
                ParseError::ControlLineTooLong,
                Some("maximum control line exceeded"),
                "Maximum Control Line Exceeded",
            ),
            (
                ParseError::PayloadTooLarge { size: 2 },
                Some("Maximum Payload Violation"),
                "Maximum Message Payload Exceeded",
            ),
            (
                ParseError::ProtocolViolation(Violation::PubArguments),
                None,
                "Protocol Violation",
            ),
        ];
        for (error, text, reason) in cases {
            assert_eq!(error.err_text(), text, "{error:?}");
            assert_eq!(error.close_reason(), reason, "{error:?}");
            assert!(error.closes_connection());
        }
    }

    #[test]
    fn default_limits_are_nats_server_defaults() {
        let mut parser = Parser::new(ParserLimits::default());
        assert_eq!(
            parser.parse(b"PUB foo 1048577\r\n"),
            Step::Error(ParseError::PayloadTooLarge { size: 1_048_577 })
        );
        assert_eq!(parser.parse(b"PUB foo 1048576\r\n"), Step::NeedMore);
        assert_eq!(parser.bytes_needed(), Some(17 + 1_048_576 + 2));
        parser.reset();
        let mut line = b"SUB ".to_vec();
        line.resize(4 + 4096, b'a');
        assert_eq!(parser.parse(&line), Step::NeedMore);
        line.push(b'a');
        assert_eq!(
            parser.parse(&line),
            Step::Error(ParseError::ControlLineTooLong)
        );
    }

    /// nats-server closes silently when CONNECT's or INFO's JSON does not unmarshal; the
    /// parser hands the raw argument over, so the connection layer's JSON check does that.
    #[test]
    fn connect_without_argument_hands_over_the_cr() {
        let outcome = run(
            WIRE_CASE_LIMITS,
            [&b"CONNECT\r\nCONNECT \r\nINFO x\r\n"[..]],
        );
        assert_eq!(
            outcome.ops,
            ["CONNECT \"\\r\"", "CONNECT \"\\r\"", "INFO \"x\""]
        );
    }

    /// Where nats-server discards bytes without limit, the parser bounds the buffer instead.
    #[test]
    fn text_after_ping_and_blanks_after_op_are_bounded() {
        let limits = WIRE_CASE_LIMITS;
        let mut ping = b"PING".to_vec();
        ping.resize(4 + 64, b'x');
        ping.extend_from_slice(b"\r\n");
        assert_eq!(run(limits, [&ping[..]]).ops, ["PING"]);
        ping.insert(4, b'x');
        assert_eq!(
            run(limits, [&ping[..]]).end,
            WireEnd::Error(ParseError::ControlLineTooLong)
        );
        let mut blanks = b"PUB".to_vec();
        blanks.resize(3 + 64, b' ');
        blanks.extend_from_slice(b"foo 0\r\n\r\n");
        assert_eq!(run(limits, [&blanks[..]]).ops, ["PUB \"foo\" - \"\""]);
        blanks.insert(3, b'\t');
        assert_eq!(
            run(limits, [&blanks[..]]).end,
            WireEnd::Error(ParseError::ControlLineTooLong)
        );
    }

    #[test]
    fn unknown_op_fails_before_the_newline_arrives() {
        let mut parser = Parser::new(WIRE_CASE_LIMITS);
        assert_eq!(parser.parse(b"P"), Step::NeedMore);
        assert_eq!(
            parser.parse(b"PX"),
            Step::Error(ParseError::UnknownOperation(Unrecognized::OperationName))
        );
        assert_eq!(parser.parse(b""), Step::NeedMore);
        assert_eq!(parser.parse(b"CONNEC"), Step::NeedMore);
        assert_eq!(
            parser.parse(b"CONNEX"),
            Step::Error(ParseError::UnknownOperation(Unrecognized::OperationName))
        );
    }

    #[test]
    fn payload_terminator_is_checked_as_soon_as_it_arrives() {
        let mut parser = Parser::new(WIRE_CASE_LIMITS);
        assert_eq!(parser.parse(b"PUB foo 2\r\nhi"), Step::NeedMore);
        assert_eq!(
            parser.parse(b"PUB foo 2\r\nhix"),
            Step::Error(ParseError::UnknownOperation(
                Unrecognized::PayloadTerminator
            ))
        );
    }

    #[test]
    fn split_reads_search_no_byte_twice_and_skip_the_payload() {
        let control_line = b"PUB some.subject reply.to 32768\r\n";
        let mut input = control_line.to_vec();
        input.resize(control_line.len() + 32768, b'\n');
        input.extend_from_slice(b"\r\nSUB some.subject queue 1\r\n");
        let mut parser = Parser::new(ParserLimits::default());
        let mut ops = 0;
        let mut start = 0;
        for end in 1..=input.len() {
            if let Step::Op { consumed, .. } = parser.parse(&input[start..end]) {
                start += consumed;
                ops += 1;
            }
        }
        assert_eq!(ops, 2);
        assert_eq!(start, input.len());
        let line_bytes = control_line.len() + b"SUB some.subject queue 1\r\n".len();
        assert!(
            parser.searched_bytes <= line_bytes,
            "searched {} bytes of {line_bytes} control-line bytes",
            parser.searched_bytes
        );
    }

    #[test]
    #[should_panic(expected = "parser resumed")]
    fn resuming_with_fewer_bytes_is_a_caller_bug() {
        let mut parser = Parser::new(WIRE_CASE_LIMITS);
        assert_eq!(parser.parse(b"SUB foo"), Step::NeedMore);
        let _ = parser.parse(b"SUB");
    }

    /// Runs every wire case against a real nats-server when `NATS_SERVER_BIN` names one:
    /// the `-ERR` text (or its absence) and whether the connection closed must match.
    #[test]
    fn wire_cases_match_reference_server() {
        let Some(binary) = std::env::var_os("NATS_SERVER_BIN") else {
            eprintln!("skipped: set NATS_SERVER_BIN to a nats-server binary to run");
            return;
        };
        let server = reference::Server::start(&binary, WIRE_CASE_LIMITS);
        let mut mismatches = Vec::new();
        for case in WIRE_CASES {
            let expect = reference::Expectation::of(case);
            let observed = server.exchange(case.input, expect);
            if !expect.matches(&observed) {
                mismatches.push(format!(
                    "{}: expected {expect:?}, got {observed:?}",
                    case.name
                ));
            }
        }
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }

    /// A valid op with the encoding choices a client could make.
    #[derive(Debug, Clone)]
    struct Encoded {
        bytes: Vec<u8>,
        rendered: String,
    }

    fn token() -> impl Strategy<Value = Vec<u8>> {
        "[a-zA-Z0-9_.*>$-]{1,16}".prop_map(String::into_bytes)
    }

    fn blanks() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 1..4)
    }

    fn json() -> impl Strategy<Value = Vec<u8>> {
        "\\{[a-z0-9\":, ]{0,24}\\}".prop_map(String::into_bytes)
    }

    fn headers() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec("[A-Za-z-]{1,8}: [ -~]{0,12}", 0..4).prop_map(|lines| {
            let mut block = b"NATS/1.0\r\n".to_vec();
            for line in lines {
                block.extend_from_slice(line.as_bytes());
                block.extend_from_slice(b"\r\n");
            }
            block.extend_from_slice(b"\r\n");
            block
        })
    }

    /// Writes an op name in a random mix of cases.
    fn name(name: &str, case_mask: u8) -> Vec<u8> {
        name.bytes()
            .enumerate()
            .map(|(index, byte)| {
                if case_mask & (1 << (index % 8)) != 0 {
                    byte.to_ascii_lowercase()
                } else {
                    byte
                }
            })
            .collect()
    }

    fn line(parts: &[&[u8]], separator: &[u8], bare_lf: bool) -> Vec<u8> {
        let mut bytes = parts.join(separator);
        bytes.extend_from_slice(if bare_lf { b"\n" } else { b"\r\n" });
        bytes
    }

    /// Op-name case mask, the blanks between arguments, and whether lines end in a bare LF.
    fn style() -> impl Strategy<Value = (u8, Vec<u8>, bool)> {
        (any::<u8>(), blanks(), any::<bool>())
    }

    fn payload() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..300)
    }

    fn encoded_op() -> impl Strategy<Value = Encoded> {
        prop_oneof![
            encoded_pub(),
            encoded_hpub(),
            encoded_sub(),
            encoded_unsub(),
            encoded_connect_or_info(),
            encoded_without_arguments(),
        ]
    }

    /// The control line of an op with arguments, separated by the chosen blanks.
    fn control_line(
        name: Vec<u8>,
        arguments: Vec<Vec<u8>>,
        blank: &[u8],
        bare_lf: bool,
    ) -> Vec<u8> {
        let mut parts = vec![name];
        parts.extend(arguments);
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        line(&parts, blank, bare_lf)
    }

    fn encoded_pub() -> impl Strategy<Value = Encoded> {
        (style(), token(), proptest::option::of(token()), payload()).prop_map(
            |((mask, blank, bare_lf), subject, reply, payload)| {
                let mut arguments = vec![subject.clone()];
                arguments.extend(reply.clone());
                arguments.push(payload.len().to_string().into_bytes());
                let mut bytes = control_line(name("PUB", mask), arguments, &blank, bare_lf);
                bytes.extend_from_slice(&payload);
                bytes.extend_from_slice(b"\r\n");
                let op = Op::Pub {
                    subject: &subject,
                    reply: reply.as_deref(),
                    payload: &payload,
                    size_text: None,
                };
                Encoded {
                    bytes,
                    rendered: render(&op),
                }
            },
        )
    }

    fn encoded_hpub() -> impl Strategy<Value = Encoded> {
        (
            style(),
            token(),
            proptest::option::of(token()),
            headers(),
            payload(),
        )
            .prop_map(
                |((mask, blank, bare_lf), subject, reply, headers, payload)| {
                    let mut arguments = vec![subject.clone()];
                    arguments.extend(reply.clone());
                    arguments.push(headers.len().to_string().into_bytes());
                    arguments.push((headers.len() + payload.len()).to_string().into_bytes());
                    let mut bytes = control_line(name("HPUB", mask), arguments, &blank, bare_lf);
                    bytes.extend_from_slice(&headers);
                    bytes.extend_from_slice(&payload);
                    bytes.extend_from_slice(b"\r\n");
                    let op = Op::HPub {
                        subject: &subject,
                        reply: reply.as_deref(),
                        headers: &headers,
                        payload: &payload,
                        size_text: None,
                    };
                    Encoded {
                        bytes,
                        rendered: render(&op),
                    }
                },
            )
    }

    fn encoded_sub() -> impl Strategy<Value = Encoded> {
        (style(), token(), proptest::option::of(token()), token()).prop_map(
            |((mask, blank, bare_lf), subject, queue, sid)| {
                let mut arguments = vec![subject.clone()];
                arguments.extend(queue.clone());
                arguments.push(sid.clone());
                let op = Op::Sub {
                    subject: &subject,
                    queue: queue.as_deref(),
                    sid: &sid,
                };
                Encoded {
                    bytes: control_line(name("SUB", mask), arguments, &blank, bare_lf),
                    rendered: render(&op),
                }
            },
        )
    }

    fn encoded_unsub() -> impl Strategy<Value = Encoded> {
        (style(), token(), proptest::option::of(0u64..=999_999_999)).prop_map(
            |((mask, blank, bare_lf), sid, max)| {
                let mut arguments = vec![sid.clone()];
                arguments.extend(max.map(|max| max.to_string().into_bytes()));
                let op = Op::Unsub { sid: &sid, max };
                Encoded {
                    bytes: control_line(name("UNSUB", mask), arguments, &blank, bare_lf),
                    rendered: render(&op),
                }
            },
        )
    }

    fn encoded_connect_or_info() -> impl Strategy<Value = Encoded> {
        (style(), json(), any::<bool>()).prop_map(|((mask, blank, bare_lf), json, is_info)| {
            let (op_name, op) = if is_info {
                ("INFO", Op::Info { json: &json })
            } else {
                ("CONNECT", Op::Connect { json: &json })
            };
            Encoded {
                bytes: control_line(name(op_name, mask), vec![json.clone()], &blank, bare_lf),
                rendered: render(&op),
            }
        })
    }

    fn encoded_without_arguments() -> impl Strategy<Value = Encoded> {
        (style(), 0..3usize).prop_map(|((mask, _, bare_lf), which)| {
            let (op_name, op) = [("PING", Op::Ping), ("PONG", Op::Pong), ("+OK", Op::Ok)][which];
            Encoded {
                bytes: line(&[&name(op_name, mask)], b"", bare_lf),
                rendered: render(&op),
            }
        })
    }

    proptest! {
        #[test]
        fn valid_op_sequences_survive_any_chunking(
            ops in proptest::collection::vec(encoded_op(), 1..12),
            chunk_sizes in proptest::collection::vec(1usize..256, 1..16),
        ) {
            let input: Vec<u8> = ops.iter().flat_map(|op| op.bytes.clone()).collect();
            let mut chunks = Vec::new();
            let mut start = 0;
            for size in chunk_sizes.iter().cycle() {
                if start == input.len() {
                    break;
                }
                let end = (start + size).min(input.len());
                chunks.push(&input[start..end]);
                start = end;
            }
            let mut parser = Parser::new(ParserLimits::default());
            parser.set_headers_supported(true);
            let outcome = run_with(parser, chunks);
            let expected: Vec<String> = ops.iter().map(|op| op.rendered.clone()).collect();
            prop_assert_eq!(outcome, Outcome { ops: expected, end: WireEnd::Open });
        }
    }

    /// Talking raw TCP to a reference nats-server on 127.0.0.1.
    mod reference {
        use super::super::wire_cases::{WireCase, WireEnd};
        use super::super::{Op, ParserLimits};
        use std::ffi::OsStr;
        use std::io::{ErrorKind, Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::process::{Child, Command, Stdio};
        use std::time::{Duration, Instant};

        /// How long to wait for the server to react; only bounds the test, asserts nothing.
        const REPLY_WAIT: Duration = Duration::from_secs(2);
        /// How long an incomplete op is watched for an unexpected close.
        const INCOMPLETE_WAIT: Duration = Duration::from_millis(300);

        /// What nats-server should do with a case's input.
        #[derive(Debug, Clone, Copy)]
        pub(super) struct Expectation {
            /// The `-ERR` text expected, if any.
            err_text: Option<&'static str>,
            /// Whether the server closes the connection.
            closes: bool,
            /// Whether a PING is appended and its PONG awaited (open connections).
            ping: bool,
        }

        impl Expectation {
            pub(super) fn of(case: &WireCase) -> Self {
                let client_err = case.ops.iter().any(|op| matches!(op, Op::Err { .. }));
                match case.end {
                    WireEnd::Error(error) => Self {
                        err_text: error.err_text(),
                        closes: true,
                        ping: false,
                    },
                    // nats-server closes ("Parse Error") on a client's -ERR, sending nothing.
                    _ if client_err => Self {
                        err_text: None,
                        closes: true,
                        ping: false,
                    },
                    WireEnd::Open => Self {
                        err_text: None,
                        closes: false,
                        ping: true,
                    },
                    WireEnd::Incomplete => Self {
                        err_text: None,
                        closes: false,
                        ping: false,
                    },
                }
            }

            pub(super) fn matches(&self, observed: &Observed) -> bool {
                let text = &observed.received;
                let err_ok = match self.err_text {
                    Some(err) => text.contains(&format!("-ERR '{err}'\r\n")),
                    None => !text.contains("-ERR"),
                };
                let pong_ok = !self.ping || text.ends_with("PONG\r\n");
                err_ok && pong_ok && observed.closed == self.closes
            }
        }

        #[derive(Debug)]
        pub(super) struct Observed {
            /// What the server sent after its INFO, lossily decoded for readable failures.
            received: String,
            /// Whether the server closed the connection.
            closed: bool,
        }

        /// A nats-server child process, killed on drop.
        pub(super) struct Server {
            child: Child,
            port: u16,
        }

        impl Server {
            pub(super) fn start(binary: &OsStr, limits: ParserLimits) -> Self {
                let port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|listener| listener.local_addr())
                    .expect("free port")
                    .port();
                let config = std::env::temp_dir().join(format!("ringnats-parser-{port}.conf"));
                let text = format!(
                    "listen: 127.0.0.1:{port}\nmax_control_line: {}\nmax_payload: {}\n",
                    limits.control_line_bytes_max, limits.payload_bytes_max
                );
                std::fs::write(&config, text).expect("write config");
                let child = Command::new(binary)
                    .arg("-c")
                    .arg(&config)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn nats-server");
                let server = Self { child, port };
                let deadline = Instant::now() + Duration::from_secs(10);
                while TcpStream::connect(("127.0.0.1", port)).is_err() {
                    assert!(Instant::now() < deadline, "nats-server did not start");
                    std::thread::sleep(Duration::from_millis(20));
                }
                server
            }

            pub(super) fn exchange(&self, input: &[u8], expect: Expectation) -> Observed {
                let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
                stream.set_read_timeout(Some(REPLY_WAIT)).expect("timeout");
                let mut received = Vec::new();
                read_line(&mut stream, &mut received);
                received.clear();
                let mut bytes = input.to_vec();
                if expect.ping {
                    bytes.extend_from_slice(b"PING\r\n");
                }
                // The server may close before reading everything; what it sent still counts.
                let _ = stream.write_all(&bytes);
                if !expect.closes && !expect.ping {
                    stream
                        .set_read_timeout(Some(INCOMPLETE_WAIT))
                        .expect("timeout");
                }
                let mut chunk = [0u8; 4096];
                let closed = loop {
                    match stream.read(&mut chunk) {
                        Ok(0) => break true,
                        Ok(read) => received.extend_from_slice(&chunk[..read]),
                        Err(error) if is_timeout(error.kind()) => break false,
                        Err(_) => break true,
                    }
                    if expect.ping && received.ends_with(b"PONG\r\n") {
                        break false;
                    }
                };
                Observed {
                    received: String::from_utf8_lossy(&received).into_owned(),
                    closed,
                }
            }
        }

        impl Drop for Server {
            fn drop(&mut self) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }

        fn is_timeout(kind: ErrorKind) -> bool {
            matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut)
        }

        /// Reads up to the end of the server's INFO line.
        fn read_line(stream: &mut TcpStream, received: &mut Vec<u8>) {
            let mut byte = [0u8; 1];
            while !received.ends_with(b"\r\n") {
                let read = stream.read(&mut byte).expect("read INFO");
                assert_eq!(read, 1, "server closed before INFO");
                received.push(byte[0]);
            }
        }
    }
}
