//! Decoding and verification of JWTs built here with a tiny encoder of either version,
//! plus one version 1 operator JWT made by the old Go library.

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

/// Signs `claims` by `signer` the way the version 1 library did: header
/// `{"typ":"jwt","alg":"ed25519"}`, and the signature covers only the base64 payload.
fn encode_v1(claims: &serde_json::Value, signer: &nkeys::KeyPair) -> String {
    let header = RAW_URL.encode(v1_header().to_string());
    let payload = RAW_URL.encode(claims.to_string());
    let signature = signer.sign(payload.as_bytes()).expect("a seed signs");
    format!("{header}.{payload}.{}", RAW_URL.encode(signature))
}

fn v2_header() -> serde_json::Value {
    json!({"typ": "JWT", "alg": "ed25519-nkey"})
}

fn v1_header() -> serde_json::Value {
    json!({"typ": "jwt", "alg": "ed25519"})
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
    // Foreign headers.
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

/// Version 1 user claims: `type` and `issuer_account` at the top level, permissions
/// and limits directly in `nats`.
fn v1_user_claims(
    account: &nkeys::KeyPair,
    user: &nkeys::KeyPair,
    nats: serde_json::Value,
) -> serde_json::Value {
    json!({"jti": "X", "iat": 1, "iss": account.public_key(), "sub": user.public_key(),
        "name": "u", "type": "user", "nats": nats})
}

#[test]
fn version_1_users_migrate_as_the_library_migrates_them() {
    let (account, user) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_user());
    // No limits given: version 1 means unlimited. `src` was a comma-separated string.
    // `allowed_connection_types` and a `nats.issuer_account` are version 2's, ignored.
    let mut claims = v1_user_claims(
        &account,
        &user,
        json!({"pub": {"allow": ["a.>"]}, "sub": {"deny": ["secret"]}, "src": " , ",
            "allowed_connection_types": ["WEBSOCKET"], "issuer_account": "ignored",
            "max": 5}),
    );
    claims["issuer_account"] = json!("AISSUER");
    let token = encode_v1(&claims, &account);
    let user_claims = decode::<User>(&token, ClaimKind::User).expect("valid v1");
    let nats = &user_claims.nats;
    assert_eq!((nats.subs, nats.payload), (-1, -1));
    assert!(nats.src.is_empty() && nats.allowed_connection_types.is_empty());
    assert_eq!(nats.issuer_account, "AISSUER");
    let permissions = nats.permissions().expect("permissions set");
    assert_eq!(
        permissions.subscribe.unwrap().deny,
        Some(vec!["secret".to_string()])
    );
    // Given limits are kept; a `src` string becomes a list.
    let claims = v1_user_claims(
        &account,
        &user,
        json!({"subs": 3, "payload": 10, "src": "10.0.0.0/8, 192.168.0.0/16", "bearer_token": true}),
    );
    let token = encode_v1(&claims, &account);
    let nats = decode::<User>(&token, ClaimKind::User).unwrap().nats;
    assert_eq!((nats.subs, nats.payload, nats.bearer_token), (3, 10, true));
    assert_eq!(nats.src, ["10.0.0.0/8", "192.168.0.0/16"]);
    let claims = v1_user_claims(&account, &user, json!({"src": null}));
    let nats = decode::<User>(&encode_v1(&claims, &account), ClaimKind::User)
        .unwrap()
        .nats;
    assert!(nats.src.is_empty());
}

