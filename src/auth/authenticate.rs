//! STUB (replaced by the wt-core branch): authentication decisions.
use std::sync::Arc;

use super::accounts::{AccountId, AccountTable};
use super::permissions::CompiledPermissions;
use super::AuthConfig;

#[derive(Clone)]
pub struct Identity {
    pub account: AccountId,
    pub user: Option<String>,
    pub permissions: Option<Arc<CompiledPermissions>>,
}
pub struct Credentials<'a> {
    pub user: Option<&'a str>,
    pub pass: Option<&'a str>,
    pub token: Option<&'a str>,
    pub nkey: Option<&'a str>,
    pub sig: Option<&'a str>,
}
pub enum Decision {
    Allowed(Identity),
    Denied,
    Slow(SlowCheck),
}
pub struct SlowCheck {}
impl SlowCheck {
    pub fn run(self) -> Option<Identity> {
        None
    }
}
pub struct Authenticator {
    required: bool,
}
impl Authenticator {
    pub fn new(config: &AuthConfig, _accounts: &AccountTable) -> Authenticator {
        Authenticator {
            required: config.auth_required(),
        }
    }
    pub fn required(&self) -> bool {
        self.required
    }
    pub fn nonce_required(&self) -> bool {
        false
    }
    pub fn authenticate(&self, _credentials: &Credentials<'_>, _nonce: &[u8]) -> Decision {
        Decision::Allowed(Identity {
            account: AccountId::GLOBAL,
            user: None,
            permissions: None,
        })
    }
}
pub fn new_nonce() -> [u8; 15] {
    *b"AAAAAAAAAAAAAAA"
}
