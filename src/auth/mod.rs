//! Authentication, authorization and accounts, as nats-server does them.
//!
//! This module holds the configuration's view of who may connect ([`AuthConfig`]: the
//! single token or user, the user and nkey lists, `no_auth_user`) and of the accounts
//! they land in ([`AccountConfig`]: exports, imports, limits), plus the permission sets
//! ([`Permissions`]) that decide which subjects a user may publish and subscribe to.
//!
//! The logic lives in submodules, each a port of nats-server 2.15.1's rules:
//!
//! - [`accounts`]: the [`AccountTable`] of account ids, limits, and the stream and service
//!   imports that route messages between accounts.
//! - [`authenticate`]: the [`Authenticator`] that turns a CONNECT's credentials into an
//!   [`Identity`] (account, user, permissions), as `processClientOrLeafAuthentication`.
//! - [`jwt`]: decoding and verifying NATS JWTs (operator, account and user claims) for
//!   JWT operator mode ([`OperatorMode`], MEMORY resolver only).
//! - [`permissions`]: [`CompiledPermissions`] for publish and subscribe checks, plus the
//!   per-connection [`ReplyGrants`] and [`PublishCache`].
//!
//! Architecture Invariant: everything here is plain data built once from the config
//! (and again on reload); shards read it through an `Arc` and never lock it.

use std::time::Duration;

pub mod accounts;
pub mod authenticate;
pub mod jwt;
pub(crate) mod pattern;
pub mod permissions;
mod transform;

pub use accounts::{AccountId, AccountTable, ImportError, ServiceTarget};
pub use authenticate::{new_nonce, Authenticator, Credentials, Decision, Identity, SlowCheck};
pub use permissions::{CompiledPermissions, PublishCache, ReplyGrants};

/// The name of nats-server's default account, where clients land without accounts.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The name of nats-server's default system account.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// nats-server's `DEFAULT_ALLOW_RESPONSE_MAX_MSGS`.
pub const DEFAULT_RESPONSE_MSGS_MAX: i64 = 1;
/// nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`: 2 minutes.
pub const DEFAULT_RESPONSE_EXPIRES: Duration = Duration::from_secs(120);

/// Who may connect, from `authorization {}`, `accounts {}`, `no_auth_user` and the
/// `--user/--pass/--auth` flags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthConfig {
    /// `authorization { token }` or `--auth`.
    pub token: Option<String>,
    /// `authorization { user }` or `--user`: the single user. nats-server ignores it
    /// when users or nkey users exist (a `--user` flag can still set it then).
    pub user: Option<String>,
    /// `authorization { password }` or `--pass`: the single user's password (plain
    /// or bcrypt).
    pub password: Option<String>,
    /// Users with passwords, from `authorization { users }` and every account's `users`.
    pub users: Vec<User>,
    /// Users that authenticate with an nkey signature.
    pub nkey_users: Vec<NkeyUser>,
    /// `authorization { default_permissions }`, as written. Already applied: every user
    /// of the `authorization` block without permissions of its own carries a copy (users
    /// of accounts get their account's defaults instead, as in nats-server).
    pub default_permissions: Option<Permissions>,
    /// `no_auth_user`: the user a client that sends no credentials becomes.
    pub no_auth_user: Option<String>,
    /// `accounts {}`, in config order (without `$G`, which always exists).
    pub accounts: Vec<AccountConfig>,
    /// `system_account`: the name of the system account (`$SYS` by default).
    pub system_account: Option<String>,
    /// `no_system_account`: run without a system account.
    pub no_system_account: bool,
    /// True when the file has an `authorization {}` block, even an empty one: it turns
    /// off nats-server's implicit no-auth user (see [`AuthConfig::implicit_no_auth_user`]).
    pub authorization_block: bool,
    /// JWT operator mode: `Some` when `operator` names trusted operators. Its
    /// preloaded accounts are also in `accounts`, named by their public keys.
    pub operator: Option<OperatorMode>,
}

