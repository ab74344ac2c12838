//! The `--client async-nats` path: the same runs as the raw path, through the official
//! async-nats client on tokio, to show what a real application sees (its buffering, its
//! per-message allocation, its request multiplexing). The flow-control rule is the same in
//! spirit: a publisher flushes every window and stays within a window of its subscribers.
//! async-nats has no PING round trip in its API, so subscriptions are given a short settle
//! time instead of a PONG barrier, and a publisher's last message is confirmed by an echoed
//! message to its own inbox (see `Barrier`). With flow control off (`--window 0`) a publisher just
//! publishes; the client's bounded command channel and the socket are the only brakes.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::{Client, Subject};
use futures::StreamExt;

use crate::args::{Args, Mode};
use crate::monitor::CountersWatch;
use crate::progress::{Delivery, ProgressLine, RunState};
use crate::raw;
use crate::report::{latency_histogram, Latency, LostSplit, Report, Side, SubscriberOutcome};
use crate::stuck::StuckSubscribers;

/// Time given to SUBs to reach the server before publishing starts.
const SUBSCRIBE_SETTLE: Duration = Duration::from_millis(200);
/// How often blocked tasks look at the run state.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// A subscriber looks for a lost connection every this many messages (and whenever it
/// waits), so the check costs nothing per message.
const CLOSED_CHECK_MSGS: u64 = 1024;
/// A request unanswered for this long ends the run with an error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// A publisher's barrier message not back within this long means the server is stuck (the
/// raw path's PONG timeout).
const BARRIER_TIMEOUT: Duration = Duration::from_secs(10);

/// (messages, elapsed, error) of one task.
type TaskResult = (u64, Duration, Option<String>);

/// What async-nats reported about one connection through its event callback.
#[derive(Default)]
struct ClientEvents {
    /// `Event::Disconnected`: the server closed the connection (or it broke).
    disconnects: AtomicU64,
    /// `Event::SlowConsumer`: a message dropped because the subscription's channel was full.
    slow_consumers: AtomicU64,
}

impl ClientEvents {
    /// Whether the connection was lost at least once. The event can itself be dropped
    /// when the client's event channel is full (a flood of slow-consumer events), so a
    /// reconnect counts too.
    fn closed_by_server(&self, client: &Client) -> bool {
        self.disconnects.load(Ordering::Acquire) > 0
            || client.statistics().connects.load(Ordering::Acquire) > 1
    }
}

pub fn run(args: &Args) -> io::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.mode {
            Mode::Request => request(args).await,
            _ => pubsub(args).await,
        }
    })
}

async fn connect(args: &Args, name: String) -> io::Result<Client> {
    connect_with_events(args, name, Arc::default()).await
}

async fn connect_with_events(
    args: &Args,
    name: String,
    events: Arc<ClientEvents>,
) -> io::Result<Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                let counter = match event {
                    async_nats::Event::Disconnected => &events.disconnects,
                    async_nats::Event::SlowConsumer(_) => &events.slow_consumers,
                    _ => return,
                };
                counter.fetch_add(1, Ordering::AcqRel);
            }
        });
    if let Some(capacity) = args.subscription_capacity {
        options = options.subscription_capacity(capacity);
    }
    options
        .connect(format!("nats://{}", args.server))
        .await
        .map_err(io::Error::other)
}

