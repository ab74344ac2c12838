//! The HTTP monitoring endpoints, black box: ringnats and the reference nats-server are
//! started with the same flags (`-m -1`), given the same small load over raw TCP, and
//! every endpoint's JSON is compared by shape (key names and value types, recursively;
//! values differ between servers). Then ringnats alone: counters that match the traffic
//! sent, `/connz` paging, sorting and close reasons, `/metrics` read by a strict parser of
//! the Prometheus text format, `http_base_path`, and scrapes racing a publisher.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{
    http_get, DieWithTest, HttpAnswer, RawClient, ServerProcess, ShapeRules, TempDir,
    ANSWER_WAIT_MAX,
};
use serde_json::Value;

/// Keys only ringnats sends, per endpoint path ("" = the document, `connections[]` = each
/// connection); documented in README's monitoring section.
const EXTRA_KEYS: &[(&str, &str)] = &[
    ("varz", "io_backend"),
    ("varz", "shards"),
    ("connections[]", "shard"),
];

/// How long counters may take to reach the monitor: shards publish once per loop turn.
const COUNTERS_WAIT_MAX: Duration = Duration::from_secs(5);

/// Connects, sends CONNECT plus `ops`, and waits for the PONG that follows them.
fn client(server: &ServerProcess, name: &str, ops: &[u8]) -> RawClient {
    let mut client = RawClient::connect(server.addr());
    client.read_info_line(ANSWER_WAIT_MAX);
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"name\":\"{name}\",\"lang\":\"raw\",\"version\":\"1.0\"}}\r\n"
    );
    client.send(connect.as_bytes());
    client.send(ops);
    client.send(b"PING\r\n");
    client.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);
    client
}

/// The same small load on either server: a subscriber (plain + queue), a publisher, and
/// a client closed for a protocol violation.
fn load(server: &ServerProcess) -> Vec<RawClient> {
    let subscriber = client(server, "sub", b"SUB foo 1\r\nSUB bar q 2\r\n");
    let publisher = client(server, "pub", b"PUB foo 5\r\nhello\r\nPUB bar 3\r\nabc\r\n");
    let mut violator = RawClient::connect(server.addr());
    violator.read_info_line(ANSWER_WAIT_MAX);
    violator.send(b"FOO\r\n");
    violator.read_until_closed(ANSWER_WAIT_MAX);
    vec![subscriber, publisher]
}

/// Objects whose keys are data (endpoint and queue names), not field names.
const DATA_KEYED: &[&str] = &["http_req_stats", "ipqueuesz"];

/// Keys a server sends only while a feature it reports on is in use: nats-server's
/// `$G` and `$SYS` list the service imports and exports it wires to the system account,
/// which ringnats does not create (see `src/monitor/accounts.rs`).
const OPTIONAL_KEYS: &[(&str, &str)] =
    &[("account_detail", "imports"), ("account_detail", "exports")];

fn compare_shape(at: &str, reference: &Value, ours: &Value, problems: &mut Vec<String>) {
    let rules = ShapeRules {
        extra_keys: EXTRA_KEYS,
        data_keyed: DATA_KEYED,
        optional_keys: OPTIONAL_KEYS,
        ..ShapeRules::default()
    };
    common::compare_shape(at, reference, ours, &rules, problems);
}

/// Every JSON endpoint (with the query variants that change the shape).
const JSON_ENDPOINTS: &[&str] = &[
    "/varz",
    "/connz",
    "/connz?subs=1",
    "/connz?subs=detail",
    "/connz?state=closed",
    "/connz?state=any&sort=bytes_to&limit=1&offset=1",
    "/connz?auth=true",
    "/subsz",
    "/subsz?subs=1",
    "/subsz?subs=1&test=foo",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/accountz",
    "/accountz?acc=$G",
    "/accountz?acc=$SYS",
    "/accstatz",
    "/accstatz?unused=1",
    "/jsz",
    "/healthz",
    "/subscriptionsz",
    "/ipqueuesz",
    "/ipqueuesz?all=1",
];

