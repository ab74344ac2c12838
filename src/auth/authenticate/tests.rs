//! Authentication cases from nats-server's `test/auth_test.go`, `server/auth_test.go`
//! and runs of the 2.15.1 binary.

use super::*;
use crate::auth::{AccountConfig, ConnectionTypes, NkeyUser, SubjectPermission, User};

/// nats-server's `test/auth_test.go`: `BCRYPT_AUTH_PASS` and its hash.
const BCRYPT_PASS: &str = "IW@$6v(y1(t@fhPDvf!5^%";
const BCRYPT_PASS_HASH: &str = "$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq";
/// nats-server's `test/auth_test.go`: `BCRYPT_AUTH_TOKEN` and its hash.
const BCRYPT_TOKEN: &str = "0uhJOSr3GW7xvHvtd^K6pa";
const BCRYPT_TOKEN_HASH: &str = "$2a$04$u5ZClXpcjHgpfc61Ee0VKuwI1K3vTC4zq7SjphjnlHMeb1Llkb5Y6";
/// nats-server's `test/configs/authorization.conf`: "foo".
const BCRYPT_FOO_HASH: &str = "$2a$04$P/.bd.7unw9Ew7yWJqXsl.f4oNRLQGvadEL2YnqQXbbb.IVQajRdK";

fn authenticator(config: &AuthConfig) -> Authenticator {
    Authenticator::new(config, &AccountTable::new(config))
}

fn user(name: &str, password: &str, account: Option<&str>) -> User {
    User {
        name: name.to_string(),
        password: password.to_string(),
        account: account.map(str::to_string),
        permissions: None,
        connection_types: ConnectionTypes::default(),
    }
}

fn login<'a>(user: &'a str, pass: &'a str) -> Credentials<'a> {
    Credentials {
        user: Some(user),
        pass: Some(pass),
        ..Credentials::default()
    }
}

fn allowed(decision: Decision) -> Identity {
    match decision {
        Decision::Allowed(identity) => identity,
        Decision::Slow(check) => check.run().expect("slow check passes"),
        Decision::Denied => panic!("denied"),
    }
}

fn denied(decision: Decision) -> bool {
    match decision {
        Decision::Allowed(_) => false,
        Decision::Denied => true,
        Decision::Slow(check) => check.run().is_none(),
    }
}

fn publish_allow(subjects: &[&str]) -> Permissions {
    Permissions {
        publish: Some(SubjectPermission {
            allow: Some(subjects.iter().map(|s| s.to_string()).collect()),
            deny: None,
        }),
        ..Permissions::default()
    }
}

#[test]
fn no_auth_configured_lets_everyone_into_global() {
    let auth = authenticator(&AuthConfig::default());
    assert!(!auth.required());
    assert!(!auth.nonce_required());
    let identity = allowed(auth.authenticate(&Credentials::default(), b""));
    assert_eq!(identity.account, AccountId::GLOBAL);
    assert!(identity.user.is_none() && identity.permissions.is_none());
    // `/connz?auth=true` still shows what the client sent.
    let identity = allowed(auth.authenticate(&login("bob", "x"), b""));
    assert_eq!(identity.user.as_deref(), Some("bob"));
}

#[test]
fn single_token() {
    let auth = authenticator(&AuthConfig {
        token: Some("s3cr3t".into()),
        ..AuthConfig::default()
    });
    assert!(auth.required());
    let with = |token| Credentials {
        token: Some(token),
        ..Credentials::default()
    };
    let identity = allowed(auth.authenticate(&with("s3cr3t"), b""));
    assert_eq!(identity.user.as_deref(), Some(REDACTED_TOKEN_USER));
    assert_eq!(identity.account, AccountId::GLOBAL);
    assert!(denied(auth.authenticate(&with("s3cr3"), b"")));
    assert!(denied(auth.authenticate(&Credentials::default(), b"")));
    assert!(denied(auth.authenticate(&login("s3cr3t", "s3cr3t"), b"")));
}