async fn pubsub(args: &Args) -> io::Result<Report> {
    let counters = CountersWatch::begin(args.monitor)?;
    // Blocking socket work; a few milliseconds for a handful of sockets.
    let stuck = tokio::task::block_in_place(|| StuckSubscribers::open(args))?;
    let (delivery, subscribers) = Delivery::for_run(args);
    let state = RunState::new(subscribers, args.publishers, delivery);
    let mut subscriptions = Vec::new();
    for index in 0..subscribers {
        let events = Arc::new(ClientEvents::default());
        let client =
            connect_with_events(args, format!("bench-sub-{index}"), events.clone()).await?;
        let subject = args.subject.clone();
        let subscription = match args.mode {
            Mode::Queue => {
                client
                    .queue_subscribe(subject, args.queue_group.clone())
                    .await
            }
            _ => client.subscribe(subject).await,
        };
        let subscription = subscription.map_err(io::Error::other)?;
        client.flush().await.map_err(io::Error::other)?;
        subscriptions.push(Subscription {
            client,
            subscription,
            events,
        });
    }
    let mut publishers = Vec::new();
    for index in 0..args.publishers {
        let client = connect(args, format!("bench-pub-{index}")).await?;
        let barrier = Barrier::subscribe(&client).await?;
        publishers.push((client, barrier));
    }
    tokio::time::sleep(SUBSCRIBE_SETTLE).await;

    let start = Instant::now();
    let progress = ProgressLine::start(state.clone(), args.progress);
    let stuck_watch = stuck.watch(args.monitor, state.clone(), start);
    let sub_tasks: Vec<_> = subscriptions
        .into_iter()
        .enumerate()
        .map(|(index, subscription)| {
            let (state, drain_timeout) = (state.clone(), args.drain_timeout);
            tokio::spawn(async move {
                subscribe(subscription, index, &state, drain_timeout, start).await
            })
        })
        .collect();
    let pub_tasks: Vec<_> = publishers
        .into_iter()
        .enumerate()
        .map(|(index, (client, barrier))| {
            let (state, args) = (state.clone(), args.clone());
            tokio::spawn(async move { publish(client, barrier, &args, index, &state, start).await })
        })
        .collect();
    let pub_results = join_all(pub_tasks, |error| (0, Duration::ZERO, Some(error))).await;
    let sub_results = join_all(sub_tasks, |error| SubscriberResult {
        task: (0, Duration::ZERO, Some(error)),
        outcome: SubscriberOutcome::default(),
    })
    .await;
    drop(progress);
    let stuck_report = stuck_watch.map(|watch| {
        let publish_elapsed = pub_results.iter().map(|r| r.1).max();
        let subs: Vec<(u64, Duration)> =
            (sub_results.iter()).map(|r| (r.task.0, r.task.1)).collect();
        tokio::task::block_in_place(|| {
            watch.finish(
                state.published(),
                publish_elapsed.unwrap_or_default(),
                &subs,
            )
        })
    });
    let (server_counters, counters_error) = tokio::task::block_in_place(|| counters.end());
    drop(stuck);

    let published = state.published();
    let expected = match delivery {
        Delivery::None => 0,
        Delivery::EverySubscriber => published * subscribers as u64,
        Delivery::OneMember => published,
    };
    let sub_tasks: Vec<TaskResult> = sub_results.iter().map(|r| r.task.clone()).collect();
    let outcomes: Vec<SubscriberOutcome> = sub_results.into_iter().map(|r| r.outcome).collect();
    let delivered: u64 = sub_tasks.iter().map(|result| result.0).sum();
    let side = |results: &[TaskResult]| {
        let counts: Vec<(u64, Duration)> = results.iter().map(|r| (r.0, r.1)).collect();
        (!counts.is_empty()).then(|| Side::new(args.payload_bytes, &counts))
    };
    let mut errors: Vec<String> = pub_results
        .iter()
        .chain(&sub_tasks)
        .filter_map(|r| r.2.clone())
        .collect();
    errors.extend(counters_error);
    let stuck = stuck_report.map(|(report, error)| {
        errors.extend(error);
        report
    });
    Ok(Report {
        publish: side(&pub_results),
        subscribe: side(&sub_tasks),
        expected,
        delivered,
        lost: expected as i64 - delivered as i64,
        lost_split: LostSplit::new(delivery, published, &outcomes),
        subscribers: outcomes,
        server_counters,
        stuck,
        errors,
        ..Report::for_run(args)
    })
}

/// Awaits every task; a task that panicked becomes `failed(its error)`.
async fn join_all<T>(
    tasks: Vec<tokio::task::JoinHandle<T>>,
    failed: impl Fn(String) -> T,
) -> Vec<T> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(
            task.await
                .unwrap_or_else(|error| failed(format!("task failed: {error}"))),
        );
    }
    results
}

/// What a publisher uses instead of a final PING/PONG: a subscription to its own inbox. A
/// server handles one connection's messages in order, so a message published there comes
/// back (echo is on) only after the server has read every PUB sent before it; a flush alone
/// only says the bytes reached the socket.
struct Barrier {
    inbox: Subject,
    subscription: async_nats::Subscriber,
}

impl Barrier {
    async fn subscribe(client: &Client) -> io::Result<Barrier> {
        let inbox = Subject::from(client.new_inbox());
        let subscription = client
            .subscribe(inbox.clone())
            .await
            .map_err(io::Error::other)?;
        client.flush().await.map_err(io::Error::other)?;
        Ok(Barrier {
            inbox,
            subscription,
        })
    }

