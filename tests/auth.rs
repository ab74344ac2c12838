//! Authentication and authorization, black box and differential.
//!
//! - `wire_table`: every case of `tests/auth_cases/auth_table.rs` (token, user/password,
//!   bcrypt, nkeys, `no_auth_user`, the authentication timeout, garbage in CONNECT, the
//!   permission matrix with queue entries, delivery-time denies, `allow_responses` and
//!   `default_permissions`) is checked against the reference nats-server 2.15.1, then run
//!   on both servers and compared byte for byte once INFO values are masked.
//! - The official `async-nats` client logs in with a token, a user and password, a bcrypt'd
//!   password and an nkey seed, and is refused with wrong credentials; each check runs on
//!   the reference (`::reference`, proving the check) and on ringnats (`::ringnats`).
//! - A storm of bcrypt logins must not stall an already connected client's PINGs.
//!
//! A missing or wrong reference binary fails these tests; it never skips them.

mod common;
#[macro_use]
#[path = "auth_cases/script.rs"]
mod script;
#[path = "auth_cases/auth_table.rs"]
mod auth_table;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::{ConnectErrorKind, ConnectOptions};
use futures::future::BoxFuture;
use futures::StreamExt;

use common::{pong_lines, RawClient, ANSWER_WAIT_MAX};
use script::{info_field, ConfiguredServer, TestKeys};

/// How long one message or connect may take in a check; generous for a loaded machine.
const EVENT_WAIT_MAX: Duration = Duration::from_secs(10);

mod wire_table {
    use super::auth_table::AUTH_CASES;
    use super::script;

    #[test]
    fn reference_matches_table() {
        script::assert_reference_matches_table(AUTH_CASES);
    }

    #[test]
    fn ringnats_matches_reference() {
        script::assert_ringnats_matches_reference(AUTH_CASES);
    }
}

/// Options every check uses: bounded connects, no retries (a refusal must surface).
fn options(base: ConnectOptions) -> ConnectOptions {
    base.connection_timeout(EVENT_WAIT_MAX)
}

/// Connects with `base` and proves the connection works: a message to itself comes back.
async fn connect_and_roundtrip(server: &ConfiguredServer, base: ConnectOptions) {
    let client = options(base)
        .connect(server.url())
        .await
        .unwrap_or_else(|error| panic!("{} refused good credentials: {error}", server.kind.name()));
    let mut subscription = client.subscribe("auth.check").await.expect("subscribe");
    client.flush().await.expect("flush after subscribe");
    client
        .publish("auth.check", "hello".into())
        .await
        .expect("publish");
    let message = tokio::time::timeout(EVENT_WAIT_MAX, subscription.next())
        .await
        .expect("the message comes back in time")
        .expect("the subscription is open");
    assert_eq!(message.payload, "hello".as_bytes());
}

/// Connecting with `base` must fail with an authorization violation.
async fn expect_refused(server: &ConfiguredServer, base: ConnectOptions, what: &str) {
    match options(base).connect(server.url()).await {
        Ok(_) => panic!("{} accepted {what}", server.kind.name()),
        Err(error) => assert_eq!(
            error.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "{} refused {what} with {error}",
            server.kind.name()
        ),
    }
}

const TOKEN: &str = "authorization { token: s3cr3t }";

fn check_token<'a>(server: &'a ConfiguredServer, _keys: &'a TestKeys) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        connect_and_roundtrip(server, ConnectOptions::with_token("s3cr3t".into())).await;
        expect_refused(
            server,
            ConnectOptions::with_token("wrong".into()),
            "a wrong token",
        )
        .await;
        expect_refused(server, ConnectOptions::new(), "no credentials").await;
    })
}

on_both_servers!(async_nats_token, TOKEN, check_token);

/// A plain user, a bcrypt user ([`auth_table::BCRYPT_HASH`]) and an nkey user.
const USERS: &str = "authorization { users = [\n\
    {user: alice, password: wonder}\n\
    {user: b, password: \"$2a$11$fmgYKAUpA1gfcXKCdDDhKeBheGqbF9b.aEUVQ/B9sNt9qIGrUvYMK\"}\n\
    {nkey: \"{nkey}\"}\n\
] }";

fn user_password(user: &str, password: &str) -> ConnectOptions {
    ConnectOptions::with_user_and_password(user.into(), password.into())
}

fn check_user_password<'a>(server: &'a ConfiguredServer, _keys: &'a TestKeys) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        connect_and_roundtrip(server, user_password("alice", "wonder")).await;
        expect_refused(server, user_password("alice", "wrong"), "a wrong password").await;
        expect_refused(
            server,
            user_password("mallory", "wonder"),
            "an unknown user",
        )
        .await;
        expect_refused(server, ConnectOptions::new(), "no credentials").await;
    })
}

on_both_servers!(async_nats_user_password, USERS, check_user_password);

