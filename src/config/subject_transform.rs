//! The subject relations and the import transform check that linking accounts needs,
//! as nats-server 2.15.1 has them in `server/sublist.go` (`isSubsetMatch`,
//! `SubjectsCollide`, `subjectHasWildcard`) and `server/subject_transform.go`
//! (`transformTokenize`, `transformUntokenize`, `NewSubjectTransformStrict`). Only the
//! strict import form of a transform is checked here: `$N` and `{{wildcard(N)}}`
//! placeholders, each `*` of the source used once. Subjects are configuration subjects
//! ([`is_valid_config_subject`]).

use super::permissions::is_valid_config_subject;
use crate::auth::pattern;

/// nats-server's `subjectHasWildcard`.
pub(super) fn subject_has_wildcard(subject: &str) -> bool {
    crate::subject::validate::subject_has_wildcard(subject.as_bytes())
}

/// nats-server's `subjectIsSubsetMatch`.
pub(super) fn subject_is_subset_match(subject: &str, test: &str) -> bool {
    pattern::is_subset_match(subject.as_bytes(), test.as_bytes())
}

/// nats-server's `isSubsetMatch`: every subject `tokens` matches also matches `test`.
pub(super) fn is_subset_match(tokens: &[&str], test: &str) -> bool {
    pattern::is_subset_match(tokens.join(".").as_bytes(), test.as_bytes())
}

/// nats-server's `SubjectsCollide`: some literal subject matches both.
pub(super) fn subjects_collide(first: &str, second: &str) -> bool {
    pattern::subjects_collide(first.as_bytes(), second.as_bytes())
}

/// nats-server's `transformTokenize`: each `*` becomes `$1`, `$2`, ...
pub(super) fn transform_tokenize(subject: &str) -> String {
    let mut next = 0;
    let tokens: Vec<String> = subject
        .split('.')
        .map(|token| {
            if token == "*" {
                next += 1;
                format!("${next}")
            } else {
                token.to_string()
            }
        })
        .collect();
    tokens.join(".")
}

/// nats-server's `transformUntokenize`: `$N` and `{{wildcard(N)}}` tokens become `*`.
pub(super) fn transform_untokenize(subject: &str) -> String {
    let tokens: Vec<&str> = subject
        .split('.')
        .map(|token| {
            let dollar = token.len() > 1
                && token.starts_with('$')
                && token.as_bytes()[1].is_ascii_digit()
                && token.as_bytes()[1] != b'0';
            let wildcard = wildcard_function_argument(token)
                .is_some_and(|arg| !arg.is_empty() && !arg.contains(','));
            if dollar || wildcard {
                "*"
            } else {
                token
            }
        })
        .collect();
    tokens.join(".")
}

/// The argument text of a `{{ wildcard(...) }}` token (any case of the `w`).
fn wildcard_function_argument(token: &str) -> Option<&str> {
    let inner = token.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let rest = inner
        .strip_prefix("wildcard")
        .or_else(|| inner.strip_prefix("Wildcard"))?
        .trim_start();
    rest.strip_prefix('(')?.strip_suffix(')').map(str::trim)
}

/// What one destination token of an import transform is.
enum Placeholder {
    Literal,
    Wildcard(i64),
}

/// nats-server's `indexPlaceHolders` for the forms an import transform may use.
fn placeholder(token: &str) -> Result<Placeholder, String> {
    const INVALID: &str = "invalid mapping destination";
    if token.len() > 1 && token.starts_with('$') {
        return Ok(match token[1..].parse::<i64>() {
            Ok(index) => Placeholder::Wildcard(index),
            Err(_) => Placeholder::Literal,
        });
    }
    if token.len() > 4 && token.starts_with("{{") && token.ends_with("}}") {
        return match wildcard_function_argument(token) {
            Some("") => Err(format!(
                "{INVALID}: not enough arguments passed to the function in {token}"
            )),
            Some(argument) if argument.contains(',') => Err(format!(
                "{INVALID}: too many arguments passed to the function in {token}"
            )),
            Some(argument) => argument.parse().map(Placeholder::Wildcard).map_err(|_| {
                format!("{INVALID}: function argument is invalid or in the wrong format in {token}")
            }),
            None => Err(format!(
                "{INVALID}: the only mapping function allowed for import transforms is \
                 {{{{Wildcard()}}}} in {token}"
            )),
        };
    }
    Ok(Placeholder::Literal)
}

/// nats-server's `NewSubjectTransformStrict(source, destination)`: both valid, the same
/// `>`, no `*` in the destination, and every `*` of the source used.
pub(super) fn strict_transform(source: &str, destination: &str) -> Result<(), String> {
    let info = |subject: &str| -> Option<(usize, bool)> {
        if !is_valid_config_subject(subject) {
            return None;
        }
        let tokens: Vec<&str> = subject.split('.').collect();
        Some((
            tokens.iter().filter(|&&token| token == "*").count(),
            tokens.last() == Some(&">"),
        ))
    };
    let (Some((partials, full)), Some((destination_partials, destination_full))) =
        (info(source), info(destination))
    else {
        return Err("invalid subject".into());
    };
    if destination_partials > 0 || full != destination_full {
        return Err("invalid subject".into());
    }
    let mut used = 0;
    for token in destination.split('.') {
        match placeholder(token)? {
            Placeholder::Literal => {}
            Placeholder::Wildcard(index) if partials == 0 && !full => {
                let _ = index;
                return Err(format!(
                    "invalid mapping destination: wildcard index out of range in {token}"
                ));
            }
            Placeholder::Wildcard(index) => {
                if index > partials as i64 {
                    return Err(format!(
                        "invalid mapping destination: wildcard index out of range in {token}: [{index}]"
                    ));
                }
                used += 1;
            }
        }
    }
    if used < partials {
        return Err(format!(
            "invalid mapping destination: not using all of the token wildcard(s) in {destination}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_and_collision_follow_nats_server() {
        assert!(subject_is_subset_match("foo.bar", "foo.*"));
        assert!(subject_is_subset_match("foo.*", "foo.>"));
        assert!(!subject_is_subset_match("foo.>", "foo.*"));
        assert!(!subject_is_subset_match("foo.*", "foo.bar"));
        assert!(subjects_collide("foo.*", "*.bar"));
        assert!(subjects_collide("foo.>", "foo.bar.baz"));
        assert!(!subjects_collide("foo.*", "foo.bar.baz"));
        assert!(!subjects_collide("a", "b"));
    }

    #[test]
    fn import_transforms_are_checked_strictly() {
        assert_eq!(
            strict_transform("foo.*", &transform_tokenize("bar.*")),
            Ok(())
        );
        assert_eq!(strict_transform("foo.>", "bar.>"), Ok(()));
        assert_eq!(
            strict_transform("foo.*", "bar"),
            Err(
                "invalid mapping destination: not using all of the token wildcard(s) in bar".into()
            )
        );
        assert_eq!(
            strict_transform("foo.>", "bar"),
            Err("invalid subject".into())
        );
        assert_eq!(transform_untokenize("a.$1.{{wildcard(2)}}"), "a.*.*");
    }
}
