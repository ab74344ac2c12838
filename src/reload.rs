//! Config reload (SIGHUP): which options may change on a running server, and the lines
//! nats-server logs about them.
//!
//! nats-server reloads logging, limits, timers, auth and a few file paths, and refuses
//! anything else with `config reload not supported for <Field>: old=<a>, new=<b>`,
//! keeping the old configuration. ringnats follows the same split for the options it
//! has; the listen address, shard count and io backend are fixed for a process's life.

use std::fmt::Display;

use crate::config::file::go_duration_text;
use crate::config::Config;

/// A refused reload: nats-server's text, ready for `Failed to reload server
/// configuration: {text}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadRefused(pub String);

impl std::fmt::Display for ReloadRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Compares the running configuration with a reloaded one. Returns the `Reloaded: ...`
/// descriptions of what changed, or the refusal for the first option that cannot change.
pub fn plan(old: &Config, new: &Config) -> Result<Vec<String>, ReloadRefused> {
    fn fixed<T: PartialEq + std::fmt::Debug>(
        field: &str,
        old: &T,
        new: &T,
    ) -> Result<(), ReloadRefused> {
        if old == new {
            Ok(())
        } else {
            Err(ReloadRefused(format!(
                "config reload not supported for {field}: old={old:?}, new={new:?}"
            )))
        }
    }
    fixed("Host", &old.host, &new.host)?;
    fixed("Port", &old.port, &new.port)?;
    fixed("ServerName", &old.server_name, &new.server_name)?;
    fixed("Threads", &old.threads, &new.threads)?;
    fixed("IoBackend", &old.io_backend, &new.io_backend)?;
    fixed(
        "NoHeaderSupport",
        &old.no_header_support,
        &new.no_header_support,
    )?;
    fixed("HTTPPort", &old.http_port, &new.http_port)?;
    fixed("HTTPHost", &old.http_host, &new.http_host)?;
    fixed("HTTPBasePath", &old.http_base_path, &new.http_base_path)?;

    let mut changes = Vec::new();
    let mut note = |key: &str, changed: bool, value: &dyn Display| {
        if changed {
            changes.push(format!("{key} = {value}"));
        }
    };
    note(
        "max_payload",
        old.payload_bytes_max != new.payload_bytes_max,
        &new.payload_bytes_max,
    );
    note(
        "max_control_line",
        old.control_line_bytes_max != new.control_line_bytes_max,
        &new.control_line_bytes_max,
    );
    note(
        "max_pending",
        old.pending_bytes_max != new.pending_bytes_max,
        &new.pending_bytes_max,
    );
    note(
        "max_connections",
        old.connections_max != new.connections_max,
        &new.connections_max,
    );
    note(
        "max_subscriptions",
        old.subscriptions_max != new.subscriptions_max,
        &new.subscriptions_max,
    );
    note(
        "max_sub_tokens",
        old.subscription_tokens_max != new.subscription_tokens_max,
        &new.subscription_tokens_max,
    );
    note(
        "ping_interval",
        old.ping_interval != new.ping_interval,
        &go_duration_text(new.ping_interval),
    );
    note(
        "ping_max",
        old.pings_outstanding_max != new.pings_outstanding_max,
        &new.pings_outstanding_max,
    );
    note(
        "write_deadline",
        old.write_deadline != new.write_deadline,
        &go_duration_text(new.write_deadline),
    );
    note(
        "auth_timeout",
        old.auth_timeout != new.auth_timeout,
        &go_duration_text(new.auth_timeout),
    );
    note("debug", old.log.debug != new.log.debug, &new.log.debug);
    note("trace", old.log.trace != new.log.trace, &new.log.trace);
    note(
        "logtime",
        old.log.logtime != new.log.logtime,
        &new.log.logtime,
    );
    note(
        "logtime_utc",
        old.log.logtime_utc != new.log.logtime_utc,
        &new.log.logtime_utc,
    );
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    note(
        "log_file",
        old.log.file != new.log.file,
        &path(&new.log.file),
    );
    note(
        "pid_file",
        old.pid_file != new.pid_file,
        &path(&new.pid_file),
    );
    note(
        "ports_file_dir",
        old.ports_file_dir != new.ports_file_dir,
        &path(&new.ports_file_dir),
    );
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limits_reload_and_the_port_does_not() {
        let old = Config::default();
        let mut new = old.clone();
        new.payload_bytes_max = 2000;
        new.ping_interval = Duration::from_secs(1);
        assert_eq!(
            plan(&old, &new).unwrap(),
            vec![
                "max_payload = 2000".to_string(),
                "ping_interval = 1s".to_string()
            ]
        );
        new.port = 14556;
        assert_eq!(
            plan(&old, &new).unwrap_err().0,
            "config reload not supported for Port: old=4222, new=14556"
        );
    }
}
