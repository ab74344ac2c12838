//! CONNECT: the options a client announces, with nats-server's defaults for the time
//! before CONNECT arrives (verbose and pedantic on, echo on), and the checks nats-server
//! applies when it processes the JSON.

use serde::Deserialize;

use super::errors;

/// The client options ringnats acts on. Field defaults are nats-server's values before
/// CONNECT (client.go: `verbose: true, pedantic: true, echo: true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// `+OK` after CONNECT, PUB, HPUB, SUB and UNSUB.
    pub verbose: bool,
    /// Extra checks: PUB subjects must be valid literals.
    pub pedantic: bool,
    /// Deliver the client's own publishes to its own subscriptions.
    pub echo: bool,
    /// The client understands HMSG.
    pub headers: bool,
    /// The client wants a 503 status when a request reaches no one.
    pub no_responders: bool,
    /// Protocol level: 0 (original) or 1 (dynamic INFO).
    pub protocol: u8,
    /// Optional client name, for monitoring.
    pub name: String,
    /// Client library language, for monitoring.
    pub lang: String,
    /// Client library version, for monitoring.
    pub version: String,
    /// `user`: the user name to authenticate as.
    pub user: Option<String>,
    /// `pass`: the user's password.
    pub pass: Option<String>,
    /// `auth_token`: the server's token.
    pub auth_token: Option<String>,
    /// `nkey`: the user's public nkey.
    pub nkey: Option<String>,
    /// `sig`: the INFO nonce signed with the nkey's seed (base64).
    pub sig: Option<String>,
    /// `jwt`: the user JWT, for JWT operator mode.
    pub jwt: Option<String>,
    /// `account` or `new_account` was sent: nats-server refuses both for clients.
    pub asks_for_account: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
            asks_for_account: false,
        }
    }
}

/// The CONNECT JSON as sent; absent keys keep the defaults as nats-server's
/// `json.Unmarshal` into a pre-filled struct does.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ConnectJson {
    verbose: Option<bool>,
    pedantic: Option<bool>,
    echo: Option<bool>,
    headers: Option<bool>,
    no_responders: Option<bool>,
    protocol: Option<i64>,
    name: Option<String>,
    lang: Option<String>,
    version: Option<String>,
    user: Option<String>,
    pass: Option<String>,
    auth_token: Option<String>,
    #[allow(dead_code)]
    tls_required: Option<bool>,
    nkey: Option<String>,
    sig: Option<String>,
    account: Option<String>,
    new_account: Option<bool>,
    jwt: Option<String>,
}

/// Why a CONNECT was refused: the `-ERR` text (if any) and the close reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectRejected {
    /// Sent as `-ERR '<text>'` before closing; `None` closes silently.
    pub err_text: Option<&'static str>,
    /// The `/connz` close reason.
    pub close_reason: &'static str,
}

/// The checks nats-server's processConnect makes after authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a CONNECT is only accepted once its checks pass"]
pub struct ConnectChecks {
    /// The `protocol` as sent.
    protocol: i64,
}

impl ConnectChecks {
    /// Checks the protocol level and `no_responders` (which needs headers), and stores
    /// the protocol level.
    pub fn finish(self, options: &mut ClientOptions) -> Result<(), ConnectRejected> {
        if !(0..=1).contains(&self.protocol) {
            return Err(ConnectRejected {
                err_text: Some(errors::INVALID_CLIENT_PROTOCOL),
                close_reason: errors::close_reason::BAD_CLIENT_PROTOCOL_VERSION,
            });
        }
        options.protocol = self.protocol as u8;
        if options.no_responders && !options.headers {
            return Err(ConnectRejected {
                err_text: Some(errors::NO_RESPONDERS_REQUIRES_HEADERS),
                close_reason: errors::close_reason::NO_RESPONDERS_REQUIRES_HEADERS,
            });
        }
        Ok(())
    }
}

/// Applies a CONNECT's JSON to the current options, as nats-server's processConnect
/// does; authentication and then [`ConnectChecks::finish`] come next, in that order.
pub fn apply_connect(
    options: &mut ClientOptions,
    json: &[u8],
) -> Result<ConnectChecks, ConnectRejected> {
    let silent_close = ConnectRejected {
        // nats-server 2.15.1 closes silently on JSON it cannot decode (observed).
        err_text: None,
        close_reason: errors::close_reason::PROTOCOL_VIOLATION,
    };
    // serde would accept a JSON array for a struct; Go's decoder does not.
    if json.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[') {
        return Err(silent_close);
    }
    let parsed: ConnectJson = serde_json::from_slice(json).map_err(|_| ConnectRejected {
        // nats-server 2.15.1 closes silently on JSON it cannot decode (observed).
        err_text: None,
        close_reason: errors::close_reason::PROTOCOL_VIOLATION,
    })?;
    let set = |field: &mut bool, value: Option<bool>| {
        if let Some(value) = value {
            *field = value;
        }
    };
    set(&mut options.verbose, parsed.verbose);
    set(&mut options.pedantic, parsed.pedantic);
    set(&mut options.echo, parsed.echo);
    set(&mut options.headers, parsed.headers);
    set(&mut options.no_responders, parsed.no_responders);
    let protocol = parsed.protocol.unwrap_or(0);
    options.name = parsed.name.unwrap_or_default();
    options.lang = parsed.lang.unwrap_or_default();
    options.version = parsed.version.unwrap_or_default();
    options.user = parsed.user;
    options.pass = parsed.pass;
    options.auth_token = parsed.auth_token;
    options.nkey = parsed.nkey;
    options.sig = parsed.sig;
    options.jwt = parsed.jwt;
    options.asks_for_account = parsed.account.is_some_and(|account| !account.is_empty())
        || parsed.new_account == Some(true);
    Ok(ConnectChecks { protocol })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_connect_keeps_verbose_and_pedantic_on() {
        let mut options = ClientOptions::default();
        let checks = apply_connect(&mut options, b"{}").unwrap();
        checks.finish(&mut options).unwrap();
        assert!(options.verbose && options.pedantic && options.echo);
    }

    #[test]
    fn bad_protocol_and_no_responders_without_headers_are_refused() {
        let mut options = ClientOptions::default();
        let checks = apply_connect(&mut options, br#"{"protocol":2}"#).unwrap();
        let rejected = checks.finish(&mut options).unwrap_err();
        assert_eq!(rejected.err_text, Some("invalid client protocol"));
        let checks =
            apply_connect(&mut options, br#"{"no_responders":true,"protocol":1}"#).unwrap();
        let rejected = checks.finish(&mut options).unwrap_err();
        assert_eq!(
            rejected.err_text,
            Some("no responders requires headers support")
        );
        let rejected = apply_connect(&mut options, b"{bad").unwrap_err();
        assert_eq!(rejected.err_text, None);
    }
}
