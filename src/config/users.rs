//! User lists (`users: [...]` in `authorization {}` and in accounts): names and
//! passwords, nkeys, permissions and allowed connection types, read the way nats-server
//! 2.15.1's `parseUsers` reads them, with its checks and texts. See [`super::auth`] for
//! how Go's recovered panics are mirrored.

use super::auth::{refuse_proxy_required, unknown_field, want_string, Panicked};
use super::conf::{Item, Map, Position, Value};
use super::file::{go_quote, go_value_text, Loader};
use super::permissions::parse_permissions;
use crate::auth::{ConnectionTypes, NkeyUser, Permissions, User};

/// nkeys' prefix byte of a user's public key (`U...`).
const NKEY_PREFIX_USER: u8 = 20 << 3;
/// nkeys' prefix byte of an account's public key (`A...`).
const NKEY_PREFIX_ACCOUNT: u8 = 0;

/// nats-server's `allowed_connection_types` values (`jwt.ConnectionType*`).
const CONNECTION_TYPES: &[&str] = &[
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

/// One entry of a users list, as read.
#[derive(Default)]
struct UserEntry {
    /// `user`/`username`; empty when not given.
    name: String,
    /// `pass`/`password`; empty when not given.
    password: String,
    /// `nkey`; empty when not given (then the entry is a user with a password).
    nkey: String,
    /// `permissions` (or `permission`, `authorization`).
    permissions: Option<Permissions>,
    /// `allowed_connection_types` (or `connection_types`, `clients`).
    connection_types: ConnectionTypes,
}

/// nats-server's `parseUsers`: `None` when it returns nothing (a bad list, a bad entry
/// or a recovered panic; the error is recorded). `key_position` is where nats-server
/// reports a value that is not a list (`None` inside accounts, where it has no position).
pub(super) fn parse_users(
    loader: &mut Loader,
    item: &Item,
    key_position: Option<&Position>,
) -> Option<(Vec<NkeyUser>, Vec<User>)> {
    let Value::Array(elements) = &item.value else {
        let text = format!(
            "Expected users field to be an array, got {}",
            go_value_text(&item.value)
        );
        loader.error_at(key_position, text);
        return None;
    };
    let (mut nkey_users, mut users) = (Vec::new(), Vec::new());
    for element in elements {
        let Value::Map(map) = &element.value else {
            let text = format!(
                "Expected user entry to be a map/struct, got {}",
                go_value_text(&element.value)
            );
            loader.error_at(Some(&element.position), text);
            continue;
        };
        let (entry, last_position) = parse_user_entry(loader, map, &element.position).ok()?;
        let problem = if !entry.nkey.is_empty() {
            if !is_public_key(&entry.nkey, NKEY_PREFIX_USER) {
                Some("Not a valid public nkey for a user")
            } else if !entry.name.is_empty() || !entry.password.is_empty() {
                Some("Nkey users do not take usernames or passwords")
            } else {
                nkey_users.push(NkeyUser {
                    public_key: entry.nkey,
                    account: None,
                    permissions: entry.permissions,
                    connection_types: entry.connection_types,
                });
                None
            }
        } else if entry.name.is_empty() {
            Some("User entry requires a user")
        } else {
            users.push(User {
                name: entry.name,
                password: entry.password,
                account: None,
                permissions: entry.permissions,
                connection_types: entry.connection_types,
            });
            None
        };
        if let Some(problem) = problem {
            loader.error_at(Some(&last_position), problem.into());
            return None;
        }
    }
    Some((nkey_users, users))
}

/// The keys of one user entry, and the position nats-server reports entry-level
/// problems at: the last key it read (the entry itself when it has none).
fn parse_user_entry(
    loader: &mut Loader,
    map: &Map,
    element_position: &Position,
) -> Result<(UserEntry, Position), Panicked> {
    let mut entry = UserEntry::default();
    let mut last_position = element_position;
    for field in map.entries() {
        let (at, value) = (&field.key_position, &field.item);
        last_position = at;
        match field.key.to_ascii_lowercase().as_str() {
            "nkey" => entry.nkey = want_string(loader, at, value)?.into(),
            "user" | "username" => entry.name = want_string(loader, at, value)?.into(),
            "pass" | "password" => entry.password = want_string(loader, at, value)?.into(),
            "permission" | "permissions" | "authorization" => {
                if let Some(permissions) = parse_permissions(loader, at, value) {
                    entry.permissions = Some(permissions);
                }
            }
            "allowed_connection_types" | "connection_types" | "clients" => {
                entry.connection_types = parse_connection_types(loader, at, value);
            }
            "proxy_required" => refuse_proxy_required(loader, at, value)?,
            _ => unknown_field(loader, &field.key, at, value),
        }
    }
    Ok((entry, last_position.clone()))
}

/// nats-server's `parseAllowedConnectionTypes`: a string or a list of strings, known
/// types only, kept upper case.
fn parse_connection_types(loader: &mut Loader, at: &Position, item: &Item) -> ConnectionTypes {
    const FIELD: &str = "allowed connection types";
    let texts: Vec<&str> = match &item.value {
        Value::String(text) => vec![text],
        Value::Array(elements) => {
            let mut texts = Vec::new();
            for element in elements {
                match &element.value {
                    Value::String(text) => texts.push(text.as_str()),
                    other => loader.error_at(
                        Some(&element.position),
                        format!(
                            "error parsing {FIELD}: unsupported type in array {}",
                            other.go_type_name()
                        ),
                    ),
                }
            }
            texts
        }
        other => {
            let text = format!(
                "error parsing {FIELD}: unsupported type {}",
                other.go_type_name()
            );
            loader.error_at(Some(at), text);
            return ConnectionTypes::default();
        }
    };
    let mut types = ConnectionTypes::default();
    let mut unknown = Vec::new();
    for text in texts {
        let upper = text.to_uppercase();
        if !CONNECTION_TYPES.contains(&upper.as_str()) {
            unknown.push(go_quote(&upper));
        } else if !types.allowed.contains(&upper) {
            types.allowed.push(upper);
        }
    }
    if !unknown.is_empty() {
        let text = format!("invalid connection types [{}]", unknown.join(" "));
        loader.error_at(Some(at), text);
    }
    types
}

/// nkeys' `IsValidPublicUserKey`/`IsValidPublicAccountKey`: base32, checksum, prefix.
pub(super) fn is_public_key(text: &str, prefix: u8) -> bool {
    matches!(nkeys::from_public_key(text), Ok((found, _)) if found == prefix)
}

/// An account's `nkey`.
pub(super) fn is_public_account_key(text: &str) -> bool {
    is_public_key(text, NKEY_PREFIX_ACCOUNT)
}

#[cfg(test)]
mod tests {
    use super::super::auth::load_text;
    use crate::auth::{ResponsePermission, SubjectPermission};

    const USER_NKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

    fn allow(subjects: &[&str]) -> Option<SubjectPermission> {
        Some(SubjectPermission {
            allow: Some(subjects.iter().map(|subject| subject.to_string()).collect()),
            deny: None,
        })
    }

    #[test]
    fn users_carry_permissions_and_defaults() {
        let auth = load_text(&format!(
            "authorization {{
               default_permissions: {{ publish: \"public.>\" }}
               users: [
                 {{ user: a, password: p, permissions: {{
                     publish: {{ allow: [\"a.>\"], deny: \"a.secret\" }},
                     subscribe: [\"a.*\", \"work q1\"] }} }}
                 {{ user: b, pass: p, allowed_connection_types: [\"standard\", \"WebSocket\"] }}
                 {{ nkey: {USER_NKEY}, permissions: {{ allow_responses: true }} }}
               ]
             }}"
        ))
        .unwrap()
        .config
        .auth;
        assert_eq!(auth.users.len(), 2);
        let a = &auth.users[0].permissions.as_ref().unwrap();
        assert_eq!(
            a.publish,
            Some(SubjectPermission {
                allow: Some(vec!["a.>".into()]),
                deny: Some(vec!["a.secret".into()]),
            })
        );
        assert_eq!(a.subscribe, allow(&["a.*", "work q1"]));
        let b = &auth.users[1];
        assert_eq!(
            b.permissions.as_ref().unwrap().publish,
            allow(&["public.>"])
        );
        assert_eq!(b.connection_types.allowed, vec!["STANDARD", "WEBSOCKET"]);
        assert_eq!(b.account, None);
        let nkey = &auth.nkey_users[0];
        assert_eq!(nkey.public_key, USER_NKEY);
        // allow_responses turns off the blanket publish allow.
        let responses = nkey.permissions.as_ref().unwrap();
        assert_eq!(responses.response, Some(ResponsePermission::default()));
        assert_eq!(responses.publish.as_ref().unwrap().allow, Some(vec![]));
        assert!(auth.nonce_required());
    }
}
