//! Black-box tests over real sockets against servers started in-process with a
//! `Config` (so limits can be small without hidden flags), using raw protocol bytes and
//! the official `async-nats` client. Multi-shard cases run two shards so publishers and
//! subscribers land on different cores.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::in_process::{
    connections_per_shard, contains, raw, read_until, shard_that_grew, start, url,
};
use futures::StreamExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn connections_spread_over_both_shards() {
    let server = start(2, |_| {});
    let streams: Vec<_> = (0..24).map(|_| raw(&server, "CONNECT {}\r\n")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let per_shard = connections_per_shard(&server);
    assert_eq!(per_shard.iter().sum::<u64>(), 24, "{per_shard:?}");
    assert!(
        per_shard.iter().all(|&n| n > 0),
        "SO_REUSEPORT spread: {per_shard:?}"
    );
    drop(streams);
}

#[test]
fn pub_sub_wildcards_and_order_across_shards() {
    let server = start(2, |_| {});
    runtime().block_on(async {
        let mut subscribers = Vec::new();
        for _ in 0..6 {
            let client = async_nats::connect(url(&server)).await.unwrap();
            let exact = client.subscribe("orders.eu.created").await.unwrap();
            let star = client.subscribe("orders.*.created").await.unwrap();
            let tail = client.subscribe("orders.>").await.unwrap();
            common::round_trip(&client).await;
            subscribers.push((client, exact, star, tail));
        }
        let publisher = async_nats::connect(url(&server)).await.unwrap();
        for i in 0..500u32 {
            publisher
                .publish("orders.eu.created", i.to_string().into())
                .await
                .unwrap();
        }
        publisher.publish("orders.us", "x".into()).await.unwrap();
        publisher.flush().await.unwrap();
        for (_client, exact, star, tail) in &mut subscribers {
            for sub in [exact, star] {
                for i in 0..500u32 {
                    let message = tokio::time::timeout(Duration::from_secs(10), sub.next())
                        .await
                        .expect("delivery in time")
                        .unwrap();
                    assert_eq!(
                        message.payload,
                        i.to_string().as_bytes(),
                        "publish order kept"
                    );
                }
            }
            for _ in 0..501 {
                tokio::time::timeout(Duration::from_secs(10), tail.next())
                    .await
                    .expect("`>` gets both subjects")
                    .unwrap();
            }
        }
    });
}

#[test]
fn queue_group_spread_over_shards_gets_each_message_once() {
    let server = start(2, |_| {});
    runtime().block_on(async {
        let mut members = Vec::new();
        for _ in 0..8 {
            let client = async_nats::connect(url(&server)).await.unwrap();
            let sub = client
                .queue_subscribe("work", "workers".into())
                .await
                .unwrap();
            common::round_trip(&client).await;
            members.push((client, sub));
        }
        let publisher = async_nats::connect(url(&server)).await.unwrap();
        let total = 2000usize;
        for i in 0..total {
            publisher
                .publish("work", i.to_string().into())
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();
        let mut seen = vec![0u32; total];
        let mut received = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while received < total && Instant::now() < deadline {
            for (_, sub) in members.iter_mut() {
                while let Ok(Some(message)) =
                    tokio::time::timeout(Duration::from_millis(20), sub.next()).await
                {
                    let index: usize = std::str::from_utf8(&message.payload)
                        .unwrap()
                        .parse()
                        .unwrap();
                    seen[index] += 1;
                    received += 1;
                }
            }
        }
        assert_eq!(received, total);
        assert!(
            seen.iter().all(|&count| count == 1),
            "exactly one member per message"
        );
        // Nothing extra arrives afterwards.
        for (_, sub) in members.iter_mut() {
            assert!(tokio::time::timeout(Duration::from_millis(50), sub.next())
                .await
                .is_err());
        }
    });
}

#[test]
fn subscribe_then_flush_always_delivers_and_never_false_no_responders() {
    let server = start(2, |_| {});
    runtime().block_on(async {
        let requester = async_nats::connect(url(&server)).await.unwrap();
        for round in 0..300 {
            // A fresh responder connection each round lands on either shard.
            let responder = async_nats::connect(url(&server)).await.unwrap();
            let subject = format!("svc.{round}");
            let mut requests = responder.subscribe(subject.clone()).await.unwrap();
            responder.flush().await.unwrap();
            let handle = tokio::spawn(async move {
                if let Some(request) = requests.next().await {
                    responder
                        .publish(request.reply.unwrap(), "pong".into())
                        .await
                        .unwrap();
                    responder.flush().await.unwrap();
                }
            });
            let reply = tokio::time::timeout(
                Duration::from_secs(5),
                requester.request(subject, "ping".into()),
            )
            .await
            .expect("request in time")
            .unwrap_or_else(|error| panic!("round {round}: {error:?}"));
            assert_eq!(reply.payload, "pong".as_bytes());
            handle.await.unwrap();
        }
    });
}

/// The subscribe barrier in nats-server's own terms: "SUB, PING, wait for PONG, then
/// publish from another connection" always delivers, whichever shards the two
/// connections landed on. Each round's subscriber is a fresh connection (the kernel
/// spreads them over both shards) and stays open, so the per-shard connection counts
/// tell which shard it got; the test checks that both the same-shard and the
/// cross-shard case ran many times.
#[test]
fn sub_ping_pong_barrier_delivers_across_shards_every_round() {
    const ROUNDS: usize = 400;
    let server = start(2, |_| {});
    let per_shard = connections_per_shard;
    let before = per_shard(&server);
    let mut publisher = raw(&server, "CONNECT {\"verbose\":false}\r\nPING\r\n");
    let (pong, _) = read_until(&mut publisher, b"PONG\r\n", Duration::from_secs(5));
    assert!(contains(&pong, b"PONG\r\n"));
    let publisher_shard = shard_that_grew(&before, &per_shard(&server));
    let mut subscribers = Vec::with_capacity(ROUNDS);
    let mut cross_shard_rounds = 0;
    for round in 0..ROUNDS {
        let before = per_shard(&server);
        let mut subscriber = raw(
            &server,
            &format!("CONNECT {{\"verbose\":false}}\r\nSUB barrier.{round} 1\r\nPING\r\n"),
        );
        let (pong, _) = read_until(&mut subscriber, b"PONG\r\n", Duration::from_secs(5));
        assert!(contains(&pong, b"PONG\r\n"), "round {round}: no PONG");
        if shard_that_grew(&before, &per_shard(&server)) != publisher_shard {
            cross_shard_rounds += 1;
        }
        publisher
            .write_all(format!("PUB barrier.{round} 2\r\nhi\r\n").as_bytes())
            .unwrap();
        let expected = format!("MSG barrier.{round} 1 2\r\nhi\r\n");
        let (seen, _) = read_until(&mut subscriber, expected.as_bytes(), Duration::from_secs(5));
        assert!(
            contains(&seen, expected.as_bytes()),
            "round {round}: a publish after the subscriber's PONG was not delivered: {:?}",
            String::from_utf8_lossy(&seen)
        );
        subscribers.push(subscriber);
    }
    let same_shard_rounds = ROUNDS - cross_shard_rounds;
    assert!(
        cross_shard_rounds >= ROUNDS / 10 && same_shard_rounds >= ROUNDS / 10,
        "both cases covered: {cross_shard_rounds} cross-shard, {same_shard_rounds} same-shard"
    );
}

#[test]
fn no_responders_headers_and_unsubscribe_after() {
    let server = start(2, |_| {});
    runtime().block_on(async {
        let client = async_nats::connect(url(&server)).await.unwrap();
        let error = client
            .request("nobody.home", "hi".into())
            .await
            .expect_err("no responders");
        assert_eq!(error.kind(), async_nats::RequestErrorKind::NoResponders);

        let other = async_nats::connect(url(&server)).await.unwrap();
        let mut sub = other.subscribe("h").await.unwrap();
        let mut limited = other.subscribe("limited").await.unwrap();
        limited.unsubscribe_after(3).await.unwrap();
        common::round_trip(&other).await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("X-Test", "yes");
        client
            .publish_with_headers("h", headers, "body".into())
            .await
            .unwrap();
        for i in 0..10 {
            client
                .publish("limited", format!("{i}").into())
                .await
                .unwrap();
        }
        client.flush().await.unwrap();
        let message = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            message.headers.unwrap().get("X-Test").unwrap().as_str(),
            "yes"
        );
        assert_eq!(message.payload, "body".as_bytes());
        let mut got = Vec::new();
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(500), limited.next()).await
        {
            got.push(message.payload);
        }
        assert_eq!(got.len(), 3, "auto-unsubscribe after 3");
    });
}

