//! The local replacement for Raindrop: `POST /v1/events/track` on 127.0.0.1, which returns 204.
//!
//! It parses each body as a JSON array of events and records every `event_id`, so the bench
//! can tell when each trace arrived and whether any arrived twice. Both phases pay the same
//! parsing cost because they send to the same sink.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

/// Largest request body the sink reads. Raindrop requests are at most 1 MiB; a larger limit
/// keeps the sink from ever returning 413, which would make serve split requests.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The one field of an event that the sink reads.
#[derive(Deserialize)]
struct TrackedEvent {
    event_id: String,
}

#[derive(Default)]
struct SinkState {
    requests: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    rejected_requests: AtomicU64,
    event_ids: Mutex<HashSet<String>>,
}

/// Counts of what the sink received since the last [`Sink::take_event_ids`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SinkCounts {
    pub requests: u64,
    pub events: u64,
    pub unique_events: u64,
    pub bytes: u64,
    /// Requests whose body was not a JSON array of events with an `event_id`, rejected with 400.
    pub rejected_requests: u64,
}

pub struct Sink {
    /// Base URL to configure as Raindrop's `base_url`.
    pub url: String,
    state: Arc<SinkState>,
}

impl Sink {
    /// Starts the sink on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Sink> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1 for the bench sink")?;
        let address: SocketAddr = listener.local_addr().context("cannot read the sink's address")?;
        let state = Arc::new(SinkState::default());
        let app = Router::new()
            .route("/v1/events/track", post(track))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("bench: the sink stopped: {error}");
            }
        });
        Ok(Sink {
            url: format!("http://{address}"),
            state,
        })
    }

    pub fn counts(&self) -> SinkCounts {
        let unique_events = lock(&self.state.event_ids).len() as u64;
        SinkCounts {
            requests: self.state.requests.load(Ordering::Relaxed),
            events: self.state.events.load(Ordering::Relaxed),
            unique_events,
            bytes: self.state.bytes.load(Ordering::Relaxed),
            rejected_requests: self.state.rejected_requests.load(Ordering::Relaxed),
        }
    }

    /// Number of distinct event ids received so far.
    pub fn unique_events(&self) -> u64 {
        lock(&self.state.event_ids).len() as u64
    }

    /// Returns the event ids received so far and resets every count for the next phase.
    pub fn take_event_ids(&self) -> HashSet<String> {
        self.state.requests.store(0, Ordering::Relaxed);
        self.state.events.store(0, Ordering::Relaxed);
        self.state.bytes.store(0, Ordering::Relaxed);
        self.state.rejected_requests.store(0, Ordering::Relaxed);
        std::mem::take(&mut *lock(&self.state.event_ids))
    }
}

async fn track(State(state): State<Arc<SinkState>>, body: Bytes) -> StatusCode {
    state.requests.fetch_add(1, Ordering::Relaxed);
    state.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    let Ok(events) = serde_json::from_slice::<Vec<TrackedEvent>>(&body) else {
        state.rejected_requests.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    state.events.fetch_add(events.len() as u64, Ordering::Relaxed);
    let mut event_ids = lock(&state.event_ids);
    event_ids.extend(events.into_iter().map(|event| event.event_id));
    StatusCode::NO_CONTENT
}

/// Locks the id set. A panic while it was held cannot leave the set half-updated, so a
/// poisoned lock is still usable.
fn lock(ids: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    ids.lock().unwrap_or_else(PoisonError::into_inner)
}
