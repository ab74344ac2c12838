//! Client authentication: from a CONNECT's credentials to an [`Identity`], as
//! nats-server 2.15.1's `processClientOrLeafAuthentication` decides for a plain
//! (STANDARD) client connection.
//!
//! The order is nats-server's: with nkey users configured, a client's `nkey` picks its
//! user (or `no_auth_user`, when the client sent no credentials at all, if that names an
//! nkey); otherwise, with password users configured, `user` picks one (or
//! `no_auth_user` when the client sent no user, password or token: its stored password
//! is then used as the client's, so a bcrypt `no_auth_user` never matches, as observed
//! on 2.15.1). A user that is unknown or whose `allowed_connection_types` exclude
//! STANDARD is refused there and then. An nkey user must sign the INFO nonce (base64
//! raw-URL, or standard base64) unless it is the `no_auth_user`. A password user's
//! password is compared, and failing all that the single `token` or `user`/`password`
//! is. Plain secrets are compared in constant time; a stored secret that looks like
//! bcrypt (`^\$2[abxy]\$\d{2}\$`) needs a ~100 ms bcrypt run, which is handed back as a
//! [`SlowCheck`] to run off the event loop.
//!
//! Permissions are the user's own, else its account's `default_permissions` for a user
//! of `accounts {}`, else `authorization { default_permissions }` for a user of the
//! `authorization` block (nats-server's `applyDefaultPermissions`, run per block). Users
//! that authenticate with the single token or user get no permissions and land in `$G`.
//!
//! One more nats-server rule: when the only configured account is the system account
//! and there is no `authorization` block and no `no_auth_user`, nats-server invents a
//! user `nats-XXXXXXXX` in `$G` and makes it the `no_auth_user`, so clients without
//! credentials still connect (observed on 2.15.1, `/connz` shows that name).
//!
//! In JWT operator mode (see [`super::jwt`]) a client must present a user JWT signed
//! by a trusted preloaded account, and nothing else is consulted.
//!
//! Not covered: auth callout, TLS certificate mapping, proxies, and
//! the websocket, MQTT and leaf node overrides.

use std::collections::HashMap;
use std::sync::Arc;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use super::accounts::{AccountId, AccountTable};
use super::permissions::CompiledPermissions;
use super::{AuthConfig, OperatorMode, Permissions, GLOBAL_ACCOUNT};

/// nats-server's `nonceRawLen`: random bytes in a nonce.
pub const NONCE_RANDOM_BYTES: usize = 11;

/// nats-server's `nonceLen`: the nonce's length once base64 raw-URL encoded.
pub const NONCE_LEN: usize = 15;

const _: () = assert!(NONCE_LEN == (NONCE_RANDOM_BYTES * 8).div_ceil(6));

/// What `/connz?auth=true` shows for a client that authenticated with a token.
pub const REDACTED_TOKEN_USER: &str = "[REDACTED]";

/// Go's `base64.RawURLEncoding` decoder: no padding, non-zero trailing bits accepted.
pub(crate) const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Go's `base64.StdEncoding` decoder: padding required, non-zero trailing bits accepted.
const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// Who an authenticated client is.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The account the client's subscriptions and publishes live in.
    pub account: AccountId,
    /// `authorized_user` as `/connz` shows it: the nkey, else the user name, else
    /// `[REDACTED]` for a token; `None` when the client gave none of them.
    pub user: Option<String>,
    /// The user's permissions; `None` = may do anything.
    pub permissions: Option<Arc<CompiledPermissions>>,
    /// When the credentials stop being valid (a user JWT's `exp`, Unix seconds):
    /// nats-server disconnects the client then with `User Authentication Expired`.
    pub expires_at: Option<i64>,
}

/// The credentials a CONNECT carries. Empty strings count as absent, as in nats-server.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials<'a> {
    /// `user`.
    pub user: Option<&'a str>,
    /// `pass`.
    pub pass: Option<&'a str>,
    /// `auth_token`.
    pub token: Option<&'a str>,
    /// `nkey`: the user's public key.
    pub nkey: Option<&'a str>,
    /// `sig`: the nonce signed with the nkey's (or the user JWT's) seed, base64.
    pub sig: Option<&'a str>,
    /// `jwt`: the user JWT, in operator mode.
    pub jwt: Option<&'a str>,
}

/// The outcome of [`Authenticator::authenticate`].
#[derive(Debug)]
pub enum Decision {
    /// Authenticated.
    Allowed(Identity),
    /// Refused: answer `-ERR 'Authorization Violation'` and close.
    Denied,
    /// Needs a slow check (bcrypt): run [`SlowCheck::run`] off the event loop.
    Slow(SlowCheck),
}

