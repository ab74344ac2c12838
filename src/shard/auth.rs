//! Authentication on a shard: the greeting's nonce, CONNECT's credential check (fast
//! checks inline, bcrypt on an auth worker while the connection waits), the auth
//! timeout, account connection limits, and the permission answers with nats-server's
//! exact `-ERR` texts.
//!
//! Architecture Invariant: a credential check that costs more than a few microseconds
//! never runs on a shard loop. A connection in `ConnState::Authenticating` has its
//! input paused; the worker's answer comes back as `ControlMsg::AuthDone`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::client::Next;
use super::shared::{AuthJob, AuthOutcome};
use super::{timers, Shard};
use crate::auth::accounts::AccountId;
use crate::auth::authenticate::{Credentials, Decision, Identity};
use crate::auth::permissions::ReplyGrants;
use crate::conn::{ConnId, ConnState};
use crate::io::Backend;
use crate::proto::connect::{apply_connect, ConnectChecks, ConnectRejected};
use crate::proto::errors::{self, close_reason, go_quote};
use crate::proto::info::InfoKind;

/// Subjects and replies no client may publish (nats-server's `$GNR.`/`_GR_.` gateway
/// reply prefixes; `$NRG.` outside the system account).
const GATEWAY_REPLY_PREFIXES: [&[u8]; 2] = [b"$GNR.", b"_GR_."];
/// nats-server's NRG (Raft) subject prefix, reserved for the system account.
const NRG_PREFIX: &[u8] = b"$NRG.";
/// Reply prefixes reserved for service imports, JetStream acks and gateways
/// (nats-server's `isReservedReply`).
const RESERVED_REPLY_PREFIXES: [&[u8]; 3] = [b"_R_.", b"$JS.ACK.", b"_GR_."];

impl<B: Backend> Shard<B> {
    /// Writes the greeting INFO of a new connection (with its nonce when nkeys are in
    /// use) and starts its auth timer when clients must authenticate.
    pub(super) fn greet(&mut self, id: ConnId) {
        let nonce_required = self.auth.authenticator.nonce_required();
        let required = self.auth.authenticator.required();
        let auth_timeout = self.config.auth_timeout;
        let conn = &mut self.conns[id.index as usize];
        if nonce_required {
            conn.nonce = Some(crate::auth::authenticate::new_nonce());
        }
        if required {
            conn.auth_deadline = Some(Instant::now() + auth_timeout);
            self.next_housekeeping = self.next_housekeeping.min(Instant::now() + auth_timeout);
        }
        let client = conn.info_fields();
        let nonce = conn.nonce;
        self.info.encode(
            conn.out.pending_mut(),
            &client,
            InfoKind::Greeting {
                nonce: nonce.as_ref().map(|nonce| &nonce[..]),
            },
        );
    }

    /// True when this connection must send CONNECT before anything else.
    pub(super) fn awaiting_auth(&self, id: ConnId) -> bool {
        self.auth.authenticator.required()
            && self.conns[id.index as usize].state == ConnState::AwaitingConnect
    }

    /// An op other than CONNECT arrived before authentication: nats-server lets the
    /// `no_auth_user` in (if there is one), else refuses. Returns false when refused.
    pub(super) fn admit_before_connect(&mut self, id: ConnId) -> bool {
        if let Decision::Allowed(identity) = self.no_credentials_decision(id) {
            // nats-server's parser registers the no_auth_user and carries on with the op.
            return self.bind_identity(id, identity);
        }
        self.auth_violation(id);
        false
    }

    /// What authentication says of a client that sent no credentials: the
    /// `no_auth_user` (configured, or the one nats-server invents when the only account
    /// is the system account), or a refusal.
    fn no_credentials_decision(&self, id: ConnId) -> Decision {
        let conn = &self.conns[id.index as usize];
        let credentials = Credentials {
            user: None,
            pass: None,
            token: None,
            nkey: None,
            sig: None,
            jwt: None,
        };
        let nonce = conn.nonce.as_ref().map_or(&[][..], |nonce| &nonce[..]);
        self.auth.authenticator.authenticate(&credentials, nonce)
    }

