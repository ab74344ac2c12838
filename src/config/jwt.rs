//! JWT operator mode keys: `operator`, `resolver` and `resolver_preload`, read the way
//! nats-server 2.15.1's `processConfigFileLine` reads them, then turned into accounts.
//!
//! Only the MEMORY resolver is built: every account must be preloaded. Each preloaded
//! account JWT becomes an [`AccountConfig`] named by its public key (limits, exports,
//! imports, default permissions), so the rest of ringnats treats it like an account of
//! `accounts {}`; what authentication needs besides (signing keys, revocations, expiry)
//! goes into [`OperatorMode`]. An account JWT not signed by a trusted operator key is
//! left out, as nats-server's resolver lookup refuses it when a user connects. Claims
//! that do not map onto ringnats' accounts (scoped signing keys, activation tokens,
//! subject mappings, auth callout, ...) are refused with `not yet supported`, rather
//! than ignored. Version 1 JWTs (operator or account, in any mix with version 2) load
//! the same way: [`jwt::decode`] has already migrated them, dropping what version 1
//! does not have, as nats-server's decoder does. Other resolvers, `trusted_keys` and
//! `resolver_pinned_accounts` are refused by [`super::auth`].
//!
//! nats-server checks operator mode against `accounts {}` and users when the server
//! starts, not under `-t`; so does [`validate`].

use std::time::Duration;

use super::conf::{Item, Position, Value};
use super::file::{KeyError, Loader};
use super::ConfigError;
use crate::auth::jwt::{self, ClaimKind, Claims, ExportType};
use crate::auth::{
    AccountConfig, AccountLimits, Export, ExportKind, Import, JwtAccount, OperatorMode,
    ResponseType,
};

/// What the operator keys said, kept until every key is read (they may come in any
/// order), then assembled by [`finish`].
#[derive(Default)]
pub(super) struct Pending {
    /// Decoded `operator` JWTs.
    operators: Vec<Claims<jwt::Operator>>,
    /// `resolver` was `MEMORY` (the only kind built).
    memory_resolver: bool,
    /// `resolver_preload` entries: key, claims, the value's position.
    preloads: Vec<(String, Claims<jwt::Account>, Position)>,
}

