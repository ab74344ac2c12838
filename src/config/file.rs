//! The configuration file (`-c FILE`): maps the parsed NATS conf tree onto [`Config`] with
//! nats-server 2.15.1's key names, aliases, types and error texts.
//!
//! A drop-in replacement has to read the files people already have, and reject the same
//! broken ones with the same words, so this follows nats-server's `processConfigFileLine`:
//! top-level keys are matched case-insensitively, a value of the wrong type fails with Go's
//! `interface conversion` text, problems are collected (warnings first, then errors) and
//! reported together as `file:line:column: reason`, with nats-server's column convention.
//! Keys nats-server knows but ringnats cannot honour yet fail with `not yet supported`
//! unless their value turns the feature off; nothing that would enable a feature is
//! silently ignored. What each key means is decided in [`super::keys`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::conf::{self, ConfError, Entry, Item, Position, Value};
use super::{digest, keys, Config};

/// A configuration file mapped onto [`Config`] (defaults for keys it does not set).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedConfig {
    /// The defaults with the file's values laid over them; `config_file` is the path.
    pub config: Config,
    /// nats-server's warnings, each `file:line:column: invalid use of field ...`. The
    /// server prints them and starts; `-t` treats them as failures, as nats-server does.
    pub warnings: Vec<String>,
    /// `sha256:<hex>`, nats-server's digest of the parsed file (printed by `-t`).
    pub digest: String,
}

/// A configuration file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// The file cannot be read or does not parse; `Display` is nats-server's text.
    Syntax(ConfError),
    /// The file parses but some keys are wrong or ask for features ringnats lacks. Each
    /// line is `file:line:column: reason`.
    Invalid {
        /// Warnings nats-server reports alongside the errors (printed first).
        warnings: Vec<String>,
        /// At least one error, in file order.
        errors: Vec<String>,
    },
}

