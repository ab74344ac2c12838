//! What each top-level configuration key means: nats-server 2.15.1's keys and aliases
//! (`processConfigFileLine` in its `server/opts.go`), ringnats' own `threads` and
//! `io_backend`, and the features ringnats refuses until it has built them.
//!
//! Keys are matched in lower case, as nats-server does, but messages that quote the key
//! use it as written (`MAX_PAYLOAD value is too big`). Where nats-server keeps a value
//! that ringnats cannot hold (a negative limit), the key fails with a message instead of
//! being bent into something else.

use std::path::PathBuf;

use super::conf::{Item, Position, Value};
use super::file::{boolean, duration, integer, listen, string, KeyError, Loader};
use super::{
    ConfigError, DEFAULT_CLOSED_CLIENTS_MAX, DEFAULT_CONTROL_LINE_BYTES_MAX, DEFAULT_HOST,
    DEFAULT_LAME_DUCK_GRACE_PERIOD, DEFAULT_PAYLOAD_BYTES_MAX, DEFAULT_PENDING_BYTES_MAX,
    DEFAULT_PINGS_OUTSTANDING_MAX, DEFAULT_PING_INTERVAL, DEFAULT_WRITE_DEADLINE,
};

/// The words every refusal of a missing feature contains.
pub const NOT_YET_SUPPORTED: &str = "not yet supported";

/// nats-server's smallest `lame_duck_duration`.
const LAME_DUCK_DURATION_MIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Applies one top-level key. `key` is as written; `position` is the key's.
pub(super) fn apply_key(
    loader: &mut Loader,
    key: &str,
    position: &Position,
    item: &Item,
) -> Result<(), KeyError> {
    let lower = key.to_ascii_lowercase();
    if apply_server_key(loader, &lower, item)? {
        return Ok(());
    }
    if apply_limit_key(loader, key, &lower, position, item)? {
        return Ok(());
    }
    if apply_logging_key(loader, &lower, item)? {
        return Ok(());
    }
    if super::auth::apply_auth_key(loader, &lower, position, item)? {
        return Ok(());
    }
    refuse_missing_feature(&lower, item)
}