/// JWT operator mode with the MEMORY resolver: whom to trust, and the preloaded
/// accounts' authentication data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OperatorMode {
    /// Operator public keys whose signature makes an account JWT trusted: each
    /// operator's own key (unless `strict_signing_key_usage`) and its `signing_keys`.
    pub trusted_keys: Vec<String>,
    /// Each operator JWT's `system_account` (empty when it names none).
    pub operator_system_accounts: Vec<String>,
    /// `resolver: MEMORY` was configured (nats-server refuses to start without one).
    pub memory_resolver: bool,
    /// `accounts {}` had entries (nats-server refuses to start with them).
    pub direct_accounts: bool,
    /// The trusted preloaded accounts, in file order.
    pub accounts: Vec<JwtAccount>,
}

/// A preloaded account JWT's authentication data (the rest is in its
/// [`AccountConfig`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JwtAccount {
    /// `sub`: the account's public key, also its name.
    pub public_key: String,
    /// `signing_keys` (plain ones; scoped keys are refused at load).
    pub signing_keys: Vec<String>,
    /// `revocations`: user public key (or `*`) to a Unix time; users issued at or
    /// before it are refused.
    pub revocations: Vec<(String, i64)>,
    /// `limits.disallow_bearer`.
    pub disallow_bearer: bool,
    /// `exp`: Unix seconds; 0 = never.
    pub expires: i64,
}

impl AuthConfig {
    /// True when a client must authenticate (INFO's `auth_required`).
    pub fn auth_required(&self) -> bool {
        self.operator.is_some()
            || self.token.is_some()
            || self.user.is_some()
            || !self.users.is_empty()
            || !self.nkey_users.is_empty()
    }

    /// True when INFO carries a `nonce` for nkey signatures.
    pub fn nonce_required(&self) -> bool {
        self.operator.is_some() || !self.nkey_users.is_empty()
    }

    /// nats-server's special case (`configureAccounts`): when `system_account` names
    /// the only configured account, there is no `authorization {}` block and no
    /// `no_auth_user`, a client without credentials is let into `$G` as a hidden user,
    /// so adding users for the system account does not lock everyone else out.
    pub fn implicit_no_auth_user(&self) -> bool {
        let system_account = self.system_account.is_some()
            || self
                .accounts
                .iter()
                .any(|account| account.name == SYSTEM_ACCOUNT);
        system_account
            && self.operator.is_none()
            && self.accounts.len() == 1
            && self.no_auth_user.is_none()
            && !self.authorization_block
    }
}

/// Which connection kinds a user may use (`allowed_connection_types`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionTypes {
    /// The types listed, upper case (`STANDARD`, `WEBSOCKET`, ...); empty = all.
    pub allowed: Vec<String>,
}

impl ConnectionTypes {
    /// True when a plain client connection is allowed.
    pub fn allows_standard(&self) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|kind| kind == "STANDARD")
    }
}

/// A user with a password.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// `user`/`username`.
    pub name: String,
    /// `password`/`pass`: plain text, or a bcrypt hash (`$2a$...`).
    pub password: String,
    /// The account the user belongs to; `None` = `$G`.
    pub account: Option<String>,
    /// `permissions`, or the `default_permissions` of its block or account (already
    /// applied); `None` = everything allowed.
    pub permissions: Option<Permissions>,
    /// `allowed_connection_types`.
    pub connection_types: ConnectionTypes,
}

/// A user identified by an nkey (a public key starting with `U`).
#[derive(Clone, Debug, PartialEq)]
pub struct NkeyUser {
    /// `nkey`: the user's public key.
    pub public_key: String,
    /// The account the user belongs to; `None` = `$G`.
    pub account: Option<String>,
    /// `permissions`, or the defaults of its block or account (already applied);
    /// `None` = everything allowed.
    pub permissions: Option<Permissions>,
    /// `allowed_connection_types`.
    pub connection_types: ConnectionTypes,
}

