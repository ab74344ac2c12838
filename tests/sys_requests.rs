//! nats-server's monitoring requests in the system account (`$SYS.REQ.SERVER.PING.<KIND>`,
//! `$SYS.REQ.SERVER.<id>.<KIND>`, `$SYS.REQ.ACCOUNT.<acc>.<KIND>`), differential: the
//! reference nats-server runs with a system-account user and is asked over NATS with the
//! official `async-nats` client; ringnats's answers come from `monitor::sys::answer`
//! on an in-process server (the transport that carries requests to it is not part of
//! this test). Both get the same small load, and every answer is compared by shape:
//! key names and JSON types recursively, values aside. Errors are compared word for word.
//!
//! ringnats cannot load `accounts {}` yet, so its monitor's view of the configuration is
//! given the reference's accounts in code (`view_of_reference_accounts`); the shards
//! never see them, and every ringnats client stays in `$G`.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{compare_shape, RawClient, ServerProcess, ShapeRules, TempDir, ANSWER_WAIT_MAX};
use ringnats::auth::{
    AccountConfig, AuthConfig, ConnectionTypes, Export, ExportKind, Import, ResponseType, User,
};
use ringnats::config::Config;
use ringnats::monitor::sys::{answer, ACCOUNT_KINDS, SERVER_KINDS};
use ringnats::monitor::MonitorContext;
use ringnats::router::mesh::Doorbell;
use ringnats::server::{self, RunningServer};
use serde_json::Value;

/// The reference's accounts: a system account, an application account that exports and
/// imports, and the account it trades with.
const REFERENCE_CONFIG: &str = r#"
accounts {
  SYS: { users: [{user: sys, password: sys}] }
  APP: {
    users: [
      {user: app, password: app}
      {user: limited, password: limited, permissions: {
        publish: {allow: ["$SYS.REQ.USER.INFO", "app.>"], deny: ["app.x"]}
        subscribe: ["_INBOX.>"]
        allow_responses: {max: 2, expires: "1m"}
      }}
    ]
    exports: [{stream: "app.>"}, {service: "svc.>"}, {service: "only.other", accounts: [OTHER]}]
    imports: [
      {stream: {account: OTHER, subject: "other.>"}, prefix: "from"}
      {service: {account: OTHER, subject: "other.svc"}, to: "svc.other"}
    ]
  }
  OTHER: {
    users: [{user: other, password: other}]
    exports: [{stream: "other.>"}, {service: "other.svc", response_type: stream}]
  }
}
system_account: SYS
"#;

/// How long an answer may take: ringnats's shards answer monitoring questions in their
/// next turn (at most 250 ms here, since the test's doorbells wake no one).
const REQUEST_WAIT_MAX: Duration = Duration::from_secs(5);

/// How long the reference gets to prove it stays silent.
const SILENCE_WAIT: Duration = Duration::from_millis(500);

/// Keys only ringnats sends, each documented where it is built.
const EXTRA_KEYS: &[(&str, &str)] = &[
    ("VARZ.data", "io_backend"),
    ("VARZ.data", "shards"),
    ("connections[]", "shard"),
];

/// Objects whose keys are data: endpoint names, nats-server's internal queue names.
const DATA_KEYED: &[&str] = &["http_req_stats", "IPQUEUESZ.data"];

/// Keys that need authentication or the system account's own wiring, which the ringnats
/// side of this test does not have: its clients have no authorized user (no auth is
/// built), and nats-server lists the service imports it wires to the system account by
/// itself, which ringnats does not create.
///
/// `stop` and `reason` appear on closed connections only, which may fall on either
/// server's page of a mixed list.
const OPTIONAL_KEYS: &[(&str, &str)] = &[
    ("connections[]", "authorized_user"),
    ("connections[]", "account"),
    ("connections[]", "stop"),
    ("connections[]", "reason"),
    ("data", "imports"),
    ("account_detail", "imports"),
];

/// Go's `runtime.MemStats`, which has no counterpart outside the Go runtime: ringnats
/// sends `null` (see `src/monitor/internals.rs`).
const DIFFERENT_TYPES: &[&str] = &["EXPVARZ.data.memstats"];