    /// Returns once the server has read everything `client` published before.
    async fn pass(&mut self, client: &Client) -> Result<(), String> {
        client
            .publish(self.inbox.clone(), "barrier".into())
            .await
            .map_err(|error| error.to_string())?;
        client.flush().await.map_err(|error| error.to_string())?;
        match tokio::time::timeout(BARRIER_TIMEOUT, self.subscription.next()).await {
            Ok(Some(_message)) => Ok(()),
            Ok(None) => Err("connection closed while waiting for the barrier".into()),
            Err(_elapsed) => Err(format!("barrier not back within {BARRIER_TIMEOUT:?}")),
        }
    }
}

async fn publish(
    client: Client,
    mut barrier: Barrier,
    args: &Args,
    index: usize,
    state: &RunState,
    start: Instant,
) -> TaskResult {
    let total = args.msgs_max.unwrap_or(u64::MAX);
    let publishers = args.publishers as u64;
    let share = match total {
        u64::MAX => u64::MAX,
        _ => total / publishers + u64::from((index as u64) < total % publishers),
    };
    let deadline = args.duration_max.map(|duration| start + duration);
    let subject = Subject::from(args.subject.as_str());
    let payload = raw::payload(args.payload_bytes).into();
    let mut sent = 0u64;
    let mut error = None;
    while sent < share && !state.stopped() && deadline.is_none_or(|d| Instant::now() < d) {
        if let Err(publish_error) = client
            .publish(subject.clone(), Clone::clone(&payload))
            .await
        {
            error = Some(format!("publisher {index}: {publish_error}"));
            break;
        }
        sent += 1;
        state.published.0.fetch_add(1, Ordering::AcqRel);
        if let Some(window_msgs) = args.window_msgs.map(u64::from) {
            if sent % window_msgs == 0 {
                let _ = client.flush().await;
                wait_for_delivery(state, window_msgs * publishers).await;
            }
        }
    }
    if let Err(barrier_error) = barrier.pass(&client).await {
        error.get_or_insert(format!("publisher {index}: {barrier_error}"));
    }
    let elapsed = start.elapsed();
    state.publishers_running.fetch_sub(1, Ordering::AcqRel);
    (sent, elapsed, error)
}

