//! The advisories nats-server publishes in the system account when a client connects
//! to or leaves an account (`$SYS.ACCOUNT.<account>.CONNECT|DISCONNECT`), with its
//! `ConnectEventMsg`/`DisconnectEventMsg` JSON, so `nats event` and audit consumers
//! read ringnats unchanged.

use std::time::SystemTime;

use serde::Serialize;

use super::sys::ServerInfo;
use super::time::rfc3339_nanos;
use super::{go_json, MonitorContext};
use crate::config::file::go_duration_text;
use crate::shard::shared::ClientEvent;

/// nats-server's event type names.
const CONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_connect";
const DISCONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_disconnect";

/// nats-server's `ClientInfo` as events carry it (empty fields left out).
#[derive(Serialize)]
struct ClientInfo {
    start: String,
    host: String,
    id: u64,
    acc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    ver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt: Option<String>,
    server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    kind: &'static str,
    client_type: &'static str,
}

/// nats-server's `DataStats` without routes, gateways and leaf nodes.
#[derive(Serialize)]
struct DataStats {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct ClientEventMsg {
    #[serde(rename = "type")]
    event_type: &'static str,
    id: String,
    timestamp: String,
    server: ServerInfo,
    client: ClientInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<DataStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<DataStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// The subject and JSON of one client advisory.
pub fn client_event(context: &MonitorContext, event: &ClientEvent) -> (String, Vec<u8>) {
    let client = &event.client;
    let kind = if event.connected {
        "CONNECT"
    } else {
        "DISCONNECT"
    };
    let subject = format!("$SYS.ACCOUNT.{}.{kind}", client.account);
    let info = ClientInfo {
        start: rfc3339_nanos(client.start),
        host: client.ip.to_string(),
        id: client.cid,
        acc: client.account.clone(),
        user: client.user.clone(),
        name: client.name.clone(),
        lang: client.lang.clone(),
        ver: client.version.clone(),
        rtt: (!client.rtt.is_zero()).then(|| go_duration_text(client.rtt)),
        server: context.identity.server_name.clone(),
        stop: client.stop.map(rfc3339_nanos),
        kind: "Client",
        client_type: "nats",
    };
    let message = ClientEventMsg {
        event_type: if event.connected {
            CONNECT_TYPE
        } else {
            DISCONNECT_TYPE
        },
        id: event_id(),
        timestamp: rfc3339_nanos(SystemTime::now()),
        server: ServerInfo::next(context),
        client: info,
        // nats-server's "sent" is what the server sent the client.
        sent: (!event.connected).then_some(DataStats {
            msgs: client.stats.out_msgs,
            bytes: client.stats.out_bytes,
        }),
        received: (!event.connected).then_some(DataStats {
            msgs: client.stats.in_msgs,
            bytes: client.stats.in_bytes,
        }),
        reason: if event.connected { None } else { client.reason },
    };
    (subject, go_json::to_vec(&message))
}

/// A 22-character id in nats-server's NUID alphabet.
fn event_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let nonce = crate::auth::new_nonce();
    let seed = u128::from_le_bytes(std::array::from_fn(|i| nonce[i % nonce.len()]))
        ^ SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
    let mut value = seed;
    (0..22)
        .map(|_| {
            let digit = ALPHABET[(value % 62) as usize] as char;
            value /= 62;
            digit
        })
        .collect()
}
