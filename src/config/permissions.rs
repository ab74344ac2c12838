//! Permissions (`permissions`, `default_permissions`): what a user may publish and
//! subscribe to, and `allow_responses`, read the way nats-server 2.15.1's
//! `parseUserPermissions` and `parseVariablePermissions` read them, with its subject
//! checks and texts.

use std::time::Duration;

use super::auth::want_integer;
use super::conf::{Item, Position, Value};
use super::file::{go_quote, go_value_text, Loader};
use crate::auth::{
    Permissions, ResponsePermission, SubjectPermission, DEFAULT_RESPONSE_EXPIRES,
    DEFAULT_RESPONSE_MSGS_MAX,
};

/// nats-server's `parseUserPermissions`. `None` when the value is not a map (reported)
/// or a panic was recovered. Afterwards, as nats-server's `validateResponsePermissions`
/// does when the server takes the users, `allow_responses` turns off the blanket allow
/// of publish.
pub(super) fn parse_permissions(
    loader: &mut Loader,
    at: &Position,
    item: &Item,
) -> Option<Permissions> {
    let Value::Map(map) = &item.value else {
        let text = format!(
            "Expected permissions to be a map/struct, got {}",
            go_value_text(&item.value)
        );
        loader.error_at(Some(at), text);
        return None;
    };
    let mut permissions = Permissions::default();
    for entry in map.entries() {
        let (at, value) = (&entry.key_position, &entry.item);
        match entry.key.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => {
                if let Ok(publish) = parse_subject_permission(loader, value, false) {
                    permissions.publish = publish;
                }
            }
            "sub" | "subscribe" | "export" => {
                if let Ok(subscribe) = parse_subject_permission(loader, value, true) {
                    permissions.subscribe = subscribe;
                }
            }
            "publish_allow_responses" | "allow_responses" => {
                permissions.response = match &value.value {
                    Value::Bool(true) => Some(ResponsePermission::default()),
                    Value::Bool(false) => None,
                    _ => parse_allow_responses(loader, at, value),
                };
            }
            _ if value.used_as_variable => {}
            _ => loader.error_at(
                Some(at),
                format!("Unknown field {} parsing permissions", go_quote(&entry.key)),
            ),
        }
    }
    if permissions.response.is_some() {
        let publish = permissions.publish.get_or_insert_with(Default::default);
        publish.allow.get_or_insert_with(Vec::new);
    }
    Some(permissions)
}

/// nats-server's `parseVariablePermissions`: a map of `allow`/`deny` (an empty map is
/// no restriction at all), or the old style, a subject or list that is the allow list.
/// `Err` when nats-server returns an error (recorded) and keeps the previous value.
fn parse_subject_permission(
    loader: &mut Loader,
    item: &Item,
    allow_queue: bool,
) -> Result<Option<SubjectPermission>, ()> {
    let Value::Map(map) = &item.value else {
        // The old style: nats-server has already unwrapped the value, so the errors
        // about it carry no position.
        let allow = parse_subjects(loader, item, None, allow_queue)?;
        return Ok(Some(SubjectPermission { allow, deny: None }));
    };
    if map.is_empty() {
        return Ok(None);
    }
    let mut permission = SubjectPermission::default();
    for entry in map.entries() {
        let (at, value) = (&entry.key_position, &entry.item);
        match entry.key.to_ascii_lowercase().as_str() {
            "allow" => {
                if let Ok(subjects) = parse_subjects(loader, value, Some(at), allow_queue) {
                    permission.allow = subjects;
                }
            }
            "deny" => {
                if let Ok(subjects) = parse_subjects(loader, value, Some(at), allow_queue) {
                    permission.deny = subjects;
                }
            }
            _ if value.used_as_variable => {}
            _ => loader.error_at(
                Some(at),
                format!(
                    "Unknown field name {} parsing subject permissions, only 'allow' or \
                     'deny' are permitted",
                    go_quote(&entry.key)
                ),
            ),
        }
    }
    Ok(Some(permission))
}

/// nats-server's `parsePermSubjects`: a subject or a list of subjects, each checked.
/// An empty list is `None`, as Go's nil slice is: no list at all.
fn parse_subjects(
    loader: &mut Loader,
    item: &Item,
    at: Option<&Position>,
    allow_queue: bool,
) -> Result<Option<Vec<String>>, ()> {
    let subjects = match &item.value {
        Value::String(subject) => vec![subject.clone()],
        Value::Array(elements) => {
            let mut subjects = Vec::with_capacity(elements.len());
            for element in elements {
                let Value::String(subject) = &element.value else {
                    let text = "Subject in permissions array cannot be cast to string".into();
                    loader.error_at(Some(&element.position), text);
                    return Err(());
                };
                subjects.push(subject.clone());
            }
            subjects
        }
        other => {
            let text = format!(
                "Expected subject permissions to be a subject, or array of subjects, got {}",
                other.go_type_name()
            );
            loader.error_at(at, text);
            return Err(());
        }
    };
    if let Err(text) = check_permission_subjects(&subjects, allow_queue) {
        loader.error_at(at, text);
        return Err(());
    }
    Ok((!subjects.is_empty()).then_some(subjects))
}

