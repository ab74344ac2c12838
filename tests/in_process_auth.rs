//! Authentication, permissions and accounts on an in-process server built from a
//! `Config` (no config file), with two shards: the shard-side checks on their own.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use ringnats::auth::{
    AccountConfig, AuthConfig, Export, ExportKind, Import, Permissions, ResponseType,
    SubjectPermission, User,
};
use ringnats::config::Config;
use ringnats::server::{self, RunningServer};

const WAIT: Duration = Duration::from_secs(3);

fn start(auth: AuthConfig) -> RunningServer {
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: -1,
        threads: Some(2),
        auth,
        ..Config::default()
    };
    if let Some(backend) = common::test_io_backend() {
        config.io_backend = backend.parse().expect("a valid io backend");
    }
    server::start(config).expect("server starts")
}

fn user(name: &str, account: Option<&str>) -> User {
    User {
        name: name.into(),
        password: "p".into(),
        account: account.map(Into::into),
        permissions: None,
        connection_types: Default::default(),
    }
}

/// Connects, sends `CONNECT` with `credentials` and a PING, and returns the stream once
/// the PONG (or an error) arrived, with what was read.
fn login(server: &RunningServer, credentials: &str) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let connect = format!("CONNECT {{\"verbose\":false,{credentials}}}\r\nPING\r\n");
    stream.write_all(connect.as_bytes()).unwrap();
    let (seen, _) = common::read_stream_until(&mut stream, WAIT, |seen| {
        common::find(seen, b"PONG\r\n").is_some() || common::find(seen, b"-ERR").is_some()
    });
    (stream, seen)
}

fn send_and_read(stream: &mut TcpStream, bytes: &[u8], until: &[u8]) -> Vec<u8> {
    stream.write_all(bytes).unwrap();
    common::read_stream_until(stream, WAIT, |seen| common::find(seen, until).is_some()).0
}