    /// CONNECT: parse, authenticate, then the protocol checks, as nats-server orders
    /// them.
    pub(super) fn handle_connect(&mut self, id: ConnId, json: &[u8]) -> Next {
        let conn = &mut self.conns[id.index as usize];
        // nats-server clears the auth timer as soon as CONNECT arrives.
        conn.auth_deadline = None;
        let checks = match apply_connect(&mut conn.options, json) {
            Ok(checks) => checks,
            Err(rejected) => {
                self.refuse_connect(id, rejected);
                return Next::Stop;
            }
        };
        if conn.options.asks_for_account {
            // Clients may not pick their account in CONNECT (nats-server: auth violation).
            self.auth_violation(id);
            return Next::Stop;
        }
        let decision = self.authenticate_sent_credentials(id);
        match decision {
            Decision::Allowed(identity) => self.connect_authenticated(id, identity, checks),
            Decision::Denied => {
                self.auth_violation(id);
                Next::Stop
            }
            Decision::Slow(check) => {
                let conn = &mut self.conns[id.index as usize];
                conn.state = ConnState::Authenticating;
                conn.pending_connect = Some(checks);
                let job = AuthJob {
                    shard: self.id,
                    conn: id,
                    check,
                };
                if self.shared.auth_jobs.send(job).is_err() {
                    // No worker left (shutting down): refuse rather than hang.
                    self.auth_violation(id);
                    return Next::Stop;
                }
                Next::Stop
            }
        }
    }

    /// Checks the credentials the connection sent in CONNECT against the nonce it got.
    fn authenticate_sent_credentials(&self, id: ConnId) -> Decision {
        let conn = &self.conns[id.index as usize];
        let options = &conn.options;
        let credentials = Credentials {
            user: options.user.as_deref(),
            pass: options.pass.as_deref(),
            token: options.auth_token.as_deref(),
            nkey: options.nkey.as_deref(),
            sig: options.sig.as_deref(),
            jwt: options.jwt.as_deref(),
        };
        let nonce = conn.nonce.as_ref().map_or(&[][..], |nonce| &nonce[..]);
        self.auth.authenticator.authenticate(&credentials, nonce)
    }

