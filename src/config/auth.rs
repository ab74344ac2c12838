//! `authorization {}` and the other top-level auth keys
//! (`no_auth_user`, `system_account`, `no_system_account`), read the way nats-server
//! 2.15.1's `parseAuthorization`, `parseUsers` and `parseUserPermissions` read them.
//!
//! nats-server turns a value of the wrong type into a Go panic that a `recover` in the
//! enclosing parse function reports at the last key it looked at; that function then
//! returns nothing, and its caller carries on with the nothing (for `authorization`, a
//! second error: a nil pointer dereference at the block's key). The functions here keep
//! that shape so `-t` prints the same lines: a [`Panicked`] is such a recovered panic,
//! already recorded. nats-server walks every map in Go's random order; this walks them in
//! file order, which is one of the orders nats-server may take.
//!
//! User lists are read in [`super::users`], permissions in [`super::permissions`] and
//! accounts in [`super::accounts`]. Start-time checks (`no_auth_user` naming a user, the
//! system account existing) are in [`validate`], which `Config::validate` runs, because
//! nats-server makes them when the server starts and `-t` does not.

use std::time::Duration;

use super::conf::{Item, Map, Position, Value};
use super::file::{boolean, go_quote, go_value_text, string, type_error_text};
use super::file::{KeyError, Loader};
use super::permissions::parse_permissions;
use super::users::parse_users;
use super::{ConfigError, DEFAULT_AUTH_TIMEOUT};
use crate::auth::{NkeyUser, Permissions, User};

/// nats-server's text when the caller of a parse function that panicked reads its
/// result: the second error a type mistake inside `authorization {}` produces.
pub(super) const NIL_DEREFERENCE: &str =
    "runtime error: invalid memory address or nil pointer dereference";

/// An authorization `timeout` above this many seconds draws nats-server's warning.
const AUTH_TIMEOUT_HIGH_SECONDS: f64 = 60.0;

/// A Go panic that a parse function recovered from: the error is recorded, and the
/// function returns its zero values.
#[derive(Debug)]
pub(super) struct Panicked;

