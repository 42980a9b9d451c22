//! Webhook deliveries, run by the `serve` process: a few threads take due subscriptions by lease
//! (so that several processes on one PostgreSQL share the work and never deliver to one
//! subscription at once), post each of its events in order with a Standard Webhooks signature,
//! and move the subscription's cursor. A failure is retried with back-off for 24 hours, then
//! the subscription is marked failing. Nothing here slows down a request: the threads have
//! their own connections from the pool and hold none while they wait on a receiver.

use std::net::ToSocketAddrs;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::db::events::{self as feed, DeliveryRow, EventFilter, EventRow, LeaseEnd, WebhookRow, ACTIVE, FAILING};
use crate::db::conn::with_conn;
use crate::db::{write_tx, DbConn, Pool};
use crate::domain::events::EventType;
use crate::domain::time::now_utc;
use crate::domain::webhooks::{backoff_secs, is_private, signature, RETRY_PERIOD_HOURS};
use crate::domain::DeliveryId;
use crate::views::EventView;

/// How long a delivery thread sleeps when nothing is due.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long one receiver may take to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a process holds a subscription; a lease left by a crashed process expires then.
const LEASE: Duration = Duration::from_secs(60);
/// How long one lease delivers before giving the subscription back (others get a turn).
const LEASE_WORK: Duration = Duration::from_secs(20);
/// Events read per round trip while delivering.
const EVENTS_PER_READ: i64 = 200;

#[derive(Clone, Copy, Debug)]
pub struct DeliveryConfig {
    /// `PTT_WEBHOOK_ALLOW_PRIVATE`: targets on loopback or private networks are allowed.
    pub allow_private: bool,
    pub threads: usize,
}

/// A webhook target: an http or https URL with a host.
pub struct Target {
    host: String,
    port: u16,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("use an http or https URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials do not belong in the URL; verify the signature instead".into());
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("the URL has no host")?;
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        Ok(Target { host: host.trim_start_matches('[').trim_end_matches(']').to_string(), port })
    }

    /// Refuses a host that resolves to a loopback, private or link-local address (SSRF).
    pub fn check_public(&self) -> Result<(), String> {
        let addresses: Vec<_> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("the host {} cannot be resolved: {e}", self.host))?
            .collect();
        if addresses.is_empty() {
            return Err(format!("the host {} has no address", self.host));
        }
        match addresses.iter().find(|a| is_private(a.ip())) {
            Some(private) => Err(format!(
                "{} resolves to {}, a loopback, private or link-local address; such targets need PTT_WEBHOOK_ALLOW_PRIVATE=true",
                self.host,
                private.ip()
            )),
            None => Ok(()),
        }
    }
}

/// How often positions are assigned to newly committed events (PostgreSQL).
pub const SEQUENCE_INTERVAL: Duration = Duration::from_millis(50);

/// Starts the sequencer and the delivery threads; each stops when its sender (held by the
/// server) is dropped.
pub fn start(pool: Pool, config: DeliveryConfig) -> Vec<Sender<()>> {
    let mut stops = Vec::new();
    let mut spawn = |name: String, work: Box<dyn FnOnce(Receiver<()>) + Send>| {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        match std::thread::Builder::new().name(name).spawn(move || work(stopped)) {
            Ok(_) => stops.push(stop),
            Err(e) => tracing::error!(error = %e, "a webhook thread could not start"),
        }
    };
    let sequencer_pool = pool.clone();
    spawn("ptt-sequencer".into(), Box::new(move |stopped| sequencer(sequencer_pool, stopped)));
    for index in 0..config.threads.max(1) {
        let pool = pool.clone();
        spawn(format!("ptt-webhooks-{index}"), Box::new(move |stopped| run(pool, config, stopped)));
    }
    stops
}

/// PostgreSQL: positions for newly committed events, so that the feed and the deliveries see
/// them within moments; every few seconds, the lag metric.
fn sequencer(pool: Pool, stopped: Receiver<()>) {
    let mut rounds: u64 = 0;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(SEQUENCE_INTERVAL) {
        rounds += 1;
        let sequenced = with_conn(&pool, |conn| {
            feed::sequence(conn)?;
            if rounds.is_multiple_of(40) {
                let oldest = feed::oldest_undelivered(conn)?;
                crate::telemetry::set_oldest_undelivered(oldest.map(|at| (now_utc() - at).num_seconds().max(0)));
            }
            Ok::<_, diesel::result::Error>(())
        });
        if let Err(e) = sequenced {
            tracing::warn!(error = %e, "events could not be sequenced; trying again");
        }
    }
}

fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(DELIVERY_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .build();
    ureq::Agent::new_with_config(config)
}

fn run(pool: Pool, config: DeliveryConfig, stopped: Receiver<()>) {
    let agent = agent();
    loop {
        match stopped.recv_timeout(POLL_INTERVAL) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        // Deliver while subscriptions are due; stop promptly when the server stops.
        loop {
            if !matches!(stopped.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)) {
                return;
            }
            match lease(&pool) {
                Ok(Some(sub)) => deliver(&pool, &agent, config, sub, &stopped),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries paused: the database is unavailable");
                    break;
                }
            }
        }
    }
}

