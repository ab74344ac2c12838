//! The `jetstream` configuration: the top-level key (a bool, `enabled`/`disabled`, or a
//! map), read as nats-server 2.15.1's `parseJetStream` reads it (`server/opts.go`), with
//! its error texts.
//!
//! What ringnats does not build is refused by name (`not yet supported: <key>`) rather
//! than ignored: encryption at rest (`key`, `prev_key`, `cipher`, `tpm`). Keys that only
//! matter to a clustered meta group (`meta_compact*`, `max_outstanding_catchup`,
//! `unique_tag`) are read and kept: a standalone nats-server has no use for them either.
//! The parser is independent of the config loader: it returns errors with the position
//! nats-server reports them at, and `config::keys` records them.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::conf::{parse_duration, Item, Position, Value};

/// nats-server's `defaultSyncInterval`: how often stream files are fsynced by default.
pub const SYNC_INTERVAL_DEFAULT: Duration = Duration::from_secs(120);
/// nats-server's `minConcurrentIOs` and `maxConcurrentIOs` for `max_concurrent_io`.
const CONCURRENT_IO_RANGE: std::ops::RangeInclusive<i64> = 4..=8192;

/// When stream files are flushed to the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fdatasync every this often (and on block rollover and close).
    Every(Duration),
    /// Every write is covered by an fdatasync before its PubAck (group commit).
    Always,
}

/// The `jetstream { limits {} }` block (`JSLimitOpts`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JetStreamLimits {
    /// `max_ack_pending`: the highest a consumer may ask for (0 = no server limit).
    pub max_ack_pending: i64,
    /// `max_ha_assets`: replicated assets per server (no meaning standalone).
    pub max_ha_assets: i64,
    /// `max_request_batch`: the largest pull batch (0 = no server limit).
    pub max_request_batch: i64,
    /// `duplicate_window`: the largest duplicate window a stream may ask for.
    pub duplicate_window: Option<Duration>,
    /// `default_max_consumers` (2.15.1): consumers per stream when the stream does not
    /// say (nats-server's default is 1000).
    pub default_max_consumers: Option<i64>,
    /// `batch { max_inflight_per_stream, max_inflight_total, max_msgs, timeout }`.
    pub batch: BatchLimits,
}

/// `limits { batch {} }`: atomic batch publishing limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_inflight_per_stream: i64,
    pub max_inflight_total: i64,
    pub max_msgs: i64,
    pub timeout: Option<Duration>,
}

/// JetStream as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// `-js`, `jetstream: true`, or a map without `enabled: false`.
    pub enabled: bool,
    /// `store_dir` (top level or in the block); `jetstream/` is appended when used.
    pub store_dir: Option<PathBuf>,
    /// `max_memory_store` in bytes (`None`: nats-server's default, 75% of RAM).
    pub max_memory_store: Option<i64>,
    /// `max_file_store` in bytes (`None`: the free space of the store's disk).
    pub max_file_store: Option<i64>,
    /// `sync_interval`.
    pub sync: SyncPolicy,
    /// `domain`.
    pub domain: Option<String>,
    /// `strict` (default true): unknown fields in API requests are errors.
    pub strict: bool,
    /// `limits {}`.
    pub limits: JetStreamLimits,
    /// `max_buffered_msgs` and `max_buffered_size`: a stream's ingest queue bound.
    pub max_buffered_msgs: Option<i64>,
    pub max_buffered_size: Option<i64>,
    /// `request_queue_limit` and `info_queue_limit`: API queue bounds.
    pub request_queue_limit: Option<i64>,
    pub info_queue_limit: Option<i64>,
    /// `unique_tag`, `extension_hint`, `max_outstanding_catchup`, `meta_compact*`,
    /// `max_concurrent_io`: kept for `-t` and reload comparisons; no standalone effect.
    pub unique_tag: Option<String>,
    pub extension_hint: Option<String>,
    pub max_outstanding_catchup: Option<i64>,
    pub meta_compact: Option<u64>,
    pub meta_compact_size: Option<u64>,
    pub meta_compact_sync: Option<bool>,
    pub max_concurrent_io: Option<i64>,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            store_dir: None,
            max_memory_store: None,
            max_file_store: None,
            sync: SyncPolicy::Every(SYNC_INTERVAL_DEFAULT),
            domain: None,
            strict: true,
            limits: JetStreamLimits::default(),
            max_buffered_msgs: None,
            max_buffered_size: None,
            request_queue_limit: None,
            info_queue_limit: None,
            unique_tag: None,
            extension_hint: None,
            max_outstanding_catchup: None,
            meta_compact: None,
            meta_compact_size: None,
            meta_compact_sync: None,
            max_concurrent_io: None,
        }
    }
}