fn rules() -> ShapeRules<'static> {
    ShapeRules {
        extra_keys: EXTRA_KEYS,
        data_keyed: DATA_KEYED,
        optional_keys: OPTIONAL_KEYS,
        different_types: DIFFERENT_TYPES,
    }
}

/// Server requests: (kind, payload). Every kind ringnats answers is here.
const SERVER_CASES: &[(&str, &str)] = &[
    ("STATSZ", ""),
    ("STATSZ", "{}"),
    ("IDZ", ""),
    ("VARZ", ""),
    ("CONNZ", ""),
    ("CONNZ", r#"{"subscriptions":true}"#),
    ("CONNZ", r#"{"subscriptions_detail":true,"auth":true}"#),
    ("CONNZ", r#"{"state":1}"#),
    (
        "CONNZ",
        r#"{"state":2,"sort":"msgs_from","limit":2,"offset":1}"#,
    ),
    ("CONNZ", r#"{"sort":"bogus"}"#),
    ("CONNZ", r#"{"sort":"stop"}"#),
    ("CONNZ", r#"{"subscriptions":"yes"}"#),
    ("CONNZ", r#"{"filter_subject":"foo"}"#),
    ("CONNZ", "not json"),
    ("SUBSZ", ""),
    ("SUBSZ", r#"{"subscriptions":true}"#),
    ("SUBSZ", r#"{"subscriptions":true,"test":"wild.card"}"#),
    ("SUBSZ", r#"{"test":"wild.*"}"#),
    ("ROUTEZ", ""),
    ("GATEWAYZ", ""),
    ("LEAFZ", ""),
    ("ACCOUNTZ", ""),
    ("ACCOUNTZ", r#"{"account":"APP"}"#),
    ("ACCOUNTZ", r#"{"account":"nope"}"#),
    ("JSZ", ""),
    ("HEALTHZ", ""),
    ("HEALTHZ", r#"{"stream":"s"}"#),
    ("HEALTHZ", r#"{"consumer":"c","details":true}"#),
    ("EXPVARZ", ""),
    ("IPQUEUESZ", ""),
    ("IPQUEUESZ", r#"{"all":true}"#),
    ("RAFTZ", ""),
    ("PROFILEZ", ""),
    ("PROFILEZ", r#"{"name":"cpu"}"#),
    ("VARZ", "[]"),
    ("VARZ", r#"{"tags":[1]}"#),
];

/// Account requests: (kind, the reference's account, ringnats's account, payload). The
/// loaded account is `APP` on the reference and `$G` on ringnats.
const ACCOUNT_CASES: &[(&str, &str, &str, &str)] = &[
    ("SUBSZ", "APP", "$G", ""),
    ("SUBSZ", "APP", "$G", r#"{"test":"foo"}"#),
    ("CONNZ", "APP", "$G", ""),
    ("CONNZ", "APP", "$G", r#"{"subscriptions":true}"#),
    ("CONNZ", "nope", "nope", ""),
    ("LEAFZ", "APP", "$G", ""),
    ("JSZ", "APP", "$G", ""),
    ("INFO", "APP", "APP", ""),
    ("INFO", "OTHER", "OTHER", ""),
    ("INFO", "nope", "nope", ""),
    ("STATZ", "APP", "$G", ""),
    ("STATZ", "OTHER", "OTHER", r#"{"include_unused":true}"#),
];

/// Both servers under the same load, and the means to ask each.
struct Pair {
    reference: ServerProcess,
    ours: RunningServer,
    context: MonitorContext,
    /// Open connections of the load (a subscriber and a publisher per server).
    _clients: Vec<RawClient>,
    _dir: TempDir,
}

fn reference_config(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("sys.conf");
    std::fs::write(&path, REFERENCE_CONFIG).unwrap();
    path
}

fn user(name: &str, account: &str) -> User {
    User {
        name: name.into(),
        password: name.into(),
        account: Some(account.into()),
        permissions: None,
        connection_types: ConnectionTypes::default(),
    }
}

/// [`REFERENCE_CONFIG`]'s accounts, users and system account, built in code.
fn view_of_reference_accounts() -> AuthConfig {
    let export = |kind, subject: &str, accounts: Option<&[&str]>| Export {
        kind,
        subject: subject.into(),
        accounts: accounts.map(|names| names.iter().map(|name| name.to_string()).collect()),
        response_type: ResponseType::Singleton,
        account_token_position: None,
        response_threshold: None,
    };
    let app = AccountConfig {
        name: "APP".into(),
        exports: vec![
            export(ExportKind::Stream, "app.>", None),
            export(ExportKind::Service, "svc.>", None),
            export(ExportKind::Service, "only.other", Some(&["OTHER"])),
        ],
        imports: vec![
            Import {
                kind: ExportKind::Stream,
                account: "OTHER".into(),
                subject: "other.>".into(),
                prefix: Some("from".into()),
                to: None,
                share: false,
            },
            Import {
                kind: ExportKind::Service,
                account: "OTHER".into(),
                subject: "other.svc".into(),
                prefix: None,
                to: Some("svc.other".into()),
                share: false,
            },
        ],
        ..AccountConfig::default()
    };
    let other = AccountConfig {
        name: "OTHER".into(),
        exports: vec![
            export(ExportKind::Stream, "other.>", None),
            Export {
                response_type: ResponseType::Stream,
                ..export(ExportKind::Service, "other.svc", None)
            },
        ],
        ..AccountConfig::default()
    };
    let system = AccountConfig {
        name: "SYS".into(),
        ..AccountConfig::default()
    };
    AuthConfig {
        users: vec![
            user("sys", "SYS"),
            user("app", "APP"),
            user("other", "OTHER"),
        ],
        accounts: vec![system, app, other],
        system_account: Some("SYS".into()),
        ..AuthConfig::default()
    }
}

/// Connects (with `credentials` when given), sends `ops`, and waits for their PONG.
fn client(addr: SocketAddr, credentials: Option<&str>, name: &str, ops: &[u8]) -> RawClient {
    let mut client = RawClient::connect(addr);
    client.read_info_line(ANSWER_WAIT_MAX);
    let auth = credentials
        .map(|user| format!(",\"user\":\"{user}\",\"pass\":\"{user}\""))
        .unwrap_or_default();
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"name\":\"{name}\",\"lang\":\"raw\",\"version\":\"1.0\"{auth}}}\r\n"
    );
    client.send(connect.as_bytes());
    client.send(ops);
    client.send(b"PING\r\n");
    client.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);
    client
}

/// The same load on either server: a subscriber (plain, queue and wildcard), a
/// publisher, and a client that leaves (for the closed connections).
fn load(addr: SocketAddr, credentials: Option<&str>) -> Vec<RawClient> {
    let subscriber = client(
        addr,
        credentials,
        "sub",
        b"SUB foo 1\r\nSUB bar q 2\r\nSUB wild.> 3\r\n",
    );
    let publisher = client(
        addr,
        credentials,
        "pub",
        b"PUB foo 5\r\nhello\r\nPUB wild.card 3\r\nabc\r\n",
    );
    drop(client(addr, credentials, "leaver", b""));
    vec![subscriber, publisher]
}

fn pair() -> Pair {
    let dir = TempDir::new("sys-requests");
    let config = reference_config(&dir);
    let reference = ServerProcess::reference(&["-c", config.to_str().unwrap()]);
    // Shards remember closed connections only while monitoring runs (`http_port`).
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: -1,
        threads: Some(2),
        http_port: Some(-1),
        ..Config::default()
    };
    if let Some(backend) = common::test_io_backend() {
        config.io_backend = backend
            .parse()
            .expect("RINGNATS_TEST_IO_BACKEND is auto, io_uring or epoll");
    }
    let ours = server::start(config).expect("ringnats starts");
    // Doorbells no shard watches: each shard answers in its next turn regardless.
    let doorbells = (0..ours.shards())
        .map(|_| Arc::new(Doorbell::new().unwrap()))
        .collect();
    let mut context = MonitorContext::new(
        ours.shared().clone(),
        doorbells,
        ours.identity().clone(),
        ours.io_backend(),
        ours.port(),
    );
    context.config.auth = view_of_reference_accounts();
    let mut clients = load(reference.addr(), Some("app"));
    clients.extend(load(ours.address(), None));
    Pair {
        reference,
        ours,
        context,
        _clients: clients,
        _dir: dir,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn system_user(reference: &ServerProcess) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password("sys".into(), "sys".into())
        .connect(format!("nats://{}", reference.addr()))
        .await
        .expect("the system user connects to the reference")
}

/// The reference's answer to one request (it must answer).
async fn theirs(client: &async_nats::Client, subject: &str, payload: &str) -> Value {
    let request = client.request(subject.to_string(), payload.to_string().into());
    let message = tokio::time::timeout(REQUEST_WAIT_MAX, request)
        .await
        .unwrap_or_else(|_| panic!("nats-server did not answer {subject} {payload}"))
        .unwrap_or_else(|error| panic!("nats-server: {subject} {payload}: {error}"));
    serde_json::from_slice(&message.payload)
        .unwrap_or_else(|error| panic!("nats-server {subject}: {error}"))
}

/// True when the reference stays silent on a request.
async fn reference_is_silent(client: &async_nats::Client, subject: &str, payload: &str) -> bool {
    let request = client.request(subject.to_string(), payload.to_string().into());
    tokio::time::timeout(SILENCE_WAIT, request).await.is_err()
}

/// ringnats's answer, as bytes (it must answer).
async fn ours_bytes(context: &MonitorContext, subject: &str, payload: &str) -> Vec<u8> {
    tokio::time::timeout(
        REQUEST_WAIT_MAX,
        answer(context, subject, payload.as_bytes()),
    )
    .await
    .unwrap_or_else(|_| panic!("ringnats took too long on {subject} {payload}"))
    .unwrap_or_else(|| panic!("ringnats did not answer {subject} {payload}"))
}

async fn ours(context: &MonitorContext, subject: &str, payload: &str) -> Value {
    let bytes = ours_bytes(context, subject, payload).await;
    serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        panic!(
            "ringnats {subject}: {error}: {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// Compares one pair of answers: shapes, and errors word for word (codes only for a
/// payload that is not JSON: Go's scanner and serde_json word syntax errors differently).
fn compare(label: &str, kind: &str, theirs: &Value, ours: &Value, problems: &mut Vec<String>) {
    // SYS_REQUESTS_DUMP=1 prints both answers of every case.
    if std::env::var_os("SYS_REQUESTS_DUMP").is_some() {
        eprintln!("== {label}\nnats-server: {theirs}\nringnats:    {ours}");
    }
    let mut found = Vec::new();
    compare_shape(kind, theirs, ours, &rules(), &mut found);
    problems.extend(
        found
            .into_iter()
            .map(|problem| format!("{label}: {problem}")),
    );
    let payload = label.split_once(' ').map_or("", |(_, payload)| payload);
    let is_json = payload.is_empty() || serde_json::from_str::<Value>(payload).is_ok();
    let error = |answer: &Value| match is_json {
        true => answer.get("error").cloned(),
        false => answer.get("error").map(|error| error["code"].clone()),
    };
    if error(theirs) != error(ours) {
        problems.push(format!(
            "{label}: error {} vs {}",
            theirs["error"], ours["error"]
        ));
    }
    for key in ["data", "statsz"] {
        if theirs.get(key).is_some() != ours.get(key).is_some() {
            problems.push(format!("{label}: `{key}` present in only one answer"));
        }
    }
}

/// Waits until both servers list a closed connection, so closed entries are compared.
async fn closed_connections_listed(pair: &Pair, sys: &async_nats::Client) {
    let subject = "$SYS.REQ.SERVER.PING.CONNZ";
    let deadline = Instant::now() + REQUEST_WAIT_MAX;
    loop {
        let theirs = theirs(sys, subject, r#"{"state":1}"#).await;
        let ours = ours(&pair.context, subject, r#"{"state":1}"#).await;
        if theirs["data"]["total"] != 0 && ours["data"]["total"] != 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{theirs}\n{ours}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn every_server_kind_has_the_reference_shape() {
    let pair = pair();
    for kind in SERVER_KINDS {
        assert!(
            SERVER_CASES.iter().any(|(case, _)| case == kind),
            "{kind} has no case"
        );
    }
    runtime().block_on(async {
        let sys = system_user(&pair.reference).await;
        closed_connections_listed(&pair, &sys).await;
        let mut problems = Vec::new();
        for (kind, payload) in SERVER_CASES {
            let subject = format!("$SYS.REQ.SERVER.PING.{kind}");
            let theirs = theirs(&sys, &subject, payload).await;
            let ours = ours(&pair.context, &subject, payload).await;
            compare(
                &format!("{kind} {payload}"),
                kind,
                &theirs,
                &ours,
                &mut problems,
            );
        }
        // The old subject for STATSZ.
        let subject = "$SYS.REQ.SERVER.PING";
        let theirs = theirs(&sys, subject, "").await;
        let ours = ours(&pair.context, subject, "").await;
        compare("PING", "STATSZ", &theirs, &ours, &mut problems);
        assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
    });
}

#[test]
fn every_account_kind_has_the_reference_shape() {
    let pair = pair();
    for kind in ACCOUNT_KINDS {
        assert!(
            ACCOUNT_CASES.iter().any(|(case, ..)| case == kind),
            "{kind} has no case"
        );
    }
    runtime().block_on(async {
        let sys = system_user(&pair.reference).await;
        let mut problems = Vec::new();
        for (kind, reference_account, our_account, payload) in ACCOUNT_CASES {
            let theirs = theirs(
                &sys,
                &format!("$SYS.REQ.ACCOUNT.{reference_account}.{kind}"),
                payload,
            )
            .await;
            let ours = ours(
                &pair.context,
                &format!("$SYS.REQ.ACCOUNT.{our_account}.{kind}"),
                payload,
            )
            .await;
            let label = format!("{reference_account}.{kind} {payload}");
            compare(&label, kind, &theirs, &ours, &mut problems);
        }
        let subject = "$SYS.REQ.ACCOUNT.PING.STATZ";
        for payload in ["", r#"{"include_unused":true}"#] {
            let theirs = theirs(&sys, subject, payload).await;
            let ours = ours(&pair.context, subject, payload).await;
            compare(
                &format!("PING.STATZ {payload}"),
                "STATZ",
                &theirs,
                &ours,
                &mut problems,
            );
        }
        assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
        // An account without connections is silent unless unused ones are asked for.
        let subject = "$SYS.REQ.ACCOUNT.OTHER.STATZ";
        assert!(reference_is_silent(&sys, subject, "").await);
        assert_eq!(answer(&pair.context, subject, b"").await, None);
    });
}

#[test]
fn requests_by_server_id_reach_only_that_server() {
    let pair = pair();
    runtime().block_on(async {
        let sys = system_user(&pair.reference).await;
        let reference_id = theirs(&sys, "$SYS.REQ.SERVER.PING.IDZ", "").await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let our_id = pair.ours.identity().server_id.clone();
        let theirs = theirs(&sys, &format!("$SYS.REQ.SERVER.{reference_id}.VARZ"), "").await;
        let ours = ours(&pair.context, &format!("$SYS.REQ.SERVER.{our_id}.VARZ"), "").await;
        let mut problems = Vec::new();
        compare("by id", "VARZ", &theirs, &ours, &mut problems);
        assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
        assert_eq!(ours["data"]["server_id"], our_id.as_str());
        assert_eq!(ours["server"]["id"], our_id.as_str());
        let elsewhere = format!("$SYS.REQ.SERVER.{reference_id}.VARZ");
        assert_eq!(answer(&pair.context, &elsewhere, b"").await, None);
        for unknown in [
            "$SYS.REQ.SERVER.PING.NOPE",
            "$SYS.REQ.USER.INFO",
            "$SYS.REQ.ACCOUNT.APP.CONNS",
            "other.subject",
        ] {
            assert_eq!(answer(&pair.context, unknown, b"").await, None, "{unknown}");
        }
    });
}

#[test]
fn filters_that_leave_a_server_out_keep_it_silent() {
    let pair = pair();
    let name = pair.ours.identity().server_name.clone();
    runtime().block_on(async {
        let sys = system_user(&pair.reference).await;
        let subject = "$SYS.REQ.SERVER.PING.VARZ";
        for payload in [
            r#"{"server_name":"not-this-one"}"#,
            r#"{"cluster":"c"}"#,
            r#"{"tags":["t"]}"#,
            r#"{"domain":"d"}"#,
        ] {
            assert!(
                reference_is_silent(&sys, subject, payload).await,
                "nats-server answered {payload}"
            );
            assert_eq!(
                answer(&pair.context, subject, payload.as_bytes()).await,
                None,
                "{payload}"
            );
        }
        // A part of the name matches unless the match must be exact.
        let part = format!(r#"{{"server_name":"{}","host":"127.0"}}"#, &name[1..5]);
        assert!(answer(&pair.context, subject, part.as_bytes())
            .await
            .is_some());
        let exact = format!(r#"{{"server_name":"{}","exact_match":true}}"#, &name[1..5]);
        assert_eq!(answer(&pair.context, subject, exact.as_bytes()).await, None);
        let whole = format!(r#"{{"server_name":"{name}","exact_match":true}}"#);
        assert!(answer(&pair.context, subject, whole.as_bytes())
            .await
            .is_some());
        // STATSZ and the account requests filter the same way.
        let other = br#"{"server_name":"not-this-one"}"#;
        for subject in [
            "$SYS.REQ.SERVER.PING",
            "$SYS.REQ.ACCOUNT.$G.CONNZ",
            "$SYS.REQ.ACCOUNT.PING.STATZ",
        ] {
            assert_eq!(
                answer(&pair.context, subject, other).await,
                None,
                "{subject}"
            );
        }
    });
}

#[test]
fn answers_carry_this_servers_counters_and_a_rising_sequence() {
    let pair = pair();
    runtime().block_on(async {
        let context = &pair.context;
        // Counters reach the monitor at the end of each shard's turn.
        let deadline = Instant::now() + REQUEST_WAIT_MAX;
        let statsz = loop {
            let statsz = ours(context, "$SYS.REQ.SERVER.PING.STATSZ", "").await;
            let received = &statsz["statsz"]["received"]["msgs"];
            if (statsz["statsz"]["connections"] == 2 && received == 2) || Instant::now() > deadline
            {
                break statsz;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(statsz["statsz"]["connections"], 2, "{statsz}");
        assert_eq!(statsz["statsz"]["received"]["msgs"], 2, "{statsz}");
        assert_eq!(statsz["statsz"]["received"]["bytes"], 8, "{statsz}");
        assert_eq!(statsz["statsz"]["subscriptions"], 3, "{statsz}");
        assert_eq!(statsz["statsz"]["active_accounts"], 1, "{statsz}");
        assert_eq!(statsz["statsz"]["gomaxprocs"], 2, "{statsz}");
        assert_eq!(statsz["server"]["ver"], "2.15.1");
        let connz = ours(
            context,
            "$SYS.REQ.SERVER.PING.CONNZ",
            r#"{"subscriptions":true}"#,
        )
        .await;
        let subscriber = connz["data"]["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|conn| conn["name"] == "sub")
            .unwrap_or_else(|| panic!("{connz}"))
            .clone();
        let mut subjects: Vec<&str> = subscriber["subscriptions_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|subject| subject.as_str().unwrap())
            .collect();
        subjects.sort_unstable();
        assert_eq!(subjects, ["bar", "foo", "wild.>"]);
        // Subjects are written as Go writes them: `>` escaped.
        let subsz = ours_bytes(
            context,
            "$SYS.REQ.SERVER.PING.SUBSZ",
            r#"{"subscriptions":true}"#,
        )
        .await;
        let text = String::from_utf8(subsz).unwrap();
        assert!(text.contains(r#""subject":"wild.\u003e""#), "{text}");
        let accountz = ours(context, "$SYS.REQ.SERVER.PING.ACCOUNTZ", "").await;
        assert_eq!(accountz["data"]["system_account"], "SYS");
        assert_eq!(
            accountz["data"]["accounts"],
            serde_json::json!(["SYS", "APP", "OTHER", "$G"])
        );
        let info = ours(context, "$SYS.REQ.ACCOUNT.$G.INFO", "").await;
        assert_eq!(info["data"]["client_connections"], 2, "{info}");
        assert_eq!(
            info["data"]["sublist_stats"]["num_subscriptions"], 3,
            "{info}"
        );
        let sequence = |answer: &Value| answer["server"]["seq"].as_u64().unwrap();
        let first = ours(context, "$SYS.REQ.SERVER.PING.HEALTHZ", "").await;
        let second = ours(context, "$SYS.REQ.SERVER.PING.HEALTHZ", "").await;
        assert!(sequence(&second) > sequence(&first));
        assert_eq!(
            second["data"],
            serde_json::json!({"status":"ok","status_code":200})
        );
    });
}

/// The same config file on both servers, and real clients asking over the wire: the
/// system user's monitoring requests travel through the shards to the responder and
/// back, and any account's user may ask `$SYS.REQ.USER.INFO` about itself.
#[test]
fn requests_over_the_wire_match_the_reference() {
    let dir = TempDir::new("sys-wire");
    let config = reference_config(&dir);
    let config = config.to_str().unwrap();
    let reference = ServerProcess::start(
        &common::reference_server_bin(),
        &["-c", config, "-a", "127.0.0.1", "-p", "-1"],
    );
    let ours = ServerProcess::ringnats(&[
        "-c",
        config,
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--threads",
        "2",
    ]);
    let connect = |server: &ServerProcess, user: &str| {
        let url = format!("nats://{}", server.addr());
        let user = user.to_string();
        async move {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), user.clone())
                .connect(url)
                .await
                .unwrap_or_else(|error| panic!("{user} connects: {error}"))
        }
    };
    runtime().block_on(async {
        let mut problems = Vec::new();
        let their_sys = connect(&reference, "sys").await;
        let our_sys = connect(&ours, "sys").await;
        for (subject, payload) in [
            ("$SYS.REQ.SERVER.PING", ""),
            ("$SYS.REQ.SERVER.PING.VARZ", ""),
            ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"subscriptions":true}"#),
            ("$SYS.REQ.SERVER.PING.SUBSZ", ""),
            ("$SYS.REQ.ACCOUNT.APP.CONNZ", ""),
            ("$SYS.REQ.ACCOUNT.APP.INFO", ""),
        ] {
            let kind = subject.rsplit('.').next().unwrap();
            let kind = if kind == "PING" { "STATSZ" } else { kind };
            let their_answer = theirs(&their_sys, subject, payload).await;
            let our_answer = theirs_on(&our_sys, subject, payload).await;
            let label = format!("{subject} {payload}");
            compare(&label, kind, &their_answer, &our_answer, &mut problems);
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // Who am I, asked from an ordinary account: the same data on both servers, with
        // and without permissions.
        for user in ["app", "limited"] {
            let their_client = connect(&reference, user).await;
            let our_client = connect(&ours, user).await;
            let their_answer = theirs(&their_client, "$SYS.REQ.USER.INFO", "").await;
            let our_answer = theirs_on(&our_client, "$SYS.REQ.USER.INFO", "").await;
            assert_eq!(
                sorted_lists(&our_answer["data"]),
                sorted_lists(&their_answer["data"]),
                "ringnats {our_answer}\nnats-server {their_answer}"
            );
            assert_eq!(our_answer["data"]["account"], "APP");
        }
    });
}

/// `value` with every array of strings sorted: nats-server lists permissions by walking
/// its permission Sublist, whose Go maps come out in random order (seen in CI: `allow`
/// came back in either order run to run), so only the members are comparable.
fn sorted_lists(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(sorted_lists).collect();
            items.sort_by_key(|item| item.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), sorted_lists(item)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// ringnats's answer over the wire (it must answer).
async fn theirs_on(client: &async_nats::Client, subject: &str, payload: &str) -> Value {
    let request = client.request(subject.to_string(), payload.to_string().into());
    let message = tokio::time::timeout(REQUEST_WAIT_MAX, request)
        .await
        .unwrap_or_else(|_| panic!("ringnats did not answer {subject} {payload}"))
        .unwrap_or_else(|error| panic!("ringnats: {subject} {payload}: {error}"));
    serde_json::from_slice(&message.payload)
        .unwrap_or_else(|error| panic!("ringnats {subject}: {error}"))
}
