//! `/subsz` (alias `/subscriptionsz`) and `SUBSZ` requests: the subscription table's
//! counters summed over the shards, and optionally the subscriptions themselves
//! (`subs`, `offset`, `limit`, `acc`, and `test`, which keeps those a literal subject
//! would reach).

use std::time::SystemTime;

use serde::Serialize;

use super::connz::{SubDetail, CONNECTIONS_LIMIT_DEFAULT};
use super::go_json::{GoField, GoOptions, GoType};
use super::snapshot::ShardSubsz;
use super::time::rfc3339_nanos;
use super::{page_bounds, MonitorContext, Query, Reply};
use crate::shard::shared::ControlMsg;
use crate::subject::sublist::SublistStats;
use crate::subject::validate::{is_valid_literal_subject, subject_matches};

/// nats-server's `SublistStats` as its JSON writes them (inside `/subsz` and an
/// account's `sublist_stats`).
#[derive(Serialize, Default, Clone, Copy)]
pub struct SublistCounters {
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: u64,
    avg_fanout: f64,
}

impl From<SublistStats> for SublistCounters {
    fn from(stats: SublistStats) -> Self {
        Self {
            num_subscriptions: stats.num_subscriptions,
            num_cache: stats.num_cache,
            num_inserts: stats.num_inserts,
            num_removes: stats.num_removes,
            num_matches: stats.num_matches,
            cache_hit_rate: stats.cache_hit_rate,
            max_fanout: stats.max_fanout,
            avg_fanout: stats.avg_fanout,
        }
    }
}

/// nats-server's `Subsz` document.
#[derive(Serialize)]
pub struct Subsz {
    server_id: String,
    now: String,
    #[serde(flatten)]
    stats: SublistCounters,
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<SubDetail>,
}

/// nats-server's `SubszOptions`, from `/subsz`'s query or a `SUBSZ` request's JSON.
#[derive(Clone, Debug, Default)]
pub struct SubszOptions {
    /// `offset`: the first subscription of the page (negative = 0).
    pub offset: i64,
    /// `limit`: the page size (0 or less = the default 1024).
    pub limit: i64,
    /// `subscriptions` (`subs`): list the subscriptions.
    pub subscriptions: bool,
    /// `account` (`acc`): only this account's counters and subscriptions.
    pub account: String,
    /// `test`: only subscriptions a message published to this literal subject reaches.
    pub test: String,
}

/// `SubszOptions`'s JSON keys and Go types.
pub const SUBSZ_FIELDS: &[GoField] = &[
    ("offset", GoType::Int("int")),
    ("limit", GoType::Int("int")),
    ("subscriptions", GoType::Bool),
    ("account", GoType::String("string")),
    ("test", GoType::String("string")),
];

impl SubszOptions {
    /// nats-server's `HandleSubsz`: the query's parameters, with its error words.
    pub fn from_query(query: &Query) -> Result<Self, String> {
        Ok(Self {
            subscriptions: query.flag("subs")?,
            offset: query.int("offset")?,
            limit: query.int("limit")?,
            test: query.text("test"),
            account: query.text("acc"),
        })
    }

    /// The options of a `SUBSZ` request, decoded with [`SUBSZ_FIELDS`].
    pub fn from_go(options: &GoOptions) -> Self {
        Self {
            offset: options.int("offset"),
            limit: options.int("limit"),
            subscriptions: options.bool("subscriptions"),
            account: options.string("account"),
            test: options.string("test"),
        }
    }
}

/// Sums the shards' Sublist counters: counts add, rates are weighed by what they are
/// rates of.
pub fn sum_stats(answers: &[ShardSubsz]) -> SublistStats {
    let mut total = SublistStats::default();
    let (mut hits, mut fanout_total) = (0.0, 0.0);
    for answer in answers {
        let stats = &answer.stats;
        total.num_subscriptions += stats.num_subscriptions;
        total.num_cache += stats.num_cache;
        total.num_inserts += stats.num_inserts;
        total.num_removes += stats.num_removes;
        total.num_matches += stats.num_matches;
        total.max_fanout = total.max_fanout.max(stats.max_fanout);
        hits += answer.cache_hits;
        fanout_total += stats.avg_fanout * stats.num_cache as f64;
    }
    if total.num_matches > 0 {
        total.cache_hit_rate = hits / total.num_matches as f64;
    }
    if total.num_cache > 0 {
        total.avg_fanout = fanout_total / total.num_cache as f64;
    }
    total
}

/// The Sublist counters of `account`: every subscription is in the global account until
/// connections carry their own, so the others' tables are empty.
pub async fn account_stats(context: &MonitorContext, account: &str) -> SublistStats {
    let answers = context
        .ask_shards(|reply| ControlMsg::Subsz {
            subscriptions: false,
            account: Some(account.to_string()),
            reply,
        })
        .await;
    sum_stats(&answers)
}

/// Serves `/subsz`: a bad query or bad options are a 400 with nats-server's words.
pub async fn serve(context: &MonitorContext, query: &Query) -> Reply {
    let options = match SubszOptions::from_query(query) {
        Ok(options) => options,
        Err(message) => return Reply::bad_request(message),
    };
    match build(context, &options).await {
        Ok(subsz) => Reply::json(&subsz),
        Err(message) => Reply::bad_request(message),
    }
}

/// nats-server's `Subsz`: the counters (of one account with `account`) and the page of
/// subscriptions `options` asks for.
pub async fn build(context: &MonitorContext, options: &SubszOptions) -> Result<Subsz, String> {
    let (offset, limit) = page_bounds(options.offset, options.limit, CONNECTIONS_LIMIT_DEFAULT);
    let test = Some(options.test.as_str()).filter(|test| !test.is_empty());
    if let Some(test) = test {
        if !is_valid_literal_subject(test.as_bytes()) {
            return Err(format!(
                "invalid test subject, must be valid publish subject: {test}"
            ));
        }
    }
    let account = Some(options.account.clone()).filter(|account| !account.is_empty());
    let answers = context
        .ask_shards(|reply| ControlMsg::Subsz {
            subscriptions: options.subscriptions,
            account: account.clone(),
            reply,
        })
        .await;
    let stats = sum_stats(&answers);
    let mut subscriptions: Vec<_> = answers
        .into_iter()
        .flat_map(|answer| answer.subscriptions)
        .filter(|subscription| {
            test.is_none_or(|test| {
                subject_matches(subscription.subject.as_bytes(), test.as_bytes())
            })
        })
        .collect();
    subscriptions.sort_by(|a, b| a.cid.cmp(&b.cid).then_with(|| a.sid.cmp(&b.sid)));
    Ok(Subsz {
        server_id: context.identity.server_id.clone(),
        now: rfc3339_nanos(SystemTime::now()),
        stats: stats.into(),
        total: subscriptions.len(),
        offset,
        limit,
        subscriptions_list: subscriptions
            .iter()
            .skip(offset)
            .take(limit)
            .map(|subscription| SubDetail::new(subscription, true))
            .collect(),
    })
}
