//! Config reload (SIGHUP): which options may change on a running server, and the lines
//! nats-server logs about them.
//!
//! nats-server reloads logging, limits, timers, auth, accounts and a few file paths, and refuses
//! anything else with `config reload not supported for <Field>: old=<a>, new=<b>`,
//! keeping the old configuration. ringnats follows the same split for the options it
//! has; the listen address, shard count and io backend are fixed for a process's life.

use crate::auth::{AuthConfig, SYSTEM_ACCOUNT};
use crate::config::file::{go_duration_text, go_float_text};
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
/// descriptions of what changed, in nats-server's order (the order of its `Options`
/// fields), or the refusal for the first option that cannot change.
///
/// nats-server always reloads users and accounts (it cannot compare them), so every
/// plan holds `authorization users` and `accounts`.
pub fn plan(old: &Config, new: &Config) -> Result<Vec<String>, ReloadRefused> {
    refuse_fixed(old, new)?;
    let mut changes = value_changes(&options_before_auth(old), &options_before_auth(new));
    changes.extend(auth_changes(&old.auth, &new.auth));
    changes.extend(value_changes(
        &limits_after_auth(old),
        &limits_after_auth(new),
    ));
    if old.no_fast_producer_stall != new.no_fast_producer_stall {
        let not = if new.no_fast_producer_stall {
            "not "
        } else {
            ""
        };
        changes.push(format!("fast producers will {not}be stalled"));
    }
    changes.extend(value_changes(
        &paths_after_auth(old),
        &paths_after_auth(new),
    ));
    Ok(changes)
}

/// `<name> = <new value>` for each option whose printed value changed.
fn value_changes(old: &[(&str, String)], new: &[(&str, String)]) -> Vec<String> {
    old.iter()
        .zip(new)
        .filter(|((_, before), (_, after))| before != after)
        .map(|(_, (name, after))| format!("{name} = {after}"))
        .collect()
}

/// The reloadable options nats-server keeps before its auth options, printed as it
/// prints them (`max_subscriptions` and `max_sub_tokens` are ringnats' own: nats-server
/// refuses to reload them).
fn options_before_auth(config: &Config) -> Vec<(&'static str, String)> {
    vec![
        ("trace", config.log.trace.to_string()),
        ("debug", config.log.debug.to_string()),
        ("logtime", config.log.logtime.to_string()),
        ("logtime_utc", config.log.logtime_utc.to_string()),
        ("max_connections", config.connections_max.to_string()),
        ("max_subscriptions", config.subscriptions_max.to_string()),
        ("max_sub_tokens", config.subscription_tokens_max.to_string()),
    ]
}

/// The reloadable limits nats-server keeps after its auth options (`max_pending` is
/// ringnats' own); `no_fast_producer_stall` follows them.
fn limits_after_auth(config: &Config) -> Vec<(&'static str, String)> {
    vec![
        ("ping_interval", go_duration_text(config.ping_interval)),
        ("ping_max", config.pings_outstanding_max.to_string()),
        (
            "authorization timeout",
            go_float_text(config.auth_timeout.as_secs_f64()),
        ),
        (
            "max_control_line",
            config.control_line_bytes_max.to_string(),
        ),
        ("max_payload", config.payload_bytes_max.to_string()),
        ("max_pending", config.pending_bytes_max.to_string()),
    ]
}

/// The reloadable file paths and timers after `no_fast_producer_stall`.
fn paths_after_auth(config: &Config) -> Vec<(&'static str, String)> {
    let path = |path: &Option<std::path::PathBuf>| {
        path.as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    };
    vec![
        ("pid_file", path(&config.pid_file)),
        ("ports_file_dir", path(&config.ports_file_dir)),
        ("log_file", path(&config.log.file)),
        ("write_deadline", go_duration_text(config.write_deadline)),
    ]
}

/// The options a running server keeps, in nats-server's field order, ringnats' own
/// last.
fn refuse_fixed(old: &Config, new: &Config) -> Result<(), ReloadRefused> {
    fixed("ServerName", &old.server_name, &new.server_name)?;
    fixed("Host", &old.host, &new.host)?;
    fixed("Port", &old.port, &new.port)?;
    fixed(
        "NoHeaderSupport",
        &old.no_header_support,
        &new.no_header_support,
    )?;
    refuse_auth(&old.auth, &new.auth)?;
    fixed("HTTPHost", &old.http_host, &new.http_host)?;
    fixed("HTTPPort", &old.http_port, &new.http_port)?;
    fixed("HTTPBasePath", &old.http_base_path, &new.http_base_path)?;
    fixed("Threads", &old.threads, &new.threads)?;
    fixed("IoBackend", &old.io_backend, &new.io_backend)
}

fn fixed<T: PartialEq + std::fmt::Debug>(
    field: &str,
    old: &T,
    new: &T,
) -> Result<(), ReloadRefused> {
    if old == new {
        Ok(())
    } else {
        Err(refused(field, &format!("{old:?}"), &format!("{new:?}")))
    }
}

fn refused(field: &str, old: &str, new: &str) -> ReloadRefused {
    ReloadRefused(format!(
        "config reload not supported for {field}: old={old}, new={new}"
    ))
}

