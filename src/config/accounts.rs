//! `accounts { ... }`: the account names, each account's users, limits, default
//! permissions, exports and imports, read the way nats-server 2.15.1's `parseAccounts`,
//! `parseAccountExports`, `parseAccountImports` and friends read them.
//!
//! Each account's `exports` and `imports` lists are read in [`super::import_export`].
//! Like nats-server, exports and imports are checked against each other only once every
//! account is read and only if nothing failed before ([`super::account_links`]); their
//! errors point at the `accounts` key. Parts of an account that need features ringnats
//! lacks (JetStream, subject mappings, message tracing, service latency) are refused with
//! `not yet supported`. See [`super::auth`] for how Go's recovered panics are mirrored.

use std::collections::HashSet;

use super::auth::{
    apply_default_permissions, not_yet, unknown_field, user_and_nkey_names, want_integer,
    want_string, Panicked,
};
use super::conf::{Item, Map, Position, Value};
use super::file::{go_quote, go_value_text, KeyError, Loader};
use super::import_export;
use super::permissions::parse_permissions;
use super::users::{is_public_account_key, parse_users};
use crate::auth::{AccountConfig, AccountLimits, NkeyUser, User, GLOBAL_ACCOUNT};

/// The `accounts` key: a list of names or a map of account blocks.
pub(super) fn accounts(
    loader: &mut Loader,
    position: &Position,
    item: &Item,
) -> Result<(), KeyError> {
    let finished = match &item.value {
        Value::Array(elements) => account_names(loader, elements),
        Value::Map(map) => account_blocks(loader, map),
        // nats-server ignores any other value.
        _ => Ok(()),
    };
    if finished.is_err() || loader.has_errors() {
        return Ok(());
    }
    for error in super::account_links::link(&loader.config.auth.accounts) {
        loader.error_at(Some(position), error);
    }
    Ok(())
}

/// `accounts: [A, B]`.
fn account_names(loader: &mut Loader, elements: &[Item]) -> Result<(), Panicked> {
    let mut seen = HashSet::new();
    for element in elements {
        let name = want_string(loader, &element.position, element)?;
        if name == GLOBAL_ACCOUNT {
            let text = format!("{} is a Reserved Account", go_quote(name));
            loader.error_at(Some(&element.position), text);
            continue;
        }
        if !seen.insert(name) {
            let text = format!("Duplicate Account Entry: {name}");
            loader.error_at(Some(&element.position), text);
            continue;
        }
        loader.config.auth.accounts.push(AccountConfig {
            name: name.to_string(),
            ..AccountConfig::default()
        });
    }
    Ok(())
}

/// `accounts { A { ... } B { ... } }`.
fn account_blocks(loader: &mut Loader, map: &Map) -> Result<(), Panicked> {
    // Users and nkeys must be unique across accounts and `authorization {}`.
    let mut names = user_and_nkey_names(&loader.config.auth);
    for entry in map.entries() {
        if entry.item.used_as_variable {
            continue;
        }
        let at = &entry.key_position;
        let Value::Map(fields) = &entry.item.value else {
            loader.error_at(Some(at), "Expected map entries for accounts".into());
            continue;
        };
        if entry.key == GLOBAL_ACCOUNT {
            let text = format!("{} is a Reserved Account", go_quote(&entry.key));
            loader.error_at(Some(at), text);
            continue;
        }
        let index = loader.config.auth.accounts.len();
        loader.config.auth.accounts.push(AccountConfig {
            name: entry.key.clone(),
            ..AccountConfig::default()
        });
        let block = parse_account(loader, fields, index)?;
        add_account_users(loader, index, block, &mut names);
    }
    Ok(())
}

/// An account's users, as read, with the position nats-server reports them at.
#[derive(Default)]
struct AccountUsers {
    /// The `users` key, when there was one.
    position: Option<Position>,
    /// Users with passwords, not yet given their account.
    users: Vec<User>,
    /// Users with nkeys, not yet given their account.
    nkey_users: Vec<NkeyUser>,
}

