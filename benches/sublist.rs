//! Sublist benchmarks mirroring nats-server's `server/sublist_test.go` scenarios, so the two
//! can be compared row by row.
//!
//! The population is nats-server's: every subject of one to five tokens drawn from eight
//! words (37,448 subjects), plus the wildcards `cloud.>`, `cloud.nats.component.>` and
//! `cloud.*.*.nkeys.*`. Benchmark names keep nats-server's (without its underscore padding);
//! `NoCache` rows measure the trie walk itself, the others the cache-hit path.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringnats::subject::Sublist;

/// nats-server's cache bound (`slCacheMax`).
const CACHE_ENTRIES_MAX: usize = 1024;

/// Subscriptions per batch in the remove benchmarks.
const REMOVE_BATCH_SIZE: u64 = 1000;

/// nats-server's benchmark words (`TestMain` in `sublist_test.go`).
const WORDS: [&str; 8] = [
    "synadia",
    "nats",
    "jetstream",
    "nkeys",
    "jwt",
    "deny",
    "auth",
    "drain",
];

/// Every subject of one to five tokens over `WORDS`, in nats-server's order.
fn benchmark_subjects() -> Vec<Vec<u8>> {
    fn extend(prefix: &str, subjects: &mut Vec<Vec<u8>>) {
        for word in WORDS {
            let subject = if prefix.is_empty() {
                word.to_string()
            } else {
                format!("{prefix}.{word}")
            };
            subjects.push(subject.clone().into_bytes());
            if subject.split('.').count() < 5 {
                extend(&subject, subjects);
            }
        }
    }
    let mut subjects = Vec::with_capacity(40_000);
    extend("", &mut subjects);
    subjects
}

/// The benchmark population in a fresh sublist.
fn populated_sublist(subjects: &[Vec<u8>], cache_entries_max: usize) -> Sublist<u64> {
    let mut sublist = Sublist::new(cache_entries_max);
    for (id, subject) in (0u64..).zip(subjects) {
        sublist.insert(subject, None, id);
    }
    for wildcard in ["cloud.>", "cloud.nats.component.>", "cloud.*.*.nkeys.*"] {
        sublist.insert(wildcard.as_bytes(), None, u64::MAX);
    }
    sublist
}

fn insert(criterion: &mut Criterion) {
    let subjects = benchmark_subjects();
    let mut group = criterion.benchmark_group("sublist_insert");
    group.throughput(Throughput::Elements(subjects.len() as u64));
    group.sample_size(10);
    for (name, cache_entries_max) in [
        ("SublistInsert", CACHE_ENTRIES_MAX),
        ("SublistInsertNoCache", 0),
    ] {
        group.bench_function(name, |bencher| {
            bencher.iter_batched(
                || Sublist::new(cache_entries_max),
                |mut sublist| {
                    for (id, subject) in (0u64..).zip(&subjects) {
                        sublist.insert(subject, None, id);
                    }
                    sublist
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// nats-server's match scenarios: (name, published subject).
const MATCH_CASES: [(&str, &str); 6] = [
    ("SublistMatchSingleToken", "synadia"),
    ("SublistMatchTwoTokens", "synadia.nats"),
    ("SublistMatchThreeTokens", "synadia.nats.jetstream"),
    ("SublistMatchFourTokens", "synadia.nats.jetstream.nkeys"),
    (
        "SublistMatchFourTokensMultiResults",
        "cloud.nats.component.router",
    ),
    (
        "SublistMissOnLastTokenOfFive",
        "synadia.nats.jetstream.nkeys.ZZZZ",
    ),
];

fn match_cache_hit(criterion: &mut Criterion) {
    let mut sublist = populated_sublist(&benchmark_subjects(), CACHE_ENTRIES_MAX);
    let mut group = criterion.benchmark_group("sublist_match_cache_hit");
    for (name, subject) in MATCH_CASES {
        group.bench_function(name, |bencher| {
            bencher.iter(|| sublist.matches(black_box(subject.as_bytes())))
        });
    }
    group.finish();
}

fn match_no_cache(criterion: &mut Criterion) {
    let mut sublist = populated_sublist(&benchmark_subjects(), 0);
    let mut group = criterion.benchmark_group("sublist_match_no_cache");
    for (name, subject) in MATCH_CASES {
        group.bench_function(format!("{name}NoCache"), |bencher| {
            bencher.iter(|| sublist.matches(black_box(subject.as_bytes())))
        });
    }
    group.finish();

    // nats-server's `SublistMatch10kSubsWithNoCache` (which inserts 512 subscriptions).
    let mut wide = Sublist::new(0);
    for id in 0..512u64 {
        wide.insert(b"foo", None, id);
    }
    criterion.bench_function("SublistMatch10kSubsWithNoCache", |bencher| {
        bencher.iter(|| wide.matches(black_box(b"foo")))
    });
}

/// Wildcard-heavy matching: every `*`/`>` shape of a ten-token subject, as in nats-server's
/// `SublistMatchLiteral` subject list, stored as subscriptions and matched without cache.
fn match_wildcards(criterion: &mut Criterion) {
    let literal = "foo.foo.foo.foo.foo.foo.foo.foo.foo.foo";
    let mut patterns = vec![literal.to_string()];
    for prefix in 0..10 {
        let kept = vec!["foo"; prefix].join(".");
        let join = |tail: &str| [kept.as_str(), tail].join(".");
        patterns.push(if prefix == 0 { ">".into() } else { join(">") });
        let stars = vec!["*"; 10 - prefix].join(".");
        patterns.push(if prefix == 0 { stars } else { join(&stars) });
    }
    let mut sublist = Sublist::new(0);
    for (id, pattern) in (0u64..).zip(&patterns) {
        sublist.insert(pattern.as_bytes(), None, id);
    }
    criterion.bench_function("SublistMatchWildcardsNoCache", |bencher| {
        bencher.iter(|| sublist.matches(black_box(literal.as_bytes())))
    });
}

/// Inserts `REMOVE_BATCH_SIZE` subscriptions, then measures removing them all in order.
fn bench_remove(criterion: &mut Criterion, name: &str, single_subject: bool, queue: Option<&[u8]>) {
    let subjects: Vec<Vec<u8>> = (0..REMOVE_BATCH_SIZE)
        .map(|index| match single_subject {
            true => b"foo".to_vec(),
            false => format!("foo.{index}").into_bytes(),
        })
        .collect();
    let mut group = criterion.benchmark_group("sublist_remove");
    group.throughput(Throughput::Elements(REMOVE_BATCH_SIZE));
    group.bench_function(name, |bencher| {
        bencher.iter_batched(
            || {
                let mut sublist = Sublist::new(CACHE_ENTRIES_MAX);
                for (id, subject) in (0u64..).zip(&subjects) {
                    sublist.insert(subject, queue, id);
                }
                sublist
            },
            |mut sublist| {
                for (id, subject) in (0u64..).zip(&subjects) {
                    sublist.remove(subject, queue, &id);
                }
                sublist
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn remove(criterion: &mut Criterion) {
    bench_remove(criterion, "SublistRemove1TokenSingle", true, None);
    bench_remove(criterion, "SublistRemove2TokensSingle", false, None);
    bench_remove(criterion, "SublistRemove1TokenQGSingle", true, Some(b"bar"));
}

criterion_group!(
    benches,
    insert,
    match_cache_hit,
    match_no_cache,
    match_wildcards,
    remove
);
criterion_main!(benches);
