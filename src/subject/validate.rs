//! Subject checks and token helpers, on byte slices, as nats-server 2.15.1 applies them to
//! clients.
//!
//! nats-server checks a client's SUB subject only where `Sublist.Insert` walks it
//! (`server/sublist.go`): every token must be non-empty and nothing may follow a `>` token;
//! a failure is answered `-ERR 'Invalid Subject'` and the connection stays open
//! (`server/client.go` `processSubEx`). It does not check UTF-8, NUL, form feed or vertical
//! tab there: the stricter `IsValidSubject` / `checkRunes` variants are used for
//! configuration and the file store, not for client SUBs. A PUB subject is checked only
//! when the client is pedantic, with `IsValidLiteralSubject` (no empty token, no `*` or `>`
//! token), answered `-ERR 'Invalid Publish Subject'`, and the message is still routed.
//! Queue names are not validated at all; the one queue name a client may not use is the
//! reserved [`RESERVED_QUEUE_NAME`], refused as a permissions violation. Every answer above
//! was observed on the 2.15.1 binary; the unit tests below record them.

/// Separates the tokens of a subject.
pub const TOKEN_SEPARATOR: u8 = b'.';

/// A token made of just this byte matches exactly one token.
pub const PARTIAL_WILDCARD: u8 = b'*';

/// A token made of just this byte, last in a subject, matches one or more tokens.
pub const FULL_WILDCARD: u8 = b'>';

/// The queue group nats-server keeps for itself (`sysGroup` in `server/client.go`). A
/// client SUB using it is refused with
/// `-ERR 'Permissions Violation for Subscription to "<subject>" using queue "_sys_"'`
/// (observed on 2.15.1); it is a permissions check, not a syntax check, so it has no
/// `is_valid_queue_name` counterpart here.
pub const RESERVED_QUEUE_NAME: &[u8] = b"_sys_";

/// Splits a subject into its tokens; `b""` yields one empty token, like Go's `strings.Split`.
fn tokens(subject: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    subject.split(|&byte| byte == TOKEN_SEPARATOR)
}

/// True when `token` is the `*` or `>` wildcard (a whole token, not `foo*`).
#[inline]
pub fn is_wildcard_token(token: &[u8]) -> bool {
    matches!(token, [PARTIAL_WILDCARD] | [FULL_WILDCARD])
}

/// The bytes that split SUB arguments (`splitArg` in `server/client.go`). They can never
/// reach a subject from the wire; rejecting them keeps any other caller from storing one.
#[inline]
fn is_argument_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// The check a client's SUB subject gets: non-empty tokens, `>` only as the last token.
///
/// Wildcards are only wildcards as whole tokens, so `foo*`, `**` and `>>` are accepted as
/// literal tokens. Non-UTF-8 bytes, NUL, form feed and vertical tab are accepted, as
/// nats-server does. A `false` is answered with `-ERR 'Invalid Subject'`.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    let mut after_full_wildcard = false;
    for token in tokens(subject) {
        if token.is_empty() || after_full_wildcard {
            return false;
        }
        if token.iter().any(|&byte| is_argument_separator(byte)) {
            return false;
        }
        after_full_wildcard = token == [FULL_WILDCARD];
    }
    true
}

/// The check a pedantic client's PUB subject gets: non-empty tokens and no wildcard token.
///
/// A `false` is answered with `-ERR 'Invalid Publish Subject'`, and the message is still
/// routed (nats-server 2.15.1 does both).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    tokens(subject).all(|token| !token.is_empty() && !is_wildcard_token(token))
}

/// Number of tokens: `0` for an empty subject, otherwise one more than the separators.
///
/// This is what nats-server compares against `max_sub_tokens`.
pub fn token_count(subject: &[u8]) -> usize {
    if subject.is_empty() {
        return 0;
    }
    memchr::memchr_iter(TOKEN_SEPARATOR, subject).count() + 1
}

/// True when some token of `subject` is a `*` or `>` wildcard.
pub fn subject_has_wildcard(subject: &[u8]) -> bool {
    tokens(subject).any(is_wildcard_token)
}

