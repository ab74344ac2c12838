//! Control orders from the control plane, handled once per loop turn: a reloaded
//! configuration, and lame-duck mode (stop accepting, announce `"ldm":true`, then close
//! the shard's clients spread over the lame-duck window, as nats-server does).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::shared::ControlMsg;
use super::Shard;
use crate::io::Backend;
use crate::proto::errors::close_reason;
use crate::proto::info::InfoKind;
use crate::proto::parser::ParserLimits;

/// nats-server sleeps at most one second between two lame-duck closes.
pub const LAME_DUCK_CLOSE_INTERVAL_MAX: Duration = Duration::from_secs(1);

/// When the next lame-duck close happens and how far apart they are.
#[derive(Clone, Copy, Debug)]
pub struct LameDuckSchedule {
    /// When the next client is closed.
    pub next_close: Instant,
    /// Time between two closes.
    pub interval: Duration,
}

impl<B: Backend> Shard<B> {
    /// Applies pending control orders.
    pub(super) fn handle_control(&mut self) {
        while let Ok(message) = self.control.try_recv() {
            let order = message.is_order();
            match message {
                ControlMsg::Reload(config) => self.reload(config),
                ControlMsg::LameDuck { grace, duration } => self.enter_lame_duck(grace, duration),
                ControlMsg::Connz {
                    subscriptions,
                    closed,
                    reply,
                } => {
                    let _ = reply.send(self.connz(subscriptions, closed));
                }
                ControlMsg::AuthDone { conn, outcome } => self.auth_done(conn, outcome),
                ControlMsg::Publish {
                    account,
                    subject,
                    payload,
                } => self.publish_from_server(account, &subject, &payload),
                ControlMsg::Subsz {
                    subscriptions,
                    account,
                    reply,
                } => {
                    let _ = reply.send(self.subsz(subscriptions, account.as_deref()));
                }
            }
            if !order {
                continue;
            }
            self.shared
                .control_applied
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
    }

    /// Takes a new configuration: limits and timers read it from now on; connections
    /// accepted from now on parse with its limits.
    fn reload(&mut self, config: Arc<crate::config::Config>) {
        self.parser_limits = ParserLimits {
            control_line_bytes_max: config.control_line_bytes_max as usize,
            payload_bytes_max: config.payload_bytes_max as usize,
        };
        // nats-server applies a reloaded max_payload to connected clients too, and
        // advertises it to new ones.
        for (_, conn) in self.conns.iter_mut() {
            conn.parser.set_limits(self.parser_limits);
        }
        if config.payload_bytes_max != self.config.payload_bytes_max
            || config.auth != self.config.auth
        {
            self.info = Arc::new(
                self.info
                    .with_payload_max(config.payload_bytes_max)
                    .with_auth(
                        config.auth.auth_required(),
                        config.auth.no_auth_user.is_some(),
                    ),
            );
        }
        if config.auth != self.config.auth {
            self.reload_auth(&config);
        }
        self.config = config;
        self.next_housekeeping = Instant::now();
    }

    fn enter_lame_duck(&mut self, grace: Duration, duration: Duration) {
        if self.lame_duck.is_some() {
            return;
        }
        self.accepting = false;
        // Ends the multishot accept; late completions are closed in `accepted`.
        // SAFETY: plain syscall on the shard's own listener.
        unsafe { libc::shutdown(self.listener, libc::SHUT_RDWR) };
        let ids: Vec<_> = self
            .conns
            .iter()
            .filter(|(_, conn)| conn.is_open())
            .map(|(_, conn)| (conn.id, conn.info_fields()))
            .collect();
        for (id, client) in &ids {
            let mut info = Vec::with_capacity(512);
            self.info.encode(&mut info, client, InfoKind::LameDuck);
            self.reply(*id, &info);
        }
        let window = duration.saturating_sub(grace);
        let interval = (window / ids.len().max(1) as u32).min(LAME_DUCK_CLOSE_INTERVAL_MAX);
        self.lame_duck = Some(LameDuckSchedule {
            next_close: Instant::now() + grace,
            interval,
        });
        self.next_housekeeping = Instant::now();
    }

    /// Closes the next client when the lame-duck schedule says so; called from
    /// housekeeping. Returns when the next close is due.
    pub(super) fn lame_duck_tick(&mut self, now: Instant) -> Option<Instant> {
        let schedule = self.lame_duck.as_mut()?;
        if now < schedule.next_close {
            return Some(schedule.next_close);
        }
        schedule.next_close = now + schedule.interval;
        let next = schedule.next_close;
        let victim = self
            .conns
            .iter()
            .find(|(_, conn)| conn.is_open())
            .map(|(_, conn)| conn.id);
        if let Some(id) = victim {
            self.close(id, close_reason::SERVER_SHUTDOWN, true);
        }
        Some(next)
    }
}