/// The keys of one account block; everything but the users goes straight into the
/// account at `index`.
fn parse_account(
    loader: &mut Loader,
    fields: &Map,
    index: usize,
) -> Result<AccountUsers, Panicked> {
    let mut found = AccountUsers::default();
    for field in fields.entries() {
        let (at, value) = (&field.key_position, &field.item);
        let key = field.key.to_ascii_lowercase();
        match key.as_str() {
            "nkey" => account_nkey(loader, at, value, index),
            "imports" => {
                if let Some(imports) = import_export::parse_imports(loader, at, value) {
                    loader.config.auth.accounts[index].imports.extend(imports);
                }
            }
            "exports" => {
                if let Some(exports) = import_export::parse_exports(loader, at, value) {
                    loader.config.auth.accounts[index].exports.extend(exports);
                }
            }
            "jetstream" => account_jetstream(loader, at, value),
            "users" => {
                found.position = Some(at.clone());
                let (nkey_users, users) = parse_users(loader, value, None).unwrap_or_default();
                (found.nkey_users, found.users) = (nkey_users, users);
            }
            "default_permissions" => {
                let permissions = parse_permissions(loader, at, value);
                loader.config.auth.accounts[index].default_permissions = permissions;
            }
            "mappings" | "maps" => {
                if !matches!(&value.value, Value::Map(map) if map.is_empty()) {
                    loader.error_at(Some(at), not_yet(&format!("subject mappings ({key})")));
                }
            }
            "limits" => {
                let mut limits = loader.config.auth.accounts[index].limits;
                let outcome = parse_limits(loader, at, value, &mut limits);
                loader.config.auth.accounts[index].limits = limits;
                outcome?;
            }
            "msg_trace" | "trace_dest" => {
                loader.error_at(Some(at), not_yet(&format!("message tracing ({key})")));
            }
            _ => unknown_field(loader, &field.key, at, value),
        }
    }
    Ok(found)
}

/// nats-server's checks of an account's users against the single user and token, then
/// against every user seen so far; the users join the configuration in their account.
fn add_account_users(
    loader: &mut Loader,
    index: usize,
    mut found: AccountUsers,
    names: &mut HashSet<String>,
) {
    let at = found.position.as_ref();
    if !found.users.is_empty() || !found.nkey_users.is_empty() {
        if loader.config.auth.user.is_some() {
            let text = "Can not have a single user/pass and accounts".into();
            return loader.error_at(at, text);
        }
        if loader.config.auth.token.is_some() {
            return loader.error_at(at, "Can not have a token and accounts".into());
        }
    }
    let account = &loader.config.auth.accounts[index];
    let name = Some(account.name.clone());
    let defaults = account.default_permissions.clone();
    apply_default_permissions(&mut found.users, &mut found.nkey_users, &defaults);
    for nkey_user in &mut found.nkey_users {
        if !names.insert(nkey_user.public_key.clone()) {
            let text = format!(
                "Duplicate nkey {} detected",
                go_quote(&nkey_user.public_key)
            );
            loader.error_at(at, text);
            continue;
        }
        nkey_user.account = name.clone();
    }
    for user in &mut found.users {
        if !names.insert(user.name.clone()) {
            let text = format!("Duplicate user {} detected", go_quote(&user.name));
            loader.error_at(at, text);
            continue;
        }
        user.account = name.clone();
    }
    let auth = &mut loader.config.auth;
    auth.nkey_users.extend(found.nkey_users);
    auth.users.extend(found.users);
}

/// An account's `nkey`: a public account key.
fn account_nkey(loader: &mut Loader, at: &Position, item: &Item, index: usize) {
    match &item.value {
        Value::String(key) if is_public_account_key(key) => {
            loader.config.auth.accounts[index].nkey = Some(key.clone());
        }
        other => {
            let text = format!(
                "Not a valid public nkey for an account: {}",
                go_quoted_value(other)
            );
            loader.error_at(Some(at), text);
        }
    }
}

/// An account's `jetstream`: refused unless it stays off. nats-server has already
/// unwrapped the value, so its errors carry no position.
fn account_jetstream(loader: &mut Loader, at: &Position, item: &Item) {
    let enabled = match &item.value {
        Value::Bool(enabled) => *enabled,
        Value::String(text) => match text.to_lowercase().as_str() {
            "enabled" | "enable" => true,
            "disabled" | "disable" => false,
            _ => {
                let text =
                    format!("Expected 'enabled' or 'disabled' for string value, got '{text}'");
                return loader.error_at(None, text);
            }
        },
        Value::Map(_) => true,
        other => {
            let text = format!(
                "Expected map, bool or string to define JetStream, got {}",
                other.go_type_name()
            );
            return loader.error_at(None, text);
        }
    };
    if enabled {
        loader.error_at(Some(at), not_yet("JetStream (jetstream)"));
    }
}