/// nats-server's rendering: the syntax message, or every warning then every error, each
/// followed by a newline (so `ringnats: {error}` plus a newline ends in a blank line, as
/// nats-server's output does).
impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(error) => write!(f, "{error}"),
            Self::Invalid { warnings, errors } => {
                for line in warnings.iter().chain(errors) {
                    writeln!(f, "{line}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for FileError {}

impl FileError {
    /// True when at least one error is a feature ringnats has not built yet.
    pub fn is_not_yet_supported(&self) -> bool {
        match self {
            Self::Syntax(_) => false,
            Self::Invalid { errors, .. } => errors
                .iter()
                .any(|line| line.contains(keys::NOT_YET_SUPPORTED)),
        }
    }
}

/// Reads `path` and maps it onto the defaults. Flags are laid over the result afterwards
/// (`Flags::apply_to`), and `Config::validate` runs last; neither happens here, because
/// `nats-server -t` checks only what this function checks.
pub fn load(path: &Path) -> Result<LoadedConfig, FileError> {
    let map = conf::parse_file(path).map_err(FileError::Syntax)?;
    let mut loader = Loader::new(path);
    if map.is_empty() {
        loader.warnings.push(format!(
            "{}: config has no values or is empty",
            path.display()
        ));
    }
    // nats-server reads the system account before any other key.
    super::auth::configure_system_account(&mut loader, &map);
    for entry in map.entries() {
        loader.apply(entry);
    }
    super::jwt::finish(&mut loader);
    if !loader.errors.is_empty() {
        return Err(FileError::Invalid {
            warnings: loader.warnings,
            errors: loader.errors,
        });
    }
    Ok(LoadedConfig {
        config: loader.config,
        warnings: loader.warnings,
        digest: digest::config_digest(&map),
    })
}

/// What one key did wrong; the loader adds the key's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyError {
    /// A plain reason, printed as `file:line:column: reason`.
    Reason(String),
    /// A key nats-server does not know (`unknown field "x"`).
    Unknown,
}

impl From<String> for KeyError {
    fn from(reason: String) -> Self {
        Self::Reason(reason)
    }
}

/// The state of one load: the config being built and the problems found so far.
pub(super) struct Loader {
    /// Starts as the defaults; keys overwrite fields as they are read.
    pub(super) config: Config,
    /// nats-server warnings, already positioned.
    pub(super) warnings: Vec<String>,
    /// Errors, already positioned, in file order.
    errors: Vec<String>,
    /// File texts read back to turn character columns into nats-server's byte columns.
    texts: HashMap<PathBuf, Vec<u8>>,
    /// The JWT operator mode keys, assembled once every key is read.
    pub(super) jwt: super::jwt::Pending,
}

impl Loader {
    fn new(path: &Path) -> Self {
        Self {
            config: Config {
                config_file: Some(path.to_path_buf()),
                ..Config::default()
            },
            warnings: Vec::new(),
            errors: Vec::new(),
            texts: HashMap::new(),
            jwt: super::jwt::Pending::default(),
        }
    }

    fn apply(&mut self, entry: &Entry) {
        let outcome = keys::apply_key(self, &entry.key, &entry.key_position, &entry.item);
        match outcome {
            Ok(()) => {}
            // nats-server skips keys a `$reference` read: they are variables.
            Err(KeyError::Unknown) if entry.item.used_as_variable => {}
            Err(KeyError::Unknown) => {
                let at = self.go_position(&entry.key_position);
                self.errors
                    .push(format!("{at}: unknown field {}", go_quote(&entry.key)));
            }
            Err(KeyError::Reason(reason)) => {
                let at = self.go_position(&entry.key_position);
                self.errors.push(format!("{at}: {reason}"));
            }
        }
    }

    /// Records an error found inside a key's value: at `position` as `file:line:column:
    /// reason`, or bare where nats-server has no position for it (a value it had
    /// already unwrapped).
    pub(super) fn error_at(&mut self, position: Option<&Position>, reason: String) {
        match position {
            Some(position) => {
                let at = self.go_position(position);
                self.errors.push(format!("{at}: {reason}"));
            }
            None => self.errors.push(reason),
        }
    }

    /// True once any error has been recorded (nats-server checks imports against
    /// exports only when nothing failed before).
    pub(super) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Records nats-server's `invalid use of field` warning for `field` at `position`.
    pub(super) fn warn(&mut self, position: &Position, field: &str, reason: &str) {
        let at = self.go_position(position);
        self.warnings.push(format!(
            "{at}: invalid use of field {}: {reason}",
            go_quote(field)
        ));
    }

    /// `file:line:column` as nats-server prints it: its column counts bytes, from 0 on
    /// the first line of a file and from 1 on later lines (its lexer counts the newline).
    fn go_position(&mut self, position: &Position) -> String {
        let file: &Path = &position.file;
        let text = self
            .texts
            .entry(file.to_path_buf())
            .or_insert_with(|| std::fs::read(file).unwrap_or_default());
        let line_text = text
            .split(|&byte| byte == b'\n')
            .nth(position.line.saturating_sub(1) as usize)
            .unwrap_or_default();
        let characters_before = position.column.saturating_sub(1) as usize;
        let bytes_before = String::from_utf8_lossy(line_text)
            .chars()
            .take(characters_before)
            .map(char::len_utf8)
            .sum::<usize>();
        let column = if position.line <= 1 {
            bytes_before
        } else {
            bytes_before + 1
        };
        format!("{}:{}:{column}", file.display(), position.line)
    }
}

// ---- typed reads, with Go's type-assertion failure text ----------------------------------

/// Go's panic text for a failed `v.(T)` on a config value.
pub(super) fn type_error(value: &Value, wanted: &str) -> KeyError {
    KeyError::Reason(type_error_text(value, wanted))
}

/// The text of [`type_error`].
pub(super) fn type_error_text(value: &Value, wanted: &str) -> String {
    format!(
        "interface conversion: interface {{}} is {}, not {wanted}",
        value.go_type_name()
    )
}

/// The value as Go's `int64`.
pub(super) fn integer(item: &Item) -> Result<i64, KeyError> {
    match item.value {
        Value::Integer(value) => Ok(value),
        ref other => Err(type_error(other, "int64")),
    }
}

/// The value as Go's `bool`.
pub(super) fn boolean(item: &Item) -> Result<bool, KeyError> {
    match item.value {
        Value::Bool(value) => Ok(value),
        ref other => Err(type_error(other, "bool")),
    }
}

/// The value as Go's `string`.
pub(super) fn string(item: &Item) -> Result<&str, KeyError> {
    match &item.value {
        Value::String(value) => Ok(value),
        other => Err(type_error(other, "string")),
    }
}

/// nats-server's `parseDuration`: a Go duration string, or (deprecated) a bare integer
/// of seconds with a warning. Other types fail after the warning, as in nats-server.
pub(super) fn duration(
    loader: &mut Loader,
    field: &str,
    position: &Position,
    item: &Item,
) -> Result<Duration, KeyError> {
    if let Value::String(text) = &item.value {
        return conf::parse_duration(text)
            .map_err(|error| KeyError::Reason(format!("error parsing {field}: {error}")));
    }
    loader.warn(
        position,
        field,
        &format!("{field} should be converted to a duration"),
    );
    let seconds = integer(item)?;
    u64::try_from(seconds)
        .map(Duration::from_secs)
        .map_err(|_| KeyError::Reason(format!("{field} can not be negative")))
}

/// nats-server's `parseListen`: a port, or `host:port` split as Go's `net.SplitHostPort`
/// and `strconv.Atoi` split it. The host is `None` for a bare port.
pub(super) fn listen(value: &Value) -> Result<(Option<String>, i64), KeyError> {
    match value {
        Value::Integer(port) => Ok((None, *port)),
        Value::String(text) => {
            let (host, port) = split_host_port(text).ok_or_else(|| {
                KeyError::Reason(format!("could not parse address string {}", go_quote(text)))
            })?;
            let port = go_atoi(port).ok_or_else(|| {
                KeyError::Reason(format!("could not parse port {}", go_quote(port)))
            })?;
            Ok((Some(host.to_string()), port))
        }
        other => Err(KeyError::Reason(format!(
            "expected port or host:port, got {}",
            other.go_type_name()
        ))),
    }
}

/// Go's `net.SplitHostPort`: `host:port` or `[ipv6]:port`; `None` where Go errors.
fn split_host_port(text: &str) -> Option<(&str, &str)> {
    let last_colon = text.rfind(':')?;
    // Go then refuses any `[` after `search_open_from` and any `]` after `search_close_from`.
    let (host, search_open_from, search_close_from) = if text.starts_with('[') {
        let end = text.find(']')?;
        // The port's colon must follow the closing bracket directly.
        if end + 1 != last_colon {
            return None;
        }
        (&text[1..end], 1, end + 1)
    } else {
        let host = &text[..last_colon];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if text[search_open_from..].contains('[') || text[search_close_from..].contains(']') {
        return None;
    }
    Some((host, &text[last_colon + 1..]))
}

/// Go's `strconv.Atoi`: optional sign and decimal digits, within `int64`.
pub fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Go's `%q` for the plain keys and values that show up in config messages.
pub(super) fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

/// Go's `time.Duration.String()` (`1m30s`, `1.5s`, `500ms`, `0s`), which nats-server uses
/// in its messages.
pub fn go_duration_text(duration: Duration) -> String {
    let nanoseconds = duration.as_nanos();
    if nanoseconds == 0 {
        return "0s".into();
    }
    if nanoseconds < 1_000_000_000 {
        let (scale, unit) = match nanoseconds {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "\u{b5}s"),
            _ => (1_000_000, "ms"),
        };
        return format!("{}{unit}", decimal(nanoseconds, scale));
    }
    let seconds = decimal(nanoseconds % 60_000_000_000, 1_000_000_000);
    let minutes_total = nanoseconds / 60_000_000_000;
    let (hours, minutes) = (minutes_total / 60, minutes_total % 60);
    match (hours, minutes_total) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// Go's `%v` of a config value, as nats-server prints it in messages. Scalars match Go
/// exactly; Go prints the elements of arrays and maps as pointers, which no one can
/// match, so those print their values instead.
pub(super) fn go_value_text(value: &Value) -> String {
    match value {
        Value::Bool(value) => value.to_string(),
        Value::Integer(value) => value.to_string(),
        Value::Float(value) => go_float_text(*value),
        Value::String(text) => text.clone(),
        Value::DateTime(text) => {
            format!("{} +0000 UTC", text.replace('T', " ").trim_end_matches('Z'))
        }
        Value::Array(items) => {
            let texts: Vec<String> = items
                .iter()
                .map(|item| go_value_text(&item.value))
                .collect();
            format!("[{}]", texts.join(" "))
        }
        Value::Map(map) => {
            let mut texts: Vec<String> = map
                .iter()
                .map(|(key, item)| format!("{key}:{}", go_value_text(&item.value)))
                .collect();
            texts.sort();
            format!("map[{}]", texts.join(" "))
        }
    }
}

/// Go's `%v` of a `float64`: the shortest text that reads back the same, with an
/// exponent (`1e-05`, `1e+21`) below 1e-4 and from 1e21 on.
pub fn go_float_text(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-4..1e21).contains(&magnitude) || !value.is_finite() {
        return match value {
            f64::INFINITY => "+Inf".into(),
            f64::NEG_INFINITY => "-Inf".into(),
            _ => format!("{value}"),
        };
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// `value / scale` with the fraction's trailing zeros dropped (`1500, 1000` -> `1.5`).
fn decimal(value: u128, scale: u128) -> String {
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let fraction = format!("{fraction:0width$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (7, "7ns"),
            (1_500, "1.5\u{b5}s"),
            (500_000_000, "500ms"),
            (1_500_000_000, "1.5s"),
            (10_000_000_000, "10s"),
            (60_000_000_000, "1m0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_661_000_000_001, "1h1m1.000000001s"),
        ];
        for (nanoseconds, text) in cases {
            assert_eq!(go_duration_text(Duration::from_nanos(*nanoseconds)), *text);
        }
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (2.0, "2"),
            (0.5, "0.5"),
            (120.25, "120.25"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (-3.5e-7, "-3.5e-07"),
        ];
        for (value, text) in cases {
            assert_eq!(go_float_text(*value), *text);
        }
    }

    #[test]
    fn host_port_splits_as_go_does() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("127.0.0.1:4222", Some(("127.0.0.1", "4222"))),
            (":4222", Some(("", "4222"))),
            ("[::1]:4222", Some(("::1", "4222"))),
            ("host:", Some(("host", ""))),
            ("127.0.0.1", None),
            ("::1:4222", None),
            ("[::1]", None),
            ("[::1]x:4222", None),
            ("a[b:1", None),
            ("a]b:1", None),
            ("[a]]:1", None),
        ];
        for (text, expected) in cases {
            assert_eq!(split_host_port(text), *expected, "{text}");
        }
    }

    #[test]
    fn atoi_is_strict_decimal() {
        assert_eq!(go_atoi("4222"), Some(4222));
        assert_eq!(go_atoi("+1"), Some(1));
        assert_eq!(go_atoi("-1"), Some(-1));
        for bad in ["", "-", "0x10", "1_000", " 1", "99999999999999999999"] {
            assert_eq!(go_atoi(bad), None, "{bad}");
        }
    }
}
