//! A local HTTP target whose behaviour a test controls while it runs: per path, the status,
//! headers, body, a delay before answering, and a slowly trickled body. It also records
//! every request, so it doubles as a webhook receiver.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::{Request, Response, body::Frame, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinHandle};

/// How the target answers one path.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// Wait this long before sending the response head.
    pub delay: Duration,
    /// Send the body in `chunk` byte pieces with this pause between them.
    pub trickle: Option<(usize, Duration)>,
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Self::status(200).with_body(body)
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
            trickle: None,
        }
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits `delay` before answering.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sends the body `chunk` bytes at a time, pausing `pause` between pieces.
    pub fn trickled(mut self, chunk: usize, pause: Duration) -> Self {
        self.trickle = Some((chunk.max(1), pause));
        self
    }
}

/// A request the target received.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers (lower-case names).
    pub headers: HashMap<String, String>,
    /// The whole body.
    pub body: Bytes,
}

#[derive(Default)]
struct State {
    tls: bool,
    routes: Mutex<HashMap<String, Reply>>,
    /// One-shot replies answered before `routes`, oldest first.
    queued: Mutex<HashMap<String, std::collections::VecDeque<Reply>>>,
    requests: Mutex<Vec<ReceivedRequest>>,
}

/// The running target; stops when dropped.
pub struct TargetServer {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl TargetServer {
    /// Starts on a free port of 127.0.0.1. Unknown paths answer 404.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State::default());
        let task = tokio::spawn(serve(listener, state.clone()));
        Self { addr, state, task }
    }

    /// Starts an https target on a free port of 127.0.0.1 with the given certificate
    /// chain and private key (DER), e.g. a self-signed one made with rcgen in the test.
    ///
    /// # Panics
    /// When the certificate or key is unusable or no port can be bound.
    pub async fn start_tls(
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Self {
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("default protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable certificate and key");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            tls: true,
            ..State::default()
        });
        let task = tokio::spawn(serve_tls(listener, acceptor, state.clone()));
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:<port><path>` (or `https://localhost:<port><path>` for a TLS target,
    /// so the certificate's name can match).
    pub fn url(&self, path: &str) -> String {
        if self.state.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    /// Sets how `path` answers from now on.
    pub fn set(&self, path: &str, reply: Reply) {
        self.state
            .routes
            .lock()
            .expect("routes lock")
            .insert(path.to_string(), reply);
    }

    /// Answers the next requests to `path` with `replies`, one each, then with whatever
    /// [`TargetServer::set`] configured (e.g. three 500s, then the route's 200).
    pub fn queue(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.state
            .queued
            .lock()
            .expect("queue lock")
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state.requests.lock().expect("requests lock").clone()
    }

    /// Requests received for `path` (query ignored).
    pub fn requests_to(&self, path: &str) -> Vec<ReceivedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .collect()
    }

    /// Waits until `path` has received at least `count` requests.
    ///
    /// # Panics
    /// After `timeout`.
    pub async fn wait_for_requests(
        &self,
        path: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<ReceivedRequest> {
        crate::wait::until(&format!("{count} requests to {path}"), timeout, || async {
            let received = self.requests_to(path);
            (received.len() >= count).then_some(received)
        })
        .await
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = BoxBody<Bytes, Infallible>;

async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, state.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn serve_tls(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let service = service_fn(move |request| handle(request, state.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    state: Arc<State>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let route = path.split('?').next().unwrap_or("/").to_string();
    state
        .requests
        .lock()
        .expect("requests lock")
        .push(ReceivedRequest {
            method: parts.method.to_string(),
            path,
            headers,
            body,
        });
    let queued = state
        .queued
        .lock()
        .expect("queue lock")
        .get_mut(&route)
        .and_then(std::collections::VecDeque::pop_front);
    let reply = queued
        .or_else(|| {
            state
                .routes
                .lock()
                .expect("routes lock")
                .get(&route)
                .cloned()
        })
        .unwrap_or_else(|| Reply::status(404).with_body("no such route"));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    let body: Body = match reply.trickle {
        None => Full::new(reply.body).boxed(),
        Some((chunk, pause)) => {
            let pieces: Vec<Bytes> = reply
                .body
                .chunks(chunk)
                .map(Bytes::copy_from_slice)
                .collect();
            let stream = futures::stream::unfold(
                (pieces.into_iter(), true),
                move |(mut rest, first)| async move {
                    let piece = rest.next()?;
                    if !first {
                        tokio::time::sleep(pause).await;
                    }
                    Some((Ok::<_, Infallible>(Frame::data(piece)), (rest, false)))
                },
            );
            StreamBody::new(stream).boxed()
        }
    };
    Ok(response.body(body).expect("valid response"))
}
