//! Control-plane workers beside the shards: the auth workers that run slow credential
//! checks (bcrypt) so a reconnect storm never freezes a shard, and the system
//! responder that answers `$SYS.REQ.>` requests with monitoring JSON.
//!
//! Both take work from channels in `Shared` and answer through the shards' control
//! inboxes, ringing the shard's doorbell so the answer is handled in its next turn.

use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::router::mesh::Doorbell;
use crate::shard::shared::{AuthOutcome, ClientEvent, ControlMsg, Shared, SysWork};

/// Auth worker threads: bcrypt is CPU-bound; two workers keep a storm of logins from
/// queueing behind one another without taking more than a core from the shards.
pub const AUTH_WORKERS: usize = 2;
/// How often idle workers look at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

/// Starts the auth workers.
pub fn spawn_auth_workers(
    shared: &Arc<Shared>,
    doorbells: &[Arc<Doorbell>],
) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..AUTH_WORKERS)
        .map(|index| {
            let shared = shared.clone();
            let doorbells = doorbells.to_vec();
            std::thread::Builder::new()
                .name(format!("ringnats-auth-{index}"))
                .spawn(move || run_auth_worker(&shared, &doorbells))
        })
        .collect()
}

fn run_auth_worker(shared: &Shared, doorbells: &[Arc<Doorbell>]) {
    while !shared.shutdown.load(Ordering::Acquire) {
        let job = {
            let inbox = shared
                .auth_job_inbox
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            match inbox.recv_timeout(SHUTDOWN_POLL) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        let identity = job.check.run().map(Arc::new);
        let done = ControlMsg::AuthDone {
            conn: job.conn,
            outcome: AuthOutcome(identity),
        };
        hand_to_shard(shared, doorbells, job.shard, done);
    }
}

/// Queues a control message for one shard and rings its doorbell, so the shard handles
/// it in its next turn instead of at its next timer.
fn hand_to_shard(shared: &Shared, doorbells: &[Arc<Doorbell>], shard: usize, message: ControlMsg) {
    shared.send_to(shard, message);
    if let Some(doorbell) = doorbells.get(shard) {
        doorbell.ring();
    }
}

/// Starts the thread that answers `$SYS.REQ.>` requests.
pub fn spawn_system_responder(
    context: Arc<crate::monitor::MonitorContext>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ringnats-sys".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(run_system_responder(context)),
                // Out of descriptors at start-up: the data path works without it.
                Err(error) => crate::error!("Cannot answer $SYS requests: {error}"),
            }
        })
}

async fn run_system_responder(context: Arc<crate::monitor::MonitorContext>) {
    let Some(mut inbox) = context
        .shared
        .sys_request_inbox
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .take()
    else {
        return;
    };
    let system = crate::auth::AccountTable::new(&context.config.auth).system();
    while !context.shared.shutdown.load(Ordering::Acquire) {
        let request = match tokio::time::timeout(SHUTDOWN_POLL, inbox.recv()).await {
            Ok(Some(SysWork::Request(request))) => request,
            Ok(Some(SysWork::Event(event))) => {
                announce(&context, system, event);
                continue;
            }
            Ok(None) => return,
            Err(_) => continue,
        };
        let answer = match &request.requester {
            Some(requester) => Some(crate::monitor::sys::user_info(&context, requester)),
            None => crate::monitor::sys::answer(&context, &request.subject, &request.payload).await,
        };
        let Some(answer) = answer else {
            continue;
        };
        let publish = ControlMsg::Publish {
            account: request.account,
            subject: request.reply,
            payload: answer.into(),
        };
        hand_to_shard(&context.shared, &context.doorbells, request.shard, publish);
    }
}

/// Publishes a client connect/disconnect advisory in the system account.
fn announce(
    context: &crate::monitor::MonitorContext,
    system: Option<crate::auth::AccountId>,
    event: Box<ClientEvent>,
) {
    let Some(system) = system else {
        return;
    };
    let (subject, payload) = crate::monitor::events::client_event(context, &event);
    let publish = ControlMsg::Publish {
        account: system,
        subject: subject.into_bytes().into(),
        payload: payload.into(),
    };
    hand_to_shard(&context.shared, &context.doorbells, event.shard, publish);
}