#[test]
fn users_log_in_and_wrong_passwords_are_refused() {
    let server = start(AuthConfig {
        users: vec![user("alice", None)],
        ..Default::default()
    });
    let (_good, seen) = login(&server, r#""user":"alice","pass":"p""#);
    assert!(common::find(&seen, b"PONG").is_some(), "{seen:?}");
    assert!(common::find(&seen, b"\"auth_required\":true").is_some());
    let (_bad, seen) = login(&server, r#""user":"alice","pass":"x""#);
    assert!(
        common::find(&seen, b"-ERR 'Authorization Violation'").is_some(),
        "{}",
        String::from_utf8_lossy(&seen)
    );
}

#[test]
fn accounts_are_isolated_and_service_imports_answer_across_shards() {
    let server = start(AuthConfig {
        users: vec![user("a", Some("A")), user("b", Some("B"))],
        accounts: vec![
            AccountConfig {
                name: "A".into(),
                exports: vec![Export {
                    kind: ExportKind::Service,
                    subject: "svc.>".into(),
                    accounts: None,
                    response_type: ResponseType::Singleton,
                    account_token_position: None,
                    response_threshold: None,
                }],
                ..Default::default()
            },
            AccountConfig {
                name: "B".into(),
                imports: vec![Import {
                    kind: ExportKind::Service,
                    account: "A".into(),
                    subject: "svc.>".into(),
                    prefix: None,
                    to: None,
                    share: false,
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    for _ in 0..4 {
        let (mut responder, _) = login(&server, r#""user":"a","pass":"p""#);
        send_and_read(
            &mut responder,
            b"SUB svc.> 1\r\nSUB plain 2\r\nPING\r\n",
            b"PONG",
        );
        let (mut requester, _) = login(&server, r#""user":"b","pass":"p""#);
        // Isolation: B's publish on `plain` must not reach A.
        send_and_read(
            &mut requester,
            b"SUB _INBOX.1 9\r\nPUB plain 1\r\nx\r\nPUB svc.echo _INBOX.1 2\r\nhi\r\nPING\r\n",
            b"PONG",
        );
        let seen = common::read_stream_until(&mut responder, WAIT, |seen| {
            common::find(seen, b"hi\r\n").is_some()
        })
        .0;
        let text = String::from_utf8_lossy(&seen).into_owned();
        assert!(!text.contains("MSG plain"), "{text}");
        let reply = text
            .split_whitespace()
            .find(|word| word.starts_with("_R_."))
            .unwrap_or_else(|| panic!("no _R_ reply in {text}"))
            .to_string();
        let answer = format!("PUB {reply} 3\r\nyes\r\n");
        responder.write_all(answer.as_bytes()).unwrap();
        let seen = common::read_stream_until(&mut requester, WAIT, |seen| {
            common::find(seen, b"yes\r\n").is_some()
        })
        .0;
        assert!(
            common::find(&seen, b"MSG _INBOX.1 9 3\r\nyes\r\n").is_some(),
            "{}",
            String::from_utf8_lossy(&seen)
        );
    }
}

#[test]
fn permissions_answer_with_nats_server_texts() {
    let mut limited = user("limited", None);
    limited.permissions = Some(Permissions {
        publish: Some(SubjectPermission {
            allow: Some(vec!["foo.>".into()]),
            deny: Some(vec!["foo.bar".into()]),
        }),
        subscribe: Some(SubjectPermission {
            allow: Some(vec!["foo.* q1".into(), "bar".into()]),
            deny: None,
        }),
        response: None,
    });
    let server = start(AuthConfig {
        users: vec![limited],
        ..Default::default()
    });
    let (mut client, _) = login(&server, r#""user":"limited","pass":"p""#);
    let seen = send_and_read(
        &mut client,
        b"SUB foo.x 1\r\nSUB foo.x q2 2\r\nSUB foo.x q1 3\r\nPUB foo.bar 1\r\nx\r\nPUB foo.baz 1\r\nx\r\nPUB baz 0\r\n\r\nPING\r\n",
        b"PONG",
    );
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(
        text,
        "-ERR 'Permissions Violation for Subscription to \"foo.x\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"foo.x\" using queue \"q2\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"foo.bar\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"baz\"'\r\n\
         PONG\r\n"
    );
}

#[test]
fn monitoring_reports_each_account_and_user() {
    let mut config_auth = AuthConfig {
        users: vec![user("a", Some("A")), user("b", Some("B"))],
        accounts: ["A", "B"]
            .into_iter()
            .map(|name| AccountConfig {
                name: name.into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    config_auth.users.push(user("a2", Some("A")));
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: -1,
        threads: Some(2),
        http_port: Some(-1),
        auth: config_auth,
        ..Config::default()
    };
    if let Some(backend) = common::test_io_backend() {
        config.io_backend = backend.parse().expect("a valid io backend");
    }
    let server = server::start(config).expect("server starts");
    let monitor = server.monitor_address().expect("monitoring runs").port();
    let (mut a, _) = login(&server, r#""user":"a","pass":"p""#);
    send_and_read(&mut a, b"SUB one 1\r\nSUB two 2\r\nPING\r\n", b"PONG");
    let (_a2, _) = login(&server, r#""user":"a2","pass":"p""#);
    let (_b, _) = login(&server, r#""user":"b","pass":"p""#);

    let statz = common::http_get(monitor, "/accstatz").json();
    let find = |name: &str| {
        statz["account_statz"]
            .as_array()
            .unwrap()
            .iter()
            .find(|stat| stat["acc"] == name)
            .cloned()
    };
    let account_a = find("A").expect("A listed");
    assert_eq!(account_a["conns"], 2, "{statz}");
    assert_eq!(account_a["num_subscriptions"], 2, "{statz}");
    assert_eq!(find("B").expect("B listed")["conns"], 1, "{statz}");
    assert!(find("$G").is_none(), "no client in $G: {statz}");

    let connz = common::http_get(monitor, "/connz?acc=A&auth=1").json();
    let users: Vec<&str> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|conn| conn["authorized_user"].as_str().unwrap())
        .collect();
    assert_eq!(users.len(), 2, "{connz}");
    assert!(users.contains(&"a") && users.contains(&"a2"), "{connz}");
    let subsz = common::http_get(monitor, "/subsz?acc=B").json();
    assert_eq!(subsz["num_subscriptions"], 0, "{subsz}");
    let metrics = common::http_get(monitor, "/metrics").body;
    let metrics = String::from_utf8_lossy(&metrics);
    for line in [
        "ringnats_account_connections{account=\"A\"} 2",
        "ringnats_account_connections{account=\"B\"} 1",
        "ringnats_account_connections{account=\"$G\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
}

#[test]
fn slow_consumers_are_counted_in_their_account() {
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: -1,
        threads: Some(2),
        http_port: Some(-1),
        pending_bytes_max: 256 * 1024,
        payload_bytes_max: 64 * 1024,
        auth: AuthConfig {
            users: vec![user("a", Some("A")), user("b", Some("B"))],
            accounts: ["A", "B"]
                .into_iter()
                .map(|name| AccountConfig {
                    name: name.into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        ..Config::default()
    };
    if let Some(backend) = common::test_io_backend() {
        config.io_backend = backend.parse().expect("a valid io backend");
    }
    let server = server::start(config).expect("server starts");
    let monitor = server.monitor_address().expect("monitoring runs").port();
    // A subscriber in A that never reads, and one in B on the same subject.
    let (mut lazy, _) = login(&server, r#""user":"a","pass":"p""#);
    send_and_read(&mut lazy, b"SUB firehose 1\r\nPING\r\n", b"PONG");
    let (mut other, _) = login(&server, r#""user":"b","pass":"p""#);
    send_and_read(&mut other, b"SUB firehose 1\r\nPING\r\n", b"PONG");
    let (mut publisher, _) = login(&server, r#""user":"a","pass":"p""#);
    let mut frame = b"PUB firehose 32768\r\n".to_vec();
    frame.extend_from_slice(&[b'x'; 32 * 1024]);
    frame.extend_from_slice(b"\r\n");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.shared().total(|s| &s.slow_consumers) == 0 && std::time::Instant::now() < deadline
    {
        for _ in 0..64 {
            publisher.write_all(&frame).unwrap();
        }
    }
    let statz = common::http_get(monitor, "/accstatz?unused=1").json();
    let slow = |name: &str| {
        statz["account_statz"]
            .as_array()
            .unwrap()
            .iter()
            .find(|stat| stat["acc"] == name)
            .map(|stat| stat["slow_consumers"].clone())
    };
    assert_eq!(slow("A"), Some(serde_json::json!(1)), "{statz}");
    assert_eq!(slow("B"), Some(serde_json::json!(0)), "{statz}");
    // B's subscriber never saw A's messages (accounts are apart) and is still served.
    let seen = send_and_read(&mut other, b"PING\r\n", b"PONG");
    assert!(common::find(&seen, b"MSG").is_none());
}