    /// An auth worker's answer for a connection waiting in `Authenticating`.
    pub(super) fn auth_done(&mut self, id: ConnId, outcome: AuthOutcome) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if conn.state == ConnState::Ready {
            // A reload's second look at a bcrypt user.
            match outcome.0 {
                Some(identity) => self.reauthenticated(id, Arc::unwrap_or_clone(identity)),
                None => self.auth_violation(id),
            }
            return;
        }
        if conn.state != ConnState::Authenticating {
            return;
        }
        let checks = conn
            .pending_connect
            .take()
            .expect("an authenticating connection keeps its CONNECT checks");
        conn.state = ConnState::AwaitingConnect;
        let next = match outcome.0 {
            Some(identity) => {
                let identity = Arc::unwrap_or_clone(identity);
                self.connect_authenticated(id, identity, checks)
            }
            None => {
                self.auth_violation(id);
                Next::Stop
            }
        };
        if matches!(next, Next::Stop) && !self.conn_mut(id).is_some_and(|conn| conn.is_open()) {
            return;
        }
        // The ops that arrived after CONNECT waited in the read buffer.
        self.process_input(id);
        if !self.conn_mut(id).is_some_and(|conn| conn.awaiting_interest) {
            self.arm_recv(id);
        }
    }

    /// The client is who it says: bind it to its account, then finish CONNECT.
    fn connect_authenticated(
        &mut self,
        id: ConnId,
        identity: Identity,
        checks: ConnectChecks,
    ) -> Next {
        if !self.bind_identity(id, identity) {
            return Next::Stop;
        }
        let conn = &mut self.conns[id.index as usize];
        if let Err(rejected) = checks.finish(&mut conn.options) {
            self.refuse_connect(id, rejected);
            return Next::Stop;
        }
        conn.state = ConnState::Ready;
        let jitter = self.random_fraction();
        let conn = &mut self.conns[id.index as usize];
        conn.next_ping =
            Instant::now() + timers::first_ping_delay(self.config.ping_interval, jitter);
        let headers = conn.options.headers;
        conn.parser.set_headers_supported(headers);
        let verbose = conn.options.verbose;
        crate::debug!(
            "{} - cid:{} - Client connection established (name {:?}, lang {:?}, version {:?})",
            conn.peer,
            conn.cid,
            conn.options.name,
            conn.options.lang,
            conn.options.version
        );
        if verbose {
            self.reply(id, b"+OK\r\n");
        }
        self.announce_client(id, true);
        Next::Continue
    }

    /// Puts a connection in its account with its permissions. Returns false (and
    /// closes) when the account's connection limit is reached.
    fn bind_identity(&mut self, id: ConnId, identity: Identity) -> bool {
        let account = identity.account;
        let limits = self.auth.accounts.limits(account);
        let conn = &mut self.conns[id.index as usize];
        conn.auth_deadline = None;
        if conn.account_counted && conn.account != account {
            // A second CONNECT that changes account leaves the old one.
            self.shared.account_connections[conn.account.index()].fetch_sub(1, Ordering::AcqRel);
            conn.account_counted = false;
        }
        if !conn.account_counted {
            let counter = &self.shared.account_connections[account.index()];
            let open = counter.fetch_add(1, Ordering::AcqRel) + 1;
            if limits.connections_max.is_some_and(|max| open > max) {
                counter.fetch_sub(1, Ordering::AcqRel);
                crate::error!(
                    "{} - cid:{} - {}",
                    conn.peer,
                    conn.cid,
                    errors::MAXIMUM_ACCOUNT_CONNECTIONS_EXCEEDED
                );
                self.close_with_error(
                    id,
                    errors::MAXIMUM_ACCOUNT_CONNECTIONS_EXCEEDED,
                    close_reason::MAX_ACCOUNT_CONNECTIONS_EXCEEDED,
                );
                return false;
            }
            conn.account_counted = true;
        }
        conn.account = account;
        take_rights(conn, identity);
        if let Some(payload_max) = limits.payload_max {
            // An account's max_payload lowers the server's for its clients.
            let mut limits = self.parser_limits;
            limits.payload_bytes_max = limits.payload_bytes_max.min(payload_max as usize);
            conn.parser.set_limits(limits);
        }
        true
    }

    /// Refuses a CONNECT with its `-ERR` (or silently).
    fn refuse_connect(&mut self, id: ConnId, rejected: ConnectRejected) {
        match rejected.err_text {
            Some(text) => self.close_with_error(id, text, rejected.close_reason),
            None => self.close(id, rejected.close_reason, false),
        }
    }

    /// `-ERR 'Authorization Violation'` and close, logged as nats-server logs it.
    pub(super) fn auth_violation(&mut self, id: ConnId) {
        let conn = &self.conns[id.index as usize];
        let options = &conn.options;
        let user = if let Some(nkey) = options.nkey.as_deref().filter(|k| !k.is_empty()) {
            Some(format!("Nkey {}", go_quote(nkey.as_bytes())))
        } else if let Some(user) = options.user.as_deref().filter(|u| !u.is_empty()) {
            Some(format!("User {}", go_quote(user.as_bytes())))
        } else if options.auth_token.as_deref().is_some_and(|t| !t.is_empty()) {
            Some("Token \"[REDACTED]\"".to_string())
        } else {
            None
        };
        // A client refused on reload was somebody: nats-server names it first.
        let label = conn
            .user
            .as_deref()
            .map(|name| {
                let account = self.auth.accounts.name(conn.account);
                format!("\"{account}/{}\" - ", user_label(options, name))
            })
            .unwrap_or_default();
        match user {
            Some(user) => crate::error!(
                "{} - cid:{} - {label}authentication error - {user}",
                conn.peer,
                conn.cid
            ),
            None => crate::error!(
                "{} - cid:{} - {label}authentication error",
                conn.peer,
                conn.cid
            ),
        }
        self.close_with_error(
            id,
            errors::AUTHORIZATION_VIOLATION,
            close_reason::AUTHENTICATION_FAILURE,
        );
    }

    /// Closes a connection whose authentication deadline passed (see [`auth_due`]).
    pub(super) fn close_for_auth(&mut self, id: ConnId, lapse: AuthLapse) {
        let (text, reason) = match lapse {
            AuthLapse::Timeout => (
                errors::AUTHENTICATION_TIMEOUT,
                close_reason::AUTHENTICATION_TIMEOUT,
            ),
            AuthLapse::Expired => (
                errors::USER_AUTHENTICATION_EXPIRED,
                close_reason::AUTHENTICATION_EXPIRED,
            ),
        };
        let conn = &self.conns[id.index as usize];
        crate::debug!("{} - cid:{} - {text}", conn.peer, conn.cid);
        self.close_with_error(id, text, reason);
    }

    /// Leaves the account's connection count at close, and says so to the system
    /// account.
    pub(super) fn leave_account(&mut self, id: ConnId) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if std::mem::take(&mut conn.account_counted) {
            let account = conn.account;
            self.shared.account_connections[account.index()].fetch_sub(1, Ordering::AcqRel);
            self.announce_client(id, false);
        }
    }

    /// Checks a publish against the reserved prefixes and the user's permissions;
    /// answers a violation (connection kept open) and returns false.
    pub(super) fn publish_allowed(
        &mut self,
        id: ConnId,
        subject: &[u8],
        reply: Option<&[u8]>,
    ) -> bool {
        let conn = &mut self.conns[id.index as usize];
        if GATEWAY_REPLY_PREFIXES
            .iter()
            .any(|prefix| subject.starts_with(prefix))
        {
            self.publish_violation(id, subject);
            return false;
        }
        if let Some(permissions) = conn.permissions.as_ref().filter(|p| p.restricts_publish()) {
            if !permissions.can_publish(subject) {
                let granted = conn
                    .reply_grants
                    .as_mut()
                    .is_some_and(|grants| grants.try_use(subject, Instant::now()));
                if !granted {
                    self.publish_violation(id, subject);
                    return false;
                }
            }
        }
        let system = self.auth.accounts.system();
        let conn = &self.conns[id.index as usize];
        if subject.starts_with(NRG_PREFIX) && Some(conn.account) != system {
            self.publish_violation(id, subject);
            return false;
        }
        if let Some(reply) = reply {
            if RESERVED_REPLY_PREFIXES
                .iter()
                .any(|prefix| reply.starts_with(prefix))
            {
                let text = format!(
                    "Permissions Violation for Publish with Reply of {}",
                    go_quote(reply)
                );
                self.log_violation(
                    id,
                    &format!("Publish Violation - Reply {}", go_quote(reply)),
                );
                self.reply_err(id, &text);
                return false;
            }
        }
        true
    }

    fn publish_violation(&mut self, id: ConnId, subject: &[u8]) {
        let text = format!("Permissions Violation for Publish to {}", go_quote(subject));
        self.log_violation(
            id,
            &format!("Publish Violation - Subject {}", go_quote(subject)),
        );
        self.reply_err(id, &text);
    }

    /// Checks a SUB against the user's permissions; answers a violation and returns
    /// false. Marks the connection for delivery filtering when a wildcard subscription
    /// overlaps a deny entry.
    pub(super) fn subscribe_allowed(
        &mut self,
        id: ConnId,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) -> bool {
        let conn = &mut self.conns[id.index as usize];
        let Some(permissions) = conn.permissions.clone() else {
            return true;
        };
        if permissions.can_subscribe(subject, queue) {
            if permissions.subscription_needs_delivery_filter_in_queue(subject, queue) {
                conn.delivery_filter = true;
            }
            return true;
        }
        let sid_text = String::from_utf8_lossy(sid);
        let (text, log) = match queue {
            Some(queue) => (
                format!(
                    "Permissions Violation for Subscription to {} using queue {}",
                    go_quote(subject),
                    go_quote(queue)
                ),
                format!(
                    "Subscription Violation - Subject {}, Queue: {}, SID {sid_text}",
                    go_quote(subject),
                    go_quote(queue)
                ),
            ),
            None => (
                format!(
                    "Permissions Violation for Subscription to {}",
                    go_quote(subject)
                ),
                format!(
                    "Subscription Violation - Subject {}, SID {sid_text}",
                    go_quote(subject)
                ),
            ),
        };
        self.log_violation(id, &log);
        self.reply_err(id, &text);
        false
    }

    /// Logs a permission violation as nats-server does: `"<account>/<user>" - <text>`.
    fn log_violation(&self, id: ConnId, text: &str) {
        let conn = &self.conns[id.index as usize];
        let account = self.auth.accounts.name(conn.account);
        match &conn.user {
            Some(user) => crate::error!(
                "{} - cid:{} - \"{account}/{}\" - {text}",
                conn.peer,
                conn.cid,
                user_label(&conn.options, user)
            ),
            None => crate::error!("{} - cid:{} - {text}", conn.peer, conn.cid),
        }
    }

    /// The name of an account, for INFO and monitoring.
    pub(super) fn account_name(&self, account: AccountId) -> &str {
        self.auth.accounts.name(account)
    }
}

