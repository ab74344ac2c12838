//! Version 1 claims (as older `nsc` wrote them, and as client test suites still ship
//! them) migrated into the version 2 shapes the rest of ringnats reads, the way the
//! `nats-io/jwt` v2 library's `decoder_operator.go`, `decoder_account.go` and
//! `decoder_user.go` migrate them for nats-server 2.15.1.
//!
//! Only version 1's fields are read from its `nats` section: whatever version 2 added
//! there (`default_permissions`, `mappings`, `authorization`, `strict_signing_key_usage`,
//! `allowed_connection_types`, scoped signing keys, ...) is ignored, exactly as the
//! library's version 1 structs ignore it, so such a token loads (without those claims)
//! in nats-server and here alike. Two fields differ in place or default: a user's
//! `issuer_account` is read from the top level, not from `nats`; and a user's `subs`,
//! `data` and `payload` default to unlimited (-1), where version 2's default to 0.

use std::collections::HashMap;

use serde::Deserialize;

use super::{
    Account, AccountLimits, Claims, Export, Import, Operator, Permission, ResponsePermission,
    Section, User,
};

/// The library's `NoLimit`.
const NO_LIMIT: i64 = -1;

/// `v1NatsOperator`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct V1Operator {
    /// `signing_keys`.
    signing_keys: Vec<String>,
    /// `account_server_url`.
    account_server_url: String,
    /// `system_account`.
    system_account: String,
}

impl Section for Operator {
    fn from_v1(data: &[u8]) -> serde_json::Result<Claims<Operator>> {
        let claims: Claims<V1Operator> = serde_json::from_slice(data)?;
        Ok(claims.map_nats(|v1| Operator {
            signing_keys: v1.signing_keys,
            system_account: v1.system_account,
            account_server_url: v1.account_server_url,
            ..Operator::default()
        }))
    }
}

/// `v1NatsAccount`: its `limits` are version 2's `NatsLimits` and `AccountLimits`
/// (same field names, no JetStream limits).
#[derive(Default, Deserialize)]
#[serde(default)]
struct V1Account {
    /// `imports`, version 2's layout.
    imports: Vec<Import>,
    /// `exports`, version 2's layout.
    exports: Vec<Export>,
    /// `limits`.
    limits: AccountLimits,
    /// `signing_keys`: plain keys only; an object here fails to decode, as in Go.
    signing_keys: Vec<String>,
    /// `revocations`.
    revocations: HashMap<String, i64>,
}

impl Section for Account {
    fn from_v1(data: &[u8]) -> serde_json::Result<Claims<Account>> {
        let claims: Claims<V1Account> = serde_json::from_slice(data)?;
        Ok(claims.map_nats(|v1| Account {
            limits: v1.limits,
            signing_keys: v1
                .signing_keys
                .into_iter()
                .map(serde_json::Value::String)
                .collect(),
            imports: v1.imports,
            exports: v1.exports,
            revocations: v1.revocations,
            ..Account::default()
        }))
    }
}

/// `v1User`: permissions and limits directly in `nats`.
#[derive(Deserialize)]
#[serde(default)]
struct V1User {
    /// `pub`.
    #[serde(rename = "pub")]
    publish: Permission,
    /// `sub`.
    #[serde(rename = "sub")]
    subscribe: Permission,
    /// `resp`.
    resp: Option<ResponsePermission>,
    /// `src`: version 1 wrote one comma-separated string.
    #[serde(deserialize_with = "super::cidr_list")]
    src: Vec<String>,
    /// `times`.
    times: Vec<serde_json::Value>,
    /// `subs`; unlimited when absent.
    subs: i64,
    /// `payload`; unlimited when absent.
    payload: i64,
    /// `bearer_token`.
    bearer_token: bool,
}

impl Default for V1User {
    /// `loadUser` presets the limits to `NoLimit` before decoding version 1.
    fn default() -> V1User {
        V1User {
            publish: Permission::default(),
            subscribe: Permission::default(),
            resp: None,
            src: Vec::new(),
            times: Vec::new(),
            subs: NO_LIMIT,
            payload: NO_LIMIT,
            bearer_token: false,
        }
    }
}

/// The top-level field of version 1 user claims that version 2 moved into `nats`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct V1UserTop {
    /// `issuer_account`.
    issuer_account: String,
}

impl Section for User {
    fn from_v1(data: &[u8]) -> serde_json::Result<Claims<User>> {
        let top: V1UserTop = serde_json::from_slice(data)?;
        let claims: Claims<V1User> = serde_json::from_slice(data)?;
        Ok(claims.map_nats(|v1| User {
            publish: v1.publish,
            subscribe: v1.subscribe,
            resp: v1.resp,
            subs: v1.subs,
            payload: v1.payload,
            src: v1.src,
            times: v1.times,
            bearer_token: v1.bearer_token,
            issuer_account: top.issuer_account,
            ..User::default()
        }))
    }
}