/// Applies one top-level auth key. Returns false for keys it does not own.
pub(super) fn apply_auth_key(
    loader: &mut Loader,
    key: &str,
    position: &Position,
    item: &Item,
) -> Result<bool, KeyError> {
    match key {
        "authorization" => authorization(loader, position, item)?,
        "accounts" => super::accounts::accounts(loader, position, item)?,
        "no_auth_user" => loader.config.auth.no_auth_user = non_empty(string(item)?),
        // Read before every other key by configure_system_account.
        "system_account" | "system" => {}
        "no_system_account" | "no_system" | "no_sys_acc" => {
            loader.config.auth.no_system_account = boolean(item)?
        }
        _ if super::jwt::apply_jwt_key(loader, key, item)? => {}
        "resolver_tls" | "resolver_pinned_accounts" | "trusted" | "trusted_keys" => {
            return Err(KeyError::Reason(not_yet(&format!(
                "JWT operator mode ({key})"
            ))))
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// nats-server's `configureSystemAccount`: `system_account`, else `system`, looked up
/// with the exact (lower-case) spelling before any other key is read.
pub(super) fn configure_system_account(loader: &mut Loader, map: &Map) {
    let Some(entry) = map.entry("system_account").or_else(|| map.entry("system")) else {
        return;
    };
    match &entry.item.value {
        Value::String(name) => loader.config.auth.system_account = non_empty(name),
        _ => loader.error_at(
            Some(&entry.key_position),
            "system account name must be a string".into(),
        ),
    }
}

/// What `authorization {}` said, before it is laid over the configuration.
#[derive(Default)]
struct AuthorizationBlock {
    /// `user`/`username`; empty when not given.
    user: String,
    /// `pass`/`password`; empty when not given.
    password: String,
    /// `token`; empty when not given.
    token: String,
    /// `timeout` in seconds; 0 = the default.
    timeout: f64,
    /// `Some` once `users` parsed, even empty: nats-server then refuses a single user.
    users: Option<Vec<User>>,
    /// The nkey entries of `users`.
    nkey_users: Vec<NkeyUser>,
    /// `default_permissions` (or `default_permission`, `permissions`).
    default_permissions: Option<Permissions>,
}

/// How parsing `authorization {}` failed.
enum BlockFailure {
    /// A type mistake: nats-server reports it and then dereferences the missing block.
    Panicked,
    /// An error nats-server returns from the parse (already recorded).
    Reported,
}

impl From<Panicked> for BlockFailure {
    fn from(_: Panicked) -> Self {
        Self::Panicked
    }
}

/// The `authorization` key: the block, then nats-server's checks of it against the
/// single user, the token and the users accounts defined.
fn authorization(loader: &mut Loader, position: &Position, item: &Item) -> Result<(), KeyError> {
    let block = match parse_authorization(loader, position, item) {
        Ok(block) => block,
        Err(BlockFailure::Panicked) => return Err(KeyError::Reason(NIL_DEREFERENCE.into())),
        Err(BlockFailure::Reported) => return Ok(()),
    };
    let auth = &mut loader.config.auth;
    auth.authorization_block = true;
    auth.user = non_empty(&block.user);
    auth.password = non_empty(&block.password);
    auth.token = non_empty(&block.token);
    auth.default_permissions = block.default_permissions;
    loader.config.auth_timeout = auth_timeout_duration(block.timeout)?;
    if (!block.user.is_empty() || !block.password.is_empty()) && !block.token.is_empty() {
        return Err(reason("Cannot have a user/pass and token"));
    }
    let auth = &mut loader.config.auth;
    let mut names = user_and_nkey_names(auth);
    if block.users.is_some() || !names.is_empty() {
        if !block.user.is_empty() {
            return Err(reason("Can not have a single user/pass and a users array"));
        }
        if !block.token.is_empty() {
            return Err(reason("Can not have a token and a users array"));
        }
        let users = block.users.unwrap_or_default();
        for user in &users {
            if !names.insert(user.name.clone()) {
                return Err(reason(&format!(
                    "Duplicate user {} detected",
                    go_quote(&user.name)
                )));
            }
        }
        auth.users.extend(users);
    }
    for nkey_user in &block.nkey_users {
        if !names.insert(nkey_user.public_key.clone()) {
            return Err(reason(&format!(
                "Duplicate nkey {} detected",
                go_quote(&nkey_user.public_key)
            )));
        }
    }
    auth.nkey_users.extend(block.nkey_users);
    Ok(())
}

/// Every user name and nkey defined so far (nats-server's duplicate check map).
pub(super) fn user_and_nkey_names(
    auth: &crate::auth::AuthConfig,
) -> std::collections::HashSet<String> {
    let names = auth.users.iter().map(|user| user.name.clone());
    let keys = auth.nkey_users.iter().map(|user| user.public_key.clone());
    names.chain(keys).collect()
}

/// nats-server keeps `timeout` as float seconds and takes 0 as the default. ringnats has
/// no meaning for a negative one (nats-server would time every client out at once).
fn auth_timeout_duration(seconds: f64) -> Result<Duration, KeyError> {
    if seconds == 0.0 {
        return Ok(DEFAULT_AUTH_TIMEOUT);
    }
    if seconds < 0.0 {
        return Err(reason("authorization timeout can not be negative"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| reason("authorization timeout is too big"))
}

/// nats-server's `parseAuthorization`.
fn parse_authorization(
    loader: &mut Loader,
    position: &Position,
    item: &Item,
) -> Result<AuthorizationBlock, BlockFailure> {
    let map = want_map(loader, position, item)?;
    let mut block = AuthorizationBlock::default();
    for entry in map.entries() {
        let (at, value) = (&entry.key_position, &entry.item);
        match entry.key.to_ascii_lowercase().as_str() {
            "user" | "username" => block.user = want_string(loader, at, value)?.into(),
            "pass" | "password" => block.password = want_string(loader, at, value)?.into(),
            "token" => block.token = want_string(loader, at, value)?.into(),
            "timeout" => block.timeout = authorization_timeout(loader, &entry.key, at, value)?,
            "users" => {
                if let Some((nkey_users, users)) = parse_users(loader, value, Some(at)) {
                    block.users = Some(users);
                    block.nkey_users = nkey_users;
                }
            }
            "default_permission" | "default_permissions" | "permissions" => {
                if let Some(permissions) = parse_permissions(loader, at, value) {
                    block.default_permissions = Some(permissions);
                }
            }
            key @ ("auth_callout" | "auth_hook") => {
                loader.error_at(Some(at), not_yet(&format!("auth callout ({key})")));
            }
            "proxy_required" => refuse_proxy_required(loader, at, value)?,
            _ => unknown_field(loader, &entry.key, at, value),
        }
    }
    let defaults = &block.default_permissions;
    if let Some(users) = &mut block.users {
        apply_default_permissions(users, &mut block.nkey_users, defaults);
    }
    Ok(block)
}

/// `timeout`: seconds as an integer or float, or a Go duration string.
fn authorization_timeout(
    loader: &mut Loader,
    key: &str,
    at: &Position,
    value: &Item,
) -> Result<f64, BlockFailure> {
    let seconds = match &value.value {
        Value::Integer(seconds) => *seconds as f64,
        Value::Float(seconds) => *seconds,
        Value::String(text) => match super::keys::signed_duration(text) {
            Ok((negative, duration)) => {
                let seconds = duration.as_secs_f64();
                if negative {
                    -seconds
                } else {
                    seconds
                }
            }
            Err(error) => {
                let text = format!("error parsing authorization config, 'timeout' {error}");
                loader.error_at(Some(at), text);
                return Err(BlockFailure::Reported);
            }
        },
        _ => {
            let text = "error parsing authorization config, 'timeout' wrong type".into();
            loader.error_at(Some(at), text);
            return Err(BlockFailure::Reported);
        }
    };
    if seconds > AUTH_TIMEOUT_HIGH_SECONDS {
        let reason = format!(
            "timeout of {} ({seconds:.6} seconds) is high, consider keeping it under 60 \
             seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for example",
            go_value_text(&value.value)
        );
        loader.warn(at, key, &reason);
    }
    Ok(seconds)
}

/// `proxy_required: true` needs trusted proxies, which ringnats does not have.
pub(super) fn refuse_proxy_required(
    loader: &mut Loader,
    at: &Position,
    value: &Item,
) -> Result<(), Panicked> {
    if want_bool(loader, at, value)? {
        loader.error_at(Some(at), not_yet("trusted proxies (proxy_required)"));
    }
    Ok(())
}

/// nats-server's `applyDefaultPermissions`: users without permissions of their own
/// get the block's (or account's) defaults.
pub(super) fn apply_default_permissions(
    users: &mut [User],
    nkey_users: &mut [NkeyUser],
    defaults: &Option<Permissions>,
) {
    let Some(defaults) = defaults else {
        return;
    };
    for user in users.iter_mut().filter(|user| user.permissions.is_none()) {
        user.permissions = Some(defaults.clone());
    }
    for user in nkey_users
        .iter_mut()
        .filter(|user| user.permissions.is_none())
    {
        user.permissions = Some(defaults.clone());
    }
}

// ---- start-time checks -----------------------------------------------------------------

/// nats-server's start-time checks of the auth settings (`validateNoAuthUser` and the
/// system account lookup in `configureAccounts`), with its texts.
pub(super) fn validate(auth: &crate::auth::AuthConfig) -> Result<(), ConfigError> {
    if let Some(name) = &auth.no_auth_user {
        if auth.users.is_empty() && auth.nkey_users.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "no_auth_user: \"{name}\" present, but users/nkeys are not defined"
            )));
        }
        let known = auth.users.iter().any(|user| user.name == *name)
            || auth.nkey_users.iter().any(|user| user.public_key == *name);
        if !known {
            return Err(ConfigError::Invalid(format!(
                "no_auth_user: \"{name}\" not present as user or nkey in authorization block \
                 or account configuration"
            )));
        }
    }
    super::jwt::validate(auth)?;
    if let Some(name) = &auth.system_account {
        let exists = name == crate::auth::GLOBAL_ACCOUNT
            || auth.accounts.iter().any(|account| account.name == *name);
        if !exists {
            return Err(ConfigError::Invalid(
                "error resolving system account: account missing".into(),
            ));
        }
    }
    Ok(())
}

// ---- typed reads that panic as Go's type assertions do ---------------------------------

/// Records a recovered panic's text at `at`.
pub(super) fn panic_at(loader: &mut Loader, at: &Position, text: String) -> Panicked {
    loader.error_at(Some(at), text);
    Panicked
}

pub(super) fn want_string<'i>(
    loader: &mut Loader,
    at: &Position,
    item: &'i Item,
) -> Result<&'i str, Panicked> {
    match &item.value {
        Value::String(text) => Ok(text),
        other => Err(panic_at(loader, at, type_error_text(other, "string"))),
    }
}

