//! `/subsz` (alias `/subscriptionsz`): the subscription table's counters summed over the
//! shards, and optionally the subscriptions themselves (`subs`, `offset`, `limit`, and
//! `test`, which keeps those a literal subject would reach).

use std::time::SystemTime;

use serde::Serialize;

use super::connz::{SubDetail, CONNECTIONS_LIMIT_DEFAULT};
use super::snapshot::ShardSubsz;
use super::time::rfc3339_nanos;
use super::{MonitorContext, Query, Reply};
use crate::shard::shared::ControlMsg;
use crate::subject::sublist::SublistStats;
use crate::subject::validate::{is_valid_literal_subject, subject_matches};

#[derive(Serialize)]
struct Subsz {
    server_id: String,
    now: String,
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: u64,
    avg_fanout: f64,
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<SubDetail>,
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

/// Serves `/subsz`.
pub async fn subsz(context: &MonitorContext, query: &Query) -> Reply {
    let parsed = (|| -> Result<_, String> {
        Ok((
            query.flag("subs")?,
            query.number("offset", 0)?,
            query.number("limit", CONNECTIONS_LIMIT_DEFAULT)?,
        ))
    })();
    let (wants_list, offset, limit) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return Reply::bad_request(message),
    };
    let test = query.get("test").filter(|text| !text.is_empty());
    if let Some(test) = test {
        if !is_valid_literal_subject(test.as_bytes()) {
            return Reply::bad_request(format!(
                "invalid test subject, must be valid publish subject: {test}"
            ));
        }
    }
    let answers = context
        .ask_shards(|reply| ControlMsg::Subsz {
            subscriptions: wants_list,
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
    let total = subscriptions.len();
    let limit = if limit == 0 {
        CONNECTIONS_LIMIT_DEFAULT
    } else {
        limit
    };
    Reply::json(&Subsz {
        server_id: context.identity.server_id.clone(),
        now: rfc3339_nanos(SystemTime::now()),
        num_subscriptions: stats.num_subscriptions,
        num_cache: stats.num_cache,
        num_inserts: stats.num_inserts,
        num_removes: stats.num_removes,
        num_matches: stats.num_matches,
        cache_hit_rate: stats.cache_hit_rate,
        max_fanout: stats.max_fanout,
        avg_fanout: stats.avg_fanout,
        total,
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
