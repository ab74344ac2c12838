//! Criterion benchmarks for the cross-core SPSC ring (`router::ring`): the per-item cost on
//! one thread (push, commit, pop each item: the worst case for batching), the same with
//! batches of 64 (how a shard loop uses it), and items per second between two threads (the
//! cross-core cost, cache-line transfers included). Run with `cargo bench --bench ring`;
//! on a shared 2-core machine the two-thread numbers vary with what else is running.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringnats::router::ring::{self, Consumer, Producer};

/// Ring size for the benchmarks: large enough that a batch never fills it.
const BENCH_RING_CAPACITY: usize = 1024;

/// Items per commit in the batched benchmarks, a plausible envelopes-per-loop-turn count.
const BENCH_BATCH_LEN: usize = 64;

fn push_commit_pop_one(criterion: &mut Criterion) {
    let (mut producer, mut consumer) = ring::channel::<u64>(BENCH_RING_CAPACITY);
    let mut group = criterion.benchmark_group("ring/single_thread");
    group.throughput(Throughput::Elements(1));
    group.bench_function("push_commit_pop_one", |bencher| {
        let mut value = 0u64;
        bencher.iter(|| {
            value = value.wrapping_add(1);
            producer.push(black_box(value)).unwrap();
            black_box(producer.commit());
            black_box(consumer.pop().unwrap())
        });
    });
    group.finish();
}

fn batch_of_64(criterion: &mut Criterion) {
    let (mut producer, mut consumer) = ring::channel::<u64>(BENCH_RING_CAPACITY);
    let mut group = criterion.benchmark_group("ring/single_thread");
    group.throughput(Throughput::Elements(BENCH_BATCH_LEN as u64));
    group.bench_function("push_commit_drain_batch_64", |bencher| {
        bencher.iter(|| {
            for value in 0..BENCH_BATCH_LEN as u64 {
                producer.push(black_box(value)).unwrap();
            }
            black_box(producer.commit());
            let mut sum = 0u64;
            consumer.drain(BENCH_BATCH_LEN, |value| sum = sum.wrapping_add(value));
            black_box(sum)
        });
    });
    group.finish();
}

/// Sends `count` items from this thread to a busy-polling consumer thread, committing every
/// `BENCH_BATCH_LEN` items, and returns the time until the consumer has them all.
fn send_between_threads(count: u64) -> Duration {
    let (producer, consumer) = ring::channel::<u64>(BENCH_RING_CAPACITY);
    let consumer_thread = thread::spawn(move || receive_all(consumer, count));
    let start = Instant::now();
    send_all(producer, count);
    let checksum = consumer_thread.join().expect("consumer thread panicked");
    let elapsed = start.elapsed();
    assert_eq!(checksum, count.wrapping_mul(count.wrapping_sub(1)) / 2);
    elapsed
}

/// Gives the CPU away while the other side catches up: on a machine with more busy threads
/// than cores, a pure spin would burn the time slice the peer needs.
fn wait_for_peer() {
    thread::yield_now();
}

fn send_all(mut producer: Producer<u64>, count: u64) {
    for value in 0..count {
        let mut item = value;
        while let Err(returned) = producer.push(item) {
            item = returned;
            producer.commit();
            wait_for_peer();
        }
        if producer.uncommitted_len() == BENCH_BATCH_LEN {
            producer.commit();
        }
    }
    producer.commit();
}

fn receive_all(mut consumer: Consumer<u64>, count: u64) -> u64 {
    let mut received = 0u64;
    let mut sum = 0u64;
    while received < count {
        let drained = consumer.drain(BENCH_RING_CAPACITY, |value| sum = sum.wrapping_add(value));
        if drained == 0 {
            wait_for_peer();
        }
        received += drained as u64;
    }
    sum
}

fn two_threads(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("ring/two_threads");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("batch_64_throughput", |bencher| {
        bencher.iter_custom(send_between_threads);
    });
    group.finish();
}

criterion_group!(benches, push_commit_pop_one, batch_of_64, two_threads);
criterion_main!(benches);