/// nats-server's `TestTokenBCryptAuth`: the token matches, the hash itself does not.
#[test]
fn bcrypt_token_is_a_slow_check() {
    let auth = authenticator(&AuthConfig {
        token: Some(BCRYPT_TOKEN_HASH.into()),
        ..AuthConfig::default()
    });
    let with = |token| Credentials {
        token: Some(token),
        ..Credentials::default()
    };
    let Decision::Slow(check) = auth.authenticate(&with(BCRYPT_TOKEN), b"") else {
        panic!("bcrypt must be slow");
    };
    assert!(format!("{check:?}").contains("SlowCheck"));
    assert!(!format!("{check:?}").contains(BCRYPT_TOKEN));
    assert!(check.run().is_some());
    assert!(denied(auth.authenticate(&with(BCRYPT_TOKEN_HASH), b"")));
}

/// nats-server's `TestPasswordClientsWithBCrypt` style: single user, plain and bcrypt.
#[test]
fn single_user_and_password() {
    for password in ["foobar", BCRYPT_PASS_HASH] {
        let auth = authenticator(&AuthConfig {
            user: Some("derek".into()),
            password: Some(password.into()),
            ..AuthConfig::default()
        });
        let good = if password == "foobar" {
            "foobar"
        } else {
            BCRYPT_PASS
        };
        let identity = allowed(auth.authenticate(&login("derek", good), b""));
        assert_eq!(identity.user.as_deref(), Some("derek"));
        assert!(identity.permissions.is_none());
        assert!(denied(auth.authenticate(&login("derekzz", good), b"")));
        assert!(denied(auth.authenticate(&login("derek", "wrong"), b"")));
        if is_bcrypt(password) {
            // The hash itself is not the password.
            assert!(denied(auth.authenticate(&login("derek", password), b"")));
        }
    }
}

#[test]
fn users_land_in_their_account_with_default_permissions_per_block() {
    let config = AuthConfig {
        users: vec![
            user("alice", "a", None),
            User {
                permissions: Some(publish_allow(&["own"])),
                ..user("bob", "b", None)
            },
            user("carol", "c", Some("A")),
            user("dave", "d", Some("B")),
        ],
        default_permissions: Some(publish_allow(&["auth.default"])),
        accounts: vec![
            AccountConfig {
                name: "A".into(),
                default_permissions: Some(publish_allow(&["account.default"])),
                ..AccountConfig::default()
            },
            AccountConfig {
                name: "B".into(),
                ..AccountConfig::default()
            },
        ],
        ..AuthConfig::default()
    };
    let auth = authenticator(&config);
    let alice = allowed(auth.authenticate(&login("alice", "a"), b""));
    assert_eq!(alice.account, AccountId::GLOBAL);
    assert!(alice
        .permissions
        .as_ref()
        .unwrap()
        .can_publish(b"auth.default"));
    let bob = allowed(auth.authenticate(&login("bob", "b"), b""));
    assert!(bob.permissions.as_ref().unwrap().can_publish(b"own"));
    assert!(!bob
        .permissions
        .as_ref()
        .unwrap()
        .can_publish(b"auth.default"));
    let carol = allowed(auth.authenticate(&login("carol", "c"), b""));
    assert_eq!(carol.account, AccountTable::new(&config).id("A").unwrap());
    assert!(carol
        .permissions
        .as_ref()
        .unwrap()
        .can_publish(b"account.default"));
    assert!(!carol
        .permissions
        .as_ref()
        .unwrap()
        .can_publish(b"auth.default"));
    // An account without defaults does not fall back to the authorization block's.
    let dave = allowed(auth.authenticate(&login("dave", "d"), b""));
    assert!(dave.permissions.is_none());
    assert!(denied(auth.authenticate(&login("eve", "e"), b"")));
    assert!(denied(auth.authenticate(&login("alice", "b"), b"")));
    assert!(denied(auth.authenticate(&Credentials::default(), b"")));
}

#[test]
fn allowed_connection_types_must_include_standard() {
    let only = |kinds: &[&str]| User {
        connection_types: ConnectionTypes {
            allowed: kinds.iter().map(|kind| kind.to_string()).collect(),
        },
        ..user("u", "p", None)
    };
    for (kinds, ok) in [
        (&["WEBSOCKET"][..], false),
        (&["STANDARD", "MQTT"][..], true),
        (&[][..], true),
    ] {
        let auth = authenticator(&AuthConfig {
            users: vec![only(kinds)],
            ..AuthConfig::default()
        });
        assert_eq!(
            !denied(auth.authenticate(&login("u", "p"), b"")),
            ok,
            "{kinds:?}"
        );
    }
}

