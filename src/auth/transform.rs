//! Subject transforms for wildcard imports, as nats-server 2.15.1 builds them.
//!
//! An import whose subject has wildcards and whose local subject differs maps each
//! published subject token by token. nats-server builds these with
//! `NewSubjectTransformStrict` (`server/subject_transform.go`): the destination may use
//! literal tokens, `$N` or `{{wildcard(N)}}` (the N-th `*` of the source), and a final
//! `>` when the source ends in `>`; every source `*` must be referred to, and any other
//! mapping function (`partition`, `split`, ...) is refused for imports. A `*` in the
//! destination is first turned into `$1`, `$2`, ... in order (`transformTokenize`), and
//! placeholders turned back into `*` give the subject to subscribe or match on
//! (`transformUntokenize`).
//!
//! Service imports run the transform backwards ([`SubjectTransform::reverse`]); like
//! nats-server's `reverse`, it pairs the source's `*` tokens with the destination's
//! placeholders in order, which is the true inverse for in-order and swapped
//! placeholders, and not for longer permutations (the tests record one, as observed on
//! the 2.15.1 binary).

use super::pattern::tokens;
use crate::subject::validate::{FULL_WILDCARD, PARTIAL_WILDCARD, TOKEN_SEPARATOR};

/// Why a transform could not be built (nats-server refuses the import with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransformError {
    /// A side is not a valid subject, the destination has a `*`, or only one side ends
    /// in `>` (nats-server's `ErrBadSubject`).
    BadSubject,
    /// A placeholder names a wildcard the source does not have.
    IndexOutOfRange,
    /// Fewer placeholders than source wildcards.
    NotUsingAllWildcards,
    /// A mapping function other than `wildcard` (or a malformed one).
    FunctionNotSupported,
}

impl std::fmt::Display for TransformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransformError::BadSubject => "invalid subject",
            TransformError::IndexOutOfRange => {
                "invalid mapping destination: wildcard index out of range"
            }
            TransformError::NotUsingAllWildcards => {
                "invalid mapping destination: not using all of the token wildcard(s)"
            }
            TransformError::FunctionNotSupported => {
                "invalid mapping destination: mapping function not supported for import"
            }
        })
    }
}

/// One destination token.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Destination {
    /// Copied as is (a final `>` ends the loop and appends the remaining tokens).
    Literal(Box<[u8]>),
    /// The published subject's token at this position (the source position of the
    /// placeholder's wildcard).
    Token(usize),
}

/// A strict (import) subject transform. Immutable after construction.
#[derive(Clone, Debug)]
pub(crate) struct SubjectTransform {
    /// The source pattern, as given.
    source: Box<[u8]>,
    /// The destination, as given (placeholders and all).
    destination: Box<[u8]>,
    /// Number of source tokens.
    source_token_count: usize,
    /// What to write for each destination token.
    tokens: Vec<Destination>,
}

/// What a destination token means (nats-server's `indexPlaceHolders`, for the cases a
/// strict transform accepts).
enum Placeholder {
    /// Not a placeholder.
    Literal,
    /// `$N` or `{{wildcard(N)}}`; N as parsed (may be 0 or negative).
    Wildcard(i64),
    /// Another or malformed mapping function.
    Refused,
}

