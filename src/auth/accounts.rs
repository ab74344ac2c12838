//! STUB (replaced by the wt-core branch): account ids and import routing.
use super::{AccountLimits, AuthConfig, ResponseType};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u32);
impl AccountId {
    pub const GLOBAL: AccountId = AccountId(0);
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
pub struct ServiceTarget {
    pub exporter: AccountId,
    pub subject: Vec<u8>,
    pub response_type: ResponseType,
}
pub struct AccountTable {
    names: Vec<String>,
}
impl AccountTable {
    pub fn new(config: &AuthConfig) -> AccountTable {
        let mut names = vec![
            super::GLOBAL_ACCOUNT.to_string(),
            super::SYSTEM_ACCOUNT.to_string(),
        ];
        names.extend(config.accounts.iter().map(|a| a.name.clone()));
        AccountTable { names }
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn id(&self, name: &str) -> Option<AccountId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| AccountId(i as u32))
    }
    pub fn name(&self, id: AccountId) -> &str {
        &self.names[id.index()]
    }
    pub fn system(&self) -> Option<AccountId> {
        Some(AccountId(1))
    }
    pub fn limits(&self, _id: AccountId) -> AccountLimits {
        AccountLimits::default()
    }
    pub fn has_stream_exports_imported(&self, _exporter: AccountId) -> bool {
        false
    }
    pub fn stream_targets(&self, _e: AccountId, _s: &[u8], _out: &mut Vec<(AccountId, Vec<u8>)>) {}
    pub fn has_service_imports(&self, _importer: AccountId) -> bool {
        false
    }
    pub fn service_target(&self, _i: AccountId, _s: &[u8]) -> Option<ServiceTarget> {
        None
    }
}