/// Observed on 2.15.1: `no_auth_user` with a plain password works for clients without
/// credentials, not for clients that send only a user or only a password; with a
/// bcrypt password it never works.
#[test]
fn no_auth_user_follows_nats_server() {
    let config = AuthConfig {
        users: vec![user("a", "pa", None), user("b", BCRYPT_FOO_HASH, None)],
        no_auth_user: Some("a".into()),
        ..AuthConfig::default()
    };
    let auth = authenticator(&config);
    let identity = allowed(auth.authenticate(&Credentials::default(), b""));
    assert_eq!(identity.user.as_deref(), Some("a"));
    let user_only = Credentials {
        user: Some("a"),
        ..Credentials::default()
    };
    assert!(denied(auth.authenticate(&user_only, b"")));
    let pass_only = Credentials {
        pass: Some("pa"),
        ..Credentials::default()
    };
    assert!(denied(auth.authenticate(&pass_only, b"")));
    let empty_strings = Credentials {
        user: Some(""),
        pass: Some(""),
        token: Some(""),
        ..Credentials::default()
    };
    assert!(!denied(auth.authenticate(&empty_strings, b"")));
    assert!(!denied(auth.authenticate(&login("b", "foo"), b"")));

    let bcrypt = authenticator(&AuthConfig {
        no_auth_user: Some("b".into()),
        ..config
    });
    assert!(denied(bcrypt.authenticate(&Credentials::default(), b"")));
}

fn nkey_config(key: &nkeys::KeyPair, no_auth: bool) -> AuthConfig {
    AuthConfig {
        nkey_users: vec![NkeyUser {
            public_key: key.public_key(),
            account: Some("A".into()),
            permissions: Some(publish_allow(&["x"])),
            connection_types: ConnectionTypes::default(),
        }],
        users: vec![user("plain", "p", None)],
        no_auth_user: no_auth.then(|| key.public_key()),
        accounts: vec![AccountConfig {
            name: "A".into(),
            ..AccountConfig::default()
        }],
        ..AuthConfig::default()
    }
}

#[test]
fn nkey_users_sign_the_nonce() {
    let key = nkeys::KeyPair::new_user();
    let public_key = key.public_key();
    let config = nkey_config(&key, false);
    let auth = authenticator(&config);
    assert!(auth.required() && auth.nonce_required());
    let nonce = new_nonce();
    let signature = key.sign(&nonce).unwrap();
    for sig in [
        RAW_URL.encode(&signature),
        base64::engine::general_purpose::STANDARD.encode(&signature),
    ] {
        let credentials = Credentials {
            nkey: Some(&public_key),
            sig: Some(&sig),
            ..Credentials::default()
        };
        let identity = allowed(auth.authenticate(&credentials, &nonce));
        assert_eq!(identity.user.as_deref(), Some(public_key.as_str()));
        assert_eq!(
            identity.account,
            AccountTable::new(&config).id("A").unwrap()
        );
        assert!(identity.permissions.unwrap().can_publish(b"x"));
        // Another nonce, a missing signature or garbage fail.
        assert!(denied(auth.authenticate(&credentials, b"another nonce")));
    }
    let unsigned = Credentials {
        nkey: Some(&public_key),
        ..Credentials::default()
    };
    assert!(denied(auth.authenticate(&unsigned, &nonce)));
    let garbage = Credentials {
        sig: Some("!!!"),
        ..unsigned
    };
    assert!(denied(auth.authenticate(&garbage, &nonce)));
    let stranger = nkeys::KeyPair::new_user();
    let stranger_key = stranger.public_key();
    let stranger_sig = RAW_URL.encode(stranger.sign(&nonce).unwrap());
    let unknown = Credentials {
        nkey: Some(&stranger_key),
        sig: Some(&stranger_sig),
        ..Credentials::default()
    };
    assert!(denied(auth.authenticate(&unknown, &nonce)));
    // Password users still work alongside nkeys.
    assert!(!denied(auth.authenticate(&login("plain", "p"), &nonce)));
    assert!(denied(auth.authenticate(&Credentials::default(), &nonce)));
}

