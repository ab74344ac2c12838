//! Decoding and verification of JWTs built here with a tiny encoder.

use base64::Engine as _;
use serde_json::json;

use super::*;

/// Signs `claims` (the payload JSON) by `signer` the way `nats-io/jwt` v2 encodes.
fn encode(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    signer: &nkeys::KeyPair,
) -> String {
    let header = RAW_URL.encode(header.to_string());
    let payload = RAW_URL.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let signature = signer.sign(signed.as_bytes()).expect("a seed signs");
    format!("{signed}.{}", RAW_URL.encode(signature))
}

fn v2_header() -> serde_json::Value {
    json!({"typ": "JWT", "alg": "ed25519-nkey"})
}

fn user_claims(
    account: &nkeys::KeyPair,
    user: &nkeys::KeyPair,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut nats = json!({"type": "user", "version": 2, "subs": -1, "payload": -1,
        "pub": {"allow": ["a.>"]}, "sub": {"deny": ["secret"]}, "resp": {"max": 0, "ttl": 0}});
    for (key, value) in extra.as_object().unwrap() {
        nats[key] = value.clone();
    }
    json!({"jti": "X", "iat": 1, "iss": account.public_key(), "sub": user.public_key(),
        "name": "u", "nats": nats})
}

#[test]
fn decodes_and_verifies_a_user_jwt() {
    let (account, user) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_user());
    let token = encode(
        &v2_header(),
        &user_claims(&account, &user, json!({})),
        &account,
    );
    let claims = decode::<User>(&token, ClaimKind::User).expect("valid");
    assert_eq!(claims.sub, user.public_key());
    let permissions = claims.nats.permissions().expect("permissions set");
    assert_eq!(
        permissions.publish.unwrap().allow,
        Some(vec!["a.>".to_string()])
    );
    let response = permissions.response.unwrap();
    assert_eq!(response.msgs_max, crate::auth::DEFAULT_RESPONSE_MSGS_MAX);
    assert_eq!(response.expires, crate::auth::DEFAULT_RESPONSE_EXPIRES);
}

#[test]
fn refuses_bad_signatures_kinds_issuers_and_headers() {
    let (account, user) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_user());
    let claims = user_claims(&account, &user, json!({}));
    // Signed by someone other than `iss`.
    let forged = encode(&v2_header(), &claims, &nkeys::KeyPair::new_account());
    assert_eq!(
        decode::<User>(&forged, ClaimKind::User).unwrap_err(),
        "claim failed V2 signature verification"
    );
    // A user claim is not an account claim.
    let token = encode(&v2_header(), &claims, &account);
    assert!(decode::<Account>(&token, ClaimKind::Account).is_err());
    // A user must be issued by an account key.
    let mut by_user = claims.clone();
    by_user["iss"] = json!(user.public_key());
    let token = encode(&v2_header(), &by_user, &user);
    assert!(decode::<User>(&token, ClaimKind::User)
        .unwrap_err()
        .starts_with("unable to validate expected prefixes"));
    // Version 1 and foreign headers.
    let v1 = encode(&json!({"typ": "JWT", "alg": "ed25519"}), &claims, &account);
    assert!(decode::<User>(&v1, ClaimKind::User)
        .unwrap_err()
        .contains("not yet supported"));
    let other = encode(&json!({"typ": "JWT", "alg": "HS256"}), &claims, &account);
    assert_eq!(
        decode::<User>(&other, ClaimKind::User).unwrap_err(),
        "unexpected \"HS256\" algorithm"
    );
    assert_eq!(
        decode::<User>("a.b", ClaimKind::User).unwrap_err(),
        "expected 3 chunks"
    );
    // Tampered payload.
    let token = encode(&v2_header(), &claims, &account);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] =
        RAW_URL.encode(user_claims(&account, &user, json!({"bearer_token": true})).to_string());
    assert!(decode::<User>(&parts.join("."), ClaimKind::User).is_err());
}

#[test]
fn times_follow_the_jwt_library() {
    let (account, user) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_user());
    let mut claims = user_claims(&account, &user, json!({}));
    claims["exp"] = json!(100);
    claims["nbf"] = json!(50);
    let token = encode(&v2_header(), &claims, &account);
    let claims = decode::<User>(&token, ClaimKind::User).unwrap();
    assert_eq!(claims.check_times(49), Err("claim is not yet valid"));
    assert_eq!(claims.check_times(100), Ok(()));
    assert_eq!(claims.check_times(101), Err("claim is expired"));
}

#[test]
fn decorated_files_yield_the_jwt() {
    let creds = "-----BEGIN NATS USER JWT-----\neyJx.y.z\n------END NATS USER JWT------\n\n\
                 -----BEGIN USER NKEY SEED-----\nSUAX\n------END USER NKEY SEED------\n";
    assert_eq!(parse_decorated(creds), "eyJx.y.z");
    assert_eq!(parse_decorated("  eyJa.b.c\n"), "eyJa.b.c");
}
