//! A small JWT world made at test time: an operator, accounts A, B, C (C allows one
//! connection), the system account, and user JWTs for the test user key, each signed
//! with the `nkeys` crate by a tiny encoder of `nats-io/jwt` v2's format (what `nsc`
//! writes: limits of -1 for "unlimited", `type` and `version` in the `nats` section).

use nkeys::KeyPair;
use serde_json::{json, Value};

use crate::script::{base64_url, TestKeys};

/// Encodes `claims` as a v2 NATS JWT signed by `signer`.
pub fn encode(claims: &Value, signer: &KeyPair) -> String {
    let header = base64_url(
        json!({"typ": "JWT", "alg": "ed25519-nkey"})
            .to_string()
            .as_bytes(),
    );
    let payload = base64_url(claims.to_string().as_bytes());
    let signed = format!("{header}.{payload}");
    let signature = signer.sign(signed.as_bytes()).expect("a seed signs");
    format!("{signed}.{}", base64_url(&signature))
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

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// An account JWT signed by `operator`; `conn` limits connections (-1 = unlimited).
pub fn account_jwt(operator: &KeyPair, account: &KeyPair, conn: i64, extra: Value) -> String {
    let mut nats = json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
        "exports": -1, "wildcards": true, "conn": conn, "leaf": -1}});
    for (key, value) in extra.as_object().expect("an object") {
        nats[key] = value.clone();
    }
    encode(
        &claims("account", operator, &account.public_key(), nats),
        operator,
    )
}

/// A user JWT for `user`, signed by `issuer` (the account, or a signing key when
/// `extra` names `issuer_account`).
pub fn user_jwt(issuer: &KeyPair, user: &KeyPair, extra: Value) -> String {
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
    encode(&claims, issuer)
}

/// The keys of one world.
pub struct World {
    pub operator: KeyPair,
    pub a: KeyPair,
    pub b: KeyPair,
    pub c: KeyPair,
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
            a: KeyPair::new_account(),
            b: KeyPair::new_account(),
            c: KeyPair::new_account(),
            system: KeyPair::new_account(),
            unknown: KeyPair::new_account(),
            a_signer: KeyPair::new_account(),
        }
    }

    /// The operator JWT (self-signed, naming the system account).
    pub fn operator_jwt(&self) -> String {
        let nats = json!({"system_account": self.system.public_key()});
        encode(
            &claims(
                "operator",
                &self.operator,
                &self.operator.public_key(),
                nats,
            ),
            &self.operator,
        )
    }

    /// Test keys with every placeholder of the JWT cases filled for `keys.user`.
    pub fn test_keys(&self) -> TestKeys {
        let mut keys = TestKeys::new();
        let user = &keys.user;
        let a_jwt = account_jwt(
            &self.operator,
            &self.a,
            -1,
            json!({"signing_keys": [self.a_signer.public_key()]}),
        );
        let replacements = [
            ("{operator_jwt}", self.operator_jwt()),
            ("{account_a}", self.a.public_key()),
            ("{account_b}", self.b.public_key()),
            ("{account_c}", self.c.public_key()),
            ("{system}", self.system.public_key()),
            ("{account_a_jwt}", a_jwt),
            (
                "{account_b_jwt}",
                account_jwt(&self.operator, &self.b, -1, json!({})),
            ),
            (
                "{account_c_jwt}",
                account_jwt(&self.operator, &self.c, 1, json!({})),
            ),
            (
                "{system_jwt}",
                account_jwt(&self.operator, &self.system, -1, json!({})),
            ),
            ("{user_a_jwt}", user_jwt(&self.a, user, json!({}))),
            ("{user_b_jwt}", user_jwt(&self.b, user, json!({}))),
            ("{user_c_jwt}", user_jwt(&self.c, user, json!({}))),
            (
                "{user_by_signer_jwt}",
                user_jwt(
                    &self.a_signer,
                    user,
                    json!({"issuer_account": self.a.public_key()}),
                ),
            ),
            (
                "{user_unknown_jwt}",
                user_jwt(&self.unknown, user, json!({})),
            ),
            (
                "{user_expired_jwt}",
                user_jwt(&self.a, user, json!({"exp": now() - 60})),
            ),
            (
                "{user_limited_jwt}",
                user_jwt(
                    &self.a,
                    user,
                    json!({"pub": {"allow": ["allowed.>"]}, "sub": {"deny": ["secret"]}}),
                ),
            ),
        ];
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
  {system}: "{system_jwt}"
}
"#;
