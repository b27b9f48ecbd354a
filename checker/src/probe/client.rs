//! The HTTP client of the checks, on hyper's connection API so every phase can be timed:
//! DNS resolution, TCP connect, TLS handshake, first response byte. By default each check
//! opens a fresh connection (the latency a user sees includes connect and TLS); with
//! connection reuse on, idle connections are kept per (scheme, host, port, verification).
//!
//! Redirects are followed by hand (at most [`MAX_REDIRECTS`], loops detected), so a
//! redirect loop is a clear `redirect` error, not a timeout. The body is read up to a cap;
//! beyond it the check fails with `body_too_large` without reading the rest.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::Mutex,
    time::Instant,
};

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use crds::contract::{ErrorKind, Timings};
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, client::conn::http1::SendRequest, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::{Host, Url};

use super::tls::{TlsConfigs, not_after};

/// Redirect hops followed at most.
pub const MAX_REDIRECTS: usize = 10;

/// A failed exchange: class and short message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The class.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

fn fail<T>(kind: ErrorKind, message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        kind,
        message: message.into(),
    })
}

/// What a successful exchange returned.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Final status code (after redirects).
    pub status: u16,
    /// Body, at most the cap.
    pub body: Bytes,
    /// Phases of the first hop.
    pub timings: Timings,
    /// Expiry of the TLS leaf certificate of the first https hop.
    pub cert_expires_at: Option<DateTime<Utc>>,
}

/// What a check asks for.
#[derive(Clone, Debug)]
pub struct Ask<'a> {
    /// URL.
    pub url: &'a str,
    /// Method.
    pub method: &'a str,
    /// Headers (values resolved).
    pub headers: &'a [(String, String)],
    /// Body.
    pub body: Option<&'a str>,
    /// Follow redirects.
    pub follow_redirects: bool,
    /// Verify TLS.
    pub tls_verify: bool,
}

type Key = (String, String, u16, bool);

/// The shared client.
pub struct Client {
    tls: TlsConfigs,
    body_cap: usize,
    reuse: bool,
    idle: Mutex<HashMap<Key, Vec<SendRequest<Full<Bytes>>>>>,
}

impl Client {
    /// A client reading at most `body_cap` bytes of a body; `reuse` keeps idle
    /// connections for later checks of the same origin.
    pub fn new(body_cap: usize, reuse: bool) -> Self {
        Self {
            tls: TlsConfigs::new(),
            body_cap,
            reuse,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// Performs the exchange (the caller bounds it with the check's timeout).
    ///
    /// # Errors
    /// A [`Failure`] classified as `dns`, `connect`, `tls`, `protocol`, `redirect`,
    /// `body_too_large` or `other`.
    pub async fn exchange(&self, ask: &Ask<'_>) -> Result<Exchange, Failure> {
        let mut url =
            Url::parse(ask.url).or_else(|e| fail(ErrorKind::Other, format!("invalid URL: {e}")))?;
        let mut method = ask.method.to_string();
        let mut body = ask.body;
        let mut visited = HashSet::from([url.to_string()]);
        let mut timings = Timings::default();
        let mut cert_expires_at = None;
        for hop in 0..=MAX_REDIRECTS {
            let started = Instant::now();
            let (mut sender, key, expiry) = self
                .connect(&url, ask.tls_verify, hop == 0, &mut timings)
                .await?;
            if hop == 0 {
                cert_expires_at = expiry;
            }
            let request = build_request(&url, &method, ask.headers, body)?;
            let response = sender
                .send_request(request)
                .await
                .or_else(|e| fail(ErrorKind::Protocol, format!("no valid HTTP response: {e}")))?;
            if hop == 0 {
                timings.first_byte_ms = Some(millis(started));
            }
            let status = response.status();
            if ask.follow_redirects && is_redirect(status) {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_string);
                let Some(location) = location else {
                    return fail(
                        ErrorKind::Redirect,
                        format!("redirect {status} without a Location header"),
                    );
                };
                let next = url.join(&location).or_else(|e| {
                    fail(
                        ErrorKind::Redirect,
                        format!("redirect to an invalid location {location:?}: {e}"),
                    )
                })?;
                if !visited.insert(next.to_string()) {
                    return fail(
                        ErrorKind::Redirect,
                        format!("redirect loop: {next} was visited twice"),
                    );
                }
                if hop == MAX_REDIRECTS {
                    return fail(
                        ErrorKind::Redirect,
                        format!("more than {MAX_REDIRECTS} redirects"),
                    );
                }
                if status == StatusCode::SEE_OTHER
                    || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                        && method == "POST")
                {
                    method = "GET".to_string();
                    body = None;
                }
                url = next;
                continue;
            }
            let read = if method == "HEAD" {
                Bytes::new()
            } else {
                self.read_body(response.into_body()).await?
            };
            if self.reuse {
                self.idle
                    .lock()
                    .expect("idle lock")
                    .entry(key)
                    .or_default()
                    .push(sender);
            }
            return Ok(Exchange {
                status: status.as_u16(),
                body: read,
                timings,
                cert_expires_at,
            });
        }
        fail(
            ErrorKind::Redirect,
            format!("more than {MAX_REDIRECTS} redirects"),
        )
    }