/// nats-server's reload rules for `no_auth_user`, `system_account` and
/// `no_system_account` (`diffOptions` in its `server/reload.go`).
fn refuse_auth(old: &AuthConfig, new: &AuthConfig) -> Result<(), ReloadRefused> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    if old.no_auth_user != new.no_auth_user {
        // Only dropping no_auth_user together with the user it named may reload.
        let dropped_with_its_user = match (&old.no_auth_user, &new.no_auth_user) {
            (Some(name), None) => !new.users.iter().any(|user| user.name == *name),
            _ => false,
        };
        if !dropped_with_its_user {
            let (old_text, new_text) = (text(&old.no_auth_user), text(&new.no_auth_user));
            return Err(refused("NoAuthUser", &old_text, &new_text));
        }
    }
    // A running server with an account named `$SYS` has taken it as the system
    // account; a reloaded file that still names none matches it.
    let old_system = old.system_account.clone().unwrap_or_else(|| {
        let named = old
            .accounts
            .iter()
            .any(|account| account.name == SYSTEM_ACCOUNT);
        if named {
            SYSTEM_ACCOUNT.to_string()
        } else {
            String::new()
        }
    });
    let new_system = text(&new.system_account);
    if old_system != new_system && (old_system != SYSTEM_ACCOUNT || !new_system.is_empty()) {
        return Err(refused("SystemAccount", &old_system, &new_system));
    }
    if old.no_system_account != new.no_system_account {
        return Err(refused(
            "NoSystemAccount",
            &old.no_system_account.to_string(),
            &new.no_system_account.to_string(),
        ));
    }
    Ok(())
}

/// nats-server's auth reload lines, in its `Options` order: nkey users when they
/// changed, users and accounts always, then the single user, password and token.
fn auth_changes(old: &AuthConfig, new: &AuthConfig) -> Vec<String> {
    let mut changes = Vec::new();
    if old.nkey_users != new.nkey_users {
        changes.push("authorization nkey users".to_string());
    }
    changes.push("authorization users".to_string());
    changes.push("accounts".to_string());
    let secrets = [
        (old.user != new.user, "authorization username"),
        (old.password != new.password, "authorization password"),
        (old.token != new.token, "authorization token"),
    ];
    for (changed, line) in secrets {
        if changed {
            changes.push(line.to_string());
        }
    }
    changes
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
                "authorization users",
                "accounts",
                "ping_interval = 1s",
                "max_payload = 2000",
            ]
        );
        new.port = 14556;
        assert_eq!(
            plan(&old, &new).unwrap_err().0,
            "config reload not supported for Port: old=4222, new=14556"
        );
    }

    fn user(name: &str) -> crate::auth::User {
        crate::auth::User {
            name: name.into(),
            password: String::new(),
            account: None,
            permissions: None,
            connection_types: Default::default(),
        }
    }

    fn refusal(old: &Config, new: &Config) -> String {
        plan(old, new).unwrap_err().0
    }

    // Each case below was checked against a reload of the nats-server 2.15.1 binary.
    #[test]
    fn the_fast_producer_stall_switch_reloads_in_nats_server_words() {
        let old = Config::default();
        let mut new = old.clone();
        new.no_fast_producer_stall = true;
        new.pending_bytes_max = 1 << 20;
        new.write_deadline = Duration::from_secs(3);
        assert_eq!(
            plan(&old, &new).unwrap(),
            vec![
                "authorization users",
                "accounts",
                "max_pending = 1048576",
                "fast producers will not be stalled",
                "write_deadline = 3s",
            ]
        );
        assert!(plan(&new, &old)
            .unwrap()
            .contains(&"fast producers will be stalled".to_string()));
    }

    #[test]
    fn auth_changes_print_as_nats_server_prints_them() {
        let mut old = Config::default();
        old.auth.token = Some("x".into());
        let mut new = old.clone();
        new.auth.token = Some("y".into());
        new.auth_timeout = Duration::from_secs(3);
        new.log.debug = true;
        new.log.trace = true;
        assert_eq!(
            plan(&old, &new).unwrap(),
            vec![
                "trace = true",
                "debug = true",
                "authorization users",
                "accounts",
                "authorization token",
                "authorization timeout = 3",
            ]
        );
        let mut new = Config::default();
        new.auth.user = Some("a".into());
        new.auth.password = Some("b".into());
        new.auth_timeout = Duration::from_millis(500);
        new.auth.nkey_users.push(crate::auth::NkeyUser {
            public_key: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4".into(),
            account: None,
            permissions: None,
            connection_types: Default::default(),
        });
        assert_eq!(
            plan(&Config::default(), &new).unwrap(),
            vec![
                "authorization nkey users",
                "authorization users",
                "accounts",
                "authorization username",
                "authorization password",
                "authorization timeout = 0.5",
            ]
        );
    }

    #[test]
    fn no_auth_user_and_system_account_changes_are_refused() {
        let mut old = Config::default();
        old.auth.users.push(user("a"));
        old.auth.no_auth_user = Some("a".into());
        let mut new = old.clone();
        new.auth.no_auth_user = None;
        assert_eq!(
            refusal(&old, &new),
            "config reload not supported for NoAuthUser: old=a, new="
        );
        new.auth.users = vec![user("b")];
        assert!(plan(&old, &new).is_ok(), "dropped with its user");
        assert_eq!(
            refusal(&new, &old),
            "config reload not supported for NoAuthUser: old=, new=a"
        );

        let mut with_system = Config::default();
        with_system.auth.system_account = Some("SYS".into());
        assert_eq!(
            refusal(&Config::default(), &with_system),
            "config reload not supported for SystemAccount: old=, new=SYS"
        );
        assert_eq!(
            refusal(&with_system, &Config::default()),
            "config reload not supported for SystemAccount: old=SYS, new="
        );
        let mut named = Config::default();
        named.auth.accounts.push(crate::auth::AccountConfig {
            name: SYSTEM_ACCOUNT.into(),
            ..Default::default()
        });
        assert!(plan(&named, &named.clone()).is_ok());

        let mut no_system = Config::default();
        no_system.auth.no_system_account = true;
        assert_eq!(
            refusal(&Config::default(), &no_system),
            "config reload not supported for NoSystemAccount: old=false, new=true"
        );
    }
}