/// One problem with the block: where nats-server reports it (`None`: at the
/// `jetstream` key itself), and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockError {
    pub position: Option<Position>,
    pub text: String,
    /// The error names a feature ringnats has not built (`not yet supported`).
    pub not_yet_supported: bool,
}

impl BlockError {
    fn at(position: &Position, text: impl Into<String>) -> Self {
        Self {
            position: Some(position.clone()),
            text: text.into(),
            not_yet_supported: false,
        }
    }

    fn unknown(key: &str, position: &Position) -> Self {
        Self::at(position, format!("unknown field {key:?}"))
    }

    fn not_yet(position: &Position, feature: &str) -> Self {
        Self {
            position: Some(position.clone()),
            text: format!("not yet supported: {feature}"),
            not_yet_supported: true,
        }
    }
}

/// Reads the `jetstream` key into `config`. `top_level_store_dir` is the top-level
/// `store_dir` seen so far (nats-server refuses both). Errors come in nats-server's
/// order; the first fatal one stops, as nats-server's `return` does, and unknown
/// fields are collected and reading goes on.
pub fn apply(
    config: &mut JetStreamConfig,
    item: &Item,
    top_level_store_dir: bool,
) -> Result<(), Vec<BlockError>> {
    match &item.value {
        Value::Bool(enabled) => config.enabled = *enabled,
        Value::String(text) => {
            config.enabled = match text.to_lowercase().as_str() {
                "enabled" | "enable" => true,
                "disabled" | "disable" => false,
                _ => {
                    return Err(vec![BlockError {
                        position: None,
                        text: format!(
                            "Expected 'enabled' or 'disabled' for string value, got '{text}'"
                        ),
                        not_yet_supported: false,
                    }])
                }
            }
        }
        Value::Map(entries) => {
            let mut errors = Vec::new();
            let mut enable = true;
            let mut store_dir_seen = top_level_store_dir;
            for entry in entries.entries() {
                let (key, value) = (entry.key.as_str(), &entry.item);
                let at = &entry.key_position;
                match apply_entry(config, key, at, value, &mut store_dir_seen, &mut enable) {
                    Ok(()) => {}
                    Err(error) if error.text.starts_with("unknown field") => {
                        if !value.used_as_variable {
                            errors.push(error);
                        }
                    }
                    Err(error) => {
                        errors.push(error);
                        return Err(errors);
                    }
                }
            }
            config.enabled = enable;
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        other => {
            return Err(vec![BlockError {
                position: None,
                text: format!(
                    "Expected map, bool or string to define JetStream, got {}",
                    other.go_type_name()
                ),
                not_yet_supported: false,
            }])
        }
    }
    Ok(())
}

/// One key of the `jetstream {}` map.
fn apply_entry(
    config: &mut JetStreamConfig,
    key: &str,
    at: &Position,
    item: &Item,
    store_dir_seen: &mut bool,
    enable: &mut bool,
) -> Result<(), BlockError> {
    match key.to_lowercase().as_str() {
        "strict" => match item.value {
            Value::Bool(strict) => config.strict = strict,
            ref other => {
                return Err(BlockError::at(
                    at,
                    format!(
                        "Expected 'true' or 'false' for bool value, got '{}'",
                        go_bad_verb(other)
                    ),
                ))
            }
        },
        "store" | "store_dir" | "storedir" => {
            if *store_dir_seen {
                return Err(BlockError::at(at, "Duplicate 'store_dir' configuration"));
            }
            *store_dir_seen = true;
            let dir = string(item)?;
            config.store_dir = (!dir.is_empty()).then(|| PathBuf::from(dir));
        }
        "sync" | "sync_interval" => config.sync = sync_policy(key, at, item)?,
        "max_memory_store" | "max_mem_store" | "max_mem" => {
            config.max_memory_store = Some(storage_size(at, item, "max_mem_store")?)
        }
        "max_file_store" | "max_file" => {
            config.max_file_store = Some(storage_size(at, item, "max_file_store")?)
        }
        "domain" => config.domain = Some(string(item)?.to_string()).filter(|d| !d.is_empty()),
        "enable" | "enabled" => *enable = boolean(item)?,
        "key" | "ek" | "encryption_key" | "prev_key" | "prev_ek" | "prev_encryption_key" => {
            return Err(BlockError::not_yet(
                at,
                &format!("JetStream encryption at rest ({key})"),
            ))
        }
        "cipher" => {
            let cipher = string(item)?;
            if !matches!(
                cipher.to_lowercase().as_str(),
                "chacha" | "chachapoly" | "aes"
            ) {
                return Err(BlockError::at(
                    at,
                    format!("Unknown cipher type: {cipher:?}"),
                ));
            }
            return Err(BlockError::not_yet(
                at,
                "JetStream encryption at rest (cipher)",
            ));
        }
        "tpm" => return Err(BlockError::not_yet(at, "JetStream TPM encryption (tpm)")),
        "extension_hint" => config.extension_hint = Some(string(item)?.to_string()),
        "limits" => config.limits = limits(item)?,
        "unique_tag" => config.unique_tag = Some(string(item)?.trim().to_lowercase()),
        "max_outstanding_catchup" => {
            config.max_outstanding_catchup = Some(storage_size(at, item, &key.to_lowercase())?)
        }
        "max_buffered_size" => {
            config.max_buffered_size = Some(storage_size(at, item, &key.to_lowercase())?)
        }
        "max_buffered_msgs" => config.max_buffered_msgs = Some(parseable_size(key, at, item)?),
        "request_queue_limit" => config.request_queue_limit = Some(parseable_size(key, at, item)?),
        "info_queue_limit" => config.info_queue_limit = Some(parseable_size(key, at, item)?),
        "meta_compact" => config.meta_compact = Some(absolute_size(key, at, item)?),
        "meta_compact_size" => {
            let size = storage_size(at, item, &key.to_lowercase())?;
            config.meta_compact_size = Some(u64::try_from(size).map_err(|_| {
                BlockError::at(
                    at,
                    format!("Expected an absolute size for {key:?}, got {size}"),
                )
            })?)
        }
        "meta_compact_sync" => config.meta_compact_sync = Some(boolean(item)?),
        "max_concurrent_io" => match item.value {
            Value::Integer(ios) if CONCURRENT_IO_RANGE.contains(&ios) => {
                config.max_concurrent_io = Some(ios)
            }
            ref other => {
                return Err(BlockError::at(
                    at,
                    format!(
                        "Expected an absolute size for {key:?} between 4 and 8192, got {}",
                        go_value(other)
                    ),
                ))
            }
        },
        _ => return Err(BlockError::unknown(key, at)),
    }
    Ok(())
}

/// `sync_interval`: `always`, or a duration (a bare integer is seconds, as elsewhere).
fn sync_policy(key: &str, at: &Position, item: &Item) -> Result<SyncPolicy, BlockError> {
    match &item.value {
        Value::String(text) if text.eq_ignore_ascii_case("always") => Ok(SyncPolicy::Always),
        Value::String(text) => parse_duration(text)
            .map(SyncPolicy::Every)
            .map_err(|error| BlockError::at(at, format!("error parsing {key}: {error}"))),
        Value::Integer(seconds) => u64::try_from(*seconds)
            .map(|seconds| SyncPolicy::Every(Duration::from_secs(seconds)))
            .map_err(|_| BlockError::at(at, format!("{key} can not be negative"))),
        other => Err(type_error(other, "int64")),
    }
}

/// `limits {}`.
fn limits(item: &Item) -> Result<JetStreamLimits, BlockError> {
    let Value::Map(entries) = &item.value else {
        return Err(BlockError::at(
            &item.position,
            format!(
                "Expected a map to define JetStreamLimits, got {}",
                item.value.go_type_name()
            ),
        ));
    };
    let mut limits = JetStreamLimits::default();
    for entry in entries.entries() {
        let (key, value) = (entry.key.as_str(), &entry.item);
        match key.to_lowercase().as_str() {
            "max_ack_pending" => limits.max_ack_pending = integer(value)?,
            "max_ha_assets" => limits.max_ha_assets = integer(value)?,
            "max_request_batch" => limits.max_request_batch = integer(value)?,
            "default_max_consumers" => limits.default_max_consumers = Some(integer(value)?),
            "duplicate_window" => limits.duplicate_window = Some(go_duration(value)?),
            "batch" => limits.batch = batch_limits(value)?,
            _ if value.used_as_variable => {}
            _ => return Err(BlockError::unknown(key, &entry.key_position)),
        }
    }
    Ok(limits)
}

/// `limits { batch {} }`.
fn batch_limits(item: &Item) -> Result<BatchLimits, BlockError> {
    let Value::Map(entries) = &item.value else {
        return Err(BlockError::at(
            &item.position,
            format!(
                "Expected a map to define batch limits, got {}",
                item.value.go_type_name()
            ),
        ));
    };
    let mut batch = BatchLimits::default();
    for entry in entries.entries() {
        let (key, value) = (entry.key.as_str(), &entry.item);
        match key.to_lowercase().as_str() {
            "max_inflight_per_stream" => batch.max_inflight_per_stream = integer(value)?,
            "max_inflight_total" => batch.max_inflight_total = integer(value)?,
            "max_msgs" => batch.max_msgs = integer(value)?,
            "timeout" => batch.timeout = Some(go_duration(value)?),
            _ if value.used_as_variable => {}
            _ => return Err(BlockError::unknown(key, &entry.key_position)),
        }
    }
    Ok(batch)
}

/// nats-server's `getStorageSize`: an integer, or a string ending in K, M, G or T
/// (powers of 1024). Errors are prefixed with `what`.
fn storage_size(at: &Position, item: &Item, what: &str) -> Result<i64, BlockError> {
    let text = match &item.value {
        Value::Integer(size) => return Ok(*size),
        Value::String(text) => text,
        _ => {
            return Err(BlockError::at(
                at,
                format!("{what} must be int64 or string"),
            ))
        }
    };
    if text.is_empty() {
        return Ok(0);
    }
    let (prefix, suffix) =
        text.split_at(text.len() - text.chars().last().map_or(0, char::len_utf8));
    let number: i64 = prefix.parse().map_err(|_| {
        BlockError::at(
            at,
            format!("{what} strconv.ParseInt: parsing {prefix:?}: invalid syntax"),
        )
    })?;
    let shift = match suffix {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => {
            return Err(BlockError::at(
                at,
                format!("{what} sizes defined as strings must end in K, M, G, T"),
            ))
        }
    };
    Ok(number.wrapping_mul(1 << shift))
}

/// An integer, with nats-server's "parseable size" error otherwise.
fn parseable_size(key: &str, at: &Position, item: &Item) -> Result<i64, BlockError> {
    match item.value {
        Value::Integer(value) => Ok(value),
        ref other => Err(BlockError::at(
            at,
            format!(
                "Expected a parseable size for {key:?}, got {}",
                go_value(other)
            ),
        )),
    }
}

/// A non-negative integer, with nats-server's "absolute size" error otherwise.
fn absolute_size(key: &str, at: &Position, item: &Item) -> Result<u64, BlockError> {
    match item.value {
        Value::Integer(value) if value >= 0 => Ok(value as u64),
        ref other => Err(BlockError::at(
            at,
            format!(
                "Expected an absolute size for {key:?}, got {}",
                go_value(other)
            ),
        )),
    }
}

fn string(item: &Item) -> Result<&str, BlockError> {
    match &item.value {
        Value::String(text) => Ok(text),
        other => Err(type_error(other, "string")),
    }
}

fn boolean(item: &Item) -> Result<bool, BlockError> {
    match item.value {
        Value::Bool(value) => Ok(value),
        ref other => Err(type_error(other, "bool")),
    }
}

fn integer(item: &Item) -> Result<i64, BlockError> {
    match item.value {
        Value::Integer(value) => Ok(value),
        ref other => Err(type_error(other, "int64")),
    }
}

/// A Go duration string (`time.ParseDuration`).
fn go_duration(item: &Item) -> Result<Duration, BlockError> {
    let text = string(item)?;
    parse_duration(text).map_err(|error| BlockError {
        position: None,
        text: error.to_string(),
        not_yet_supported: false,
    })
}

/// Go's panic text for a failed type assertion; nats-server reports it at the
/// `jetstream` key (its recover handler knows only the outer token): position `None`.
fn type_error(value: &Value, wanted: &str) -> BlockError {
    BlockError {
        position: None,
        text: format!(
            "interface conversion: interface {{}} is {}, not {wanted}",
            value.go_type_name()
        ),
        not_yet_supported: false,
    }
}

/// A value as Go's `%v` prints it.
fn go_value(value: &Value) -> String {
    match value {
        Value::Bool(value) => value.to_string(),
        Value::Integer(value) => value.to_string(),
        Value::Float(value) => value.to_string(),
        Value::String(text) | Value::DateTime(text) => text.clone(),
        Value::Array(_) => "[]".into(),
        Value::Map(_) => "map[]".into(),
    }
}

/// A non-string value as Go's `%s` prints it (`%!s(int64=1)`).
fn go_bad_verb(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Integer(value) => format!("%!s(int64={value})"),
        Value::Float(value) => format!("%!s(float64={value})"),
        other => go_value(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<JetStreamConfig, Vec<BlockError>> {
        let document = crate::config::conf::parse_str(text, std::path::Path::new("t.conf"))
            .expect("valid conf syntax");
        let item = document.get("jetstream").expect("a jetstream key");
        let mut config = JetStreamConfig::default();
        apply(&mut config, item, false).map(|()| config)
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("an error")[0].text.clone()
    }

    #[test]
    fn switches_and_maps_enable_as_nats_server_does() {
        assert!(parse("jetstream: true").unwrap().enabled);
        assert!(parse("jetstream: enabled").unwrap().enabled);
        assert!(!parse("jetstream: disabled").unwrap().enabled);
        assert!(parse("jetstream {}").unwrap().enabled);
        assert!(!parse("jetstream { enabled: false }").unwrap().enabled);
        assert_eq!(
            error("jetstream: maybe"),
            "Expected 'enabled' or 'disabled' for string value, got 'maybe'"
        );
    }

    #[test]
    fn keys_are_read_with_their_aliases() {
        let config = parse(
            "jetstream { store: /tmp/s, max_mem: \"1G\", max_file: 512M, sync: always, \
             domain: hub, strict: false, limits { max_ack_pending: 10, \
             default_max_consumers: 5, duplicate_window: \"1m\" } }",
        )
        .unwrap();
        assert_eq!(
            config.store_dir.as_deref(),
            Some(std::path::Path::new("/tmp/s"))
        );
        assert_eq!(config.max_memory_store, Some(1 << 30));
        // A bare size is the lexer's (powers of 1000), a string getStorageSize's.
        assert_eq!(config.max_file_store, Some(512_000_000));
        assert_eq!(config.sync, SyncPolicy::Always);
        assert_eq!(config.domain.as_deref(), Some("hub"));
        assert!(!config.strict);
        assert_eq!(config.limits.max_ack_pending, 10);
        assert_eq!(config.limits.default_max_consumers, Some(5));
        assert_eq!(
            config.limits.duplicate_window,
            Some(Duration::from_secs(60))
        );
        let config = parse("jetstream { sync_interval: \"10s\" }").unwrap();
        assert_eq!(config.sync, SyncPolicy::Every(Duration::from_secs(10)));
    }

    #[test]
    fn errors_have_nats_server_words() {
        assert_eq!(error("jetstream { bogus: 1 }"), "unknown field \"bogus\"");
        assert_eq!(
            error("jetstream { max_mem: \"1X\" }"),
            "max_mem_store sizes defined as strings must end in K, M, G, T"
        );
        assert_eq!(
            error("jetstream { max_mem: 1.5 }"),
            "max_mem_store must be int64 or string"
        );
        assert_eq!(
            error("jetstream { strict: 1 }"),
            "Expected 'true' or 'false' for bool value, got '%!s(int64=1)'"
        );
        assert_eq!(
            error("jetstream { limits { max_ack_pending: \"x\" } }"),
            "interface conversion: interface {} is string, not int64"
        );
        assert_eq!(
            error("jetstream { cipher: foo }"),
            "Unknown cipher type: \"foo\""
        );
        let mut config = JetStreamConfig::default();
        let document = crate::config::conf::parse_str(
            "jetstream { store_dir: /b }",
            std::path::Path::new("t"),
        )
        .unwrap();
        let errors = apply(&mut config, document.get("jetstream").unwrap(), true).unwrap_err();
        assert_eq!(errors[0].text, "Duplicate 'store_dir' configuration");
    }

    #[test]
    fn encryption_is_refused_by_name() {
        let errors = parse("jetstream { key: s3cr3t }").unwrap_err();
        assert!(errors[0].not_yet_supported);
        assert_eq!(
            errors[0].text,
            "not yet supported: JetStream encryption at rest (key)"
        );
    }
}
