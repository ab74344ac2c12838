//! The system account's requests on a shard: `$SYS.REQ.>` requests published by clients
//! of the system account go to the control thread, which answers them (monitoring
//! JSON); its answers come back as `ControlMsg::Publish` and are published here like
//! any message, so they reach the requester wherever it is.

use super::imports::NO_PUBLISHER;
use super::shared::{ClientEvent, SysRequest, SysWork};
use super::Shard;
use crate::auth::accounts::AccountId;
use crate::conn::ConnId;
use crate::io::Backend;
use crate::proto::encode::Delivery;

/// The subjects the server answers in the system account.
pub const SYSTEM_REQUEST_PREFIX: &[u8] = b"$SYS.REQ.";
/// The one request every account may make: who am I (nats-server imports it into every
/// account).
pub const USER_INFO_SUBJECT: &[u8] = b"$SYS.REQ.USER.INFO";

impl<B: Backend> Shard<B> {
    /// Hands a system-account request to the control thread. Returns true when the
    /// server will answer it (so it is not a no-responders case).
    pub(super) fn forward_system_request(
        &mut self,
        id: ConnId,
        subject: &[u8],
        reply: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let Some(reply) = reply else {
            return false;
        };
        if !subject.starts_with(SYSTEM_REQUEST_PREFIX) {
            return false;
        }
        let account = self.conns[id.index as usize].account;
        let requester = (subject == USER_INFO_SUBJECT).then(|| Box::new(self.requester(id)));
        if requester.is_none() && self.auth.accounts.system() != Some(account) {
            return false;
        }
        let Ok(subject) = std::str::from_utf8(subject) else {
            return false;
        };
        let request = SysRequest {
            shard: self.id,
            account,
            subject: subject.to_string(),
            reply: reply.into(),
            payload: payload.into(),
            requester,
        };
        self.shared
            .sys_requests
            .send(SysWork::Request(request))
            .is_ok()
    }

    /// Who a connection is, for `$SYS.REQ.USER.INFO`.
    fn requester(&self, id: ConnId) -> super::shared::Requester {
        let conn = &self.conns[id.index as usize];
        super::shared::Requester {
            user: conn.user.as_deref().unwrap_or_default().to_string(),
            account: self.account_name(conn.account).to_string(),
            permissions: conn
                .permissions
                .as_ref()
                .map(|permissions| permissions.public().clone()),
            expires_in: conn
                .auth_expires
                .map(|at| at.saturating_duration_since(std::time::Instant::now())),
        }
    }

    /// Announces a client's arrival in (or departure from) its account to the system
    /// account, when there is one.
    pub(super) fn announce_client(&mut self, id: ConnId, connected: bool) {
        if self.auth.accounts.system().is_none() {
            return;
        }
        let Some(conn) = self.conns.get(id.index as usize).filter(|c| c.id == id) else {
            return;
        };
        let mut client =
            super::monitor::snapshot(conn, self.id, false, self.account_name(conn.account));
        if !connected {
            client.stop = Some(std::time::SystemTime::now());
            client.reason = conn.close_reason;
        }
        let event = ClientEvent {
            shard: self.id,
            connected,
            client,
        };
        let _ = self
            .shared
            .sys_requests
            .send(SysWork::Event(Box::new(event)));
    }

    /// Publishes a message from the server itself in an account.
    pub(super) fn publish_from_server(
        &mut self,
        account: AccountId,
        subject: &[u8],
        payload: &[u8],
    ) {
        if account.index() >= self.accounts.len() {
            return;
        }
        let message = Delivery {
            subject,
            sid: b"",
            reply: None,
            headers: None,
            payload,
            size_text: None,
        };
        let route = self.route_in(account, subject);
        self.deliver_route(account, NO_PUBLISHER, true, &message, route);
    }
}
