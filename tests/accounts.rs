//! Accounts, black box and differential.
//!
//! - `wire_table`: every case of `tests/auth_cases/account_table.rs` (isolation between
//!   accounts and `$G`, stream and service imports and exports, reply routing, account
//!   limits, the system account, `no_auth_user` in an account) is checked against the
//!   reference nats-server 2.15.1, then run on both servers and compared byte for byte.
//!   On ringnats (two shards) consecutive connections of a case sit on different shards.
//! - With the official `async-nats` client: request/reply across accounts through a
//!   service import and a stream import keeping publish order, each with the two clients
//!   on different shards of ringnats; a system account user sees a connect advisory.
//! - A config importing an export it is not allowed to is refused at startup, like the
//!   reference refuses it.
//!
//! A missing or wrong reference binary fails these tests; it never skips them.

mod common;
#[macro_use]
#[path = "auth_cases/script.rs"]
mod script;
#[path = "auth_cases/account_table.rs"]
mod account_table;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::ConnectOptions;
use futures::future::BoxFuture;
use futures::StreamExt;

use common::{reference_server_bin, ringnats_bin, DieWithTest, TempDir};
use script::{connect_apart, ConfiguredServer, TestKeys};

/// How long one message or connect may take in a check; generous for a loaded machine.
const EVENT_WAIT_MAX: Duration = Duration::from_secs(10);

mod wire_table {
    use super::account_table::ACCOUNT_CASES;
    use super::script;

    #[test]
    fn reference_matches_table() {
        script::assert_reference_matches_table(ACCOUNT_CASES);
    }

    #[test]
    fn ringnats_matches_reference() {
        script::assert_ringnats_matches_reference(ACCOUNT_CASES);
    }
}

/// Exporter A, importers B (service `help.>` as `ask.>`, stream `events.>` under prefix
/// `fromA`) and C (service `help.me` as is); every password is `p`.
const ACCOUNTS: &str = r#"
accounts {
  A: {
    users: [{user: a, password: p}]
    exports: [ {stream: "events.>"}, {service: "help.>"} ]
  }
  B: {
    users: [{user: b, password: p}]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
      {service: {account: A, subject: "help.>"}, to: "ask.>"}
    ]
  }
  C: {
    users: [{user: c, password: p}]
    imports: [ {service: {account: A, subject: "help.me"}} ]
  }
}
"#;

fn user(name: &str) -> ConnectOptions {
    ConnectOptions::with_user_and_password(name.into(), "p".into())
        .connection_timeout(EVENT_WAIT_MAX)
}

async fn connect(server: &ConfiguredServer, name: &str) -> async_nats::Client {
    user(name)
        .connect(server.url())
        .await
        .unwrap_or_else(|error| panic!("{} refused {name}: {error}", server.kind.name()))
}

/// How many requests cross the service import, each from a fresh requester.
const REQUEST_ROUNDS: usize = 6;

fn check_service_import<'a>(
    server: &'a ConfiguredServer,
    _keys: &'a TestKeys,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let responder = connect(server, "a").await;
        let mut requests = responder.subscribe("help.>").await.expect("subscribe");
        common::round_trip(&responder).await;
        let answering = {
            let responder = responder.clone();
            tokio::spawn(async move {
                while let Some(request) = requests.next().await {
                    let reply = request.reply.expect("a request has a reply subject");
                    let answer = format!("re: {}", request.subject);
                    responder
                        .publish(reply, answer.into())
                        .await
                        .expect("answer");
                    responder.flush().await.expect("flush the answer");
                }
            })
        };
        for round in 0..REQUEST_ROUNDS {
            let requester = connect_apart(server, || user("b"), &responder).await;
            let answer = tokio::time::timeout(
                EVENT_WAIT_MAX,
                requester.request(format!("ask.q{round}"), "?".into()),
            )
            .await
            .expect("an answer in time")
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
            assert_eq!(answer.payload, format!("re: help.q{round}").as_bytes());
        }
        let requester = connect_apart(server, || user("c"), &responder).await;
        let answer = tokio::time::timeout(EVENT_WAIT_MAX, requester.request("help.me", "?".into()))
            .await
            .expect("an answer in time")
            .expect("C's import without `to` reaches A");
        assert_eq!(answer.payload, "re: help.me".as_bytes());
        answering.abort();
    })
}

on_both_servers!(
    service_import_request_reply_across_accounts,
    ACCOUNTS,
    check_service_import
);

/// How many messages cross the stream import in the order test.
const STREAM_MESSAGES: usize = 500;