    async fn read_body(&self, mut body: hyper::body::Incoming) -> Result<Bytes, Failure> {
        let mut buffer = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.or_else(|e| fail(ErrorKind::Protocol, format!("body read failed: {e}")))?;
            if let Some(data) = frame.data_ref() {
                if buffer.len() + data.len() > self.body_cap {
                    return fail(
                        ErrorKind::BodyTooLarge,
                        format!("body is larger than the {} byte limit", self.body_cap),
                    );
                }
                buffer.extend_from_slice(data);
            }
        }
        Ok(buffer.freeze())
    }

    /// A connection to `url`'s origin: an idle one when reusing, else a fresh one with
    /// its phases recorded in `timings` (when `record`).
    async fn connect(
        &self,
        url: &Url,
        verify: bool,
        record: bool,
        timings: &mut Timings,
    ) -> Result<(SendRequest<Full<Bytes>>, Key, Option<DateTime<Utc>>), Failure> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return fail(ErrorKind::Other, format!("unsupported scheme {other:?}")),
        };
        let host = url.host().ok_or(Failure {
            kind: ErrorKind::Other,
            message: "URL has no host".into(),
        })?;
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let key: Key = (url.scheme().to_string(), host.to_string(), port, verify);
        if self.reuse {
            let reusable = {
                let mut idle = self.idle.lock().expect("idle lock");
                let senders = idle.entry(key.clone()).or_default();
                senders.retain(|s| !s.is_closed());
                senders.pop()
            };
            if let Some(mut sender) = reusable
                && sender.ready().await.is_ok()
            {
                return Ok((sender, key, None));
            }
        }

        let started = Instant::now();
        let addresses: Vec<SocketAddr> = match &host {
            Host::Ipv4(ip) => vec![SocketAddr::new((*ip).into(), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new((*ip).into(), port)],
            Host::Domain(name) => tokio::net::lookup_host((*name, port))
                .await
                .or_else(|e| fail(ErrorKind::Dns, format!("cannot resolve {name}: {e}")))?
                .collect(),
        };
        if addresses.is_empty() {
            return fail(ErrorKind::Dns, format!("{host} has no address"));
        }
        if record && matches!(host, Host::Domain(_)) {
            timings.dns_ms = Some(millis(started));
        }

        let started = Instant::now();
        let mut last_error = None;
        let mut stream = None;
        for address in &addresses {
            match TcpStream::connect(address).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_error = Some((address, e)),
            }
        }
        let Some(stream) = stream else {
            let (address, error) = last_error.expect("at least one address was tried");
            return fail(
                ErrorKind::Connect,
                format!("cannot connect to {address}: {error}"),
            );
        };
        let _ = stream.set_nodelay(true);
        if record {
            timings.connect_ms = Some(millis(started));
        }

        if !https {
            let sender = handshake(TokioIo::new(stream)).await?;
            return Ok((sender, key, None));
        }
        let started = Instant::now();
        let server_name = match &host {
            Host::Domain(name) => ServerName::try_from(name.to_string()),
            Host::Ipv4(ip) => Ok(ServerName::IpAddress((*ip).into())),
            Host::Ipv6(ip) => Ok(ServerName::IpAddress((*ip).into())),
        }
        .or_else(|e| fail(ErrorKind::Tls, format!("invalid TLS server name: {e}")))?;
        let config = if verify {
            &self.tls.verifying
        } else {
            &self.tls.insecure
        };
        let tls = TlsConnector::from(config.clone())
            .connect(server_name, stream)
            .await
            .or_else(|e| fail(ErrorKind::Tls, format!("TLS handshake failed: {e}")))?;
        if record {
            timings.tls_ms = Some(millis(started));
        }
        let expiry = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| not_after(leaf));
        let sender = handshake(TokioIo::new(tls)).await?;
        Ok((sender, key, expiry))
    }
}

async fn handshake<IO>(io: IO) -> Result<SendRequest<Full<Bytes>>, Failure>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .or_else(|e| fail(ErrorKind::Protocol, format!("HTTP handshake failed: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn build_request(
    url: &Url,
    method: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<Request<Full<Bytes>>, Failure> {
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .header(
            header::USER_AGENT,
            concat!("uptime-sentinel/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_string())))
        .or_else(|e| fail(ErrorKind::Other, format!("invalid request: {e}")))
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn millis(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_millis()).unwrap_or(u32::MAX)
}
