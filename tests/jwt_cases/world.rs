//! A small JWT world made at test time: an operator (with a signing key), accounts A
//! (exports a stream, has a signing key), B (signed by the operator's signing key,
//! imports A's stream), C (one connection, one subscription), D (revokes the test user),
//! E (carries claims only version 2 has), the system account, and user JWTs for the
//! test user key, each signed with the `nkeys` crate by a tiny encoder of the
//! `nats-io/jwt` format.
//!
//! A world writes each kind of JWT (operator, accounts, users) in the claims version its
//! [`Versions`] say, so the same cases run on version 2 (what `nsc` writes today:
//! `type` and `version` in the `nats` section, the signature over `header.payload`),
//! on version 1 (what older `nsc` wrote and client test suites still ship: header
//! `{"typ":"jwt","alg":"ed25519"}`, `type` at the top level, the signature over the
//! payload alone), and on mixtures of both.

use nkeys::KeyPair;
use serde_json::{json, Value};

use crate::script::{base64_url, TestKeys};

/// The claims version of each kind of JWT in a world: 1 or 2.
#[derive(Clone, Copy, Debug)]
pub struct Versions {
    pub operator: u8,
    pub accounts: u8,
    pub users: u8,
}

impl Versions {
    /// Everything in version 2.
    pub const V2: Versions = Versions {
        operator: 2,
        accounts: 2,
        users: 2,
    };
    /// Everything in version 1.
    pub const V1: Versions = Versions {
        operator: 1,
        accounts: 1,
        users: 1,
    };
}

/// Encodes `claims` as a NATS JWT of `version`, signed by `signer`.
pub fn encode(claims: &Value, signer: &KeyPair, version: u8) -> String {
    let (signed, _) = encode_parts(claims, signer, version);
    signed
}

/// [`encode`], and the same token signed over the text the *other* version signs (a
/// signature that must not verify).
fn encode_parts(claims: &Value, signer: &KeyPair, version: u8) -> (String, String) {
    let header = match version {
        1 => json!({"typ": "jwt", "alg": "ed25519"}),
        _ => json!({"typ": "JWT", "alg": "ed25519-nkey"}),
    };
    let header = base64_url(header.to_string().as_bytes());
    let payload = base64_url(claims.to_string().as_bytes());
    let both = format!("{header}.{payload}");
    let sign = |text: &str| base64_url(&signer.sign(text.as_bytes()).expect("a seed signs"));
    let (right, wrong) = match version {
        1 => (sign(&payload), sign(&both)),
        _ => (sign(&both), sign(&payload)),
    };
    (format!("{both}.{right}"), format!("{both}.{wrong}"))
}

/// Claims of `kind` about `subject`, issued by `issuer`, in `version`: version 2 puts
/// `type` and `version` into `nats`, version 1 puts `type` at the top level.
fn claims(kind: &str, issuer: &KeyPair, subject: &str, nats: Value, version: u8) -> Value {
    let mut claims = json!({
        "jti": format!("{kind}-{subject}"),
        "iat": now() - 10,
        "iss": issuer.public_key(),
        "name": kind,
        "sub": subject,
        "nats": nats,
    });
    match version {
        1 => claims["type"] = json!(kind),
        _ => {
            claims["nats"]["type"] = json!(kind);
            claims["nats"]["version"] = json!(2);
        }
    }
    claims
}

/// `base` with every member of `extra` set.
fn merged(mut base: Value, extra: Value) -> Value {
    for (key, value) in extra.as_object().expect("an object") {
        base[key] = value.clone();
    }
    base
}

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// The keys of one world.
pub struct World {
    pub versions: Versions,
    pub operator: KeyPair,
    /// A signing key of the operator (signs account B).
    pub operator_signer: KeyPair,
    pub a: KeyPair,
    pub b: KeyPair,
    pub c: KeyPair,
    pub d: KeyPair,
    /// Preloaded only by [`V1_ONLY_CONFIG`]: its `default_permissions` and `mappings`
    /// are version 2 claims, which ringnats refuses in version 2.
    pub e: KeyPair,
    pub system: KeyPair,
    /// An account no config knows.
    pub unknown: KeyPair,
    /// A signing key of account A.
    pub a_signer: KeyPair,
}