fn check_bcrypt<'a>(server: &'a ConfiguredServer, _keys: &'a TestKeys) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        assert!(USERS.contains(auth_table::BCRYPT_HASH));
        connect_and_roundtrip(server, user_password("b", auth_table::BCRYPT_PASSWORD)).await;
        expect_refused(
            server,
            user_password("b", "bcrypt-pasS"),
            "a wrong password",
        )
        .await;
        expect_refused(
            server,
            user_password("b", auth_table::BCRYPT_HASH),
            "the hash as the password",
        )
        .await;
    })
}

on_both_servers!(async_nats_bcrypt_password, USERS, check_bcrypt);

fn check_nkey<'a>(server: &'a ConfiguredServer, keys: &'a TestKeys) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let seed = keys.user.seed().expect("a user seed");
        connect_and_roundtrip(server, ConnectOptions::with_nkey(seed)).await;
        let stranger = keys.stranger.seed().expect("a stranger seed");
        expect_refused(
            server,
            ConnectOptions::with_nkey(stranger),
            "an nkey that is not configured",
        )
        .await;
    })
}

on_both_servers!(async_nats_nkey_seed, USERS, check_nkey);

/// How many clients log in at once in the bcrypt storm.
const STORM_CLIENTS: usize = 20;

/// The longest a PING may wait for its PONG while the storm's bcrypt checks run. Not a
/// performance target: one bcrypt check at cost 11 takes about 0.1 s, so a server that
/// ran all twenty on the pinging client's thread would stall it for a second or more per
/// shard, and one that froze outright would never answer.
const STORM_PONG_WAIT_MAX: Duration = Duration::from_secs(2);

/// Result of the pinging client's loop.
struct PingLog {
    /// Round trips completed while the storm ran.
    round_trips: usize,
    /// The slowest round trip seen.
    slowest: Duration,
    /// The pinger's `client_id`, for shard placement.
    cid: u64,
    /// The pinger's connection, kept open so `/connz` can still place it.
    client: RawClient,
}

/// Logs in as the bcrypt user over raw TCP, then pings until `stop`; panics if a PONG
/// takes longer than [`STORM_PONG_WAIT_MAX`]. `ready` is set once pinging has started.
fn ping_until(server: std::net::SocketAddr, ready: &AtomicBool, stop: &AtomicBool) -> PingLog {
    let mut client = RawClient::connect(server);
    let info_line = client.read_info_line(ANSWER_WAIT_MAX);
    let cid = info_field(&info_line, "client_id")
        .and_then(|cid| cid.as_u64())
        .expect("a client_id in INFO");
    client.send(lines!(user!("b", "bcrypt-pass"), "PING").as_bytes());
    client.expect_contains(b"PONG\r\n", EVENT_WAIT_MAX);
    ready.store(true, Ordering::SeqCst);
    let mut log = PingLog {
        round_trips: 0,
        slowest: Duration::ZERO,
        cid,
        client,
    };
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        log.client.send(b"PING\r\n");
        let answer = log
            .client
            .read_until(STORM_PONG_WAIT_MAX, |bytes| pong_lines(bytes) >= 1);
        let took = started.elapsed();
        assert!(
            pong_lines(&answer.bytes) >= 1,
            "no PONG within {STORM_PONG_WAIT_MAX:?} while bcrypt logins ran (closed: {}, got {})",
            answer.closed,
            common::escape_bytes(&answer.bytes)
        );
        log.round_trips += 1;
        log.slowest = log.slowest.max(took);
        std::thread::sleep(Duration::from_millis(10));
    }
    log
}

fn check_bcrypt_storm<'a>(server: &'a ConfiguredServer, _keys: &'a TestKeys) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let ready = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let pinger = {
            let (addr, ready, stop) = (server.addr(), ready.clone(), stop.clone());
            std::thread::spawn(move || ping_until(addr, &ready, &stop))
        };
        while !ready.load(Ordering::SeqCst) && !pinger.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let logins = (0..STORM_CLIENTS).map(|_| {
            options(user_password("b", auth_table::BCRYPT_PASSWORD))
                .connection_timeout(Duration::from_secs(30))
                .connect(server.url())
        });
        let results = futures::future::join_all(logins).await;
        stop.store(true, Ordering::SeqCst);
        let log = tokio::task::spawn_blocking(move || pinger.join())
            .await
            .expect("the join task ran")
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let clients: Vec<async_nats::Client> = results
            .into_iter()
            .map(|result| result.expect("every storm client logs in"))
            .collect();
        assert!(
            log.round_trips > 0,
            "the pinger completed no round trip during the storm"
        );
        assert!(log.slowest <= STORM_PONG_WAIT_MAX, "{:?}", log.slowest);
        // On ringnats, the storm must have hit the pinger's own shard, or this proved
        // nothing about that shard's loop.
        if let Some(pinger_shard) = server.shard_of(log.cid) {
            let shared = clients
                .iter()
                .filter(|client| {
                    server.shard_of(client.server_info().client_id) == Some(pinger_shard)
                })
                .count();
            assert!(shared > 0, "no storm client landed on the pinger's shard");
        }
    })
}

on_both_servers!(
    bcrypt_logins_do_not_stall_other_clients,
    USERS,
    check_bcrypt_storm
);
