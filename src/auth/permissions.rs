//! STUB (replaced by the wt-core branch): compiled permissions.
use super::{Permissions, ResponsePermission};
use std::time::Instant;

pub struct CompiledPermissions {
    pub source: Permissions,
}
impl CompiledPermissions {
    pub fn new(permissions: &Permissions) -> Self {
        Self {
            source: permissions.clone(),
        }
    }
    pub fn can_publish(&self, _subject: &[u8]) -> bool {
        true
    }
    pub fn can_subscribe(&self, _subject: &[u8], _queue: Option<&[u8]>) -> bool {
        true
    }
    pub fn subscription_needs_delivery_filter(&self, _subject: &[u8]) -> bool {
        false
    }
    pub fn delivery_denied(&self, _subject: &[u8]) -> bool {
        false
    }
    pub fn response(&self) -> Option<ResponsePermission> {
        None
    }
}
pub struct ReplyGrants {}
impl ReplyGrants {
    pub fn new(_permission: ResponsePermission) -> Self {
        Self {}
    }
    pub fn grant(&mut self, _reply: &[u8], _now: Instant) {}
    pub fn try_use(&mut self, _subject: &[u8], _now: Instant) -> bool {
        false
    }
}
