//! Criterion benchmarks of the server -> client encoders, one per frame nats-server
//! builds per delivery: MSG and HMSG headers plus payload, the header-stripping
//! downgrade, the no-responders status, and the INFO line for a new connection.
//!
//! `cargo bench --bench encode`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringnats::proto::encode::{encode_delivery, encode_no_responders, Delivery};
use ringnats::proto::info::{ClientFields, InfoKind, InfoTemplate, ServerIdentity};

fn delivery<'a>(payload: &'a [u8], headers: Option<&'static [u8]>) -> Delivery<'a> {
    Delivery {
        subject: b"orders.eu.created",
        sid: b"42",
        reply: Some(b"_INBOX.abcdefghijklmnop.1"),
        headers,
        payload,
        size_text: None,
    }
}

fn bench_msg(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for size in [0usize, 128, 1024, 32 * 1024] {
        let payload = vec![b'x'; size];
        let mut out = Vec::with_capacity(64 * 1024);
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("Msg", size), &payload, |b, payload| {
            b.iter(|| {
                out.clear();
                encode_delivery(&mut out, black_box(&delivery(payload, None)), true);
                black_box(out.len())
            })
        });
        const HEADERS: &[u8] = b"NATS/1.0\r\nX-Trace: 1\r\n\r\n";
        group.bench_with_input(BenchmarkId::new("HMsg", size), &payload, |b, payload| {
            b.iter(|| {
                out.clear();
                encode_delivery(&mut out, black_box(&delivery(payload, Some(HEADERS))), true);
                black_box(out.len())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("HMsgDowngraded", size),
            &payload,
            |b, payload| {
                b.iter(|| {
                    out.clear();
                    encode_delivery(
                        &mut out,
                        black_box(&delivery(payload, Some(HEADERS))),
                        false,
                    );
                    black_box(out.len())
                })
            },
        );
    }
    group.finish();
}

fn bench_status_and_info(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let mut out = Vec::with_capacity(1024);
    group.bench_function("NoResponders", |b| {
        b.iter(|| {
            out.clear();
            encode_no_responders(&mut out, black_box(b"_INBOX.abc.1"), b"7", b"svc.echo");
            black_box(out.len())
        })
    });
    let template = InfoTemplate::new(&ServerIdentity {
        server_id: "N".repeat(56),
        server_name: "N".repeat(56),
        host: "0.0.0.0".into(),
        port: 4222,
        headers: true,
        payload_bytes_max: 1024 * 1024,
        auth_required: false,
        no_auth_user: false,
        xkey: "X".repeat(56),
    });
    let client = ClientFields {
        client_id: 12345,
        client_ip: "127.0.0.1".parse().unwrap(),
        payload_max: 1024 * 1024,
    };
    group.bench_function("Info", |b| {
        b.iter(|| {
            out.clear();
            template.encode(
                &mut out,
                black_box(&client),
                InfoKind::Greeting { nonce: None },
            );
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_msg, bench_status_and_info);
criterion_main!(benches);