fn check_stream_import_order<'a>(
    server: &'a ConfiguredServer,
    _keys: &'a TestKeys,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let subscriber = connect(server, "b").await;
        let mut events = subscriber
            .subscribe("fromA.events.>")
            .await
            .expect("subscribe");
        common::round_trip(&subscriber).await;
        let publisher = connect_apart(server, || user("a"), &subscriber).await;
        for index in 0..STREAM_MESSAGES {
            publisher
                .publish(format!("events.{}", index % 7), index.to_string().into())
                .await
                .expect("publish");
        }
        publisher.flush().await.expect("flush");
        for index in 0..STREAM_MESSAGES {
            let message = tokio::time::timeout(EVENT_WAIT_MAX, events.next())
                .await
                .unwrap_or_else(|_| panic!("message {index} in time"))
                .expect("the subscription is open");
            assert_eq!(
                message.subject.as_str(),
                format!("fromA.events.{}", index % 7)
            );
            assert_eq!(
                message.payload,
                index.to_string().as_bytes(),
                "publish order kept"
            );
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(200), events.next())
                .await
                .is_err(),
            "nothing more arrives"
        );
    })
}

on_both_servers!(
    stream_import_keeps_order_across_shards,
    ACCOUNTS,
    check_stream_import_order
);

/// A system account with a user, next to account A.
const SYSTEM: &str = r#"
accounts {
  A: { users: [{user: a, password: p}] }
  SYS: { users: [{user: sys, password: p}] }
}
system_account: SYS
"#;

fn check_connect_advisory<'a>(
    server: &'a ConfiguredServer,
    _keys: &'a TestKeys,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let system = connect(server, "sys").await;
        let mut advisories = system
            .subscribe("$SYS.ACCOUNT.A.CONNECT")
            .await
            .expect("subscribe");
        common::round_trip(&system).await;
        let _client = connect(server, "a").await;
        let message = tokio::time::timeout(EVENT_WAIT_MAX, advisories.next())
            .await
            .expect("a connect advisory in time")
            .expect("the subscription is open");
        let event: serde_json::Value =
            serde_json::from_slice(&message.payload).expect("the advisory is JSON");
        assert_eq!(
            event["type"], "io.nats.server.advisory.v1.client_connect",
            "{event}"
        );
        assert_eq!(event["client"]["acc"], "A", "{event}");
        assert_eq!(event["client"]["user"], "a", "{event}");
    })
}

on_both_servers!(
    system_account_user_sees_connect_advisory,
    SYSTEM,
    check_connect_advisory
);

/// C imports a stream and a service that A exports to B only.
const UNAUTHORIZED_IMPORT: &str = r#"
accounts {
  A: {
    users: [{user: a, password: p}]
    exports: [ {stream: "priv.>", accounts: [B]}, {service: "psvc", accounts: [B]} ]
  }
  B: { users: [{user: b, password: p}] }
  C: {
    users: [{user: c, password: p}]
    imports: [ {stream: {account: A, subject: "priv.>"}}, {service: {account: A, subject: "psvc"}} ]
  }
}
"#;

/// How long a server may take to refuse a config and exit.
const REFUSAL_WAIT_MAX: Duration = Duration::from_secs(10);

/// Starts `binary` with `config` and expects it to exit non-zero; returns its stderr.
fn refused_config_stderr(binary: &std::path::Path, config: &str) -> String {
    let dir = TempDir::new("refused-config");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, config).expect("write the config");
    let stderr_path = dir.path().join("stderr.log");
    let mut child = Command::new(binary)
        .die_with_test()
        .arg("-c")
        .arg(&path)
        .args(["-a", "127.0.0.1", "-p", "-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("create the stderr log"))
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
    let deadline = Instant::now() + REFUSAL_WAIT_MAX;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the server") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} was still running after {REFUSAL_WAIT_MAX:?}: it accepted the config",
                binary.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        !status.success(),
        "{} exited successfully; stderr:\n{stderr}",
        binary.display()
    );
    stderr
}

/// nats-server refuses to start when an account imports what it was not exported to;
/// these are its words (with the config position before them).
const REFUSALS: &[&str] = &[
    "Error adding stream import \"priv.>\": stream import not authorized",
    "Error adding service import \"psvc\": service import not authorized",
];

fn check_refusal(binary: &std::path::Path) {
    let stderr = refused_config_stderr(binary, UNAUTHORIZED_IMPORT);
    for refusal in REFUSALS {
        assert!(
            stderr.contains(refusal),
            "{} did not say {refusal:?}; stderr:\n{stderr}",
            binary.display()
        );
    }
}

mod unauthorized_import_is_refused_at_startup {
    use super::*;

    #[test]
    fn reference() {
        check_refusal(&reference_server_bin());
    }

    #[test]
    fn ringnats() {
        check_refusal(&ringnats_bin());
    }
}