#[test]
fn slow_consumer_is_closed_and_counted_and_others_carry_on() {
    let server = start(2, |config| {
        config.pending_bytes_max = 256 * 1024;
        config.payload_bytes_max = 64 * 1024;
    });
    // A subscriber that never reads.
    let mut lazy = raw(
        &server,
        "CONNECT {\"verbose\":false}\r\nSUB firehose 1\r\nPING\r\n",
    );
    let (pong, _) = read_until(&mut lazy, b"PONG\r\n", Duration::from_secs(5));
    assert!(contains(&pong, b"PONG\r\n"));
    let mut healthy = raw(
        &server,
        "CONNECT {\"verbose\":false}\r\nSUB other 1\r\nPING\r\n",
    );
    read_until(&mut healthy, b"PONG\r\n", Duration::from_secs(5));
    let mut publisher = raw(&server, "CONNECT {\"verbose\":false}\r\n");
    let payload = vec![b'x'; 32 * 1024];
    let mut frame = b"PUB firehose 32768\r\n".to_vec();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.shared().total(|s| &s.slow_consumers) == 0 && Instant::now() < deadline {
        for _ in 0..64 {
            publisher.write_all(&frame).unwrap();
        }
    }
    assert!(
        server.shared().total(|s| &s.slow_consumers) >= 1,
        "slow consumer counted"
    );
    publisher
        .write_all(b"PUB other 2\r\nok\r\nPING\r\n")
        .unwrap();
    let (seen, _) = read_until(
        &mut healthy,
        b"MSG other 1 2\r\nok\r\n",
        Duration::from_secs(5),
    );
    assert!(
        contains(&seen, b"MSG other 1 2\r\nok\r\n"),
        "other connections keep working"
    );
    let (_, closed) = read_until(&mut lazy, b"", Duration::from_secs(10));
    assert!(closed, "the slow consumer's socket is closed");
}