/// Go's `strconv.Atoi`: optional sign, decimal digits.
fn atoi(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Go regexp's `\s`.
fn is_regex_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

fn trim_regex_space(mut text: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = text {
        if !is_regex_space(*first) {
            break;
        }
        text = rest;
    }
    while let [rest @ .., last] = text {
        if !is_regex_space(*last) {
            break;
        }
        text = rest;
    }
    text
}

/// The argument list of `{{ wildcard(...) }}` (nats-server's
/// `getMappingFunctionArgs(wildcardMappingFunctionRegEx, token)`), or `None` when the
/// token is not that function. Arguments are split on commas.
fn wildcard_function_args(token: &[u8]) -> Option<Vec<&[u8]>> {
    let inner = token.strip_prefix(b"{{")?.strip_suffix(b"}}")?;
    let inner = trim_regex_space(inner);
    let (first, rest) = inner.split_first()?;
    if !matches!(first, b'w' | b'W') {
        return None;
    }
    let rest = trim_regex_space(rest.strip_prefix(b"ildcard")?);
    let arguments = rest.strip_prefix(b"(")?.strip_suffix(b")")?;
    let mut parts: Vec<&[u8]> = arguments.split(|&byte| byte == b',').collect();
    for part in parts.iter_mut().skip(1) {
        while let [first, rest @ ..] = *part {
            if !is_regex_space(*first) {
                break;
            }
            *part = rest;
        }
    }
    Some(parts)
}

fn classify(token: &[u8]) -> Placeholder {
    if token.len() > 1 && token[0] == b'$' {
        return match atoi(&token[1..]) {
            Some(index) => Placeholder::Wildcard(index),
            None => Placeholder::Literal,
        };
    }
    if token.len() > 4 && token.starts_with(b"{{") && token.ends_with(b"}}") {
        return match wildcard_function_args(token).as_deref() {
            Some([argument]) => {
                let argument = argument
                    .iter()
                    .position(|&b| b != b' ')
                    .map_or(&b""[..], |start| &argument[start..]);
                let end = argument
                    .iter()
                    .rposition(|&b| b != b' ')
                    .map_or(0, |end| end + 1);
                atoi(&argument[..end]).map_or(Placeholder::Refused, Placeholder::Wildcard)
            }
            _ => Placeholder::Refused,
        };
    }
    Placeholder::Literal
}

/// True when nats-server's `transformUntokenize` takes `token` for a placeholder.
fn is_placeholder(token: &[u8]) -> bool {
    (token.len() > 1 && token[0] == b'$' && (b'1'..=b'9').contains(&token[1]))
        || matches!(wildcard_function_args(token).as_deref(), Some([argument]) if !argument.is_empty())
}

/// nats-server's `transformTokenize`: each `*` token becomes `$1`, `$2`, ... in order.
pub(crate) fn tokenize(subject: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(subject.len() + 4);
    let mut next = 1;
    for (index, token) in tokens(subject).enumerate() {
        if index > 0 {
            out.push(TOKEN_SEPARATOR);
        }
        if token == [PARTIAL_WILDCARD] {
            out.extend_from_slice(format!("${next}").as_bytes());
            next += 1;
        } else {
            out.extend_from_slice(token);
        }
    }
    out
}

/// nats-server's `transformUntokenize`: placeholders become `*`; also returns the
/// placeholders in order.
pub(crate) fn untokenize(subject: &[u8]) -> (Vec<u8>, Vec<&[u8]>) {
    let mut out = Vec::with_capacity(subject.len());
    let mut placeholders = Vec::new();
    for (index, token) in tokens(subject).enumerate() {
        if index > 0 {
            out.push(TOKEN_SEPARATOR);
        }
        if is_placeholder(token) {
            placeholders.push(token);
            out.push(PARTIAL_WILDCARD);
        } else {
            out.extend_from_slice(token);
        }
    }
    (out, placeholders)
}

/// nats-server's `subjectInfo`: (valid, `*` count, ends in `>`). Valid = non-empty, no
/// empty token, nothing after `>`.
fn subject_info(subject: &[u8]) -> (bool, usize, bool) {
    if subject.is_empty() {
        return (false, 0, false);
    }
    let (mut partials, mut full) = (0, false);
    for token in tokens(subject) {
        if token.is_empty() || full {
            return (false, 0, false);
        }
        match token {
            [FULL_WILDCARD] => full = true,
            [PARTIAL_WILDCARD] => partials += 1,
            _ => {}
        }
    }
    (true, partials, full)
}

impl SubjectTransform {
    /// nats-server's `NewSubjectTransformStrict(source, destination)` for a source with
    /// wildcards (the only kind imports build).
    pub(crate) fn new_strict(
        source: &[u8],
        destination: &[u8],
    ) -> Result<SubjectTransform, TransformError> {
        let (source_valid, partials, source_full) = subject_info(source);
        let (destination_valid, destination_partials, destination_full) = subject_info(destination);
        if !source_valid
            || !destination_valid
            || destination_partials > 0
            || source_full != destination_full
        {
            return Err(TransformError::BadSubject);
        }
        if partials == 0 && !source_full {
            // Imports only build transforms for wildcard sources.
            return Err(TransformError::BadSubject);
        }
        // Source position of the N-th `*` (1-based N).
        let positions: Vec<usize> = tokens(source)
            .enumerate()
            .filter(|(_, token)| *token == [PARTIAL_WILDCARD])
            .map(|(position, _)| position)
            .collect();
        let mut placeholders = 0usize;
        let mut compiled = Vec::new();
        for token in tokens(destination) {
            match classify(token) {
                Placeholder::Literal => compiled.push(Destination::Literal(token.into())),
                Placeholder::Refused => return Err(TransformError::FunctionNotSupported),
                Placeholder::Wildcard(index) => {
                    if index > partials as i64 {
                        return Err(TransformError::IndexOutOfRange);
                    }
                    placeholders += 1;
                    // nats-server looks the index up in a map; 0 or a negative index
                    // finds nothing and reads as position 0.
                    let position = usize::try_from(index - 1)
                        .ok()
                        .and_then(|slot| positions.get(slot).copied())
                        .unwrap_or(0);
                    compiled.push(Destination::Token(position));
                }
            }
        }
        if placeholders < partials {
            return Err(TransformError::NotUsingAllWildcards);
        }
        Ok(SubjectTransform {
            source: source.into(),
            destination: destination.into(),
            source_token_count: tokens(source).count(),
            tokens: compiled,
        })
    }

    /// The destination subject for published subject `subject` (which must match the
    /// source; nats-server's `TransformSubject`). Appends to `out`.
    pub(crate) fn apply(&self, subject: &[u8], out: &mut Vec<u8>) {
        let subject_tokens: Vec<&[u8]> = tokens(subject).collect();
        let last = self.tokens.len() - 1;
        for (index, token) in self.tokens.iter().enumerate() {
            match token {
                Destination::Literal(literal) => {
                    if **literal == [FULL_WILDCARD] {
                        break;
                    }
                    out.extend_from_slice(literal);
                }
                Destination::Token(position) => {
                    if let Some(token) = subject_tokens.get(*position) {
                        out.extend_from_slice(token);
                    }
                }
            }
            if index < last {
                out.push(TOKEN_SEPARATOR);
            }
        }
        if matches!(self.tokens.last(), Some(Destination::Literal(l)) if **l == [FULL_WILDCARD]) {
            let from = self.source_token_count.saturating_sub(1);
            let rest = subject_tokens.get(from..).unwrap_or_default();
            for (index, token) in rest.iter().enumerate() {
                if index > 0 {
                    out.push(TOKEN_SEPARATOR);
                }
                out.extend_from_slice(token);
            }
        }
    }

    /// nats-server's `subjectTransform.reverse`: source = the destination with its
    /// placeholders as `*`, destination = the source with its `*` tokens replaced by
    /// those placeholders in order. `None` where nats-server gets `nil`.
    pub(crate) fn reverse(&self) -> Option<SubjectTransform> {
        let (source, placeholders) = untokenize(&self.destination);
        let mut placeholders = placeholders.into_iter();
        let mut destination = Vec::with_capacity(self.source.len() + 4);
        for (index, token) in tokens(&self.source).enumerate() {
            if index > 0 {
                destination.push(TOKEN_SEPARATOR);
            }
            if token == [PARTIAL_WILDCARD] {
                destination.extend_from_slice(placeholders.next()?);
            } else {
                destination.extend_from_slice(token);
            }
        }
        SubjectTransform::new_strict(&source, &destination).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transform(source: &str, destination: &str) -> Result<SubjectTransform, TransformError> {
        SubjectTransform::new_strict(source.as_bytes(), destination.as_bytes())
    }

    fn apply(transform: &SubjectTransform, subject: &str) -> String {
        let mut out = Vec::new();
        transform.apply(subject.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tokenize_and_untokenize_like_nats_server() {
        assert_eq!(tokenize(b"foo.*.bar.*"), b"foo.$1.bar.$2");
        assert_eq!(tokenize(b"foo.$2.*"), b"foo.$2.$1");
        let (subject, placeholders) = untokenize(b"foo.$2.{{wildcard(1)}}.$x.$0.>");
        assert_eq!(subject, b"foo.*.*.$x.$0.>");
        assert_eq!(placeholders, vec![&b"$2"[..], b"{{wildcard(1)}}"]);
    }

    #[test]
    fn strict_transforms_map_wildcards_by_position() {
        let swap = transform("foo.*.*", "bar.$2.$1").unwrap();
        assert_eq!(apply(&swap, "foo.a.b"), "bar.b.a");
        let mustache = transform("foo.*", "bar.{{ Wildcard( 1 ) }}").unwrap();
        assert_eq!(apply(&mustache, "foo.a"), "bar.a");
        let prefix = transform("foo.>", "p.foo.>").unwrap();
        assert_eq!(apply(&prefix, "foo.a.b"), "p.foo.a.b");
        let both = transform("foo.*.>", "x.$1.>").unwrap();
        assert_eq!(apply(&both, "foo.a.b.c"), "x.a.b.c");
        let duplicate = transform("foo.*", "x.$1.$1").unwrap();
        assert_eq!(apply(&duplicate, "foo.a"), "x.a.a");
    }

    #[test]
    fn strict_transforms_refuse_what_nats_server_refuses() {
        assert_eq!(
            transform("foo.*", "bar").unwrap_err(),
            TransformError::NotUsingAllWildcards
        );
        assert_eq!(
            transform("foo.*", "bar.$2").unwrap_err(),
            TransformError::IndexOutOfRange
        );
        assert_eq!(
            transform("foo.>", "bar").unwrap_err(),
            TransformError::BadSubject
        );
        assert_eq!(
            transform("foo.*", "bar.*").unwrap_err(),
            TransformError::BadSubject
        );
        assert_eq!(
            transform("foo..*", "bar.$1").unwrap_err(),
            TransformError::BadSubject
        );
        assert_eq!(
            transform("foo.*", "bar.{{partition(3,1)}}").unwrap_err(),
            TransformError::FunctionNotSupported
        );
        assert_eq!(
            transform("foo.*", "bar.{{wildcard()}}").unwrap_err(),
            TransformError::FunctionNotSupported
        );
        // `$x` is a literal token, so the wildcard is unused.
        assert_eq!(
            transform("foo.*", "bar.$x").unwrap_err(),
            TransformError::NotUsingAllWildcards
        );
    }

    #[test]
    fn reverse_pairs_placeholders_in_order_like_nats_server() {
        // Service import of `foo.*.*` as local `baz.$2.$1`: forward from the exporter's
        // subject to the local one, reversed for requests.
        let forward = transform("foo.*.*", "baz.$2.$1").unwrap();
        let reverse = forward.reverse().unwrap();
        assert_eq!(apply(&reverse, "baz.x.y"), "foo.y.x");
        // A three-way rotation is not inverted (nats-server pairs in order; observed on
        // 2.15.1: a publish on `baz.b.c.a` reaches the exporter as `foo.c.a.b`).
        let forward = transform("foo.*.*.*", "baz.$2.$3.$1").unwrap();
        assert_eq!(apply(&forward, "foo.a.b.c"), "baz.b.c.a");
        let reverse = forward.reverse().unwrap();
        assert_eq!(apply(&reverse, "baz.b.c.a"), "foo.c.a.b");
        // Prefix-style stream mappings reverse cleanly.
        let forward = transform("foo.*", "p.foo.$1").unwrap();
        assert_eq!(apply(&forward.reverse().unwrap(), "p.foo.x"), "foo.x");
    }
}