/// Listening, naming and files. Returns false for keys it does not own.
fn apply_server_key(loader: &mut Loader, key: &str, item: &Item) -> Result<bool, KeyError> {
    let config = &mut loader.config;
    match key {
        "listen" => {
            let (host, port) = listen(&item.value)?;
            // A bare port clears the host, which nats-server then defaults.
            config.host = host
                .filter(|host| !host.is_empty())
                .unwrap_or_else(|| DEFAULT_HOST.into());
            config.port = port_number(port)?;
        }
        "port" => config.port = port_number(integer(item)?)?,
        "host" | "net" => config.host = non_empty(string(item)?).unwrap_or(DEFAULT_HOST.into()),
        "server_name" => {
            let name = string(item)?;
            if name.contains(' ') {
                return Err(reason("server name cannot contain spaces"));
            }
            config.server_name = non_empty(name);
        }
        "pidfile" | "pid_file" => config.pid_file = non_empty(string(item)?).map(PathBuf::from),
        "ports_file_dir" => config.ports_file_dir = non_empty(string(item)?).map(PathBuf::from),
        "no_header_support" => config.no_header_support = boolean(item)?,
        "no_fast_producer_stall" => config.no_fast_producer_stall = boolean(item)?,
        "disable_sublist_cache" | "no_sublist_cache" => config.no_sublist_cache = boolean(item)?,
        "http_base_path" => config.http_base_path = string(item)?.to_string(),
        "http" => {
            let (host, port) = listen(&item.value)?;
            if let Some(host) = host.filter(|host| !host.is_empty()) {
                config.http_host = Some(host);
            }
            config.http_port = (port != 0).then(|| port_number(port)).transpose()?;
        }
        "http_port" | "monitor_port" => {
            let port = integer(item)?;
            config.http_port = (port != 0).then(|| port_number(port)).transpose()?;
        }
        "store_dir" | "storedir" => config.store_dir = non_empty(string(item)?).map(PathBuf::from),
        "io_backend" => config.io_backend = string(item)?.parse().map_err(KeyError::Reason)?,
        "threads" => {
            let threads = integer(item)?;
            // Zero and out-of-range counts are left for Config::validate to name.
            config.threads = Some(usize::try_from(threads).map_err(|_| {
                reason(&format!(
                    "threads must be between 1 and {}, got {threads}",
                    super::SHARDS_MAX
                ))
            })?);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Sizes, counts and durations. Zero means "the default", as nats-server's
/// `setBaselineOptions` has it.
fn apply_limit_key(
    loader: &mut Loader,
    key: &str,
    lower: &str,
    position: &Position,
    item: &Item,
) -> Result<bool, KeyError> {
    match lower {
        "max_payload" | "max_control_line" => {
            let value = integer(item)?;
            let bytes = int32_size(key, value)?;
            if lower == "max_payload" {
                loader.config.payload_bytes_max = or_default(bytes, DEFAULT_PAYLOAD_BYTES_MAX);
            } else {
                loader.config.control_line_bytes_max =
                    or_default(bytes, DEFAULT_CONTROL_LINE_BYTES_MAX);
            }
        }
        "max_pending" => {
            let bytes = not_negative(key, integer(item)?)?;
            loader.config.pending_bytes_max = or_default(bytes, DEFAULT_PENDING_BYTES_MAX);
        }
        // nats-server turns 0 into -1, and any negative count refuses every client.
        "max_connections" | "max_conn" => {
            loader.config.connections_max = saturating_u32(integer(item)?.max(0))
        }
        // Zero or negative: no limit.
        "max_subscriptions" | "max_subs" => {
            loader.config.subscriptions_max = saturating_u32(integer(item)?.max(0))
        }
        "max_sub_tokens" | "max_subscription_tokens" => {
            let tokens = integer(item)?;
            if tokens > i64::from(u8::MAX) {
                return Err(reason(&format!("{key} value is too big")));
            }
            if tokens <= 0 {
                return Err(reason(&format!("{key} value can not be negative")));
            }
            loader.config.subscription_tokens_max = tokens as u32;
        }
        "ping_interval" => {
            let interval = duration(loader, "ping_interval", position, item)?;
            loader.config.ping_interval = nonzero_or(interval, DEFAULT_PING_INTERVAL);
        }
        "ping_max" => {
            let pings = saturating_u32(not_negative(key, integer(item)?)?);
            loader.config.pings_outstanding_max = or_default(pings, DEFAULT_PINGS_OUTSTANDING_MAX);
        }
        "write_deadline" => {
            let deadline = duration(loader, "write_deadline", position, item)?;
            loader.config.write_deadline = nonzero_or(deadline, DEFAULT_WRITE_DEADLINE);
        }
        "max_closed_clients" => {
            let closed = saturating_u32(not_negative(key, integer(item)?)?);
            loader.config.closed_clients_max = or_default(closed, DEFAULT_CLOSED_CLIENTS_MAX);
        }
        "lame_duck_duration" => loader.config.lame_duck_duration = lame_duck_duration(item)?,
        "lame_duck_grace_period" => {
            let period = lame_duck_grace_period(item)?;
            loader.config.lame_duck_grace_period =
                nonzero_or(period, DEFAULT_LAME_DUCK_GRACE_PERIOD);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Logging keys. Returns false for keys it does not own.
fn apply_logging_key(loader: &mut Loader, key: &str, item: &Item) -> Result<bool, KeyError> {
    let log = &mut loader.config.log;
    match key {
        "debug" => log.debug = boolean(item)?,
        "trace" => log.trace = boolean(item)?,
        // nats-server: trace_verbose sets trace too.
        "trace_verbose" => {
            log.trace_verbose = boolean(item)?;
            log.trace = log.trace_verbose;
        }
        "logtime" => log.logtime = boolean(item)?,
        "logtime_utc" => log.logtime_utc = boolean(item)?,
        "logfile" | "log_file" => log.file = non_empty(string(item)?).map(PathBuf::from),
        "logfile_size_limit" | "log_size_limit" => log.size_limit_bytes = integer(item)?,
        "logfile_max_num" | "log_max_num" => log.files_max = integer(item)?,
        "syslog" => {
            if boolean(item)? {
                return Err(not_yet("syslog (syslog)"));
            }
        }
        "remote_syslog" => {
            if !string(item)?.is_empty() {
                return Err(not_yet("remote syslog (remote_syslog)"));
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// nats-server keys for features ringnats has not built. A value that leaves the feature
/// off passes; anything else is refused. Keys nats-server does not know are unknown.
fn refuse_missing_feature(key: &str, item: &Item) -> Result<(), KeyError> {
    let feature = match key {
        "tls" => "TLS (tls)",
        "cluster" => "clustering (cluster)",
        "gateway" => "gateways (gateway)",
        "leaf" | "leafnodes" => "leaf nodes (leafnodes)",
        "websocket" | "ws" => "WebSocket (websocket)",
        "mqtt" => "MQTT (mqtt)",
        "jetstream" if jetstream_enabled(&item.value)? => "JetStream (jetstream)",
        "jetstream" => return Ok(()),
        "https" => return refuse_listener(item, "HTTPS monitoring (https)"),
        "https_port" => return refuse_port(item, "HTTPS monitoring (https_port)"),
        "client_advertise" => {
            return refuse_unless(
                matches!(&item.value, Value::String(text) if text.is_empty()),
                "client advertise address (client_advertise)",
            )
        }
        _ => return refuse_other_known_key(key, item),
    };
    Err(not_yet(feature))
}

/// The rest of nats-server's keys, by the value that leaves each one off.
fn refuse_other_known_key(key: &str, item: &Item) -> Result<(), KeyError> {
    let off = match key {
        "trace_headers" | "proxy_protocol" | "allow_non_tls" => {
            matches!(item.value, Value::Bool(false))
        }
        "prof_port"
        | "prof_block_rate"
        | "max_traced_msg_len"
        | "connect_error_reports"
        | "reconnect_error_reports" => matches!(item.value, Value::Integer(0)),
        "default_sentinel" | "default_js_domain" => {
            matches!(&item.value, Value::String(text) if text.is_empty())
        }
        "write_timeout" => matches!(&item.value, Value::String(text) if text == "default"),
        "mappings" | "maps" | "server_tags" | "server_metadata" | "feature_flags" | "ocsp"
        | "ocsp_cache" | "proxies" => false,
        _ => return Err(KeyError::Unknown),
    };
    refuse_unless(off, &format!("{key} (configuration key)"))
}

fn refuse_unless(off: bool, feature: &str) -> Result<(), KeyError> {
    if off {
        Ok(())
    } else {
        Err(not_yet(feature))
    }
}

/// `https`: checked like nats-server, refused unless the port is 0 (off).
fn refuse_listener(item: &Item, feature: &str) -> Result<(), KeyError> {
    let (_, port) = listen(&item.value)?;
    refuse_unless(port == 0, feature)
}

fn refuse_port(item: &Item, feature: &str) -> Result<(), KeyError> {
    refuse_unless(integer(item)? == 0, feature)
}

/// nats-server's `parseJetStream` decision: a bool, `enabled`/`disabled`, or a map that
/// enables unless it says `enabled: false`.
fn jetstream_enabled(value: &Value) -> Result<bool, KeyError> {
    match value {
        Value::Bool(enabled) => Ok(*enabled),
        Value::String(text) => match text.to_lowercase().as_str() {
            "enabled" | "enable" => Ok(true),
            "disabled" | "disable" => Ok(false),
            _ => Err(reason(&format!(
                "Expected 'enabled' or 'disabled' for string value, got '{text}'"
            ))),
        },
        Value::Map(map) => {
            let switch = map.iter().find(|(key, _)| {
                let key = key.to_ascii_lowercase();
                key == "enable" || key == "enabled"
            });
            match switch {
                Some((_, item)) => boolean(item),
                None => Ok(true),
            }
        }
        _ => Ok(true),
    }
}

/// `lame_duck_duration`: a duration string only (a bare number fails Go's type check),
/// at least 30 seconds.
fn lame_duck_duration(item: &Item) -> Result<std::time::Duration, KeyError> {
    let text = string(item)?;
    let (negative, magnitude) = signed_duration(text)
        .map_err(|error| reason(&format!("error parsing lame_duck_duration: {error}")))?;
    if negative || magnitude < LAME_DUCK_DURATION_MIN {
        let sign = if negative { "-" } else { "" };
        return Err(reason(&format!(
            "invalid lame_duck_duration of {sign}{}, minimum is 30 seconds",
            super::file::go_duration_text(magnitude)
        )));
    }
    Ok(magnitude)
}

fn lame_duck_grace_period(item: &Item) -> Result<std::time::Duration, KeyError> {
    let text = string(item)?;
    let (negative, magnitude) = signed_duration(text)
        .map_err(|error| reason(&format!("error parsing lame_duck_grace_period: {error}")))?;
    if negative {
        return Err(reason(
            "invalid lame_duck_grace_period, needs to be positive",
        ));
    }
    Ok(magnitude)
}

/// A Go duration that may be negative: (is negative and nonzero, magnitude).
pub(super) fn signed_duration(text: &str) -> Result<(bool, std::time::Duration), String> {
    match text.strip_prefix('-') {
        Some(rest) if !rest.is_empty() && !rest.starts_with(['-', '+']) => {
            // Parse the magnitude, but report errors on the text as written.
            let magnitude = super::conf::parse_duration(rest)
                .map_err(|error| error.replace(&format!("{rest:?}"), &format!("{text:?}")))?;
            Ok((!magnitude.is_zero(), magnitude))
        }
        _ => super::conf::parse_duration(text).map(|magnitude| (false, magnitude)),
    }
}

// ---- small helpers ---------------------------------------------------------------------

fn reason(text: &str) -> KeyError {
    KeyError::Reason(text.to_string())
}

fn not_yet(feature: &str) -> KeyError {
    KeyError::Reason(ConfigError::NotYetSupported(feature.to_string()).to_string())
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// nats-server keeps any `int`; `Config::port` is an `i32` and `validate` checks range.
fn port_number(port: i64) -> Result<i32, KeyError> {
    i32::try_from(port).map_err(|_| reason(&format!("invalid port {port}")))
}

/// `max_payload`/`max_control_line`: Go's `int32` fields.
fn int32_size(key: &str, value: i64) -> Result<u32, KeyError> {
    if value > i64::from(i32::MAX) {
        return Err(reason(&format!("{key} value is too big")));
    }
    Ok(not_negative(key, value)? as u32)
}

/// ringnats has no meaning for negative sizes and counts that nats-server would keep.
fn not_negative(key: &str, value: i64) -> Result<u64, KeyError> {
    u64::try_from(value).map_err(|_| reason(&format!("{key} value can not be negative")))
}

fn saturating_u32<T: TryInto<u32>>(value: T) -> u32 {
    value.try_into().unwrap_or(u32::MAX)
}

fn or_default<T: PartialEq + Default>(value: T, default: T) -> T {
    if value == T::default() {
        default
    } else {
        value
    }
}

fn nonzero_or(value: std::time::Duration, default: std::time::Duration) -> std::time::Duration {
    if value.is_zero() {
        default
    } else {
        value
    }
}