#[test]
fn every_endpoint_has_the_reference_shape() {
    let reference = ServerProcess::reference(&["-m", "-1"]);
    let ours = ServerProcess::ringnats(&["-m", "-1"]);
    let _reference_clients = load(&reference);
    let _our_clients = load(&ours);
    let mut problems = Vec::new();
    for path in JSON_ENDPOINTS {
        let theirs = http_get(reference.monitor_port(), path);
        let mine = http_get(ours.monitor_port(), path);
        assert_eq!(theirs.status, 200, "nats-server {path}");
        assert_eq!(mine.status, 200, "ringnats {path}: {:?}", mine.body);
        assert_eq!(
            mine.header("content-type"),
            theirs.header("content-type"),
            "{path}"
        );
        let name = path.trim_start_matches('/');
        let name = name.split('?').next().unwrap();
        compare_shape(name, &theirs.json(), &mine.json(), &mut problems);
    }
    assert!(
        problems.is_empty(),
        "shape differences:\n{}",
        problems.join("\n")
    );
}

#[test]
fn errors_and_unknown_paths_answer_like_the_reference() {
    let reference = ServerProcess::reference(&["-m", "-1"]);
    let ours = ServerProcess::ringnats(&["-m", "-1"]);
    for path in [
        "/nope",
        "/connz?sort=bogus",
        "/connz?sort=stop",
        "/connz?state=any&sort=reason",
        "/connz?auth=maybe",
        "/connz?limit=x",
        "/connz?cid=-1",
        "/connz?state=gone",
        "/subsz?test=foo.*",
        "/subsz?subs=2",
        "/healthz",
        "/healthz?stream=s",
        "/healthz?details=true&consumer=c",
        "/accountz?acc=nope",
        "/accstatz?unused=x",
        "/raftz",
        "/ipqueuesz",
        "/",
    ] {
        let theirs = http_get(reference.monitor_port(), path);
        let mine = http_get(ours.monitor_port(), path);
        assert_eq!(mine.status, theirs.status, "{path}");
        assert_eq!(
            mine.header("content-type"),
            theirs.header("content-type"),
            "{path}"
        );
        // The index page is HTML naming each server; every other body is the same.
        if path != "/" {
            assert_eq!(
                String::from_utf8_lossy(&mine.body).trim(),
                String::from_utf8_lossy(&theirs.body).trim(),
                "{path}"
            );
        }
    }
}

#[test]
fn stacksz_lists_the_threads_like_a_goroutine_dump() {
    let reference = ServerProcess::reference(&["-m", "-1"]);
    let ours = ServerProcess::ringnats(&["-m", "-1", "--threads", "2"]);
    let theirs = http_get(reference.monitor_port(), "/stacksz");
    let mine = http_get(ours.monitor_port(), "/stacksz");
    assert_eq!(mine.status, theirs.status);
    assert_eq!(mine.header("content-type"), theirs.header("content-type"));
    let text = String::from_utf8(mine.body).unwrap();
    let first = text.lines().next().unwrap_or_default();
    // Go starts with the goroutine serving the request; ringnats with the thread.
    assert!(
        first.starts_with("thread ") && first.contains("[running]"),
        "{text}"
    );
    // Shard threads are "ringnats-sh-N", within Linux's 15-byte thread names.
    let shards = text
        .lines()
        .filter(|line| line.starts_with("thread ") && line.contains("ringnats-sh-"))
        .count();
    assert_eq!(shards, 2, "{text}");
}

#[test]
fn config_digest_is_the_reference_digest_of_the_same_file() {
    let dir = TempDir::new("monitor-digest");
    let conf = dir.path().join("server.conf");
    std::fs::write(
        &conf,
        "# a comment\nmax_payload: 2MB\nping_interval: \"30s\"\nhttp_port: -1\n\
         server_name: \"digest<&>\"\nwrite_deadline: 5s\n",
    )
    .unwrap();
    let reference = ServerProcess::reference(&["-c", conf.to_str().unwrap()]);
    let ours = ServerProcess::ringnats(&["-c", conf.to_str().unwrap()]);
    let theirs = http_get(reference.monitor_port(), "/varz").json();
    let mine = http_get(ours.monitor_port(), "/varz").json();
    let digest = theirs["config_digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"), "{theirs}");
    assert_eq!(mine["config_digest"], digest);
    let plain = ServerProcess::ringnats(&["-m", "-1"]);
    assert_eq!(
        http_get(plain.monitor_port(), "/varz").json()["config_digest"],
        ""
    );
}