/// Applies `operator`, `resolver` or `resolver_preload`. Returns false for other keys.
pub(super) fn apply_jwt_key(loader: &mut Loader, key: &str, item: &Item) -> Result<bool, KeyError> {
    match key {
        "operator" | "operators" | "roots" | "root" | "root_operators" | "root_operator" => {
            operators(loader, item)?
        }
        "resolver" | "account_resolver" | "accounts_resolver" => resolver(loader, item)?,
        "resolver_preload" => preloads(loader, item)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `operator`: one JWT or file name, or a list of them.
fn operators(loader: &mut Loader, item: &Item) -> Result<(), KeyError> {
    let names: Vec<&str> = match &item.value {
        Value::String(name) => vec![name],
        Value::Array(items) => {
            let mut names = Vec::with_capacity(items.len());
            for element in items {
                match &element.value {
                    Value::String(name) => names.push(name.as_str()),
                    _ => {
                        return Err(KeyError::Reason(
                            "error parsing operators: unsupported type *conf.token where \
                             string is expected"
                                .into(),
                        ))
                    }
                }
            }
            names
        }
        other => {
            return Err(KeyError::Reason(format!(
                "error parsing operators: unsupported type {}",
                other.go_type_name()
            )))
        }
    };
    let mut errors = Vec::new();
    loader.jwt.operators.clear();
    for name in names {
        match read_operator(name) {
            Ok(claims) => loader.jwt.operators.push(claims),
            Err(error) => errors.push(format!("error parsing operator JWT: {error}")),
        }
    }
    match errors.into_iter().next() {
        Some(error) => Err(KeyError::Reason(error)),
        None => Ok(()),
    }
}

/// nats-server's `readOperatorJWT`: a file, else (when it looks like one) an inline JWT.
fn read_operator(name: &str) -> Result<Claims<jwt::Operator>, String> {
    let contents = match std::fs::read_to_string(name) {
        Ok(contents) => contents,
        Err(_) if name.starts_with(jwt::JWT_PREFIX) => name.to_string(),
        Err(error) => return Err(go_open_error(name, &error)),
    };
    jwt::decode(jwt::parse_decorated(&contents), ClaimKind::Operator)
}

/// Go's `*PathError` text for a failed open.
fn go_open_error(name: &str, error: &std::io::Error) -> String {
    let reason = match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    };
    format!("open {name}: {reason}")
}

/// `resolver`: `MEMORY` is built; URL and directory resolvers are refused.
fn resolver(loader: &mut Loader, item: &Item) -> Result<(), KeyError> {
    let kind = match &item.value {
        Value::String(text) => text.to_ascii_uppercase(),
        Value::Map(map) => match map.get("type").map(|item| &item.value) {
            Some(Value::String(kind)) => kind.to_ascii_uppercase(),
            _ => String::new(),
        },
        other => {
            return Err(KeyError::Reason(format!(
                "error parsing operator resolver, wrong type {}",
                other.go_type_name()
            )))
        }
    };
    let memory = match &item.value {
        // nats-server's unanchored `(?i)(MEM|MEMORY)\s*`.
        Value::String(_) => kind.contains("MEM"),
        _ => kind == "MEM" || kind == "MEMORY",
    };
    if memory {
        loader.jwt.memory_resolver = true;
        return Ok(());
    }
    Err(KeyError::Reason(super::auth::not_yet(
        "account resolvers other than MEMORY (resolver)",
    )))
}

/// `resolver_preload`: account public key to account JWT.
fn preloads(loader: &mut Loader, item: &Item) -> Result<(), KeyError> {
    let Value::Map(map) = &item.value else {
        return Err(KeyError::Reason(
            "preload should be a map of account_public_key:account_jwt".into(),
        ));
    };
    loader.jwt.preloads.clear();
    for entry in map.entries() {
        let Value::String(token) = &entry.item.value else {
            loader.error_at(
                Some(&entry.key_position),
                "preload map value should be a string JWT".into(),
            );
            continue;
        };
        match jwt::decode::<jwt::Account>(token, ClaimKind::Account) {
            Ok(claims) => {
                loader
                    .jwt
                    .preloads
                    .push((entry.key.clone(), claims, entry.key_position.clone()))
            }
            // nats-server reports a preload at its key.
            Err(_) => loader.error_at(Some(&entry.key_position), "invalid account JWT".into()),
        }
    }
    Ok(())
}

/// After every key: with trusted operators, builds [`OperatorMode`] and appends the
/// preloaded accounts to `auth.accounts`. Without operators the other keys are inert,
/// as in nats-server.
pub(super) fn finish(loader: &mut Loader) {
    let pending = std::mem::take(&mut loader.jwt);
    if pending.operators.is_empty() {
        return;
    }
    let mut trusted_keys = Vec::new();
    for operator in &pending.operators {
        if !operator.nats.strict_signing_key_usage {
            trusted_keys.push(operator.sub.clone());
        }
        trusted_keys.extend(operator.nats.signing_keys.iter().cloned());
        if !operator.nats.assert_server_version.is_empty() {
            loader.error_at(None, super::auth::not_yet("operator assert_server_version"));
        }
    }
    if let [only] = &pending.operators[..] {
        if !pending.memory_resolver && !only.nats.account_server_url.is_empty() {
            loader.error_at(
                None,
                super::auth::not_yet("account resolvers other than MEMORY (account_server_url)"),
            );
        }
        let auth = &mut loader.config.auth;
        if auth.system_account.is_none() && !only.nats.system_account.is_empty() {
            auth.system_account = Some(only.nats.system_account.clone());
        }
    }
    let mut mode = OperatorMode {
        trusted_keys,
        operator_system_accounts: pending
            .operators
            .iter()
            .map(|operator| operator.nats.system_account.clone())
            .collect(),
        memory_resolver: pending.memory_resolver,
        direct_accounts: !loader.config.auth.accounts.is_empty(),
        accounts: Vec::with_capacity(pending.preloads.len()),
    };
    for (key, claims, position) in pending.preloads {
        // nats-server stores the JWT under the map key and looks users' accounts up by
        // it; an untrusted issuer fails that lookup.
        if claims.sub != key || !mode.trusted_keys.contains(&claims.iss) {
            continue;
        }
        match account_config(&claims) {
            Ok(config) => {
                mode.accounts.push(jwt_account(&claims));
                loader.config.auth.accounts.push(config);
            }
            Err(feature) => loader.error_at(
                Some(&position),
                super::auth::not_yet(&format!("{feature} in account JWT {key}")),
            ),
        }
    }
    loader.config.auth.operator = Some(mode);
}

/// What authentication needs of an account JWT.
fn jwt_account(claims: &Claims<jwt::Account>) -> JwtAccount {
    JwtAccount {
        public_key: claims.sub.clone(),
        signing_keys: claims
            .nats
            .signing_keys
            .iter()
            .filter_map(|key| key.as_str().map(str::to_string))
            .collect(),
        revocations: claims
            .nats
            .revocations
            .iter()
            .map(|(key, at)| (key.clone(), *at))
            .collect(),
        disallow_bearer: claims.nats.limits.disallow_bearer,
        expires: claims.exp,
    }
}

/// The account as `accounts {}` would have it, or the claim that does not map.
fn account_config(claims: &Claims<jwt::Account>) -> Result<AccountConfig, &'static str> {
    let account = &claims.nats;
    if account.signing_keys.iter().any(|key| !key.is_string()) {
        return Err("scoped signing keys");
    }
    if !account.mappings.is_empty() {
        return Err("subject mappings");
    }
    if !is_empty_json(&account.authorization) {
        return Err("auth callout (authorization)");
    }
    if !is_empty_json(&account.trace) {
        return Err("message tracing (trace)");
    }
    let mut exports = Vec::with_capacity(account.exports.len());
    for export in &account.exports {
        exports.extend(export_config(export)?);
    }
    let mut imports = Vec::with_capacity(account.imports.len());
    for import in &account.imports {
        imports.extend(import_config(import)?);
    }
    Ok(AccountConfig {
        name: claims.sub.clone(),
        exports,
        imports,
        limits: AccountLimits {
            connections_max: limit(account.limits.conn),
            subscriptions_max: limit(account.limits.subs),
            payload_max: limit(account.limits.payload),
            leafnodes_max: limit(account.limits.leaf),
        },
        default_permissions: account.default_permissions.to_permissions(),
        nkey: Some(claims.sub.clone()),
    })
}