impl World {
    pub fn new(versions: Versions) -> World {
        World {
            versions,
            operator: KeyPair::new_operator(),
            operator_signer: KeyPair::new_operator(),
            a: KeyPair::new_account(),
            b: KeyPair::new_account(),
            c: KeyPair::new_account(),
            d: KeyPair::new_account(),
            e: KeyPair::new_account(),
            system: KeyPair::new_account(),
            unknown: KeyPair::new_account(),
            a_signer: KeyPair::new_account(),
        }
    }

    /// The operator JWT (self-signed, naming the system account and a signing key).
    pub fn operator_jwt(&self) -> String {
        let nats = json!({"system_account": self.system.public_key(),
            "signing_keys": [self.operator_signer.public_key()]});
        let subject = self.operator.public_key();
        let claims = claims(
            "operator",
            &self.operator,
            &subject,
            nats,
            self.versions.operator,
        );
        encode(&claims, &self.operator, self.versions.operator)
    }

    /// An account JWT signed by `issuer` (an operator key) with unlimited limits, as
    /// `nsc` writes them, then `limits` and the other members of `extra` set.
    pub fn account_jwt(&self, issuer: &KeyPair, account: &KeyPair, extra: Value) -> String {
        let mut nats = json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
            "exports": -1, "wildcards": true, "conn": -1, "leaf": -1}});
        for (key, value) in extra.as_object().expect("an object") {
            match key.as_str() {
                "limits" => nats["limits"] = merged(nats["limits"].take(), value.clone()),
                _ => nats[key] = value.clone(),
            }
        }
        let version = self.versions.accounts;
        let claims = claims("account", issuer, &account.public_key(), nats, version);
        encode(&claims, issuer, version)
    }

    /// A user JWT for `user`, signed by `issuer` (the account, or a signing key when
    /// `extra` names `issuer_account`); `exp` and `nbf` in `extra` are standard claims.
    pub fn user_jwt(&self, issuer: &KeyPair, user: &KeyPair, extra: Value) -> String {
        let claims = self.user_claims(issuer, user, extra);
        encode(&claims, issuer, self.versions.users)
    }

    /// The claims of [`World::user_jwt`].
    fn user_claims(&self, issuer: &KeyPair, user: &KeyPair, extra: Value) -> Value {
        let version = self.versions.users;
        // Version 2 `nsc` writes unlimited user limits; version 1 wrote none, which the
        // library reads as unlimited.
        let mut nats = match version {
            1 => json!({}),
            _ => json!({"subs": -1, "data": -1, "payload": -1}),
        };
        let mut top = Vec::new();
        for (key, value) in extra.as_object().expect("an object") {
            match key.as_str() {
                "exp" | "nbf" => top.push((key.clone(), value.clone())),
                // Version 1 kept `issuer_account` at the top level.
                "issuer_account" if version == 1 => top.push((key.clone(), value.clone())),
                _ => nats[key] = value.clone(),
            }
        }
        let mut claims = claims("user", issuer, &user.public_key(), nats, version);
        for (key, value) in top {
            claims[key] = value;
        }
        claims
    }

    /// The accounts' JWTs, by placeholder.
    fn account_jwts(&self, keys: &TestKeys) -> Vec<(&'static str, String)> {
        let a_nats = json!({"signing_keys": [self.a_signer.public_key()],
            "exports": [{"subject": "feed.>", "type": "stream"}]});
        let b_nats = json!({"imports": [{"subject": "feed.>", "account": self.a.public_key(),
            "type": "stream"}]});
        let d_nats = json!({"revocations": {keys.user.public_key(): now()}});
        let e_nats = json!({"default_permissions": {"pub": {"deny": [">"]}},
            "mappings": {"e.in": [{"subject": "e.out", "weight": 100}]}});
        vec![
            (
                "{account_a_jwt}",
                self.account_jwt(&self.operator, &self.a, a_nats),
            ),
            (
                "{account_b_jwt}",
                self.account_jwt(&self.operator_signer, &self.b, b_nats),
            ),
            (
                "{account_c_jwt}",
                self.account_jwt(
                    &self.operator,
                    &self.c,
                    json!({"limits": {"conn": 1, "subs": 1}}),
                ),
            ),
            (
                "{account_d_jwt}",
                self.account_jwt(&self.operator, &self.d, d_nats),
            ),
            (
                "{account_e_jwt}",
                self.account_jwt(&self.operator, &self.e, e_nats),
            ),
            (
                "{system_jwt}",
                self.account_jwt(&self.operator, &self.system, json!({})),
            ),
        ]
    }

    /// The users' JWTs (all for `keys.user`), by placeholder.
    fn user_jwts(&self, keys: &TestKeys) -> Vec<(&'static str, String)> {
        let user = &keys.user;
        let version = self.versions.users;
        let claims_a = self.user_claims(&self.a, user, json!({}));
        // Claims naming A as issuer, signed by a key that is not A's.
        let forged = encode(&claims_a, &KeyPair::new_account(), version);
        let (_, other_text) = encode_parts(&claims_a, &self.a, version);
        // `issuer_account` inside `nats`, where version 1 did not read it.
        let mut in_nats = self.user_claims(&self.a_signer, user, json!({}));
        in_nats["nats"]["issuer_account"] = json!(self.a.public_key());
        let in_nats = encode(&in_nats, &self.a_signer, version);
        vec![
            ("{user_a_jwt}", self.user_jwt(&self.a, user, json!({}))),
            ("{user_b_jwt}", self.user_jwt(&self.b, user, json!({}))),
            ("{user_c_jwt}", self.user_jwt(&self.c, user, json!({}))),
            ("{user_d_jwt}", self.user_jwt(&self.d, user, json!({}))),
            (
                "{user_by_signer_jwt}",
                self.user_jwt(
                    &self.a_signer,
                    user,
                    json!({"issuer_account": self.a.public_key()}),
                ),
            ),
            (
                "{user_unknown_jwt}",
                self.user_jwt(&self.unknown, user, json!({})),
            ),
            (
                "{user_expired_jwt}",
                self.user_jwt(&self.a, user, json!({"exp": now() - 60})),
            ),
            (
                "{user_limited_jwt}",
                self.user_jwt(
                    &self.a,
                    user,
                    json!({"pub": {"allow": ["allowed.>"]}, "sub": {"deny": ["secret"]}}),
                ),
            ),
            ("{user_forged_jwt}", forged),
            ("{user_other_signed_text_jwt}", other_text),
            ("{user_e_jwt}", self.user_jwt(&self.e, user, json!({}))),
            (
                "{user_websocket_only_jwt}",
                self.user_jwt(
                    &self.a,
                    user,
                    json!({"allowed_connection_types": ["WEBSOCKET"]}),
                ),
            ),
            ("{user_issuer_account_in_nats_jwt}", in_nats),
        ]
    }

    /// Test keys with every placeholder of the JWT cases filled for `keys.user`.
    pub fn test_keys(&self) -> TestKeys {
        let mut keys = TestKeys::new();
        let mut replacements = vec![
            ("{operator_jwt}", self.operator_jwt()),
            ("{account_a}", self.a.public_key()),
            ("{account_b}", self.b.public_key()),
            ("{account_c}", self.c.public_key()),
            ("{account_d}", self.d.public_key()),
            ("{account_e}", self.e.public_key()),
            ("{system}", self.system.public_key()),
        ];
        replacements.extend(self.account_jwts(&keys));
        replacements.extend(self.user_jwts(&keys));
        keys.replacements = replacements
            .into_iter()
            .map(|(placeholder, value)| (placeholder.to_string(), value))
            .collect();
        keys
    }
}

/// The operator-mode config every JWT case runs with.
pub const OPERATOR_CONFIG: &str = r#"
operator: "{operator_jwt}"
resolver: MEMORY
system_account: "{system}"
resolver_preload: {
  {account_a}: "{account_a_jwt}"
  {account_b}: "{account_b_jwt}"
  {account_c}: "{account_c_jwt}"
  {account_d}: "{account_d_jwt}"
  {system}: "{system_jwt}"
}
"#;

/// Accounts A and E and the system account, for worlds of version 1 accounts only.
pub const V1_ONLY_CONFIG: &str = r#"
operator: "{operator_jwt}"
resolver: MEMORY
system_account: "{system}"
resolver_preload: {
  {account_a}: "{account_a_jwt}"
  {account_e}: "{account_e_jwt}"
  {system}: "{system_jwt}"
}
"#;
