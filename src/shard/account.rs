//! One account's share of a shard's subject state: the local Sublist, the other shards'
//! interest in that account, and the queue-group weights announced for it.
//!
//! Architecture Invariant: subjects never cross accounts by matching. A publish looks
//! up only its own account's tables; messages reach another account only through an
//! import (see `shard::publish`).

use std::collections::HashMap;

use super::SUBLIST_CACHE_ENTRIES;
use crate::auth::accounts::{AccountId, AccountTable};
use crate::auth::authenticate::Authenticator;
use crate::auth::AuthConfig;
use crate::conn::LocalSublist;
use crate::router::interest::InterestTable;

/// (subject, queue group) of local queue subscriptions.
pub type QueueKey = (Box<[u8]>, Box<[u8]>);

/// The subject tables of one account on one shard.
pub struct AccountShard {
    /// Local subscriptions.
    pub sublist: LocalSublist,
    /// Other shards' interest.
    pub interest: InterestTable,
    /// Local members per (subject, queue group), announced to peers as weights.
    pub queue_weights: HashMap<QueueKey, u32>,
}

impl AccountShard {
    /// Empty tables.
    pub fn new() -> Self {
        Self {
            sublist: LocalSublist::new(SUBLIST_CACHE_ENTRIES),
            interest: InterestTable::new(SUBLIST_CACHE_ENTRIES),
            queue_weights: HashMap::new(),
        }
    }
}

impl Default for AccountShard {
    fn default() -> Self {
        Self::new()
    }
}

/// Who may connect and which accounts exist, as this shard applies them; rebuilt from
/// the configuration at start-up and on reload (account ids stay stable: a reload
/// that changes the set of accounts is refused before it reaches the shards).
pub struct AuthState {
    /// Account names, limits, imports and exports.
    pub accounts: AccountTable,
    /// The credential checks.
    pub authenticator: Authenticator,
    /// Per account: its publishes may leave it (it feeds a stream import or has a
    /// service import). One load on the publish path instead of two table lookups.
    crosses: Vec<bool>,
}

impl AuthState {
    /// Builds both from the configuration.
    pub fn new(config: &AuthConfig) -> Self {
        let accounts = AccountTable::new(config);
        let authenticator = Authenticator::new(config, &accounts);
        let crosses = (0..accounts.len() as u32)
            .map(AccountId)
            .map(|id| accounts.has_stream_exports_imported(id) || accounts.has_service_imports(id))
            .collect();
        Self {
            accounts,
            authenticator,
            crosses,
        }
    }

    /// True when publishes in `account` may reach another account through an import.
    #[inline]
    pub fn crosses_accounts(&self, account: AccountId) -> bool {
        self.crosses.get(account.index()).copied().unwrap_or(false)
    }
}
