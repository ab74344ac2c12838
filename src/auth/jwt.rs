//! NATS JWTs: decoding and verifying the operator, account and user claims that JWT
//! operator mode runs on, as the `nats-io/jwt` v2 library (which nats-server 2.15.1
//! uses) decodes them.
//!
//! A token is `header.payload.signature`, each part base64 raw-URL. The header must say
//! `typ` `JWT` and `alg` `ed25519-nkey` (version 2) or `ed25519` (version 1, as older
//! `nsc` wrote), case-insensitively; the payload is the claims JSON; the signature is an
//! ed25519 signature by the claims' `iss` nkey. The *payload*, not the header, decides
//! the claims version, as in the library: a top-level `type` (or `nats.version: 1`)
//! makes version 1, whose signature covers only the base64 payload and whose `nats`
//! section is migrated to version 2's shape by [`v1`]; otherwise `nats.version` must
//! be 2 and the signature covers `header.payload`. Each claim kind has an expected
//! issuer kind (operators sign themselves, operators sign accounts, accounts sign
//! users), checked here; whether that issuer is *trusted* is the caller's question.
//!
//! Only the fields ringnats uses are read; unknown fields are ignored, as Go's JSON
//! decoder ignores them. Fields ringnats cannot honour are read too, so the config
//! loader can refuse them rather than silently ignore them.

use std::collections::HashMap;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::authenticate::RAW_URL;

mod v1;

/// The `nats-io/jwt` library's `MaxTokenSize`: 1 MiB.
pub const TOKEN_BYTES_MAX: usize = 1024 * 1024;

/// nats-server's `jwtPrefix`: every encoded JWT starts with this (`{"` in base64).
pub const JWT_PREFIX: &str = "eyJ";

/// The newest claims version the library (`libVersion`) reads; version 1 is migrated.
const CLAIMS_VERSION: i64 = 2;

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
    /// The `nats` section; version 1 claims may leave it out.
    #[serde(default)]
    pub nats: N,
}

impl<N> Claims<N> {
    /// The same standard claims with the `nats` section replaced by `migrate`'s.
    fn map_nats<M>(self, migrate: impl FnOnce(N) -> M) -> Claims<M> {
        Claims {
            iss: self.iss,
            sub: self.sub,
            name: self.name,
            iat: self.iat,
            exp: self.exp,
            nbf: self.nbf,
            nats: migrate(self.nats),
        }
    }

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
    #[serde(deserialize_with = "cidr_list")]
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

/// A `nats` section that version 1 claims can be migrated into, as the library's
/// `loadOperator`, `loadAccount` and `loadUser` migrate them (see [`v1`]).
pub trait Section: DeserializeOwned + Default {
    /// Reads version 1 claims from the payload JSON `data`, in version 2's shape.
    fn from_v1(data: &[u8]) -> serde_json::Result<Claims<Self>>;
}

/// The library's `CIDRList`: a JSON list, or one comma-separated string (as version 1
/// wrote `src`), which it splits, trims and lower-cases, dropping empty entries; `null`
/// is an empty list, as Go decodes it.
fn cidr_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Cidrs {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Cidrs>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Cidrs::List(list)) => list,
        Some(Cidrs::Text(text)) => {
            let mut list: Vec<String> = Vec::new();
            for cidr in text.split(',').map(|cidr| cidr.trim().to_lowercase()) {
                if !cidr.is_empty() && !list.contains(&cidr) {
                    list.push(cidr);
                }
            }
            list
        }
    })
}

/// The library's `identifier`: what kind of claims, of which version, read before the
/// rest.
#[derive(Deserialize)]
struct Identifier {
    /// Version 1 claims carry `type` at the top level; present (and not empty), it
    /// makes the claims version 1 whatever `nats` says.
    #[serde(rename = "type", default)]
    v1_type: Option<String>,
    /// The `nats` section.
    #[serde(default)]
    nats: GenericFields,
}

impl Identifier {
    /// The library's `identifier.Kind`.
    fn kind(&self) -> &str {
        match self.v1_type.as_deref() {
            Some(kind) if !kind.is_empty() => kind,
            _ => &self.nats.kind,
        }
    }

    /// The library's `identifier.Version`: 1 with a top-level `type`, else
    /// `nats.version` (0 when absent, which no loader accepts).
    fn version(&self) -> i64 {
        match self.v1_type.as_deref() {
            Some(kind) if !kind.is_empty() => 1,
            _ => self.nats.version,
        }
    }
}

/// `nats.type` and `nats.version`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct GenericFields {
    #[serde(rename = "type")]
    kind: String,
    version: i64,
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
pub fn decode<N: Section>(token: &str, kind: ClaimKind) -> Result<Claims<N>, String> {
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
    check_header(header)?;
    let data = decode_part(payload)?;
    let identifier: Identifier =
        serde_json::from_slice(&data).map_err(|error| error.to_string())?;
    let version = identifier.version();
    if version > CLAIMS_VERSION {
        return Err("JWT was generated by a newer version ".into());
    }
    if identifier.kind() != kind.name() {
        return Err(format!("not {} claim", kind.name()));
    }
    let claims: Claims<N> = match version {
        1 => N::from_v1(&data),
        CLAIMS_VERSION => serde_json::from_slice(&data),
        other => {
            return Err(format!(
                "library supports version {CLAIMS_VERSION} or less - received {other}"
            ))
        }
    }
    .map_err(|error| error.to_string())?;
    // Version 1 signed only the payload chunk; version 2 signs `header.payload`.
    let (signed, failure) = match version {
        1 => (payload, "claim failed V1 signature verification"),
        _ => (
            &token[..header_and_payload_len(token)],
            "claim failed V2 signature verification",
        ),
    };
    let signature = decode_part(signature)?;
    let verified = nkeys::KeyPair::from_public_key(&claims.iss)
        .is_ok_and(|issuer| issuer.verify(signed.as_bytes(), &signature).is_ok());
    if !verified {
        return Err(failure.into());
    }
    if !claims.iss.starts_with(kind.issuer_prefix()) {
        return Err(format!(
            "unable to validate expected prefixes - [{}]",
            kind.issuer_prefix()
        ));
    }
    Ok(claims)
}

/// The library's `Header.Valid`: `typ` is `JWT` and `alg` is either version's, both
/// case-insensitively. The header does not decide the claims version.
fn check_header(header: &str) -> Result<(), String> {
    let header: Header = serde_json::from_slice(&decode_part(header)?)
        .map_err(|error| format!("invalid header: {error}"))?;
    if !header.typ.eq_ignore_ascii_case("JWT") {
        return Err(format!("not supported type {:?}", header.typ));
    }
    let alg = header.alg.to_lowercase();
    if alg != "ed25519" && alg != "ed25519-nkey" {
        return Err(format!("unexpected {:?} algorithm", header.alg));
    }
    Ok(())
}

/// The length of `header.payload` in `token` (the text version 2 signs).
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