#[test]
fn max_payload_is_advertised_and_enforced() {
    let server = start(1, |config| config.payload_bytes_max = 1024);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let (info, _) = read_until(&mut stream, b"\r\n", Duration::from_secs(5));
    assert!(contains(&info, b"\"max_payload\":1024,"));
    stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nPUB foo 1025\r\n")
        .unwrap();
    let (reply, closed) = read_until(&mut stream, b"", Duration::from_secs(5));
    assert!(
        contains(&reply, b"-ERR 'Maximum Payload Violation'\r\n"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    assert!(closed);
}

#[test]
fn unanswered_pings_close_as_stale() {
    let server = start(1, |config| {
        config.ping_interval = Duration::from_millis(100);
        config.pings_outstanding_max = 2;
    });
    let mut stream = raw(&server, "CONNECT {\"verbose\":false}\r\n");
    let (seen, closed) = read_until(&mut stream, b"", Duration::from_secs(10));
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(
        text.matches("PING\r\n").count(),
        2,
        "{text:?} closed={closed}"
    );
    assert!(text.ends_with("-ERR 'Stale Connection'\r\n"), "{text}");
    assert!(closed);
    assert_eq!(server.shared().total(|s| &s.stale_connections), 1);
}

#[test]
fn max_connections_refuses_the_next_client() {
    let server = start(2, |config| config.connections_max = 2);
    let mut first = raw(&server, "CONNECT {\"verbose\":false}\r\nPING\r\n");
    let mut second = raw(&server, "CONNECT {\"verbose\":false}\r\nPING\r\n");
    read_until(&mut first, b"PONG", Duration::from_secs(5));
    read_until(&mut second, b"PONG", Duration::from_secs(5));
    let mut third = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let (seen, closed) = read_until(&mut third, b"", Duration::from_secs(5));
    assert!(
        contains(&seen, b"-ERR 'maximum connections exceeded'\r\n"),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );
    assert!(closed);
    drop(first);
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = raw(&server, "CONNECT {\"verbose\":false}\r\nPING\r\n");
    let (seen, _) = read_until(&mut fourth, b"PONG", Duration::from_secs(5));
    assert!(
        contains(&seen, b"PONG"),
        "a slot frees up when a client leaves"
    );
}

#[test]
fn burst_of_five_thousand_connections_leaves_server_healthy() {
    let server = start(2, |_| {});
    let mut open = Vec::new();
    for round in 0..10 {
        for _ in 0..500 {
            match TcpStream::connect(("127.0.0.1", server.port())) {
                Ok(stream) => open.push(stream),
                Err(error) => panic!("round {round}: connect failed: {error}"),
            }
        }
        open.clear();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.shared().connections.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        server.shared().connections.load(Ordering::Relaxed),
        0,
        "all closed connections released"
    );
    assert_eq!(server.shared().total(|s| &s.total_connections), 5000);
    let mut stream = raw(
        &server,
        "CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 1\r\nx\r\nPING\r\n",
    );
    let (seen, _) = read_until(&mut stream, b"PONG\r\n", Duration::from_secs(5));
    assert!(contains(&seen, b"MSG a 1 1\r\nx\r\nPONG\r\n"));
}

#[test]
fn runs_on_the_io_backend_the_suite_asks_for() {
    let server = start(1, |_| {});
    let asked = std::env::var("RINGNATS_TEST_IO_BACKEND").unwrap_or_default();
    match asked.as_str() {
        "io_uring" | "epoll" => assert_eq!(server.io_backend(), asked),
        _ => assert!(
            matches!(server.io_backend(), "io_uring" | "epoll"),
            "{}",
            server.io_backend()
        ),
    }
    assert!(!server.io_backend_reason().is_empty());
}

/// nats-server copies a publisher's size digits into the deliveries (`PUB foo 01` gives
/// `MSG foo 1 01`); the digits travel with the message to a subscriber on another shard.
#[test]
fn size_digits_as_written_reach_a_subscriber_on_another_shard() {
    let server = start(2, |_| {});
    let connect = "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nPING\r\n";
    let mut subscriber = common::in_process::raw_on_shard(&server, connect, 0);
    let mut publisher = common::in_process::raw_on_shard(
        &server,
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nPING\r\n",
        1,
    );
    publisher
        .write_all(b"PUB foo 01\r\na\r\nHPUB foo 012 0014\r\nNATS/1.0\r\n\r\nxy\r\n")
        .unwrap();
    let expected: &[u8] = b"MSG foo 1 01\r\na\r\nHMSG foo 1 012 0014\r\nNATS/1.0\r\n\r\nxy\r\n";
    let (seen, _) = read_until(&mut subscriber, expected, Duration::from_secs(5));
    assert!(
        contains(&seen, expected),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );
}