async fn wait_for_delivery(state: &RunState, lag_max: u64) {
    while state.published().saturating_sub(state.delivery_progress()) > lag_max && !state.stopped()
    {
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

/// A subscriber's connection, its subscription and what its client reported.
struct Subscription {
    client: Client,
    subscription: async_nats::Subscriber,
    events: Arc<ClientEvents>,
}

struct SubscriberResult {
    task: TaskResult,
    outcome: SubscriberOutcome,
}

async fn subscribe(
    Subscription {
        client,
        mut subscription,
        events,
    }: Subscription,
    index: usize,
    state: &RunState,
    drain_timeout: Duration,
    start: Instant,
) -> SubscriberResult {
    let (mut count, mut last_msg_at) = (0u64, Duration::ZERO);
    let mut watched: Option<(u64, Instant)> = None;
    let (mut closed_by_server, mut error, mut check_closed) = (false, None, true);
    while !state.subscriber_complete(index) && !state.stopped() {
        if check_closed && !closed_by_server && events.closed_by_server(&client) {
            closed_by_server = true;
            state.mark_closed_by_server(index);
            error = Some(format!("subscriber {index}: disconnected by the server"));
        }
        if state.publishers_done() {
            let total = state.delivered_total();
            match watched {
                Some((seen, since)) if seen == total => {
                    if since.elapsed() > drain_timeout {
                        state.stop.store(true, Ordering::Release);
                        break;
                    }
                }
                _ => watched = Some((total, Instant::now())),
            }
        }
        match tokio::time::timeout(POLL_INTERVAL, subscription.next()).await {
            Ok(Some(_message)) => {
                count += 1;
                last_msg_at = start.elapsed();
                state.delivered[index].0.store(count, Ordering::Release);
                check_closed = count % CLOSED_CHECK_MSGS == 0;
            }
            Ok(None) => {
                error = Some(format!("subscriber {index}: closed"));
                break;
            }
            Err(_elapsed) => check_closed = true,
        }
    }
    if !closed_by_server && events.closed_by_server(&client) {
        closed_by_server = true;
        state.mark_closed_by_server(index);
        error.get_or_insert(format!("subscriber {index}: disconnected by the server"));
    }
    // Once delivery has stopped (complete, or no progress for the drain timeout) nothing is
    // still on its way to the channel: what the connection received and the loop did not
    // get was dropped by the client.
    let received = client.statistics().in_messages.load(Ordering::Acquire);
    SubscriberResult {
        task: (count, last_msg_at, error),
        outcome: SubscriberOutcome {
            delivered: count,
            closed_by_server,
            client_dropped: received.saturating_sub(count),
            client_slow_consumer_events: events.slow_consumers.load(Ordering::Acquire),
        },
    }
}

async fn request(args: &Args) -> io::Result<Report> {
    let state = RunState::new(0, args.requesters, Delivery::None);
    let mut responders = Vec::new();
    for index in 0..args.subscribers {
        let client = connect(args, format!("bench-responder-{index}")).await?;
        let subscription = client
            .queue_subscribe(args.subject.clone(), "bench.responders".into())
            .await
            .map_err(io::Error::other)?;
        client.flush().await.map_err(io::Error::other)?;
        responders.push(tokio::spawn(respond(client, subscription, state.clone())));
    }
    let mut requesters = Vec::new();
    for index in 0..args.requesters {
        requesters.push(connect(args, format!("bench-requester-{index}")).await?);
    }
    tokio::time::sleep(SUBSCRIBE_SETTLE).await;

    let start = Instant::now();
    let progress = ProgressLine::start(state.clone(), args.progress);
    let tasks: Vec<_> = requesters
        .into_iter()
        .enumerate()
        .map(|(index, client)| {
            let (state, args) = (state.clone(), args.clone());
            tokio::spawn(async move { request_loop(client, &args, index, &state, start).await })
        })
        .collect();
    let mut histogram = latency_histogram();
    let mut counts = Vec::new();
    let mut errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok((result, task_histogram)) => {
                let _ = histogram.add(&task_histogram);
                counts.push((result.0, result.1));
                errors.extend(result.2);
            }
            Err(error) => errors.push(format!("requester failed: {error}")),
        }
    }
    state.stop.store(true, Ordering::Release);
    for responder in responders {
        let _ = responder.await;
    }
    drop(progress);
    Ok(Report {
        publish: Some(Side::new(args.payload_bytes, &counts)),
        latency: Some(Latency::from_nanos(&histogram)),
        errors,
        ..Report::for_run(args)
    })
}

async fn respond(client: Client, mut subscription: async_nats::Subscriber, state: Arc<RunState>) {
    while !state.stopped() {
        if let Ok(Some(message)) = tokio::time::timeout(POLL_INTERVAL, subscription.next()).await {
            if let Some(reply) = message.reply {
                let _ = client.publish(reply, message.payload).await;
            }
        }
    }
}

async fn request_loop(
    client: Client,
    args: &Args,
    index: usize,
    state: &RunState,
    start: Instant,
) -> (TaskResult, hdrhistogram::Histogram<u64>) {
    let share = args.msgs_max.map_or(u64::MAX, |total| {
        let requesters = args.requesters as u64;
        total / requesters + u64::from((index as u64) < total % requesters)
    });
    let deadline = args.duration_max.map(|duration| start + duration);
    let subject = Subject::from(args.subject.as_str());
    let payload = raw::payload(args.payload_bytes).into();
    let mut histogram = latency_histogram();
    let (mut done, mut error) = (0u64, None);
    while done < share && !state.stopped() && deadline.is_none_or(|d| Instant::now() < d) {
        let sent_at = Instant::now();
        let reply = client.request(subject.clone(), Clone::clone(&payload));
        match tokio::time::timeout(REPLY_TIMEOUT, reply).await {
            Ok(Ok(_message)) => {
                let _ = histogram.record(sent_at.elapsed().as_nanos() as u64);
                done += 1;
                state.published.0.fetch_add(1, Ordering::AcqRel);
            }
            Ok(Err(request_error)) => {
                error = Some(format!("requester {index}: {request_error}"));
                break;
            }
            Err(_elapsed) => {
                error = Some(format!(
                    "requester {index}: no reply within {REPLY_TIMEOUT:?}"
                ));
                break;
            }
        }
    }
    ((done, start.elapsed(), error), histogram)
}
