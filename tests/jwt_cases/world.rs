//! A small JWT world made at test time: an operator (with a signing key), accounts A
//! (exports a stream, has a signing key), B (signed by the operator's signing key,
//! imports A's stream), C (one connection, one subscription), D (revokes the test user),
//! the system account, and user JWTs for the test user key, each signed with the
//! `nkeys` crate by a tiny encoder of `nats-io/jwt` v2's format (what `nsc` writes:
//! limits of -1 for "unlimited", `type` and `version` in the `nats` section).

use nkeys::KeyPair;
use serde_json::{json, Value};

use crate::script::{base64_url, TestKeys};

/// Encodes `claims` as a v2 NATS JWT signed by `signer`.
pub fn encode(claims: &Value, signer: &KeyPair) -> String {
    let (signed, _) = encode_parts(claims, signer);
    signed
}

/// [`encode`], and the same token signed over the payload alone (a signature that
/// must not verify: version 2 signs `header.payload`).
fn encode_parts(claims: &Value, signer: &KeyPair) -> (String, String) {
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let header = base64_url(header.to_string().as_bytes());
    let payload = base64_url(claims.to_string().as_bytes());
    let both = format!("{header}.{payload}");
    let sign = |text: &str| base64_url(&signer.sign(text.as_bytes()).expect("a seed signs"));
    (
        format!("{both}.{}", sign(&both)),
        format!("{both}.{}", sign(&payload)),
    )
}

/// Claims of `kind` about `subject`, issued by `issuer`, with `nats` merged in.
fn claims(kind: &str, issuer: &KeyPair, subject: &str, nats: Value) -> Value {
    let mut section = json!({"type": kind, "version": 2});
    for (key, value) in nats.as_object().expect("an object") {
        section[key] = value.clone();
    }
    json!({
        "jti": format!("{kind}-{subject}"),
        "iat": now() - 10,
        "iss": issuer.public_key(),
        "name": kind,
        "sub": subject,
        "nats": section,
    })
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
    pub operator: KeyPair,
    /// A signing key of the operator (signs account B).
    pub operator_signer: KeyPair,
    pub a: KeyPair,
    pub b: KeyPair,
    pub c: KeyPair,
    pub d: KeyPair,
    pub system: KeyPair,
    /// An account no config knows.
    pub unknown: KeyPair,
    /// A signing key of account A.
    pub a_signer: KeyPair,
}

impl World {
    pub fn new() -> World {
        World {
            operator: KeyPair::new_operator(),
            operator_signer: KeyPair::new_operator(),
            a: KeyPair::new_account(),
            b: KeyPair::new_account(),
            c: KeyPair::new_account(),
            d: KeyPair::new_account(),
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
        encode(
            &claims("operator", &self.operator, &subject, nats),
            &self.operator,
        )
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
        encode(
            &claims("account", issuer, &account.public_key(), nats),
            issuer,
        )
    }

    /// A user JWT for `user`, signed by `issuer` (the account, or a signing key when
    /// `extra` names `issuer_account`); `exp` and `nbf` in `extra` are standard claims.
    pub fn user_jwt(&self, issuer: &KeyPair, user: &KeyPair, extra: Value) -> String {
        let claims = self.user_claims(issuer, user, extra);
        encode(&claims, issuer)
    }

    /// The claims of [`World::user_jwt`].
    fn user_claims(&self, issuer: &KeyPair, user: &KeyPair, extra: Value) -> Value {
        let mut nats = json!({"subs": -1, "data": -1, "payload": -1});
        let mut top = Vec::new();
        for (key, value) in extra.as_object().expect("an object") {
            match key.as_str() {
                "exp" | "nbf" => top.push((key.clone(), value.clone())),
                _ => nats[key] = value.clone(),
            }
        }
        let mut claims = claims("user", issuer, &user.public_key(), nats);
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
                "{system_jwt}",
                self.account_jwt(&self.operator, &self.system, json!({})),
            ),
        ]
    }

    /// The users' JWTs (all for `keys.user`), by placeholder.
    fn user_jwts(&self, keys: &TestKeys) -> Vec<(&'static str, String)> {
        let user = &keys.user;
        let claims_a = self.user_claims(&self.a, user, json!({}));
        // Claims naming A as issuer, signed by a key that is not A's.
        let forged = encode(&claims_a, &KeyPair::new_account());
        let (_, other_text) = encode_parts(&claims_a, &self.a);
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
