//! JWT operator mode with the MEMORY resolver, black box and differential.
//!
//! - `wire_table*`: the cases of `tests/jwt_cases/jwt_table.rs` (good user JWT and
//!   signed nonce, a signing-key issued user, wrong, forged or missing signatures, no
//!   JWT, an unknown account, an expired or revoked user, user permissions, an account
//!   signed by an operator signing key, account connection and subscription limits, a
//!   stream export and import, isolation between two JWT accounts) are checked against
//!   nats-server 2.15.1, then run on both servers and compared; once with every JWT in
//!   claims version 2, once in version 1, and on two worlds mixing the versions. The
//!   version 1 world also runs `JWT_V1_ONLY_CASES`: version 2 claims inside version 1
//!   tokens are not read.
//! - The official `async-nats` client logs in with a `.creds` file (a version 2 and a
//!   version 1 user) on both servers, and two creds of different accounts do not see
//!   each other's messages.
//! - A user whose JWT (of either version) expires while connected is closed.
//!
//! Every JWT is made at test time by a small encoder (`jwt_cases/world.rs`). A missing
//! or wrong reference binary fails these tests; it never skips them.

mod common;
#[macro_use]
#[allow(unused_macros)]
#[path = "auth_cases/script.rs"]
mod script;
#[path = "jwt_cases/jwt_table.rs"]
mod jwt_table;
#[path = "jwt_cases/world.rs"]
mod world;

use std::time::Duration;

use async_nats::ConnectOptions;
use futures::StreamExt;

use common::TempDir;
use script::{ConfiguredServer, ServerKind};
use world::{Versions, World, OPERATOR_CONFIG};

/// How long one message or connect may take; generous for a loaded machine.
const EVENT_WAIT_MAX: Duration = Duration::from_secs(10);

/// Declares `$name::reference_matches_table` and `$name::ringnats_matches_reference`:
/// the JWT table `$cases` on a world whose JWTs are of `$versions`.
macro_rules! wire_table {
    ($name:ident, $versions:expr) => {
        wire_table!($name, $versions, JWT_CASES);
    };
    ($name:ident, $versions:expr, $cases:ident) => {
        mod $name {
            use super::jwt_table::$cases;
            use super::{script, Versions, World};

            #[test]
            fn reference_matches_table() {
                let keys = World::new($versions).test_keys();
                script::assert_reference_matches_table_with($cases, &keys);
            }

            #[test]
            fn ringnats_matches_reference() {
                let keys = World::new($versions).test_keys();
                script::assert_ringnats_matches_reference_with($cases, &keys);
            }
        }
    };
}

wire_table!(wire_table, Versions::V2);
wire_table!(wire_table_v1, Versions::V1);
wire_table!(wire_table_v1_only, Versions::V1, JWT_V1_ONLY_CASES);
wire_table!(
    wire_table_v1_operator_v2_accounts_v1_users,
    Versions {
        operator: 1,
        accounts: 2,
        users: 1,
    }
);
wire_table!(
    wire_table_v2_operator_v1_accounts_v2_users,
    Versions {
        operator: 2,
        accounts: 1,
        users: 2,
    }
);

/// A `.creds` file as `nsc` writes it.
fn creds_text(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}