/// Gives a connection its user, permissions, response grants and expiry from an
/// identity, and forgets its cached route (permissions and accounts change what it
/// reaches).
fn take_rights(conn: &mut crate::conn::Conn, identity: Identity) {
    conn.auth_expires = identity.expires_at.map(instant_of_unix_seconds);
    conn.user = identity.user.map(String::into_boxed_str);
    conn.reply_grants = identity
        .permissions
        .as_ref()
        .and_then(|permissions| permissions.response())
        .map(|permission| Box::new(ReplyGrants::new(permission)));
    conn.permissions = identity.permissions;
    conn.last_route = None;
}

/// Why a connection's authentication ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AuthLapse {
    /// No (successful) CONNECT within `auth_timeout`.
    Timeout,
    /// Its credentials (a user JWT) expired while connected.
    Expired,
}

/// Where an open connection stands with its authentication deadlines at `now`: lapsed,
/// or the next instant one falls due. Checked in the housekeeping sweep.
pub(super) fn auth_due(
    conn: &crate::conn::Conn,
    now: Instant,
) -> Result<Option<Instant>, AuthLapse> {
    let timeout = conn
        .auth_deadline
        .filter(|_| conn.state == ConnState::AwaitingConnect);
    match (timeout, conn.auth_expires) {
        (Some(deadline), _) if now >= deadline => Err(AuthLapse::Timeout),
        (_, Some(expires)) if now >= expires => Err(AuthLapse::Expired),
        (timeout, expires) => Ok(timeout.into_iter().chain(expires).min()),
    }
}

