//! Parser throughput on nats-server's benchmark scenarios (`test/bench_test.go`:
//! `Benchmark______Pub0b_Payload`, `____Pub128B_Payload`, `______Pub1K_Payload`,
//! `_____Pub32K_Payload`), plus HPUB and SUB, and one case of a large PUB arriving in
//! many reads, which exercises the resume path.
//!
//! Each iteration parses a buffer of back-to-back ops about the size of one busy read
//! (64 KiB, nats-server's `maxBufSize`), so the numbers are per-read costs with the
//! allocator and the socket out of the picture; throughput is reported in bytes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringnats::proto::parser::{Parser, ParserLimits, Step};

/// nats-server's `maxBufSize`: the largest read buffer a busy connection grows to.
const READ_BYTES: usize = 64 * 1024;
/// A TCP segment's payload on a 1500-byte MTU, the smallest read a large PUB arrives in.
const SEGMENT_BYTES: usize = 1448;

/// One op repeated to fill about one read; at least one copy.
fn repeated(op: &[u8]) -> Vec<u8> {
    let copies = (READ_BYTES / op.len()).max(1);
    op.repeat(copies)
}

fn publish(payload_bytes: usize) -> Vec<u8> {
    let mut op = format!("PUB foo.bar.baz reply.inbox.1 {payload_bytes}\r\n").into_bytes();
    op.resize(op.len() + payload_bytes, b'x');
    op.extend_from_slice(b"\r\n");
    op
}

fn header_publish(payload_bytes: usize) -> Vec<u8> {
    let headers = b"NATS/1.0\r\nNats-Msg-Id: 1234567890\r\n\r\n";
    let total = headers.len() + payload_bytes;
    let mut op = format!(
        "HPUB foo.bar.baz reply.inbox.1 {} {total}\r\n",
        headers.len()
    )
    .into_bytes();
    op.extend_from_slice(headers);
    op.resize(op.len() + payload_bytes, b'x');
    op.extend_from_slice(b"\r\n");
    op
}

fn parser() -> Parser {
    let mut parser = Parser::new(ParserLimits::default());
    parser.set_headers_supported(true);
    parser
}

/// Parses every op in `buf`, which holds whole ops only; returns how many.
fn parse_all(parser: &mut Parser, buf: &[u8]) -> usize {
    let mut start = 0;
    let mut ops = 0;
    while start < buf.len() {
        match parser.parse(&buf[start..]) {
            Step::Op { op, consumed } => {
                black_box(op);
                start += consumed;
                ops += 1;
            }
            step => panic!("unexpected {step:?} at byte {start}"),
        }
    }
    ops
}

fn whole_reads(c: &mut Criterion) {
    let scenarios = [
        ("Pub0b_Payload", publish(0)),
        ("Pub128B_Payload", publish(128)),
        ("Pub1K_Payload", publish(1024)),
        ("Pub32K_Payload", publish(32 * 1024)),
        ("HPub128B_Payload", header_publish(128)),
        ("Sub", b"SUB foo.bar.baz some.queue 12345\r\n".to_vec()),
    ];
    let mut group = c.benchmark_group("parser");
    for (name, op) in scenarios {
        let buf = repeated(&op);
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_function(name, |bencher| {
            let mut parser = parser();
            bencher.iter(|| parse_all(&mut parser, black_box(&buf)));
        });
    }
    group.finish();
}

/// A 32 KiB PUB arriving one TCP segment at a time: the parser is called after every
/// segment and must not rescan the payload it has already been shown.
fn segmented_reads(c: &mut Criterion) {
    let op = publish(32 * 1024);
    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Bytes(op.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("Pub32K_Payload_segmented", SEGMENT_BYTES),
        &op,
        |bencher, op| {
            let mut parser = parser();
            bencher.iter(|| {
                let mut end = 0;
                loop {
                    end = (end + SEGMENT_BYTES).min(op.len());
                    match parser.parse(black_box(&op[..end])) {
                        Step::NeedMore => {}
                        Step::Op { consumed, .. } => break consumed,
                        Step::Error(error) => panic!("unexpected {error:?}"),
                    }
                }
            });
        },
    );
    group.finish();
}

criterion_group!(benches, whole_reads, segmented_reads);
criterion_main!(benches);
