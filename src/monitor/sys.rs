//! STUB (replaced by the wt-sys branch).
use super::MonitorContext;
pub async fn answer(_context: &MonitorContext, _subject: &str, _payload: &[u8]) -> Option<Vec<u8>> {
    None
}
