//! NATS JWTs: decoding and verifying the operator, account and user claims that JWT
//! operator mode runs on, as the `nats-io/jwt` v2 library (which nats-server 2.15.1
//! uses) decodes them.
//!
//! A token is `header.payload.signature`, each part base64 raw-URL. The header must say
//! `{"typ":"JWT","alg":"ed25519-nkey"}` (case-insensitive); the payload is the claims
//! JSON; the signature is an ed25519 signature of `header.payload` by the claims' `iss`
//! nkey. Only version 2 claims are read: the older version 1 format (`alg: ed25519`,
//! a top-level `type`) is refused. Each claim kind has an expected issuer kind
//! (operators sign themselves, operators sign accounts, accounts sign users), checked
//! here; whether that issuer is *trusted* is the caller's question.
//!
//! Only the fields ringnats uses are read; unknown fields are ignored, as Go's JSON
//! decoder ignores them. Fields ringnats cannot honour are read too, so the config
//! loader can refuse them rather than silently ignore them.

use std::collections::HashMap;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::authenticate::RAW_URL;

/// The `nats-io/jwt` library's `MaxTokenSize`: 1 MiB.
pub const TOKEN_BYTES_MAX: usize = 1024 * 1024;

/// nats-server's `jwtPrefix`: every encoded JWT starts with this (`{"` in base64).
pub const JWT_PREFIX: &str = "eyJ";

/// The claims version this module reads.
const CLAIMS_VERSION: u32 = 2;

/// Which claims a token carries (`nats.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimKind {
    /// `operator`: self-signed by the operator key (`O...`).
    Operator,
    /// `account`: signed by an operator key.
    Account,
    /// `user`: signed by an account key (`A...`).
    User,
}

impl ClaimKind {
    /// The `nats.type` text.
    fn name(self) -> &'static str {
        match self {
            ClaimKind::Operator => "operator",
            ClaimKind::Account => "account",
            ClaimKind::User => "user",
        }
    }

    /// The nkey prefix letter the issuer must have.
    fn issuer_prefix(self) -> char {
        match self {
            ClaimKind::Operator | ClaimKind::Account => 'O',
            ClaimKind::User => 'A',
        }
    }
}

/// A decoded, signature-checked JWT: the standard claims plus the `nats` section.
#[derive(Clone, Debug, Deserialize)]
pub struct Claims<N> {
    /// `iss`: the public key that signed the token.
    pub iss: String,
    /// `sub`: the public key the claims are about.
    pub sub: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `iat`: issued at, Unix seconds.
    #[serde(default)]
    pub iat: i64,
    /// `exp`: expires at, Unix seconds; 0 = never.
    #[serde(default)]
    pub exp: i64,
    /// `nbf`: not valid before, Unix seconds; 0 = always valid.
    #[serde(default)]
    pub nbf: i64,
    /// The `nats` section.
    pub nats: N,
}

impl<N> Claims<N> {
    /// The `nats-io/jwt` `ClaimsData.Validate` time checks at `now` (Unix seconds):
    /// `Err` with the library's words when expired or not yet valid.
    pub fn check_times(&self, now: i64) -> Result<(), &'static str> {
        if self.exp > 0 && now > self.exp {
            return Err("claim is expired");
        }
        if self.nbf > 0 && self.nbf > now {
            return Err("claim is not yet valid");
        }
        Ok(())
    }
}

/// The `nats` section of operator claims.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Operator {
    /// `signing_keys`: other operator keys that may sign accounts.
    pub signing_keys: Vec<String>,
    /// `system_account`.
    pub system_account: String,
    /// `account_server_url`: implies a URL resolver when no `resolver` is configured.
    pub account_server_url: String,
    /// `strict_signing_key_usage`: the operator's own key may not sign accounts.
    pub strict_signing_key_usage: bool,
    /// `assert_server_version`.
    pub assert_server_version: String,
}

/// The `nats` section of account claims.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Account {
    /// `limits`.
    pub limits: AccountLimits,
    /// `signing_keys`: plain keys (strings) or scoped keys (objects).
    pub signing_keys: Vec<serde_json::Value>,
    /// `imports`.
    pub imports: Vec<Import>,
    /// `exports`.
    pub exports: Vec<Export>,
    /// `revocations`: user public key (or `*`) to a time; users issued at or before it
    /// are refused.
    pub revocations: HashMap<String, i64>,
    /// `default_permissions`: for users whose JWT has no permissions.
    pub default_permissions: Permissions,
    /// `mappings` (subject mappings).
    pub mappings: serde_json::Map<String, serde_json::Value>,
    /// `authorization` (auth callout).
    pub authorization: serde_json::Value,
    /// `trace` (message tracing destination).
    pub trace: serde_json::Value,
}