/// nats-server skips the signature for the `no_auth_user` nkey, even when the client
/// names it itself.
#[test]
fn no_auth_nkey_needs_no_signature() {
    let key = nkeys::KeyPair::new_user();
    let public_key = key.public_key();
    let auth = authenticator(&nkey_config(&key, true));
    let identity = allowed(auth.authenticate(&Credentials::default(), b"nonce"));
    assert_eq!(identity.user.as_deref(), Some(public_key.as_str()));
    let named = Credentials {
        nkey: Some(&public_key),
        ..Credentials::default()
    };
    assert!(!denied(auth.authenticate(&named, b"nonce")));
    // A client that sends a password does not become the no_auth nkey user.
    let pass_only = Credentials {
        pass: Some("p"),
        ..Credentials::default()
    };
    assert!(denied(auth.authenticate(&pass_only, b"nonce")));
}

/// Observed on 2.15.1: with only the system account configured, clients without
/// credentials land in `$G` as an invented `nats-XXXXXXXX` user.
#[test]
fn system_account_only_invents_a_no_auth_user() {
    let sys = AccountConfig {
        name: "SYS".into(),
        ..AccountConfig::default()
    };
    let config = AuthConfig {
        users: vec![user("admin", "x", Some("SYS"))],
        accounts: vec![sys.clone()],
        system_account: Some("SYS".into()),
        ..AuthConfig::default()
    };
    let auth = authenticator(&config);
    assert!(auth.required());
    let identity = allowed(auth.authenticate(&Credentials::default(), b""));
    assert_eq!(identity.account, AccountId::GLOBAL);
    let name = identity.user.unwrap();
    assert!(name.starts_with("nats-") && name.len() == 13, "{name}");
    let admin = allowed(auth.authenticate(&login("admin", "x"), b""));
    assert_eq!(admin.account, AccountId(1));

    // A `$SYS` account does the same; another account, or an authorization block, not.
    let dollar_sys = AuthConfig {
        users: vec![user("admin", "x", Some("$SYS"))],
        accounts: vec![AccountConfig {
            name: "$SYS".into(),
            ..sys.clone()
        }],
        ..AuthConfig::default()
    };
    assert!(!denied(
        authenticator(&dollar_sys).authenticate(&Credentials::default(), b"")
    ));
    let other = AuthConfig {
        users: vec![user("admin", "x", Some("A"))],
        accounts: vec![AccountConfig {
            name: "A".into(),
            ..sys.clone()
        }],
        ..AuthConfig::default()
    };
    assert!(denied(
        authenticator(&other).authenticate(&Credentials::default(), b"")
    ));
    let with_block = AuthConfig {
        users: vec![user("admin", "x", Some("SYS")), user("u", "p", None)],
        ..config
    };
    assert!(denied(
        authenticator(&with_block).authenticate(&Credentials::default(), b"")
    ));
}

#[test]
fn nonces_are_fifteen_url_safe_characters() {
    let first = new_nonce();
    let second = new_nonce();
    assert_ne!(first, second);
    for nonce in [first, second] {
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(nonce
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-' || *byte == b'_'));
        assert_eq!(RAW_URL.decode(nonce).unwrap().len(), NONCE_RANDOM_BYTES);
    }
}

#[test]
fn bcrypt_detection_follows_nats_server_pattern() {
    for (secret, expected) in [
        ("$2a$11$whatever", true),
        ("$2b$04$x", true),
        ("$2x$10$", true),
        ("$2y$99$", true),
        ("$2c$10$", false),
        ("$2a$1$x", false),
        ("$2a$100$", false),
        ("2a$10$", false),
        ("", false),
        ("$2a$10", false),
    ] {
        assert_eq!(is_bcrypt(secret), expected, "{secret}");
    }
}

#[test]
fn constant_time_comparison_is_exact() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
}

#[test]
fn authenticator_and_slow_check_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send_static<T: Send + 'static>() {}
    send_sync::<Authenticator>();
    send_sync::<AccountTable>();
    send_sync::<CompiledPermissions>();
    send_static::<SlowCheck>();
    send_static::<Identity>();
}