/// A bcrypt comparison to run off the event loop; `Send + 'static`.
pub struct SlowCheck {
    /// The stored bcrypt hash.
    hash: String,
    /// What the client sent.
    secret: String,
    /// Who the client is if the hash matches.
    identity: Identity,
}

impl std::fmt::Debug for SlowCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlowCheck")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl SlowCheck {
    /// Runs bcrypt (about 100 ms at cost 10): the identity when the secret matches.
    pub fn run(self) -> Option<Identity> {
        bcrypt::verify(self.secret.as_bytes(), &self.hash)
            .unwrap_or(false)
            .then_some(self.identity)
    }
}

/// A password user, ready for lookups.
#[derive(Debug)]
struct PasswordUser {
    /// The stored password (plain or bcrypt).
    password: String,
    /// The user's account.
    account: AccountId,
    /// The user's effective permissions.
    permissions: Option<Arc<CompiledPermissions>>,
    /// `allowed_connection_types` lets a plain client in.
    standard_allowed: bool,
}

/// An nkey user, ready for lookups.
#[derive(Debug)]
struct NkeyEntry {
    /// The user's account.
    account: AccountId,
    /// The user's effective permissions.
    permissions: Option<Arc<CompiledPermissions>>,
    /// `allowed_connection_types` lets a plain client in.
    standard_allowed: bool,
}

/// Decides who may connect. `Send + Sync`; built once from the configuration (and again
/// on reload) and shared through an `Arc`.
#[derive(Debug)]
pub struct Authenticator {
    /// INFO's `auth_required`.
    required: bool,
    /// INFO carries a `nonce`.
    nonce_required: bool,
    /// The single token.
    token: Option<String>,
    /// The single user and password.
    single_user: Option<(String, String)>,
    /// Password users by name (nats-server's `s.users`).
    users: HashMap<String, PasswordUser>,
    /// Nkey users by public key (nats-server's `s.nkeys`).
    nkeys: HashMap<String, NkeyEntry>,
    /// `no_auth_user` (or the invented system-account-only user).
    no_auth_user: Option<String>,
    /// JWT operator mode: the trusted preloaded accounts by public key. When set,
    /// every client must present a user JWT and nothing else is consulted.
    operator: Option<HashMap<String, JwtAccountEntry>>,
}

/// A trusted account JWT, ready for user JWT checks.
#[derive(Debug)]
struct JwtAccountEntry {
    /// The account's id.
    account: AccountId,
    /// Account signing keys that may issue users (with `issuer_account` set).
    signing_keys: Vec<String>,
    /// `revocations`: user key (or `*`) to the time at or before which its JWTs are
    /// revoked.
    revocations: HashMap<String, i64>,
    /// `limits.disallow_bearer`.
    disallow_bearer: bool,
    /// `exp`, Unix seconds; 0 = never.
    expires: i64,
    /// `default_permissions`, for users whose JWT sets none.
    default_permissions: Option<Arc<CompiledPermissions>>,
}

impl Authenticator {
    /// Prepares lookups for `config`, with account ids from `accounts` (built from the
    /// same config). Users whose account is not in the table can never authenticate.
    pub fn new(config: &AuthConfig, accounts: &AccountTable) -> Authenticator {
        let mut authenticator = Authenticator {
            required: config.auth_required(),
            nonce_required: config.nonce_required(),
            token: config.token.clone().filter(|token| !token.is_empty()),
            single_user: config
                .user
                .clone()
                .filter(|user| !user.is_empty())
                .map(|user| (user, config.password.clone().unwrap_or_default())),
            users: HashMap::with_capacity(config.users.len()),
            nkeys: HashMap::with_capacity(config.nkey_users.len()),
            no_auth_user: config.no_auth_user.clone().filter(|name| !name.is_empty()),
            operator: config
                .operator
                .as_ref()
                .map(|mode| jwt_accounts(mode, config, accounts)),
        };
        for user in &config.users {
            let Some(account) = account_of(user.account.as_deref(), accounts) else {
                continue;
            };
            let permissions =
                effective_permissions(&user.permissions, user.account.as_deref(), config);
            // A repeated name: the last entry wins, as in nats-server's map.
            authenticator.users.insert(
                user.name.clone(),
                PasswordUser {
                    password: user.password.clone(),
                    account,
                    permissions,
                    standard_allowed: user.connection_types.allows_standard(),
                },
            );
        }
        for user in &config.nkey_users {
            let Some(account) = account_of(user.account.as_deref(), accounts) else {
                continue;
            };
            let permissions =
                effective_permissions(&user.permissions, user.account.as_deref(), config);
            authenticator.nkeys.insert(
                user.public_key.clone(),
                NkeyEntry {
                    account,
                    permissions,
                    standard_allowed: user.connection_types.allows_standard(),
                },
            );
        }
        if authenticator.operator.is_none() && system_account_only(config, accounts) {
            authenticator.add_system_account_only_user();
        }
        authenticator
    }