/// An account's `limits`; absent counts as 0, -1 is unlimited.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    /// `subs`.
    pub subs: i64,
    /// `payload`.
    pub payload: i64,
    /// `conn`.
    pub conn: i64,
    /// `leaf`.
    pub leaf: i64,
    /// `disallow_bearer`: users of this account may not be bearer tokens.
    pub disallow_bearer: bool,
}

/// `stream` or `service` (`type` of imports and exports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    /// `stream`.
    Stream,
    /// `service`.
    Service,
    /// Absent or unknown: nats-server's `Unknown`, which it skips.
    #[default]
    #[serde(other)]
    Unknown,
}

/// One entry of an account's `imports`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Import {
    /// `subject`.
    pub subject: String,
    /// `account`: the exporter's public key.
    pub account: String,
    /// `token`: an activation JWT for a private export.
    pub token: String,
    /// `to`: a stream import's prefix, or a service import's subject in the exporter.
    pub to: String,
    /// `local_subject`: the subject in the importing account.
    pub local_subject: String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: ExportType,
    /// `share`.
    pub share: bool,
}

/// One entry of an account's `exports`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Export {
    /// `subject`.
    pub subject: String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: ExportType,
    /// `token_req`: importers need an activation token.
    pub token_req: bool,
    /// `revocations` of activation tokens.
    pub revocations: HashMap<String, i64>,
    /// `response_type`: `Singleton`, `Stream` or `Chunked`.
    pub response_type: String,
    /// `response_threshold`, Go nanoseconds.
    pub response_threshold: i64,
    /// `service_latency`.
    pub service_latency: serde_json::Value,
    /// `account_token_position`.
    pub account_token_position: u32,
}

/// `pub`, `sub` and `resp` of a user or of an account's `default_permissions`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Permissions {
    /// `pub`.
    #[serde(rename = "pub")]
    pub publish: Permission,
    /// `sub`.
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    /// `resp`.
    pub resp: Option<ResponsePermission>,
}

/// An allow and a deny list.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Permission {
    /// `allow`.
    pub allow: Vec<String>,
    /// `deny`.
    pub deny: Vec<String>,
}

/// `resp`: `{max, ttl}`, the TTL in Go nanoseconds.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResponsePermission {
    /// `max`.
    pub max: i64,
    /// `ttl`, nanoseconds.
    pub ttl: i64,
}

/// The `nats` section of user claims.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct User {
    /// `pub`.
    #[serde(rename = "pub")]
    pub publish: Permission,
    /// `sub`.
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    /// `resp`.
    pub resp: Option<ResponsePermission>,
    /// `subs`: the user's subscription limit; -1 unlimited.
    pub subs: i64,
    /// `payload`: the user's payload limit; -1 unlimited.
    pub payload: i64,
    /// `src`: CIDRs the user may connect from.
    pub src: Vec<String>,
    /// `times`: time ranges the user may connect in.
    pub times: Vec<serde_json::Value>,
    /// `bearer_token`: no nonce signature needed.
    pub bearer_token: bool,
    /// `proxy_required`.
    pub proxy_required: bool,
    /// `allowed_connection_types`.
    pub allowed_connection_types: Vec<String>,
    /// `issuer_account`: set when an account signing key signed the user.
    pub issuer_account: String,
}

impl User {
    /// The user's own permissions in the shape the rest of ringnats uses, or `None`
    /// when the JWT sets none (nats-server's `buildPermissionsFromJwt`).
    pub fn permissions(&self) -> Option<super::Permissions> {
        build_permissions(&self.publish, &self.subscribe, self.resp)
    }
}

impl Permissions {
    /// As [`User::permissions`], for an account's `default_permissions`.
    pub fn to_permissions(&self) -> Option<super::Permissions> {
        build_permissions(&self.publish, &self.subscribe, self.resp)
    }
}