/// A JWT limit: negative = unlimited, else the count (clamped as nats-server clamps
/// to `int32`).
fn limit(value: i64) -> Option<u32> {
    (value >= 0).then(|| value.min(i64::from(i32::MAX)) as u32)
}

/// True for JSON `null`, `{}`, `[]` or an object of only empty values.
fn is_empty_json(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Object(map) => map.values().all(is_empty_json),
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::String(text) => text.is_empty(),
        serde_json::Value::Bool(flag) => !flag,
        serde_json::Value::Number(number) => number.as_i64() == Some(0),
    }
}

/// An export; `None` for an unknown type, which nats-server skips.
fn export_config(export: &jwt::Export) -> Result<Option<Export>, &'static str> {
    let kind = match export.kind {
        ExportType::Stream => ExportKind::Stream,
        ExportType::Service => ExportKind::Service,
        ExportType::Unknown => return Ok(None),
    };
    if export.token_req {
        return Err("private exports (token_req)");
    }
    if !export.revocations.is_empty() {
        return Err("export revocations");
    }
    if !is_empty_json(&export.service_latency) {
        return Err("service latency tracking (service_latency)");
    }
    let response_type = match export.response_type.as_str() {
        "Stream" => ResponseType::Stream,
        "Chunked" => ResponseType::Chunked,
        _ => ResponseType::Singleton,
    };
    Ok(Some(Export {
        kind,
        subject: export.subject.clone(),
        accounts: None,
        response_type,
        account_token_position: (export.account_token_position > 0)
            .then_some(export.account_token_position),
        response_threshold: (export.response_threshold > 0)
            .then(|| Duration::from_nanos(export.response_threshold as u64)),
    }))
}