/// nats-server's `parseAccountLimits`. Fields read before a type mistake stay set, as
/// they do in nats-server.
fn parse_limits(
    loader: &mut Loader,
    at: &Position,
    item: &Item,
    limits: &mut AccountLimits,
) -> Result<(), Panicked> {
    let Value::Map(map) = &item.value else {
        let text = format!(
            "Expected account limits to be a map/struct, got {}",
            go_value_text(&item.value)
        );
        loader.error_at(Some(at), text);
        return Ok(());
    };
    for entry in map.entries() {
        let (at, value) = (&entry.key_position, &entry.item);
        let slot = match entry.key.to_ascii_lowercase().as_str() {
            "max_connections" | "max_conn" => &mut limits.connections_max,
            "max_subscriptions" | "max_subs" => &mut limits.subscriptions_max,
            "max_payload" | "max_pay" => &mut limits.payload_max,
            "max_leafnodes" | "max_leafs" => &mut limits.leafnodes_max,
            _ => {
                if !value.used_as_variable {
                    let text = format!(
                        "Unknown field {} parsing account limits",
                        go_quote(&entry.key)
                    );
                    loader.error_at(Some(at), text);
                }
                continue;
            }
        };
        *slot = account_limit(want_integer(loader, at, value)?);
    }
    Ok(())
}

/// nats-server keeps account limits as `int32` (so larger values wrap) with -1 for no
/// limit; any other negative value refuses everything, as 0 does.
fn account_limit(value: i64) -> Option<u32> {
    match value as i32 {
        -1 => None,
        negative if negative < 0 => Some(0),
        limit => Some(limit as u32),
    }
}

// ---- small helpers ---------------------------------------------------------------------

/// Go's `%q` of a config value: strings quoted, integers as a quoted character, other
/// types in Go's `%!q(type=value)` form.
pub(super) fn go_quoted_value(value: &Value) -> String {
    match value {
        Value::String(text) => go_quote(text),
        Value::Integer(code) => match u32::try_from(*code).ok().and_then(char::from_u32) {
            Some(character) if !character.is_control() => format!("'{character}'"),
            Some(character) if (character as u32) < 0x80 => {
                format!("'\\x{:02x}'", character as u32)
            }
            Some(character) => format!("'\\u{:04x}'", character as u32),
            None => "'\u{fffd}'".into(),
        },
        other => format!("%!q({}={})", other.go_type_name(), go_value_text(other)),
    }
}