/// nats-server's `checkPermSubjectArray`: valid subjects, or on subscribe a valid
/// subject and queue separated by white space.
pub(crate) fn check_permission_subjects(
    subjects: &[String],
    allow_queue: bool,
) -> Result<(), String> {
    for subject in subjects {
        if is_valid_config_subject(subject) {
            continue;
        }
        let invalid = |text: &str| format!("subject {} is not a valid subject", go_quote(text));
        if !allow_queue {
            return Err(invalid(subject));
        }
        let fields: Vec<&str> = subject.split_whitespace().collect();
        match fields[..] {
            [subject, queue] => {
                if !is_valid_config_subject(subject) {
                    return Err(invalid(subject));
                }
                if !is_valid_config_subject(queue) {
                    return Err(format!("queue {} is not a valid queue", go_quote(queue)));
                }
            }
            _ => return Err(invalid(subject)),
        }
    }
    Ok(())
}

/// nats-server's `IsValidSubject` as configuration uses it: non-empty tokens, nothing
/// after a `>` token, no white space (form feed included) in any token.
pub(crate) fn is_valid_config_subject(subject: &str) -> bool {
    crate::auth::pattern::is_valid_config_subject(subject.as_bytes())
}

/// nats-server's `parseAllowResponses` for a value that is not a boolean.
fn parse_allow_responses(
    loader: &mut Loader,
    at: &Position,
    item: &Item,
) -> Option<ResponsePermission> {
    let Value::Map(map) = &item.value else {
        let text = "error parsing response permissions, expected a boolean or a map".into();
        loader.error_at(Some(at), text);
        return None;
    };
    let mut response = ResponsePermission {
        msgs_max: DEFAULT_RESPONSE_MSGS_MAX,
        expires: DEFAULT_RESPONSE_EXPIRES,
    };
    for entry in map.entries() {
        let (at, value) = (&entry.key_position, &entry.item);
        match entry.key.to_ascii_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                // Negative means unlimited; 0 keeps the default.
                let max = want_integer(loader, at, value).ok()?;
                if max != 0 {
                    response.msgs_max = max;
                }
            }
            "expires" | "expiration" | "ttl" => {
                response.expires = response_expiry(loader, at, value, response.expires)?;
            }
            _ if value.used_as_variable => {}
            _ => loader.error_at(
                Some(at),
                format!("Unknown field {} parsing permissions", go_quote(&entry.key)),
            ),
        }
    }
    Some(response)
}

/// `expires`: a Go duration; negative means no expiry (zero here), zero keeps `current`.
fn response_expiry(
    loader: &mut Loader,
    at: &Position,
    item: &Item,
    current: Duration,
) -> Option<Duration> {
    let Value::String(text) = &item.value else {
        let text = "error parsing expires, not a duration string".into();
        loader.error_at(Some(at), text);
        return None;
    };
    match super::keys::signed_duration(text) {
        Ok((true, _)) => Some(Duration::ZERO),
        Ok((false, expires)) if expires.is_zero() => Some(current),
        Ok((false, expires)) => Some(expires),
        Err(error) => {
            loader.error_at(Some(at), format!("error parsing expires: {error}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::auth::load_text;
    use super::*;

    fn allow(subjects: &[&str]) -> Option<SubjectPermission> {
        Some(SubjectPermission {
            allow: Some(subjects.iter().map(|subject| subject.to_string()).collect()),
            deny: None,
        })
    }

    #[test]
    fn permission_shapes_follow_nats_server() {
        let permissions = |text: &str| {
            let auth = load_text(&format!(
                "authorization {{ users: [{{ user: u, permissions: {text} }}] }}"
            ))
            .unwrap()
            .config
            .auth;
            auth.users[0].permissions.clone().unwrap()
        };
        // Empty lists and maps are Go's nil: no restriction at all.
        assert_eq!(
            permissions("{ publish: [] }").publish,
            Some(Default::default())
        );
        assert_eq!(permissions("{ publish: {} }").publish, None);
        let response = permissions("{ allow_responses: { max: -1, expires: \"-1s\" } }");
        assert_eq!(
            response.response,
            Some(ResponsePermission {
                msgs_max: -1,
                expires: Duration::ZERO
            })
        );
        let response = permissions("{ publish: x, allow_responses: { max: 0, ttl: \"5s\" } }");
        assert_eq!(
            response.response,
            Some(ResponsePermission {
                msgs_max: DEFAULT_RESPONSE_MSGS_MAX,
                expires: Duration::from_secs(5)
            })
        );
        assert_eq!(response.publish, allow(&["x"]));
    }

    #[test]
    fn queue_permissions_only_on_subscribe() {
        let subjects = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_permission_subjects(&subjects(&["a.*", "a b"]), true),
            Ok(())
        );
        assert_eq!(
            check_permission_subjects(&subjects(&["a b"]), false),
            Err("subject \"a b\" is not a valid subject".into())
        );
        assert_eq!(
            check_permission_subjects(&subjects(&["a b..c"]), true),
            Err("queue \"b..c\" is not a valid queue".into())
        );
        assert_eq!(
            check_permission_subjects(&subjects(&[">.a q"]), true),
            Err("subject \">.a\" is not a valid subject".into())
        );
        assert!(!is_valid_config_subject("a.\x0cb") && !is_valid_config_subject(""));
        assert!(is_valid_config_subject("a.b*.>"));
    }
}