    /// nats-server's `configureAccounts` rule for a server whose only account is the
    /// system account: an invented `$G` user becomes the `no_auth_user`.
    fn add_system_account_only_user(&mut self) {
        const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut random = [0u8; 8];
        fill_random(&mut random);
        let suffix: String = random
            .iter()
            .map(|byte| DIGITS[usize::from(*byte) % DIGITS.len()] as char)
            .collect();
        let name = format!("nats-{suffix}");
        self.users.insert(
            name.clone(),
            PasswordUser {
                password: name[6..].to_string(),
                account: AccountId::GLOBAL,
                permissions: None,
                standard_allowed: true,
            },
        );
        self.no_auth_user = Some(name);
        self.required = true;
    }

    /// INFO's `auth_required`.
    pub fn required(&self) -> bool {
        self.required
    }

    /// True when INFO must carry a `nonce` (nkey users are configured).
    pub fn nonce_required(&self) -> bool {
        self.nonce_required
    }

    /// Decides a plain client's CONNECT. `nonce` is the nonce text sent in INFO (what
    /// the client signed); empty when none was sent.
    pub fn authenticate(&self, credentials: &Credentials<'_>, nonce: &[u8]) -> Decision {
        if let Some(accounts) = &self.operator {
            let now = super::jwt::now_seconds();
            return authenticate_jwt(accounts, credentials, nonce, now);
        }
        let mut username = present(credentials.user);
        let mut password = present(credentials.pass);
        let token = present(credentials.token);
        let mut nkey = present(credentials.nkey);
        if !self.required {
            return Decision::Allowed(Identity {
                account: AccountId::GLOBAL,
                user: authorized_user(nkey, username, token),
                permissions: None,
                expires_at: None,
            });
        }
        let no_auth_user = self.no_auth_user.as_deref();
        let no_credentials = username.is_none() && password.is_none() && token.is_none();

        let mut nkey_user = None;
        if !self.nkeys.is_empty() {
            if let Some(name) = no_auth_user {
                if no_credentials && nkey.is_none() && self.nkeys.contains_key(name) {
                    nkey = Some(name);
                }
            }
            if let Some(key) = nkey {
                match self.nkeys.get(key) {
                    Some(user) if user.standard_allowed => nkey_user = Some((key, user)),
                    _ => return Decision::Denied,
                }
            }
        }
        let mut password_user = None;
        if !self.users.is_empty() && nkey_user.is_none() {
            if let Some(name) = no_auth_user {
                if no_credentials {
                    if let Some((name, user)) = self.users.get_key_value(name) {
                        username = Some(name.as_str());
                        password = Some(user.password.as_str());
                    }
                }
            }
            if let Some(name) = username {
                match self.users.get(name) {
                    Some(user) if user.standard_allowed => password_user = Some(user),
                    _ => return Decision::Denied,
                }
            }
        }

        if let Some((key, user)) = nkey_user {
            if Some(key) != no_auth_user && !signature_verifies(key, credentials.sig, nonce) {
                return Decision::Denied;
            }
            return Decision::Allowed(Identity {
                account: user.account,
                user: Some(key.to_string()),
                permissions: user.permissions.clone(),
                expires_at: None,
            });
        }
        if let Some(user) = password_user {
            let identity = Identity {
                account: user.account,
                user: authorized_user(nkey, username, token),
                permissions: user.permissions.clone(),
                expires_at: None,
            };
            return compare_secret(&user.password, password.unwrap_or(""), identity);
        }
        let identity = Identity {
            account: AccountId::GLOBAL,
            user: authorized_user(nkey, username, token),
            permissions: None,
            expires_at: None,
        };
        if let Some(expected) = &self.token {
            return compare_secret(expected, token.unwrap_or(""), identity);
        }
        if let Some((expected_user, expected_password)) = &self.single_user {
            if username != Some(expected_user.as_str()) {
                return Decision::Denied;
            }
            return compare_secret(expected_password, password.unwrap_or(""), identity);
        }
        Decision::Denied
    }
}

