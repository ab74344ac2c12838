//! Accounts as the monitoring answers see them: `/accountz` (the list, and with `acc=`
//! nats-server's `account_detail`), `/accstatz`, and the `ACCOUNTZ`, `INFO` and `STATZ`
//! requests.
//!
//! The server knows the global account `$G`, the system account (`$SYS`, or the one
//! `system_account` names; none with `no_system_account`) and the accounts of
//! `accounts {}`. Every client is in `$G` until connections carry their own account, so
//! `$G` holds every connection and subscription and the others report zeros.
//! Exports and imports are the configured ones: nats-server also lists the service imports
//! it wires to the system account by itself (`$SYS.REQ.ACCOUNT.PING.CONNZ`, ...), which
//! ringnats does not create, so they are not listed.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::Serialize;

use super::subsz::{account_stats, SublistCounters};
use super::time::rfc3339_nanos;
use super::{MonitorContext, Query, Reply};
use crate::auth::{ExportKind, Import, ResponseType, GLOBAL_ACCOUNT, SYSTEM_ACCOUNT};
use crate::config::Config;
use crate::shard::shared::ControlMsg;

/// The system account's name; `None` with `no_system_account`.
pub fn system_account(config: &Config) -> Option<String> {
    if config.auth.no_system_account {
        return None;
    }
    Some(
        config
            .auth
            .system_account
            .clone()
            .unwrap_or_else(|| SYSTEM_ACCOUNT.to_string()),
    )
}