pub(super) fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::auth::load_text;
    use super::*;
    use crate::auth::{AuthConfig, ResponseType, SubjectPermission};
    use std::time::Duration;

    const ACCOUNT_NKEY: &str = "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA";

    fn auth_of(text: &str) -> AuthConfig {
        let loaded = load_text(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        loaded.config.auth
    }

    fn error_of(text: &str) -> String {
        let error = load_text(text).unwrap_err().to_string();
        let line = error.lines().next().unwrap();
        match line.split_once(": ") {
            Some((at, rest)) if at.contains("main.conf") => rest.to_string(),
            _ => line.to_string(),
        }
    }

    #[test]
    fn names_and_blocks_become_accounts() {
        let names: Vec<String> = auth_of("accounts: [A, B]")
            .accounts
            .into_iter()
            .map(|account| account.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
        let auth = auth_of(&format!(
            "accounts {{
               A {{
                 nkey: {ACCOUNT_NKEY}
                 users: [{{user: a, password: p}}, {{user: b, permissions: {{sub: x}}}}]
                 default_permissions: {{ publish: \"a.>\" }}
                 limits: {{ max_connections: 10, max_subs: -1, max_payload: -5, max_leafs: 3000000000 }}
                 exports: [
                   {{ stream: \"events.>\", accounts: [B] }}
                   {{ service: \"help.*\", response_type: chunked, threshold: \"5s\",
                      account_token_position: 2 }}
                 ]
               }}
               B {{
                 imports: [
                   {{ stream: {{ account: A, subject: \"events.x\" }}, prefix: from_a }}
                   {{ service: {{ account: A, subject: \"help.B\" }}, to: help, share: true }}
                 ]
               }}
             }}"
        ));
        let a = &auth.accounts[0];
        assert_eq!(a.nkey.as_deref(), Some(ACCOUNT_NKEY));
        assert_eq!(
            a.limits,
            AccountLimits {
                connections_max: Some(10),
                subscriptions_max: None,
                payload_max: Some(0),
                // Go's int32 wraps 3000000000 to a negative number.
                leafnodes_max: Some(0),
            }
        );
        assert_eq!(a.exports[0].accounts, Some(vec!["B".to_string()]));
        let service = &a.exports[1];
        assert_eq!(service.response_type, ResponseType::Chunked);
        assert_eq!(service.response_threshold, Some(Duration::from_secs(5)));
        assert_eq!(service.account_token_position, Some(2));
        let imports = &auth.accounts[1].imports;
        assert_eq!(imports[0].prefix.as_deref(), Some("from_a"));
        assert_eq!(imports[0].to, None);
        assert_eq!(imports[1].to.as_deref(), Some("help"));
        assert!(imports[1].share);
        // Users land in their account, with its defaults where they have none.
        assert!(auth
            .users
            .iter()
            .all(|user| user.account.as_deref() == Some("A")));
        let defaults = auth.users[0].permissions.as_ref().unwrap();
        assert_eq!(
            defaults.publish.as_ref().unwrap().allow,
            Some(vec!["a.>".into()])
        );
        let own = auth.users[1].permissions.as_ref().unwrap();
        assert_eq!(own.publish, None);
        assert_eq!(
            own.subscribe,
            Some(SubjectPermission {
                allow: Some(vec!["x".into()]),
                deny: None
            })
        );
    }

    #[test]
    fn a_service_import_defaults_to_its_subject() {
        let auth = auth_of(
            "accounts { A { exports: [{service: s}] }, B { imports: [{service: {account: A, subject: s}}] } }",
        );
        assert_eq!(auth.accounts[1].imports[0].to.as_deref(), Some("s"));
    }

    #[test]
    fn bad_accounts_fail_with_nats_server_text() {
        let table: &[(&str, &str)] = &[
            ("accounts: [A, A]", "Duplicate Account Entry: A"),
            ("accounts { \"$G\" {} }", "\"$G\" is a Reserved Account"),
            ("accounts { A: 1 }", "Expected map entries for accounts"),
            (
                "accounts { A { users: [{user: u}] }, B { users: [{user: u}] } }",
                "Duplicate user \"u\" detected",
            ),
            (
                "authorization { token: t }\naccounts { A { users: [{user: u}] } }",
                "Can not have a token and accounts",
            ),
            (
                "accounts { A { nkey: AXYZ } }",
                "Not a valid public nkey for an account: \"AXYZ\"",
            ),
            (
                "accounts { B { imports: [{stream: {account: A, subject: x}}] } }",
                "\"A\" account not defined for stream import",
            ),
            (
                "accounts { A { exports: [{service: s, accounts: [C]}] }, C {} , B { imports: [{service: {account: A, subject: s}}] } }",
                "Error adding service import \"s\": service import not authorized",
            ),
            (
                "accounts { A { exports: [{stream: x}] }, B { imports: [{stream: {account: A, subject: x}, prefix: \">\"}] } }",
                "Error adding stream import \"x\": stream import prefix can not contain wildcard tokens",
            ),
            (
                "accounts { A { jetstream: enabled } }",
                "not yet supported: JetStream (jetstream)",
            ),
            (
                "accounts { A { mappings: { a: b } } }",
                "not yet supported: subject mappings (mappings)",
            ),
            (
                "accounts { A { exports: [{service: s, latency: l}] } }",
                "not yet supported: service latency (latency)",
            ),
            (
                "accounts { A { limits: { max_conn: x } } }",
                "interface conversion: interface {} is string, not int64",
            ),
        ];
        for (text, expected) in table {
            assert_eq!(error_of(text), *expected, "{text}");
        }
    }

    #[test]
    fn imports_are_not_checked_after_other_errors() {
        // nats-server bails out before linking when anything failed already.
        let error =
            load_text("foo: 1\naccounts { B { imports: [{stream: {account: A, subject: x}}] } }")
                .unwrap_err()
                .to_string();
        assert!(
            error.ends_with("main.conf:1:0: unknown field \"foo\"\n"),
            "{error}"
        );
        assert_eq!(error.lines().count(), 1, "{error}");
    }

    #[test]
    fn limits_keep_nats_server_meaning() {
        assert_eq!(account_limit(-1), None);
        assert_eq!(account_limit(-2), Some(0));
        assert_eq!(account_limit(0), Some(0));
        assert_eq!(account_limit(7), Some(7));
        assert_eq!(account_limit(1 << 32), Some(0));
        assert_eq!(account_limit((1 << 32) - 1), None);
    }
}