/// The trusted accounts of operator mode by public key, with their ids from `accounts`.
fn jwt_accounts(
    mode: &OperatorMode,
    config: &AuthConfig,
    accounts: &AccountTable,
) -> HashMap<String, JwtAccountEntry> {
    let mut entries = HashMap::with_capacity(mode.accounts.len());
    for jwt_account in &mode.accounts {
        let Some(account) = accounts.id(&jwt_account.public_key) else {
            continue;
        };
        let default_permissions = config
            .accounts
            .iter()
            .find(|candidate| candidate.name == jwt_account.public_key)
            .and_then(|candidate| candidate.default_permissions.as_ref())
            .map(|permissions| Arc::new(CompiledPermissions::new(permissions)));
        entries
            .entry(jwt_account.public_key.clone())
            .or_insert(JwtAccountEntry {
                account,
                signing_keys: jwt_account.signing_keys.clone(),
                revocations: jwt_account.revocations.iter().cloned().collect(),
                disallow_bearer: jwt_account.disallow_bearer,
                expires: jwt_account.expires,
                default_permissions,
            });
    }
    entries
}

/// nats-server's JWT branch of `processClientOrLeafAuthentication` for a plain client,
/// at `now` (Unix seconds). In its order: the user JWT decodes, verifies and is in
/// time; its account (`issuer_account`, else the issuer) is a trusted preloaded one
/// that lists the issuer as itself or a signing key, and has not expired; bearer
/// tokens are allowed; the connection type is STANDARD; the nonce signature verifies
/// against the user key (`sub`), unless a bearer token; the user is not revoked.
///
/// Refused rather than half-honoured: user JWTs with `src` or `times` (no client
/// address or clock rules yet), `proxy_required`, and user-level `subs`/`payload`
/// limits other than unlimited.
fn authenticate_jwt(
    accounts: &HashMap<String, JwtAccountEntry>,
    credentials: &Credentials<'_>,
    nonce: &[u8],
    now: i64,
) -> Decision {
    let Some(token) = present(credentials.jwt) else {
        return Decision::Denied;
    };
    let Ok(claims) = super::jwt::decode::<super::jwt::User>(token, super::jwt::ClaimKind::User)
    else {
        return Decision::Denied;
    };
    let user = &claims.nats;
    if claims.check_times(now).is_err() || user.proxy_required {
        return Decision::Denied;
    }
    let account_key = match user.issuer_account.as_str() {
        "" => claims.iss.as_str(),
        key => key,
    };
    let Some(account) = accounts.get(account_key) else {
        return Decision::Denied;
    };
    let issuer_known = claims.iss == account_key
        || (!user.issuer_account.is_empty() && account.signing_keys.contains(&claims.iss));
    if !issuer_known || (account.expires > 0 && now > account.expires) {
        return Decision::Denied;
    }
    if user.bearer_token && account.disallow_bearer {
        return Decision::Denied;
    }
    let standard_allowed = user.allowed_connection_types.is_empty()
        || user
            .allowed_connection_types
            .iter()
            .any(|kind| kind.eq_ignore_ascii_case("STANDARD"));
    if !standard_allowed {
        return Decision::Denied;
    }
    if !user.bearer_token && !signature_verifies(&claims.sub, credentials.sig, nonce) {
        return Decision::Denied;
    }
    let revoked_at = [claims.sub.as_str(), "*"]
        .iter()
        .filter_map(|key| account.revocations.get(*key))
        .any(|&at| claims.iat <= at);
    let unsupported =
        !user.src.is_empty() || !user.times.is_empty() || user.subs >= 0 || user.payload >= 0;
    if revoked_at || unsupported {
        return Decision::Denied;
    }
    let permissions = match user.permissions() {
        Some(own) => Some(Arc::new(CompiledPermissions::new(&own))),
        None => account.default_permissions.clone(),
    };
    Decision::Allowed(Identity {
        account: account.account,
        user: Some(claims.sub.clone()),
        permissions,
        expires_at: (claims.exp > 0).then_some(claims.exp),
    })
}

/// `value` unless it is empty: nats-server treats an empty credential as absent.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.is_empty())
}

/// The account a user of `account` (None = `$G`) lands in.
fn account_of(account: Option<&str>, accounts: &AccountTable) -> Option<AccountId> {
    accounts.id(account.unwrap_or(GLOBAL_ACCOUNT))
}