/// Every account the server knows: the configured ones in config order, then the system
/// account and `$G` unless configured under those names.
pub fn known(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = config
        .auth
        .accounts
        .iter()
        .map(|account| account.name.clone())
        .collect();
    for name in system_account(config)
        .into_iter()
        .chain([GLOBAL_ACCOUNT.to_string()])
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// True when the server knows an account named `name`.
pub fn exists(config: &Config, name: &str) -> bool {
    known(config).iter().any(|known| known == name)
}

/// What an account's open connections add up to (asked of the shards).
#[derive(Clone, Copy, Default)]
struct Usage {
    connections: u64,
    subscriptions: u64,
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
}

/// Each account's open connections, summed from the shards' connection lists.
async fn usage_by_account(context: &MonitorContext) -> HashMap<String, Usage> {
    let answers = context
        .ask_shards(|reply| ControlMsg::Connz {
            subscriptions: false,
            closed: false,
            reply,
        })
        .await;
    let mut usage: HashMap<String, Usage> = HashMap::new();
    for conn in answers.iter().flat_map(|answer| &answer.open) {
        let entry = usage.entry(conn.account.clone()).or_default();
        entry.connections += 1;
        entry.subscriptions += conn.subscription_count;
        entry.in_msgs += conn.stats.in_msgs;
        entry.in_bytes += conn.stats.in_bytes;
        entry.out_msgs += conn.stats.out_msgs;
        entry.out_bytes += conn.stats.out_bytes;
    }
    usage
}

/// nats-server's `Accountz` document.
#[derive(Serialize)]
pub struct Accountz {
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountInfo>,
}

/// nats-server's `AccountInfo`: `/accountz?acc=`'s `account_detail` and an `INFO`
/// request's `data`.
#[derive(Serialize)]
pub struct AccountInfo {
    account_name: String,
    update_time: String,
    #[serde(skip_serializing_if = "is_false")]
    is_system: bool,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: u64,
    client_connections: u64,
    subscriptions: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<ExportInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<ImportInfo>,
    name_tag: String,
    sublist_stats: SublistCounters,
}

/// One export as nats-server lists it (`jwt.Export` plus the approved accounts).
#[derive(Serialize)]
struct ExportInfo {
    subject: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    approved_accounts: Vec<String>,
}

/// One import as nats-server lists it (`jwt.Import` plus its state).
#[derive(Serialize)]
struct ImportInfo {
    subject: String,
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    local_subject: String,
    #[serde(rename = "type")]
    kind: &'static str,
    invalid: bool,
    share: bool,
    tracking: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn kind_name(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

impl ImportInfo {
    /// nats-server lists a service import by the exporter's subject with the local one in
    /// `to`, and a stream import by the exported subject with the local one after
    /// `prefix`/`to`.
    fn new(import: &Import) -> Self {
        let (subject, to, local_subject) = match import.kind {
            ExportKind::Service => {
                let local = import.to.clone().unwrap_or_else(|| import.subject.clone());
                (import.subject.clone(), Some(local.clone()), local)
            }
            ExportKind::Stream => {
                let local = match (&import.to, &import.prefix) {
                    (Some(to), _) => to.clone(),
                    (None, Some(prefix)) if prefix.ends_with('.') => {
                        format!("{prefix}{}", import.subject)
                    }
                    (None, Some(prefix)) => format!("{prefix}.{}", import.subject),
                    (None, None) => import.subject.clone(),
                };
                (import.subject.clone(), None, local)
            }
        };
        Self {
            subject,
            account: import.account.clone(),
            to,
            local_subject,
            kind: kind_name(import.kind),
            invalid: false,
            share: false,
            tracking: false,
        }
    }
}

/// nats-server's `accountInfo`: the detail of one account, or its error for an account
/// it does not know.
pub async fn account_info(context: &MonitorContext, name: &str) -> Result<AccountInfo, String> {
    let config = &context.config;
    if !exists(config, name) {
        return Err(format!("Account {name} does not exist"));
    }
    let configured = config
        .auth
        .accounts
        .iter()
        .find(|account| account.name == name);
    let exports = configured
        .into_iter()
        .flat_map(|account| &account.exports)
        .map(|export| ExportInfo {
            subject: export.subject.clone(),
            kind: kind_name(export.kind),
            response_type: (export.kind == ExportKind::Service).then_some(
                match export.response_type {
                    ResponseType::Singleton => "Singleton",
                    ResponseType::Stream => "Streamed",
                    ResponseType::Chunked => "Chunked",
                },
            ),
            approved_accounts: export.accounts.clone().unwrap_or_default(),
        })
        .collect();
    let imports = configured
        .into_iter()
        .flat_map(|account| &account.imports)
        .map(ImportInfo::new)
        .collect();
    let stats = account_stats(context, name).await;
    let connections = usage_by_account(context)
        .await
        .get(name)
        .map_or(0, |usage| usage.connections);
    Ok(AccountInfo {
        account_name: name.to_string(),
        update_time: rfc3339_nanos(context.start),
        is_system: system_account(config).as_deref() == Some(name),
        expired: false,
        complete: true,
        jetstream_enabled: false,
        leafnode_connections: 0,
        client_connections: connections,
        subscriptions: stats.num_subscriptions,
        exports,
        imports,
        name_tag: name.to_string(),
        sublist_stats: stats.into(),
    })
}

/// nats-server's `Accountz`: the account names, or with `account` that account's detail.
pub async fn accountz(context: &MonitorContext, account: &str) -> Result<Accountz, String> {
    let (accounts, account_detail) = if account.is_empty() {
        (Some(known(&context.config)), None)
    } else {
        (None, Some(account_info(context, account).await?))
    };
    Ok(Accountz {
        server_id: context.identity.server_id.clone(),
        now: rfc3339_nanos(SystemTime::now()),
        system_account: system_account(&context.config),
        accounts,
        account_detail,
    })
}

/// Serves `/accountz` (`acc=` for one account's detail; an unknown one is a 400).
pub async fn serve_accountz(context: &MonitorContext, query: &Query) -> Reply {
    match accountz(context, &query.text("acc")).await {
        Ok(accountz) => Reply::json(&accountz),
        Err(message) => Reply::bad_request(message),
    }
}

#[derive(Serialize, Default)]
struct Traffic {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize, Default)]
struct AccountTraffic {
    msgs: u64,
    bytes: u64,
    gateways: Traffic,
    routes: Traffic,
    leafs: Traffic,
}

impl AccountTraffic {
    fn clients(msgs: u64, bytes: u64) -> Self {
        Self {
            msgs,
            bytes,
            ..Self::default()
        }
    }
}

/// nats-server's `AccountStat`.
#[derive(Serialize)]
struct AccountStat {
    acc: String,
    name: String,
    conns: u64,
    leafnodes: u64,
    total_conns: u64,
    num_subscriptions: u64,
    sent: AccountTraffic,
    received: AccountTraffic,
    slow_consumers: u64,
}

/// nats-server's `AccountStatz` document.
#[derive(Serialize)]
pub struct AccountStatz {
    server_id: String,
    now: String,
    account_statz: Vec<AccountStat>,
}

impl AccountStatz {
    /// True when no account is listed.
    pub fn is_empty(&self) -> bool {
        self.account_statz.is_empty()
    }
}

/// nats-server's `AccountStatz`: the counters of `accounts` (all when empty), listing
/// only accounts with connections unless `include_unused`. Messages and bytes are
/// those of the account's open connections (nats-server also keeps what closed ones
/// sent); slow consumers are every one the account has had.
pub async fn account_statz(
    context: &MonitorContext,
    accounts: &[String],
    include_unused: bool,
) -> AccountStatz {
    let usage = usage_by_account(context).await;
    let table = crate::auth::AccountTable::new(&context.config.auth);
    let slow_consumers = |name: &str| {
        table
            .id(name)
            .and_then(|id| context.shared.account_slow_consumers.get(id.index()))
            .map_or(0, |counter| {
                counter.load(std::sync::atomic::Ordering::Relaxed)
            })
    };
    let names = if accounts.is_empty() {
        known(&context.config)
    } else {
        let known = known(&context.config);
        accounts
            .iter()
            .filter(|name| known.contains(name))
            .cloned()
            .collect()
    };
    let account_statz = names
        .into_iter()
        .filter_map(|name| {
            let used = usage.get(&name).copied().unwrap_or_default();
            let slow_consumers = slow_consumers(&name);
            let stat = AccountStat {
                acc: name.clone(),
                name,
                conns: used.connections,
                leafnodes: 0,
                total_conns: used.connections,
                num_subscriptions: used.subscriptions,
                sent: AccountTraffic::clients(used.out_msgs, used.out_bytes),
                received: AccountTraffic::clients(used.in_msgs, used.in_bytes),
                slow_consumers,
            };
            (include_unused || stat.conns > 0).then_some(stat)
        })
        .collect();
    AccountStatz {
        server_id: context.identity.server_id.clone(),
        now: rfc3339_nanos(SystemTime::now()),
        account_statz,
    }
}

/// Serves `/accstatz` (`unused` lists accounts without connections too).
pub async fn serve_accstatz(context: &MonitorContext, query: &Query) -> Reply {
    match query.flag("unused") {
        Ok(unused) => Reply::json(&account_statz(context, &[], unused).await),
        Err(message) => Reply::bad_request(message),
    }
}