/// The monotonic instant of a Unix time in seconds (now when it already passed).
fn instant_of_unix_seconds(seconds: i64) -> Instant {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64());
    let ahead = (seconds as f64 - now).max(0.0);
    Instant::now() + std::time::Duration::from_secs_f64(ahead.min(1e9))
}

/// nats-server's `getAuthUserLabel`: `user:<name>` or `nkey:<key>`.
fn user_label(options: &crate::proto::connect::ClientOptions, user: &str) -> String {
    if options.nkey.as_deref().is_some_and(|key| !key.is_empty()) {
        format!("nkey:{user}")
    } else {
        format!("user:{user}")
    }
}

impl<B: Backend> Shard<B> {
    /// A reload changed who may connect: rebuild the checks, then check every
    /// connected client again, as nats-server's `reloadAuthorization` does. Clients
    /// refused now get `Authorization Violation`; clients whose user moved to another
    /// account are closed; the others take their new permissions.
    pub(super) fn reload_auth(&mut self, config: &crate::config::Config) {
        self.auth = super::account::AuthState::new(&config.auth);
        let ready: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, conn)| conn.state == ConnState::Ready)
            .map(|(_, conn)| conn.id)
            .collect();
        for id in ready {
            match self.authenticate_sent_credentials(id) {
                Decision::Allowed(identity) => self.reauthenticated(id, identity),
                Decision::Denied => self.auth_violation(id),
                Decision::Slow(check) => {
                    let job = AuthJob {
                        shard: self.id,
                        conn: id,
                        check,
                    };
                    // The answer comes back as AuthDone for a Ready connection.
                    let _ = self.shared.auth_jobs.send(job);
                }
            }
        }
    }

    /// Applies a reload's verdict to a connected client.
    pub(super) fn reauthenticated(&mut self, id: ConnId, identity: Identity) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if conn.account != identity.account {
            self.close(id, close_reason::CLIENT_CLOSED, true);
            return;
        }
        take_rights(conn, identity);
        conn.delivery_filter = false;
        let Some(permissions) = conn.permissions.clone() else {
            return;
        };
        let subscriptions: Vec<_> = conn.subs.values().cloned().collect();
        for subscription in subscriptions {
            let queue = subscription.queue.as_deref();
            if permissions.can_subscribe(&subscription.subject, queue) {
                if permissions
                    .subscription_needs_delivery_filter_in_queue(&subscription.subject, queue)
                {
                    self.conns[id.index as usize].delivery_filter = true;
                }
                continue;
            }
            // nats-server drops subscriptions the new permissions refuse, and says so.
            let (subject, sid) = (go_quote(&subscription.subject), go_quote(&subscription.sid));
            let user = self.conns[id.index as usize]
                .user
                .as_deref()
                .map(|user| format!("User {}", go_quote(user.as_bytes())))
                .unwrap_or_default();
            let text = match queue {
                Some(queue) => {
                    let queue = go_quote(queue);
                    crate::info!(
                        "Removed sub {subject} using queue {queue} (sid {sid}) for {user} - not authorized"
                    );
                    format!("Permissions Violation for Subscription to {subject} using queue {queue} (sid {sid})")
                }
                None => {
                    crate::info!("Removed sub {subject} (sid {sid}) for {user} - not authorized");
                    format!("Permissions Violation for Subscription to {subject} (sid {sid})")
                }
            };
            self.remove_subscription(&subscription);
            self.reply_err(id, &text);
        }
    }
}