pub(super) fn want_bool(loader: &mut Loader, at: &Position, item: &Item) -> Result<bool, Panicked> {
    match item.value {
        Value::Bool(value) => Ok(value),
        ref other => Err(panic_at(loader, at, type_error_text(other, "bool"))),
    }
}

pub(super) fn want_integer(
    loader: &mut Loader,
    at: &Position,
    item: &Item,
) -> Result<i64, Panicked> {
    match item.value {
        Value::Integer(value) => Ok(value),
        ref other => Err(panic_at(loader, at, type_error_text(other, "int64"))),
    }
}

pub(super) fn want_map<'i>(
    loader: &mut Loader,
    at: &Position,
    item: &'i Item,
) -> Result<&'i Map, Panicked> {
    match &item.value {
        Value::Map(map) => Ok(map),
        other => Err(panic_at(
            loader,
            at,
            type_error_text(other, "map[string]interface {}"),
        )),
    }
}

pub(super) fn want_array<'i>(
    loader: &mut Loader,
    at: &Position,
    item: &'i Item,
) -> Result<&'i [Item], Panicked> {
    match &item.value {
        Value::Array(items) => Ok(items),
        other => Err(panic_at(
            loader,
            at,
            type_error_text(other, "[]interface {}"),
        )),
    }
}