/// nats-server's `buildPermissionsFromJwt` and `validateResponsePermissions`.
fn build_permissions(
    publish: &Permission,
    subscribe: &Permission,
    resp: Option<ResponsePermission>,
) -> Option<super::Permissions> {
    let list = |list: &[String]| (!list.is_empty()).then(|| list.to_vec());
    let subject = |permission: &Permission| {
        (!permission.allow.is_empty() || !permission.deny.is_empty()).then(|| {
            super::SubjectPermission {
                allow: list(&permission.allow),
                deny: list(&permission.deny),
            }
        })
    };
    let response = resp.map(|resp| super::ResponsePermission {
        msgs_max: if resp.max == 0 {
            super::DEFAULT_RESPONSE_MSGS_MAX
        } else {
            resp.max
        },
        expires: match resp.ttl {
            0 => super::DEFAULT_RESPONSE_EXPIRES,
            ttl if ttl < 0 => std::time::Duration::ZERO,
            ttl => std::time::Duration::from_nanos(ttl as u64),
        },
    });
    let permissions = super::Permissions {
        publish: subject(publish),
        subscribe: subject(subscribe),
        response,
    };
    (permissions != super::Permissions::default()).then_some(permissions)
}

/// The `nats` section's identification, read before the rest.
#[derive(Deserialize)]
struct Identifier {
    /// Version 1 claims carry `type` at the top level.
    #[serde(rename = "type")]
    v1_type: Option<String>,
    /// The `nats` section.
    #[serde(default)]
    nats: GenericFields,
}

/// `nats.type` and `nats.version`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct GenericFields {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
}

/// The header.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

/// Decodes `token` as `kind` claims and verifies its signature by its `iss`, in the
/// order of `nats-io/jwt`'s `Decode`. The error texts are that library's where it has
/// one (nats-server logs them at debug level, or prints them for a bad operator JWT).
pub fn decode<N: DeserializeOwned>(token: &str, kind: ClaimKind) -> Result<Claims<N>, String> {
    if token.len() > TOKEN_BYTES_MAX {
        return Err(format!(
            "token size {} exceeds maximum of {TOKEN_BYTES_MAX} bytes: token too large",
            token.len()
        ));
    }
    let chunks: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = chunks[..] else {
        return Err("expected 3 chunks".into());
    };
    let header: Header = serde_json::from_slice(&decode_part(header)?)
        .map_err(|error| format!("invalid header: {error}"))?;
    if !header.typ.eq_ignore_ascii_case("JWT") {
        return Err(format!("not supported type {:?}", header.typ));
    }
    if header.alg.eq_ignore_ascii_case("ed25519") {
        return Err("not yet supported: version 1 JWTs (alg ed25519)".into());
    }
    if !header.alg.eq_ignore_ascii_case("ed25519-nkey") {
        return Err(format!("unexpected {:?} algorithm", header.alg));
    }
    let data = decode_part(payload)?;
    let identifier: Identifier =
        serde_json::from_slice(&data).map_err(|error| error.to_string())?;
    if identifier.v1_type.is_some() || identifier.nats.version < CLAIMS_VERSION {
        return Err("not yet supported: version 1 JWT claims".into());
    }
    if identifier.nats.version > CLAIMS_VERSION {
        return Err("JWT was generated by a newer version ".into());
    }
    if identifier.nats.kind != kind.name() {
        return Err(format!("not {} claim", kind.name()));
    }
    let claims: Claims<N> = serde_json::from_slice(&data).map_err(|error| error.to_string())?;
    let signature = decode_part(signature)?;
    let signed = &token[..header_and_payload_len(token)];
    let verified = nkeys::KeyPair::from_public_key(&claims.iss)
        .is_ok_and(|issuer| issuer.verify(signed.as_bytes(), &signature).is_ok());
    if !verified {
        return Err("claim failed V2 signature verification".into());
    }
    if !claims.iss.starts_with(kind.issuer_prefix()) {
        return Err(format!(
            "unable to validate expected prefixes - [{}]",
            kind.issuer_prefix()
        ));
    }
    Ok(claims)
}

/// The length of `header.payload` in `token` (the signed text).
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').expect("a token of 3 chunks has dots")
}

/// One base64 raw-URL part.
fn decode_part(part: &str) -> Result<Vec<u8>, String> {
    RAW_URL
        .decode(part)
        .map_err(|error| format!("illegal base64 data: {error}"))
}

/// nats-io/jwt's `ParseDecoratedJWT`: the JWT inside a `.jwt`/`.creds` file, found
/// between the `-----BEGIN ...-----` and `------END ...------` marker lines, or the
/// whole (trimmed) text when it has no markers.
pub fn parse_decorated(contents: &str) -> &str {
    let mut lines = contents.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line.starts_with("-----BEGIN") && line.contains("JWT") {
            if let Some(jwt) = lines.next() {
                return jwt;
            }
        }
    }
    contents.trim()
}

/// The current time as Unix seconds.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

#[cfg(test)]
mod tests;