/// What a user may publish and subscribe to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Permissions {
    /// `publish`/`pub`; `None` = anything.
    pub publish: Option<SubjectPermission>,
    /// `subscribe`/`sub`; `None` = anything. Entries may be `"subject queue"`.
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`: temporary publish rights to reply subjects of received
    /// requests.
    pub response: Option<ResponsePermission>,
}

/// An allow and a deny list of subject patterns; deny wins.
///
/// An empty list counts as no list, as in nats-server, whose parser turns `publish: []`
/// into no list (2.15.1 then allows everything). The one way to an empty publish allow
/// list is `allow_responses` without a publish allow list (see
/// [`CompiledPermissions::new`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    /// `allow`; `None` or empty = everything not denied.
    pub allow: Option<Vec<String>>,
    /// `deny`; `None` = nothing denied.
    pub deny: Option<Vec<String>>,
}

/// `allow_responses: true | {max, expires}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsePermission {
    /// `max`: responses allowed per request (nats-server default 1); negative = any
    /// number, 0 = the default.
    pub msgs_max: i64,
    /// `expires`: how long the right lasts (nats-server default 2 minutes); zero =
    /// no expiry (nats-server's negative values; its 0 means the default, which the
    /// config parser applies).
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        Self {
            msgs_max: DEFAULT_RESPONSE_MSGS_MAX,
            expires: DEFAULT_RESPONSE_EXPIRES,
        }
    }
}

/// One entry of `accounts {}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountConfig {
    /// The account's name.
    pub name: String,
    /// `exports`.
    pub exports: Vec<Export>,
    /// `imports`.
    pub imports: Vec<Import>,
    /// `limits { max_connections, max_subscriptions, max_payload, max_leafnodes }`.
    pub limits: AccountLimits,
    /// `default_permissions` for this account's users (already applied to them).
    pub default_permissions: Option<Permissions>,
    /// `nkey`: the account's public key (`A...`), checked; `None` when not given.
    pub nkey: Option<String>,
}

/// Account-level limits; `None` = unlimited (nats-server's -1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountLimits {
    /// `max_connections`/`max_conn`.
    pub connections_max: Option<u32>,
    /// `max_subscriptions`/`max_subs`.
    pub subscriptions_max: Option<u32>,
    /// `max_payload`/`max_pay`.
    pub payload_max: Option<u32>,
    /// `max_leafnodes`/`max_leafs` (stored; no leaf nodes yet).
    pub leafnodes_max: Option<u32>,
}

/// Stream or service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// Messages flow from the exporter to importers' subscribers.
    Stream,
    /// Importers' requests reach the exporter's responders; replies flow back.
    Service,
}

/// `response_type` of a service export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseType {
    /// One reply per request (the default).
    #[default]
    Singleton,
    /// Any number of replies.
    Stream,
    /// Several replies forming one answer.
    Chunked,
}

/// One entry of an account's `exports`.
#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    /// Stream or service.
    pub kind: ExportKind,
    /// The exported subject (may hold wildcards).
    pub subject: String,
    /// `accounts`: who may import it; `None` = public.
    pub accounts: Option<Vec<String>>,
    /// `response_type` (services only).
    pub response_type: ResponseType,
    /// `account_token_position`: the 1-based token of an importer's subject that must
    /// be the importer's account name (that token of `subject` is a `*`).
    pub account_token_position: Option<u32>,
    /// `threshold`/`response_threshold` (services only): how long the exporter waits
    /// for a response; `None` = nats-server's default of 2 minutes.
    pub response_threshold: Option<Duration>,
}

/// One entry of an account's `imports`.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// Stream or service.
    pub kind: ExportKind,
    /// The exporting account.
    pub account: String,
    /// The subject as exported.
    pub subject: String,
    /// Stream imports: `prefix` prepended to the subject in the importing account.
    pub prefix: Option<String>,
    /// `to`: for a service, the local subject requests are published on (always set,
    /// the exported `subject` when not given); for a stream, the subject messages are
    /// delivered on instead of `subject` (`*` tokens map in order).
    pub to: Option<String>,
    /// `share` (services only): share request data with the exporter for latency
    /// tracking. Stored; ringnats has no latency tracking.
    pub share: bool,
}

/// True when two configurations give the same accounts the same ids, so a reload can
/// keep the shards' per-account subject tables.
pub fn same_accounts(old: &AuthConfig, new: &AuthConfig) -> bool {
    let (old, new) = (
        accounts::AccountTable::new(old),
        accounts::AccountTable::new(new),
    );
    old.len() == new.len()
        && (0..old.len() as u32)
            .map(accounts::AccountId)
            .all(|id| old.name(id) == new.name(id))
}