/// An import, its subjects laid out as nats-server's `updateAccountClaimsWithRefresh`
/// passes them on; `None` for an unknown type.
fn import_config(import: &jwt::Import) -> Result<Option<Import>, &'static str> {
    if !import.token.is_empty() {
        return Err("activation tokens (import token)");
    }
    let present = |text: &str| (!text.is_empty()).then(|| text.to_string());
    let (kind, subject, prefix, to) = match import.kind {
        ExportType::Unknown => return Ok(None),
        // `local_subject` renames; the deprecated `to` is a prefix.
        ExportType::Stream if !import.local_subject.is_empty() => (
            ExportKind::Stream,
            import.subject.clone(),
            None,
            present(&import.local_subject),
        ),
        ExportType::Stream => (
            ExportKind::Stream,
            import.subject.clone(),
            present(&import.to),
            None,
        ),
        // `local_subject` is where the importer publishes and `subject` the export;
        // without it, `subject` is local and `to` (if any) the export.
        ExportType::Service if !import.local_subject.is_empty() => (
            ExportKind::Service,
            import.subject.clone(),
            None,
            present(&import.local_subject),
        ),
        ExportType::Service => (
            ExportKind::Service,
            present(&import.to).unwrap_or_else(|| import.subject.clone()),
            None,
            Some(import.subject.clone()),
        ),
    };
    Ok(Some(Import {
        kind,
        account: import.account.clone(),
        subject,
        prefix,
        to,
        share: import.share,
    }))
}

