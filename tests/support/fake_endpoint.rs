//! A scripted HTTP endpoint on 127.0.0.1 that records every request.
//!
//! It replaces a SaaS destination that cannot run here. Each request takes the next
//! scripted answer, or the default answer once the script is used up; a [`Responder`] can also
//! decide from the request itself (for example 413 for bodies with more than one event).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// One response of the endpoint.
#[derive(Debug, Clone)]
pub struct ScriptedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Delay before the response is sent.
    pub delay: Duration,
}

impl ScriptedResponse {
    pub fn status(status: u16) -> Self {
        ScriptedResponse {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the endpoint received.
#[derive(Debug, Clone)]
pub struct CapturedRequest {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub received_at: Instant,
    /// Status of the response the endpoint sent.
    pub answered: u16,
}

impl CapturedRequest {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Decides an answer from the request; `None` falls back to the script.
pub type Responder = Arc<dyn Fn(&CapturedRequest) -> Option<ScriptedResponse> + Send + Sync>;

struct Inner {
    script: VecDeque<ScriptedResponse>,
    default: ScriptedResponse,
    responder: Option<Responder>,
    requests: Vec<CapturedRequest>,
}

/// The running endpoint; it stops when dropped.
#[derive(Clone)]
pub struct FakeEndpoint {
    address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    _server: Arc<ServerGuard>,
}

struct ServerGuard(tokio::task::JoinHandle<()>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FakeEndpoint {
    /// Starts an endpoint that answers `default` (after any scripted answers).
    pub async fn start(default: ScriptedResponse) -> FakeEndpoint {
        let inner = Arc::new(Mutex::new(Inner {
            script: VecDeque::new(),
            default,
            responder: None,
            requests: Vec::new(),
        }));
        // No body limit: the endpoint replaces receivers that accept large objects, and
        // each destination's own limits are what the tests check.
        let app = Router::new()
            .fallback(answer)
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fake endpoint");
        let address = listener.local_addr().expect("read the fake endpoint's address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeEndpoint {
            address,
            inner,
            _server: Arc::new(ServerGuard(server)),
        }
    }

    /// Returns the base URL, such as `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Appends answers to the script.
    pub fn script(&self, responses: impl IntoIterator<Item = ScriptedResponse>) {
        self.lock().script.extend(responses);
    }

    pub fn set_default(&self, response: ScriptedResponse) {
        self.lock().default = response;
    }

    pub fn set_responder(&self, responder: Responder) {
        self.lock().responder = Some(responder);
    }

    /// Returns every request received so far, oldest first.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn answer(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = CapturedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
        received_at: Instant::now(),
        answered: 0,
    };
    let response = {
        let mut inner = inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let decided = inner.responder.as_ref().and_then(|responder| responder(&request));
        let response = decided
            .or_else(|| inner.script.pop_front())
            .unwrap_or_else(|| inner.default.clone());
        request.answered = response.status;
        inner.requests.push(request);
        response
    };
    if !response.delay.is_zero() {
        tokio::time::sleep(response.delay).await;
    }
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = (status, response.body).into_response();
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            reply.headers_mut().insert(name, value);
        }
    }
    reply
}