/// Logs two creds users (JWTs of `versions`) into accounts A and B of one server and
/// proves a round trip in A that B does not see.
fn creds_check(kind: ServerKind, versions: Versions) {
    let world = World::new(versions);
    let keys = world.test_keys();
    let server = ConfiguredServer::start(kind, &keys.fill_keys(OPERATOR_CONFIG));
    let dir = TempDir::new("jwt-creds");
    let user_b = nkeys::KeyPair::new_user();
    let write = |name: &str, jwt: String, key: &nkeys::KeyPair| {
        let path = dir.path().join(name);
        std::fs::write(&path, creds_text(&jwt, &key.seed().expect("a seed"))).expect("write");
        path
    };
    let a_creds = write(
        "a.creds",
        world.user_jwt(&world.a, &keys.user, serde_json::json!({})),
        &keys.user,
    );
    let b_creds = write(
        "b.creds",
        world.user_jwt(&world.b, &user_b, serde_json::json!({})),
        &user_b,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let connect = |path: std::path::PathBuf| {
            let url = server.url();
            async move {
                ConnectOptions::with_credentials_file(path)
                    .await
                    .expect("creds parse")
                    .connection_timeout(EVENT_WAIT_MAX)
                    .connect(url)
                    .await
                    .unwrap_or_else(|error| panic!("{} refused creds: {error}", kind.name()))
            }
        };
        let a = connect(a_creds).await;
        let b = connect(b_creds).await;
        let mut a_sub = a.subscribe("jwt.check").await.expect("subscribe");
        let mut b_sub = b.subscribe("jwt.check").await.expect("subscribe");
        common::round_trip(&a).await;
        common::round_trip(&b).await;
        a.publish("jwt.check", "in a".into())
            .await
            .expect("publish");
        a.flush().await.expect("flush");
        let message = tokio::time::timeout(EVENT_WAIT_MAX, a_sub.next())
            .await
            .expect("the message comes back in time")
            .expect("open");
        assert_eq!(message.payload, "in a".as_bytes());
        let leaked = tokio::time::timeout(Duration::from_millis(300), b_sub.next()).await;
        assert!(
            leaked.is_err(),
            "{}: account B saw A's message",
            kind.name()
        );
    });
}

mod creds_login {
    use super::{creds_check, ServerKind, Versions};

    #[test]
    fn reference() {
        creds_check(ServerKind::Reference, Versions::V2);
    }

    #[test]
    fn ringnats() {
        creds_check(ServerKind::Ringnats, Versions::V2);
    }

    #[test]
    fn reference_v1() {
        creds_check(ServerKind::Reference, Versions::V1);
    }

    #[test]
    fn ringnats_v1() {
        creds_check(ServerKind::Ringnats, Versions::V1);
    }
}

/// A user whose JWT (of `versions`) expires two seconds after it is made: logged in,
/// then closed with `User Authentication Expired` once the JWT's `exp` passes.
fn expiry_check(kind: ServerKind, versions: Versions) -> String {
    let world = World::new(versions);
    let keys = world.test_keys();
    let server = ConfiguredServer::start(kind, &keys.fill_keys(OPERATOR_CONFIG));
    let jwt = world.user_jwt(
        &world.a,
        &keys.user,
        serde_json::json!({"exp": world::now() + 2}),
    );
    let mut client = common::RawClient::connect(server.addr());
    let info = client.read_info_line(EVENT_WAIT_MAX);
    let nonce = script::info_field(&info, "nonce").expect("a nonce in INFO");
    let sig = script::sign_nonce(&keys.user, nonce.as_str().expect("a string"));
    let connect =
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\nPING\r\n");
    client.send(connect.as_bytes());
    let received = client.read_until(EVENT_WAIT_MAX, |bytes| common::pong_lines(bytes) >= 1);
    assert!(
        common::pong_lines(&received.bytes) >= 1,
        "{}: the user logs in before its JWT expires: {:?}",
        kind.name(),
        String::from_utf8_lossy(&received.bytes)
    );
    let received = client.read_until_closed(EVENT_WAIT_MAX);
    assert!(
        received.closed,
        "{}: closed when the JWT expired",
        kind.name()
    );
    // Keep only the server's words, not its keep-alive PINGs.
    String::from_utf8_lossy(&received.bytes)
        .lines()
        .filter(|line| *line != "PING")
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn expired_user_jwt_disconnects_like_nats_server() {
    let reference = expiry_check(ServerKind::Reference, Versions::V2);
    assert_eq!(reference, "-ERR 'User Authentication Expired'");
    assert_eq!(expiry_check(ServerKind::Ringnats, Versions::V2), reference);
}

#[test]
fn expired_v1_user_jwt_disconnects_like_nats_server() {
    let reference = expiry_check(ServerKind::Reference, Versions::V1);
    assert_eq!(reference, "-ERR 'User Authentication Expired'");
    assert_eq!(expiry_check(ServerKind::Ringnats, Versions::V1), reference);
}