/// nats-server's start-time checks of operator mode (`validateTrustedOperators`), with
/// its texts.
pub(super) fn validate(auth: &crate::auth::AuthConfig) -> Result<(), ConfigError> {
    let Some(mode) = &auth.operator else {
        return Ok(());
    };
    let invalid = |text: &str| Err(ConfigError::Invalid(text.to_string()));
    if !mode.memory_resolver {
        return invalid("operators require an account resolver to be configured");
    }
    if mode.direct_accounts {
        return invalid("operators do not allow Accounts to be configured directly");
    }
    if !auth.users.is_empty() || !auth.nkey_users.is_empty() {
        return invalid("operators do not allow users to be configured directly");
    }
    if let Some(system) = &auth.system_account {
        let named = |key: &String| !key.is_empty();
        if mode.operator_system_accounts.iter().any(named)
            && !mode.operator_system_accounts.contains(system)
        {
            return invalid("system_account in config and operator JWT must be identical");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::json;

    use super::super::auth::load_text;
    use super::*;

    /// A v2 JWT of `claims` signed by `signer`.
    fn encode(claims: &serde_json::Value, signer: &nkeys::KeyPair) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let signed = format!("{header}.{}", engine.encode(claims.to_string()));
        let signature = signer.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", engine.encode(signature))
    }

    /// A version 1 JWT: `type` at the top level, the signature over the payload alone.
    fn jwt_v1(
        kind: &str,
        issuer: &nkeys::KeyPair,
        subject: &str,
        nats: serde_json::Value,
    ) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(r#"{"typ":"jwt","alg":"ed25519"}"#);
        let claims = json!({"iss": issuer.public_key(), "sub": subject, "type": kind,
            "nats": nats});
        let payload = engine.encode(claims.to_string());
        let signature = issuer.sign(payload.as_bytes()).unwrap();
        format!("{header}.{payload}.{}", engine.encode(signature))
    }

    fn jwt(kind: &str, issuer: &nkeys::KeyPair, subject: &str, nats: serde_json::Value) -> String {
        let mut section = json!({"type": kind, "version": 2});
        for (key, value) in nats.as_object().unwrap() {
            section[key] = value.clone();
        }
        let claims = json!({"iss": issuer.public_key(), "sub": subject, "nats": section});
        encode(&claims, issuer)
    }

    #[test]
    fn preloads_become_accounts_and_checks_match_nats_server() {
        let operator = nkeys::KeyPair::new_operator();
        let (account, stranger) = (
            nkeys::KeyPair::new_account(),
            nkeys::KeyPair::new_operator(),
        );
        let operator_jwt = jwt("operator", &operator, &operator.public_key(), json!({}));
        let nats = json!({"limits": {"conn": 2, "subs": -1, "payload": 100},
            "exports": [{"subject": "svc", "type": "service", "response_type": "Stream"}],
            "imports": [{"subject": "in", "account": account.public_key(), "type": "stream",
                         "to": "pre"}],
            "default_permissions": {"pub": {"deny": ["x"]}}});
        let account_jwt = jwt("account", &operator, &account.public_key(), nats.clone());
        let untrusted = nkeys::KeyPair::new_account();
        let untrusted_jwt = jwt("account", &stranger, &untrusted.public_key(), json!({}));
        let text = format!(
            "operator: \"{operator_jwt}\"\nresolver: MEMORY\nresolver_preload: {{\n  {}: \"{account_jwt}\"\n  {}: \"{untrusted_jwt}\"\n}}\n",
            account.public_key(),
            untrusted.public_key()
        );
        let loaded = load_text(&text).expect("loads");
        let auth = &loaded.config.auth;
        let [config] = &auth.accounts[..] else {
            panic!("only the trusted account: {:?}", auth.accounts)
        };
        assert_eq!(config.name, account.public_key());
        assert_eq!(config.limits.connections_max, Some(2));
        assert_eq!(config.limits.subscriptions_max, None);
        assert_eq!(config.limits.payload_max, Some(100));
        assert_eq!(config.exports[0].response_type, ResponseType::Stream);
        assert_eq!(config.imports[0].prefix.as_deref(), Some("pre"));
        assert!(config.default_permissions.is_some());
        assert!(auth.auth_required() && auth.nonce_required());
        assert!(loaded.config.validate().is_ok());

        // nats-server's start-time refusals.
        let without_resolver = text.replace("resolver: MEMORY\n", "");
        let loaded = load_text(&without_resolver).expect("-t accepts it");
        assert_eq!(
            loaded.config.validate().unwrap_err().to_string(),
            "operators require an account resolver to be configured"
        );
        let with_accounts = format!("{text}accounts: {{ X: {{}} }}\n");
        let loaded = load_text(&with_accounts).expect("-t accepts it");
        assert_eq!(
            loaded.config.validate().unwrap_err().to_string(),
            "operators do not allow Accounts to be configured directly"
        );

        // Claims that do not map are refused, not ignored.
        let mapped = jwt(
            "account",
            &operator,
            &account.public_key(),
            json!({"mappings": {"a": [{"subject": "b"}]}}),
        );
        let text = format!(
            "operator: \"{operator_jwt}\"\nresolver: MEMORY\nresolver_preload: {{ {}: \"{mapped}\" }}\n",
            account.public_key()
        );
        let Err(super::super::file::FileError::Invalid { errors, .. }) = load_text(&text) else {
            panic!("mappings must be refused")
        };
        let expected = format!(
            "not yet supported: subject mappings in account JWT {}",
            account.public_key()
        );
        assert!(errors[0].ends_with(&expected), "{errors:?}");
    }

    #[test]
    fn version_1_operators_and_accounts_load_in_any_mix() {
        let (operator, signer) = (
            nkeys::KeyPair::new_operator(),
            nkeys::KeyPair::new_operator(),
        );
        let (v1_account, v2_account) =
            (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_account());
        let operator_jwt = jwt_v1(
            "operator",
            &operator,
            &operator.public_key(),
            json!({"signing_keys": [signer.public_key()]}),
        );
        // `mappings` is not a version 1 field: dropped, not refused.
        let v1_jwt = jwt_v1(
            "account",
            &signer,
            &v1_account.public_key(),
            json!({"limits": {"conn": 3, "subs": -1, "payload": -1},
                   "mappings": {"a": [{"subject": "b"}]}}),
        );
        let v2_jwt = jwt("account", &operator, &v2_account.public_key(), json!({}));
        let text = format!(
            "operator: \"{operator_jwt}\"\nresolver: MEMORY\nresolver_preload: {{\n  {}: \"{v1_jwt}\"\n  {}: \"{v2_jwt}\"\n}}\n",
            v1_account.public_key(),
            v2_account.public_key()
        );
        let loaded = load_text(&text).expect("loads");
        let auth = &loaded.config.auth;
        let names: Vec<&str> = auth
            .accounts
            .iter()
            .map(|account| account.name.as_str())
            .collect();
        assert_eq!(names, [v1_account.public_key(), v2_account.public_key()]);
        assert_eq!(auth.accounts[0].limits.connections_max, Some(3));
        let mode = auth.operator.as_ref().expect("operator mode");
        assert!(mode.trusted_keys.contains(&signer.public_key()));
    }
}