/// The user's own permissions, else its block's defaults (see the module docs).
fn effective_permissions(
    own: &Option<Permissions>,
    account: Option<&str>,
    config: &AuthConfig,
) -> Option<Arc<CompiledPermissions>> {
    let defaults = match account {
        Some(name) => config
            .accounts
            .iter()
            .find(|candidate| candidate.name == name)
            .and_then(|candidate| candidate.default_permissions.as_ref()),
        None => config.default_permissions.as_ref(),
    };
    own.as_ref()
        .or(defaults)
        .map(|permissions| Arc::new(CompiledPermissions::new(permissions)))
}

/// True when the only configured account is the system account and nothing else
/// configures authentication (nats-server: `numAccounts == 2 && NoAuthUser == "" &&
/// !authBlockDefined`).
fn system_account_only(config: &AuthConfig, accounts: &AccountTable) -> bool {
    let [only] = config.accounts.as_slice() else {
        return false;
    };
    let authorization_block = config.authorization_block
        || config.token.is_some()
        || config.user.is_some()
        || config.password.is_some()
        || config.default_permissions.is_some()
        || config.users.iter().any(|user| user.account.is_none())
        || config.nkey_users.iter().any(|user| user.account.is_none());
    accounts.system().is_some()
        && accounts.system() == accounts.id(&only.name)
        && only.name != GLOBAL_ACCOUNT
        && config.no_auth_user.as_deref().is_none_or(str::is_empty)
        && !authorization_block
}

/// nats-server's `getRawAuthUser`: nkey, else user name, else `[REDACTED]` for a token.
fn authorized_user(
    nkey: Option<&str>,
    username: Option<&str>,
    token: Option<&str>,
) -> Option<String> {
    nkey.or(username)
        .map(str::to_string)
        .or_else(|| token.map(|_| REDACTED_TOKEN_USER.to_string()))
}

/// nats-server's `comparePasswords`, with the bcrypt branch handed back as slow.
fn compare_secret(expected: &str, provided: &str, identity: Identity) -> Decision {
    if is_bcrypt(expected) {
        return Decision::Slow(SlowCheck {
            hash: expected.to_string(),
            secret: provided.to_string(),
            identity,
        });
    }
    if constant_time_eq(expected.as_bytes(), provided.as_bytes()) {
        Decision::Allowed(identity)
    } else {
        Decision::Denied
    }
}

/// nats-server's `isBcrypt`: `^\$2[abxy]\$\d{2}\$`.
pub fn is_bcrypt(secret: &str) -> bool {
    matches!(
        secret.as_bytes(),
        [b'$', b'2', b'a' | b'b' | b'x' | b'y', b'$', tens, ones, b'$', ..]
            if tens.is_ascii_digit() && ones.is_ascii_digit()
    )
}

/// Go's `subtle.ConstantTimeCompare`: the length is not secret, the content is.
fn constant_time_eq(expected: &[u8], provided: &[u8]) -> bool {
    if expected.len() != provided.len() {
        return false;
    }
    let difference = expected
        .iter()
        .zip(provided)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// nats-server's nkey signature check: `sig` must decode (raw URL base64, else standard
/// base64) to an ed25519 signature of `nonce` by `public_key`.
fn signature_verifies(public_key: &str, sig: Option<&str>, nonce: &[u8]) -> bool {
    let Some(sig) = sig.filter(|sig| !sig.is_empty()) else {
        return false;
    };
    let Ok(signature) = RAW_URL.decode(sig).or_else(|_| STANDARD.decode(sig)) else {
        return false;
    };
    let Ok(key) = nkeys::KeyPair::from_public_key(public_key) else {
        return false;
    };
    key.verify(nonce, &signature).is_ok()
}

/// Fills `buffer` from the kernel's random source (`getrandom(2)`).
pub fn fill_random(buffer: &mut [u8]) {
    let mut filled = 0;
    while filled < buffer.len() {
        let rest = &mut buffer[filled..];
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes for the
        // duration of the call.
        let read = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if read < 0 {
            let error = std::io::Error::last_os_error();
            assert!(
                error.kind() == std::io::ErrorKind::Interrupted,
                "getrandom failed: {error}"
            );
            continue;
        }
        filled += read as usize;
    }
}

/// A fresh INFO nonce like nats-server's: 11 random bytes from the OS, base64 raw-URL
/// encoded (15 characters).
pub fn new_nonce() -> [u8; NONCE_LEN] {
    let mut random = [0u8; NONCE_RANDOM_BYTES];
    fill_random(&mut random);
    let mut nonce = [0u8; NONCE_LEN];
    let written = RAW_URL
        .encode_slice(random, &mut nonce)
        .expect("15 bytes hold 11 encoded");
    assert_eq!(written, NONCE_LEN);
    nonce
}

#[cfg(test)]
mod tests;