/// nats-server's `unknown field` error, skipped for keys a `$reference` used.
pub(super) fn unknown_field(loader: &mut Loader, key: &str, at: &Position, item: &Item) {
    if !item.used_as_variable {
        loader.error_at(Some(at), format!("unknown field {}", go_quote(key)));
    }
}

/// `not yet supported: <feature>`.
pub(super) fn not_yet(feature: &str) -> String {
    ConfigError::NotYetSupported(feature.to_string()).to_string()
}

fn reason(text: &str) -> KeyError {
    KeyError::Reason(text.to_string())
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// Loads configuration text through a scratch file, for the unit tests of this module
/// and [`super::accounts`].
#[cfg(test)]
pub(super) fn load_text(text: &str) -> Result<super::file::LoadedConfig, super::file::FileError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let directory = std::env::temp_dir().join(format!(
        "ringnats-auth-unit-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("main.conf");
    std::fs::write(&path, text).unwrap();
    let loaded = super::file::load(&path);
    std::fs::remove_dir_all(&directory).unwrap();
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthConfig;

    fn auth_of(text: &str) -> (AuthConfig, Duration) {
        let loaded = load_text(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert!(loaded.warnings.is_empty(), "{text}: {:?}", loaded.warnings);
        (loaded.config.auth, loaded.config.auth_timeout)
    }

    /// The errors of a file that must fail, without the `main.conf:line:col: ` part.
    fn errors_of(text: &str) -> Vec<String> {
        match load_text(text) {
            Err(super::super::file::FileError::Invalid { errors, .. }) => errors
                .iter()
                .map(|line| match line.split_once(": ") {
                    Some((at, rest)) if at.contains("main.conf") => rest.to_string(),
                    _ => line.clone(),
                })
                .collect(),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn single_user_token_and_timeout() {
        let (auth, timeout) = auth_of("authorization { user: a, password: b, timeout: 0.5 }");
        assert_eq!(auth.user.as_deref(), Some("a"));
        assert_eq!(auth.password.as_deref(), Some("b"));
        assert!(auth.authorization_block && auth.auth_required());
        assert_eq!(timeout, Duration::from_millis(500));
        let (auth, timeout) = auth_of("authorization { token: \"$2a$11$abc\", timeout: \"3s\" }");
        assert_eq!(auth.token.as_deref(), Some("$2a$11$abc"));
        assert_eq!(timeout, Duration::from_secs(3));
        // An empty block requires nothing and keeps the default timeout.
        let (auth, timeout) = auth_of("authorization { timeout: 0 }");
        assert!(!auth.auth_required() && auth.authorization_block);
        assert_eq!(timeout, DEFAULT_AUTH_TIMEOUT);
        let warned = load_text("authorization { timeout: 90 }").unwrap();
        assert_eq!(warned.config.auth_timeout, Duration::from_secs(90));
        assert_eq!(warned.warnings.len(), 1);
    }

    #[test]
    fn bad_users_fail_with_nats_server_text() {
        let table: &[(&str, &[&str])] = &[
            (
                "authorization { user: a, token: t }",
                &["Cannot have a user/pass and token"],
            ),
            (
                "authorization { user: a, users: [] }",
                &["Can not have a single user/pass and a users array"],
            ),
            (
                "authorization { token: t, users: [{user: b}] }",
                &["Can not have a token and a users array"],
            ),
            (
                "authorization { users: [{user: b}, {user: b}] }",
                &["Duplicate user \"b\" detected"],
            ),
            (
                "authorization { users: [{nkey: UABC}] }",
                &["Not a valid public nkey for a user"],
            ),
            (
                "authorization { users: [{password: x}] }",
                &["User entry requires a user"],
            ),
            (
                "authorization { user: 5 }",
                &[
                    "interface conversion: interface {} is int64, not string",
                    NIL_DEREFERENCE,
                ],
            ),
            (
                "authorization { users: [{user: a, clients: [\"x\"]}] }",
                &["invalid connection types [\"X\"]"],
            ),
            (
                "authorization { users: [{user: a, permissions: {sub: \"a b c\"}}] }",
                &["subject \"a b c\" is not a valid subject"],
            ),
            (
                "authorization { auth_callout { issuer: x } }",
                &["not yet supported: auth callout (auth_callout)"],
            ),
            (
                "authorization { users: [{user: a, proxy_required: true}] }",
                &["not yet supported: trusted proxies (proxy_required)"],
            ),
            (
                "authorization { timeout: -1 }",
                &["authorization timeout can not be negative"],
            ),
            (
                "resolver_pinned_accounts: [x]",
                &["not yet supported: JWT operator mode (resolver_pinned_accounts)"],
            ),
            (
                "system_account: 5",
                &["system account name must be a string"],
            ),
        ];
        for (text, expected) in table {
            assert_eq!(errors_of(text), *expected, "{text}");
        }
    }

    #[test]
    fn start_checks_match_nats_server_text() {
        let (mut auth, _) = auth_of("no_auth_user: bob");
        assert_eq!(
            validate(&auth).unwrap_err().to_string(),
            "no_auth_user: \"bob\" present, but users/nkeys are not defined"
        );
        auth.users = auth_of("authorization { users: [{user: ann}] }").0.users;
        assert_eq!(
            validate(&auth).unwrap_err().to_string(),
            "no_auth_user: \"bob\" not present as user or nkey in authorization block or \
             account configuration"
        );
        auth.no_auth_user = Some("ann".into());
        assert_eq!(validate(&auth), Ok(()));
        let (auth, _) = auth_of("system_account: SYS");
        assert_eq!(
            validate(&auth).unwrap_err().to_string(),
            "error resolving system account: account missing"
        );
        let (auth, _) = auth_of("system: SYS\naccounts { SYS { users: [{user: admin}] } }");
        assert_eq!(validate(&auth), Ok(()));
        assert!(auth.implicit_no_auth_user());
        let (auth, _) = auth_of("system: SYS\naccounts { SYS {} }\nauthorization {}");
        assert!(!auth.implicit_no_auth_user());
    }
}