#[test]
fn the_payload_decides_the_version_and_the_signed_text() {
    let (account, user) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_user());
    let v1 = v1_user_claims(&account, &user, json!({}));
    let v2 = user_claims(&account, &user, json!({}));
    // Version 1 claims under a version 2 header still sign only the payload.
    let payload = RAW_URL.encode(v1.to_string());
    let signature = RAW_URL.encode(account.sign(payload.as_bytes()).unwrap());
    let mixed = format!(
        "{}.{payload}.{signature}",
        RAW_URL.encode(v2_header().to_string())
    );
    assert!(decode::<User>(&mixed, ClaimKind::User).is_ok());
    // Version 2 claims under a version 1 header sign `header.payload`.
    assert!(decode::<User>(&encode(&v1_header(), &v2, &account), ClaimKind::User).is_ok());
    // Each version refuses the other's signed text.
    assert_eq!(
        decode::<User>(&encode(&v1_header(), &v1, &account), ClaimKind::User).unwrap_err(),
        "claim failed V1 signature verification"
    );
    assert_eq!(
        decode::<User>(&encode_v1(&v2, &account), ClaimKind::User).unwrap_err(),
        "claim failed V2 signature verification"
    );
    assert_eq!(
        decode::<User>(
            &encode_v1(&v1, &nkeys::KeyPair::new_account()),
            ClaimKind::User
        )
        .unwrap_err(),
        "claim failed V1 signature verification"
    );
    // `nats.version: 1` without a top-level `type` is version 1 too.
    let mut by_version = v2.clone();
    by_version["nats"]["version"] = json!(1);
    by_version["issuer_account"] = json!("ATOP");
    let claims = decode::<User>(&encode_v1(&by_version, &account), ClaimKind::User).unwrap();
    assert_eq!(claims.nats.issuer_account, "ATOP");
    // No version at all, or a newer one, is refused.
    let mut unversioned = v2.clone();
    unversioned["nats"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    assert_eq!(
        decode::<User>(
            &encode(&v2_header(), &unversioned, &account),
            ClaimKind::User
        )
        .unwrap_err(),
        "library supports version 2 or less - received 0"
    );
    let mut newer = v2;
    newer["nats"]["version"] = json!(3);
    assert_eq!(
        decode::<User>(&encode(&v2_header(), &newer, &account), ClaimKind::User).unwrap_err(),
        "JWT was generated by a newer version "
    );
    // The top-level `type` names the kind.
    assert_eq!(
        decode::<Account>(&encode_v1(&v1, &account), ClaimKind::Account).unwrap_err(),
        "not account claim"
    );
}

#[test]
fn version_1_accounts_keep_only_version_1_fields() {
    let (operator, account) = (
        nkeys::KeyPair::new_operator(),
        nkeys::KeyPair::new_account(),
    );
    let signer = nkeys::KeyPair::new_account();
    let mut claims = json!({"iss": operator.public_key(), "sub": account.public_key(),
        "type": "account", "nats": {
            "limits": {"conn": 2, "subs": 5, "payload": 100, "leaf": -1, "imports": -1,
                       "exports": -1, "data": -1, "wildcards": true, "disallow_bearer": true},
            "signing_keys": [signer.public_key()],
            "revocations": {"UX": 7},
            "exports": [{"subject": "svc", "type": "service"}],
            "imports": [{"subject": "feed", "account": signer.public_key(), "type": "stream"}],
            "default_permissions": {"pub": {"deny": [">"]}},
            "mappings": {"a": [{"subject": "b"}]}}});
    let token = encode_v1(&claims, &operator);
    let nats = decode::<Account>(&token, ClaimKind::Account).unwrap().nats;
    let limits = nats.limits;
    assert_eq!((limits.conn, limits.subs, limits.payload), (2, 5, 100));
    assert!(limits.disallow_bearer);
    assert_eq!(nats.signing_keys, [json!(signer.public_key())]);
    assert_eq!(nats.revocations.get("UX"), Some(&7));
    assert_eq!((nats.exports.len(), nats.imports.len()), (1, 1));
    // Version 2's claims in a version 1 section are not read.
    assert!(nats.default_permissions.to_permissions().is_none());
    assert!(nats.mappings.is_empty());
    // Version 1 signing keys are plain strings; a scoped key does not decode.
    claims["nats"]["signing_keys"] = json!([{"kind": "user_scope", "key": signer.public_key()}]);
    assert!(decode::<Account>(&encode_v1(&claims, &operator), ClaimKind::Account).is_err());
}