#[test]
fn log_line_and_ports_file_name_the_monitor() {
    let ours = ServerProcess::ringnats(&["-m", "-1"]);
    let port = ours.monitor_port();
    let line = format!("Starting http monitor on 127.0.0.1:{port}");
    // The log is written by a thread of its own, so it may trail the ports file.
    let deadline = Instant::now() + COUNTERS_WAIT_MAX;
    while !ours.stderr_log().contains("Server is ready") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = ours.stderr_log();
    assert!(log.contains(&line), "{log}");
    let monitor_at = log.find(&line).unwrap();
    let clients_at = log.find("Listening for client connections").unwrap();
    assert!(monitor_at < clients_at, "nats-server's order: {log}");
    let healthz = http_get(port, "/healthz");
    assert_eq!(healthz.status, 200);
    assert_eq!(healthz.body, br#"{"status":"ok"}"#);
}

/// Polls `/varz` until `done` holds (shards publish their counters once per turn).
fn varz_when(port: u16, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + COUNTERS_WAIT_MAX;
    loop {
        let varz = http_get(port, "/varz").json();
        if done(&varz) || Instant::now() > deadline {
            return varz;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn counters_match_the_messages_sent() {
    let ours = ServerProcess::ringnats(&["-m", "-1"]);
    let port = ours.monitor_port();
    let _subscriber = client(&ours, "sub", b"SUB data.> 1\r\nSUB data.x 2\r\n");
    let mut publish = Vec::new();
    for index in 0..10 {
        let payload = "x".repeat(index + 1);
        publish
            .extend_from_slice(format!("PUB data.x {}\r\n{payload}\r\n", payload.len()).as_bytes());
    }
    let _publisher = client(&ours, "pub", &publish);
    // 10 messages of 1..=10 bytes, each delivered to both subscriptions.
    let (in_msgs, in_bytes) = (10, 55);
    // Each shard publishes its counters at the end of its own turn: the subscriber's
    // shard may report its deliveries before the publisher's shard reports the publishes.
    let varz = varz_when(port, |varz| {
        varz["out_msgs"] == 20 && varz["in_msgs"] == in_msgs
    });
    assert_eq!(varz["in_msgs"], in_msgs, "{varz}");
    assert_eq!(varz["in_bytes"], in_bytes, "{varz}");
    assert_eq!(varz["out_msgs"], 20, "{varz}");
    assert_eq!(varz["out_bytes"], 110, "{varz}");
    assert_eq!(varz["in_client_msgs"], in_msgs);
    assert_eq!(varz["connections"], 2);
    assert_eq!(varz["total_connections"], 2);
    assert_eq!(varz["subscriptions"], 2);
    assert_eq!(varz["slow_consumers"], 0);
    assert_eq!(varz["slow_consumer_stats"]["clients"], 0);
    let connz = http_get(port, "/connz?subs=detail").json();
    let connections = connz["connections"].as_array().unwrap();
    let by_name = |name: &str| {
        connections
            .iter()
            .find(|conn| conn["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {connz}"))
    };
    let publisher = by_name("pub");
    assert_eq!(publisher["in_msgs"], in_msgs);
    assert_eq!(publisher["in_bytes"], in_bytes);
    let subscriber = by_name("sub");
    assert_eq!(subscriber["out_msgs"], 20);
    assert_eq!(subscriber["out_bytes"], 110);
    assert_eq!(subscriber["subscriptions"], 2);
    let details = subscriber["subscriptions_list_detail"].as_array().unwrap();
    assert!(details.iter().all(|sub| sub["msgs"] == 10), "{details:?}");
    let subsz = http_get(port, "/subsz?subs=1&test=data.x").json();
    assert_eq!(subsz["num_subscriptions"], 2, "{subsz}");
    assert_eq!(subsz["total"], 2, "{subsz}");
    let accstatz = http_get(port, "/accstatz").json();
    assert_eq!(accstatz["account_statz"][0]["received"]["msgs"], in_msgs);
}

fn cids(connz: &Value) -> Vec<u64> {
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|conn| conn["cid"].as_u64().unwrap())
        .collect()
}

#[test]
fn connz_pages_sorts_and_remembers_closed_connections() {
    let ours = ServerProcess::ringnats(&["-m", "-1"]);
    let port = ours.monitor_port();
    let mut clients = Vec::new();
    for count in [3usize, 1, 4, 2] {
        let ops = "PUB p 1\r\nx\r\n".repeat(count);
        clients.push(client(&ours, &format!("c{count}"), ops.as_bytes()));
    }
    varz_when(port, |varz| varz["in_msgs"] == 10);
    let all = http_get(port, "/connz").json();
    let mut ascending = cids(&all);
    assert_eq!(ascending.len(), 4, "{all}");
    assert!(ascending.windows(2).all(|pair| pair[0] < pair[1]), "{all}");
    let by_in_msgs = http_get(port, "/connz?sort=msgs_from").json();
    let names: Vec<&str> = by_in_msgs["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|conn| conn["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c4", "c3", "c2", "c1"]);
    let page = http_get(port, "/connz?limit=2&offset=1").json();
    assert_eq!(page["total"], 4);
    assert_eq!(page["num_connections"], 2);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 1);
    assert_eq!(cids(&page), ascending[1..3]);
    let one = http_get(port, &format!("/connz?cid={}", ascending[2])).json();
    assert_eq!(cids(&one), [ascending[2]]);
    assert_eq!(http_get(port, "/connz?acc=other").json()["total"], 0);

    // Close one politely and one for a protocol violation.
    drop(clients.remove(0));
    let mut violator = clients.remove(0);
    violator.send(b"BOGUS\r\n");
    violator.read_until_closed(ANSWER_WAIT_MAX);
    let deadline = Instant::now() + COUNTERS_WAIT_MAX;
    let closed = loop {
        let closed = http_get(port, "/connz?state=closed").json();
        if closed["total"] == 2 || Instant::now() > deadline {
            break closed;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let reasons: BTreeMap<u64, String> = closed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|conn| {
            assert!(conn["stop"].is_string(), "{conn}");
            (
                conn["cid"].as_u64().unwrap(),
                conn["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons.get(&ascending[0]).map(String::as_str),
        Some("Client Closed")
    );
    assert_eq!(
        reasons.get(&ascending[1]).map(String::as_str),
        Some("Protocol Violation")
    );
    let any = http_get(port, "/connz?state=any").json();
    assert_eq!(any["total"], 4, "{any}");
    ascending.drain(..2);
    assert_eq!(cids(&http_get(port, "/connz").json()), ascending);
}

#[test]
fn closed_connections_are_kept_up_to_max_closed_clients() {
    let dir = TempDir::new("monitor-closed");
    let conf = dir.path().join("server.conf");
    std::fs::write(&conf, "max_closed_clients: 2\nhttp_port: -1\n").unwrap();
    let ours = ServerProcess::ringnats(&["-c", conf.to_str().unwrap()]);
    let port = ours.monitor_port();
    let mut closed_cids = Vec::new();
    for index in 0..4 {
        let closed = client(&ours, &format!("gone{index}"), b"");
        drop(closed);
        // Wait for each close so the newest two are known.
        let deadline = Instant::now() + COUNTERS_WAIT_MAX;
        while http_get(port, "/varz").json()["connections"] != 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        closed_cids.push(index);
    }
    let closed = http_get(port, "/connz?state=closed").json();
    let names: BTreeSet<&str> = closed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|conn| conn["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["gone2", "gone3"]), "{closed}");
}

#[test]
fn base_path_and_http_host_port_from_the_config_file() {
    let dir = TempDir::new("monitor-conf");
    let conf = dir.path().join("server.conf");
    std::fs::write(&conf, "http: \"127.0.0.1:-1\"\nhttp_base_path: \"/mon\"\n").unwrap();
    let ours = ServerProcess::ringnats(&["-c", conf.to_str().unwrap()]);
    let port = ours.monitor_port();
    assert_eq!(http_get(port, "/mon/varz").status, 200);
    assert_eq!(http_get(port, "/mon/healthz").body, br#"{"status":"ok"}"#);
    assert_eq!(http_get(port, "/varz").status, 404);
    let varz = http_get(port, "/mon/varz").json();
    assert_eq!(varz["http_base_path"], "/mon");
    assert_eq!(varz["http_host"], "127.0.0.1");
}

/// One parsed sample of the text format.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict reader of Prometheus's text format 0.0.4: every line is HELP, TYPE or a
/// sample; each family has one HELP and one TYPE before its samples; names and labels
/// follow the grammar; values are floats. Panics with the offending line.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let valid_name = |name: &str| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'), "text must end with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid_name(name), "{line}");
            assert!(helped.insert(name.to_string()), "second HELP: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(valid_name(name), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                typed.insert(name.into(), kind.into()).is_none(),
                "second TYPE: {line}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line: {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                (name, parse_labels(labels, line))
            }
            None => (series, BTreeMap::new()),
        };
        assert!(valid_name(name), "{line}");
        assert!(typed.contains_key(name), "sample before its TYPE: {line}");
        assert!(helped.contains(name), "sample before its HELP: {line}");
        if typed[name] == "counter" {
            assert!(value >= 0.0, "negative counter: {line}");
        }
        samples.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    samples
}

fn parse_labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped @ ('\\' | '"'))) => value.push(escaped),
                    _ => panic!("bad escape in {line}"),
                },
                Some((index, '"')) => break index,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label in {line}"),
            }
        };
        assert!(labels.insert(name.to_string(), value).is_none(), "{line}");
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

#[test]
fn metrics_parse_and_agree_with_varz() {
    let ours = ServerProcess::ringnats(&["-m", "-1"]);
    let port = ours.monitor_port();
    let _clients = load(&ours);
    let varz = varz_when(port, |varz| varz["out_msgs"] == 2 && varz["in_msgs"] == 2);
    let answer: HttpAnswer = http_get(port, "/metrics");
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let samples = parse_prometheus(&String::from_utf8(answer.body).unwrap());
    let value = |name: &str| {
        samples
            .iter()
            .find(|sample| sample.name == name && sample.labels.is_empty())
            .unwrap_or_else(|| panic!("no {name}"))
            .value
    };
    assert_eq!(
        value("ringnats_in_msgs_total"),
        varz["in_msgs"].as_f64().unwrap()
    );
    assert_eq!(
        value("ringnats_out_bytes_total"),
        varz["out_bytes"].as_f64().unwrap()
    );
    assert_eq!(value("ringnats_connections"), 2.0);
    assert_eq!(value("ringnats_subscriptions"), 2.0);
    let shards = value("ringnats_shards") as usize;
    let per_shard: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.name == "ringnats_shard_in_msgs_total")
        .collect();
    assert_eq!(per_shard.len(), shards);
    let summed: f64 = per_shard.iter().map(|sample| sample.value).sum();
    assert_eq!(summed, value("ringnats_in_msgs_total"));
    assert!(per_shard
        .iter()
        .all(|sample| sample.labels.contains_key("shard")));
}

#[test]
fn concurrent_scrapes_while_a_publisher_runs() {
    let ours = ServerProcess::ringnats(&["-m", "-1"]);
    let port = ours.monitor_port();
    let _subscriber = client(&ours, "sub", b"SUB load 1\r\n");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut publisher = client(&ours, "pub", b"");
    let publishing = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                publisher.send(&b"PUB load 4\r\nload\r\n".repeat(100));
                sent += 100;
                std::thread::sleep(Duration::from_millis(1));
            }
            publisher.send(b"PING\r\n");
            publisher.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);
            (sent, publisher)
        })
    };
    let scrapers: Vec<_> = ["/varz", "/connz?subs=1", "/subsz?subs=1", "/metrics"]
        .into_iter()
        .map(|path| {
            std::thread::spawn(move || {
                let mut previous_in_msgs = 0u64;
                for _ in 0..15 {
                    let answer = http_get(port, path);
                    assert_eq!(answer.status, 200, "{path}");
                    if path == "/varz" {
                        let in_msgs = answer.json()["in_msgs"].as_u64().unwrap();
                        assert!(in_msgs >= previous_in_msgs, "in_msgs went back");
                        previous_in_msgs = in_msgs;
                    } else if path == "/metrics" {
                        parse_prometheus(&String::from_utf8(answer.body).unwrap());
                    } else {
                        answer.json();
                    }
                }
            })
        })
        .collect();
    for scraper in scrapers {
        scraper.join().expect("scraper failed");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, _publisher) = publishing.join().expect("publisher failed");
    let varz = varz_when(port, |varz| varz["in_msgs"] == sent);
    assert_eq!(varz["in_msgs"], sent);
}

/// Runs `binary args` to its exit (killed and failed after `STARTUP_WAIT_MAX`); returns
/// the exit code and the text after `[FTL] ` in its log.
fn fatal_start(binary: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(binary)
        .die_with_test()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + common::STARTUP_WAIT_MAX;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} kept running with {args:?}", binary.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let fatal = stderr
        .lines()
        .find_map(|line| line.split_once("[FTL] ").map(|(_, text)| text.to_string()))
        .unwrap_or(stderr);
    (output.status.code(), fatal)
}

#[test]
fn a_taken_monitor_port_fails_like_the_reference() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let args = ["-a", "127.0.0.1", "-p", "-1", "-m", port.as_str()];
    let theirs = fatal_start(&common::reference_server_bin(), &args);
    let ours = fatal_start(&common::ringnats_bin(), &args);
    assert_eq!(theirs.0, Some(1), "{theirs:?}");
    assert_eq!(ours, theirs);
}