/// True when the literal (published) subject `literal` matches the subscription subject
/// `pattern`.
///
/// A `*` pattern token matches any one token, a `>` as the last pattern token matches one or
/// more remaining tokens, any other token must be equal byte for byte (so a `*` token in
/// `literal` is only matched by `*` or `>` in the pattern). A literal with an empty token
/// matches nothing, as in nats-server's match. This is the slow reference the `Sublist` is
/// tested against; `pattern` should be valid ([`is_valid_subject`]).
pub fn subject_matches(pattern: &[u8], literal: &[u8]) -> bool {
    if tokens(literal).any(<[u8]>::is_empty) {
        return false;
    }
    let mut pattern_tokens = tokens(pattern).peekable();
    let mut literal_tokens = tokens(literal);
    loop {
        match (pattern_tokens.next(), literal_tokens.next()) {
            (None, None) => return true,
            (Some([FULL_WILDCARD]), Some(_)) if pattern_tokens.peek().is_none() => return true,
            (Some(pattern_token), Some(literal_token)) => {
                if pattern_token != [PARTIAL_WILDCARD] && pattern_token != literal_token {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SUB <subject> 1` then `PUB <subject> 2` against nats-server 2.15.1 (pedantic off):
    /// `true` means the SUB was accepted and the PUB delivered to it, `false` means the
    /// server answered `-ERR 'Invalid Subject'` and kept the connection.
    const SUB_CASES: &[(&[u8], bool)] = &[
        (b"foo", true),
        (b"foo.bar", true),
        (b"foo..bar", false),
        (b".foo", false),
        (b"foo.", false),
        (b".", false),
        (b"..", false),
        (b"", false),
        (b"foo.>.bar", false),
        (b">.foo", false),
        (b"foo.>.>", false),
        (b"*", true),
        (b">", true),
        (b"*.>", true),
        (b"a.*.>", true),
        (b"foo.*.bar", true),
        // Wildcards only count as whole tokens; these are literal tokens.
        (b"foo*", true),
        (b"foo.**", true),
        (b"foo.>>", true),
        // No UTF-8 or control-byte check for client SUBs.
        (b"\xff\xfe", true),
        (b"foo.\xc3\x28", true),
        (b"foo\x00bar", true),
        (b"foo\x0cbar", true),
        (b"foo\x0bbar", true),
    ];

    #[test]
    fn sub_subjects_are_judged_as_nats_server_judges_them() {
        for &(subject, valid) in SUB_CASES {
            assert_eq!(
                is_valid_subject(subject),
                valid,
                "SUB {:?}",
                String::from_utf8_lossy(subject)
            );
        }
    }

    #[test]
    fn argument_separators_are_rejected_although_the_wire_cannot_deliver_them() {
        for subject in [&b"foo bar"[..], b"foo\tbar", b"foo\r", b"\nfoo"] {
            assert!(!is_valid_subject(subject));
        }
    }

    /// PUB with `CONNECT {"pedantic":true}` against nats-server 2.15.1: `false` means
    /// `-ERR 'Invalid Publish Subject'` (the message is still delivered to `foo.*` / `>`
    /// subscribers when it has no empty token).
    #[test]
    fn pedantic_pub_subjects_are_judged_as_nats_server_judges_them() {
        let cases: &[(&[u8], bool)] = &[
            (b"foo.bar", true),
            (b"foo*", true),
            (b"\xff", true),
            (b"foo.*", false),
            (b"foo.>", false),
            (b"*", false),
            (b">", false),
            (b"foo..bar", false),
            (b".foo", false),
            (b"foo.", false),
            (b"", false),
        ];
        for &(subject, valid) in cases {
            assert_eq!(
                is_valid_literal_subject(subject),
                valid,
                "PUB {:?}",
                String::from_utf8_lossy(subject)
            );
        }
    }

    #[test]
    fn token_count_counts_separators_plus_one() {
        assert_eq!(token_count(b""), 0);
        assert_eq!(token_count(b"foo"), 1);
        assert_eq!(token_count(b"foo.bar.>"), 3);
        assert_eq!(token_count(b"foo..bar"), 3);
        assert_eq!(token_count(b"."), 2);
    }

    #[test]
    fn wildcards_are_whole_tokens_only() {
        assert!(subject_has_wildcard(b"*"));
        assert!(subject_has_wildcard(b"foo.>"));
        assert!(subject_has_wildcard(b"foo.*.bar"));
        assert!(!subject_has_wildcard(b"foo*"));
        assert!(!subject_has_wildcard(b"foo.>>"));
        assert!(!subject_has_wildcard(b"foo.bar"));
        assert!(!subject_has_wildcard(b""));
    }

    #[test]
    fn matcher_follows_the_wildcard_rules() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"foo", b"foo", true),
            (b"foo", b"Foo", false),
            (b"foo", b"foo.bar", false),
            (b"foo.bar", b"foo", false),
            (b"*", b"foo", true),
            (b"*", b"foo.bar", false),
            (b"foo.*", b"foo.bar", true),
            (b"foo.*", b"foo", false),
            (b"*.bar", b"foo.bar", true),
            (b"foo.*.baz", b"foo.bar.baz", true),
            (b">", b"foo", true),
            (b">", b"foo.bar.baz", true),
            (b"foo.>", b"foo", false),
            (b"foo.>", b"foo.bar", true),
            (b"foo.>", b"foo.bar.baz", true),
            (b"*.>", b"foo.bar", true),
            (b"*.>", b"foo", false),
            (b"foo*", b"foo*", true),
            (b"foo*", b"foobar", false),
            // A published `*` or `>` is an ordinary token (observed: `PUB foo.*` reaches
            // `foo.*` and `foo.>` subscribers but not `foo.bar`).
            (b"foo.*", b"foo.*", true),
            (b"foo.>", b"foo.*", true),
            (b"foo.bar", b"foo.*", false),
            (b"foo.*", b"foo.>", true),
            // A literal with an empty token matches nothing.
            (b">", b"foo..bar", false),
            (b">", b".foo", false),
            (b"*", b"", false),
            (b">", b"foo.", false),
        ];
        for &(pattern, literal, expected) in cases {
            assert_eq!(
                subject_matches(pattern, literal),
                expected,
                "{:?} vs {:?}",
                String::from_utf8_lossy(pattern),
                String::from_utf8_lossy(literal)
            );
        }
    }
}