fn lease(pool: &Pool) -> Result<Option<WebhookRow>, String> {
    with_conn(pool, |conn| {
        let now = now_utc();
        if !feed::any_due(conn, now)? {
            return Ok(None);
        }
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        write_tx(conn, |conn| feed::lease_due(conn, now, until))
    })
}

fn wanted(sub: &WebhookRow, types: Option<&[EventType]>, event: &EventRow) -> bool {
    types.is_none_or(|t| t.contains(&event.event_type)) && sub.employer_id.is_none_or(|e| event.employer_id == Some(e))
}

/// Delivers a leased subscription's events in order until one fails, none are left, or the
/// lease's time is used; then records where it got to and gives the lease back.
fn deliver(pool: &Pool, agent: &ureq::Agent, config: DeliveryConfig, sub: WebhookRow, stopped: &Receiver<()>) {
    let types: Option<Vec<EventType>> = sub.types.as_deref().map(|t| EventType::parse_list(t).unwrap_or_default());
    let started = Instant::now();
    let mut position = sub.delivered_position;
    let mut attempts = sub.attempts;
    let mut failing_since = sub.failing_since;
    let mut failed = false;
    let mut log: Vec<DeliveryRow> = Vec::new();
    // Checked once per lease, again at every lease: a name may resolve elsewhere now than when
    // it was registered.
    let target = Target::parse(&sub.url).and_then(|t| if config.allow_private { Ok(()) } else { t.check_public() });
    'lease: while started.elapsed() < LEASE_WORK {
        let events = match with_conn(pool, |conn| read_after(conn, &sub, position)) {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "webhook events could not be read");
                break;
            }
        };
        if events.is_empty() {
            break;
        }
        for event in events {
            let Some(at) = event.position else { break 'lease };
            if !wanted(&sub, types.as_deref(), &event) {
                position = at;
                continue;
            }
            attempts += 1;
            let attempt = post(agent, &target, &sub, event.clone(), attempts);
            let delivered = attempt.outcome == "delivered";
            crate::telemetry::delivery_attempted(delivered);
            log.push(attempt);
            if !delivered {
                failed = true;
                failing_since.get_or_insert_with(now_utc);
                break 'lease;
            }
            position = at;
            attempts = 0;
            failing_since = None;
            // The server stopping ends the lease after this event; progress is kept.
            let stopping = !matches!(stopped.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty));
            if stopping || started.elapsed() >= LEASE_WORK {
                break 'lease;
            }
        }
    }
    let now = now_utc();
    let gave_up = failing_since.is_some_and(|since| now - since >= chrono::Duration::hours(RETRY_PERIOD_HOURS));
    let end = LeaseEnd {
        delivered_position: position,
        attempts: if failed { attempts } else { 0 },
        status: if gave_up { FAILING } else { ACTIVE },
        failing_since,
        next_attempt_at: if failed { now + chrono::Duration::seconds(backoff_secs(attempts)) } else { now },
    };
    if gave_up {
        tracing::warn!(webhook = %sub.id, "webhook deliveries failed for 24 hours: the subscription is marked failing");
    }
    let ended = with_conn(pool, |conn| write_tx(conn, |conn| feed::end_lease(conn, sub.id, &end, &log)));
    if let Err(e) = ended {
        // The lease runs out by itself; the events are delivered again (at least once).
        tracing::warn!(error = %e, webhook = %sub.id, "webhook progress could not be recorded");
    }
}

fn read_after(conn: &mut DbConn, sub: &WebhookRow, position: i64) -> Result<Vec<EventRow>, String> {
    feed::read(conn, sub.fund_id, &EventFilter::default(), position, EVENTS_PER_READ).map_err(|e| e.to_string())
}

/// One signed POST of one event; its attempt as a row.
fn post(agent: &ureq::Agent, target: &Result<(), String>, sub: &WebhookRow, event: EventRow, attempt: i32) -> DeliveryRow {
    let started = Instant::now();
    let attempted_at: NaiveDateTime = now_utc();
    let (event_id, fund_id) = (event.id, event.fund_id);
    let result = target.clone().and_then(|()| send(agent, sub, event));
    let (status_code, error) = match result {
        Ok(status) if (200..300).contains(&status) => (Some(i32::from(status)), None),
        Ok(status) => (Some(i32::from(status)), Some(format!("the receiver answered {status}"))),
        Err(e) => (None, Some(e)),
    };
    DeliveryRow {
        id: DeliveryId::new(),
        subscription_id: sub.id,
        fund_id,
        event_id,
        attempt,
        attempted_at,
        status_code,
        outcome: if error.is_none() { "delivered" } else { "failed" }.to_string(),
        error,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    }
}

fn send(agent: &ureq::Agent, sub: &WebhookRow, event: EventRow) -> Result<u16, String> {
    let id = event.id.to_string();
    let body = serde_json::to_string(&EventView::from(event)).map_err(|e| e.to_string())?;
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signature(&sub.secret, &id, timestamp, &body).ok_or("the subscription's secret is malformed")?;
    let response = agent
        .post(&sub.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", &timestamp.to_string())
        .header("webhook-signature", &signature)
        .send(body.as_str())
        .map_err(|e| format!("no answer: {e}"))?;
    Ok(response.status().as_u16())
}