#[test]
fn version_1_operators_keep_only_version_1_fields() {
    let operator = nkeys::KeyPair::new_operator();
    let claims = json!({"iss": operator.public_key(), "sub": operator.public_key(),
        "type": "operator", "nats": {"signing_keys": ["OSIGNER"], "system_account": "ASYS",
            "account_server_url": "http://x", "strict_signing_key_usage": true,
            "assert_server_version": "9.0.0"}});
    let nats = decode::<Operator>(&encode_v1(&claims, &operator), ClaimKind::Operator)
        .unwrap()
        .nats;
    assert_eq!(nats.signing_keys, ["OSIGNER"]);
    assert_eq!(
        (
            nats.system_account.as_str(),
            nats.account_server_url.as_str()
        ),
        ("ASYS", "http://x")
    );
    assert!(!nats.strict_signing_key_usage && nats.assert_server_version.is_empty());
    // A version 1 claim may leave `nats` out.
    let bare = json!({"iss": operator.public_key(), "sub": operator.public_key(),
        "type": "operator"});
    assert!(decode::<Operator>(&encode_v1(&bare, &operator), ClaimKind::Operator).is_ok());
}

/// nats-server's `test/configs/nkeys/op.jwt`: a version 1 operator made by the Go
/// library of the time, so the signed text is checked against a token this file's
/// encoder did not make.
const GO_V1_OPERATOR: &str = concat!(
    "eyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5In0.eyJhdWQiOiJURVNUUyIsImV4cCI6MTg1OTEyMTI3NSwi",
    "anRpIjoiWE5MWjZYWVBIVE1ESlFSTlFPSFVPSlFHV0NVN01JNVc1SlhDWk5YQllVS0VRVzY3STI1USIsImlh",
    "dCI6MTU0Mzc2MTI3NSwiaXNzIjoiT0NBVDMzTVRWVTJWVU9JTUdOR1VOWEo2NkFIMlJMU0RBRjNNVUJDWUFZ",
    "NVFNSUw2NU5RTTZYUUciLCJuYW1lIjoiU3luYWRpYSBDb21tdW5pY2F0aW9ucyBJbmMuIiwibmJmIjoxNTQz",
    "NzYxMjc1LCJzdWIiOiJPQ0FUMzNNVFZVMlZVT0lNR05HVU5YSjY2QUgyUkxTREFGM01VQkNZQVk1UU1JTDY1",
    "TlFNNlhRRyIsInR5cGUiOiJvcGVyYXRvciIsIm5hdHMiOnsic2lnbmluZ19rZXlzIjpbIk9EU0tSN01ZRlFa",
    "NU1NQUo2RlBNRUVUQ1RFM1JJSE9GTFRZUEpSTUFWVk40T0xWMllZQU1IQ0FDIiwiT0RTS0FDU1JCV1A1MzdE",
    "WkRSVko2NTdKT0lHT1BPUTZLRzdUNEhONk9LNEY2SUVDR1hEQUhOUDIiLCJPRFNLSTM2TFpCNDRPWTVJVkNS",
    "NlA1MkZaSlpZTVlXWlZXTlVEVExFWjVUSzJQTjNPRU1SVEFCUiJdfX0.hyfz6E39BMUh0GLzovFfk3wT4Ofu",
    "alftjdJ_eYkLfPvu5tZubYQ_Pn9oFYGCV_6yKy3KMGhWGUCyCdHaPhalBw"
);

#[test]
fn a_version_1_operator_made_by_the_go_library_decodes() {
    let claims = decode::<Operator>(GO_V1_OPERATOR, ClaimKind::Operator).expect("valid v1");
    assert_eq!(
        claims.sub,
        "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG"
    );
    assert_eq!(claims.nats.signing_keys.len(), 3);
    assert_eq!(
        claims.nats.signing_keys[0],
        "ODSKR7MYFQZ5MMAJ6FPMEETCTE3RIHOFLTYPJRMAVVN4OLV2YYAMHCAC"
    );
}
