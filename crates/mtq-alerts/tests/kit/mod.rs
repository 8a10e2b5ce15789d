//! Stand-ins that speak the real protocols on loopback: a Telegram Bot API server, a webhook
//! receiver that verifies signatures, and an SMTP server.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub const TOKEN: &str = "123456:test-token-never-logged";
pub const WEBHOOK_SECRET: &str = "a webhook secret of 32 bytes...";

async fn listen(app: Router) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

/// Waits (a hang guard, not a timing assertion) until `f` holds.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..600 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A fake Bot API: records `sendMessage`, serves queued updates to `getUpdates`.
#[derive(Clone, Default)]
pub struct FakeTelegram {
    pub sent: Arc<Mutex<Vec<Value>>>,
    updates: Arc<Mutex<VecDeque<Value>>>,
    next_update: Arc<AtomicUsize>,
    /// The highest offset a `getUpdates` asked for.
    pub offset: Arc<Mutex<i64>>,
    /// How many next `sendMessage` calls answer 429 with `retry_after: 1`.
    pub throttle: Arc<AtomicU32>,
    pub bad_token_calls: Arc<AtomicU32>,
}

impl FakeTelegram {
    pub async fn start() -> (Self, String) {
        let me = Self::default();
        let app = Router::new()
            .route("/{bot}/{method}", post(telegram))
            .with_state(me.clone());
        let addr = listen(app).await;
        (me, format!("http://{addr}"))
    }

    /// Queues a text message from `chat`.
    pub fn say(&self, chat: i64, text: &str) {
        let id = self.next_update.fetch_add(1, Ordering::SeqCst) + 1;
        self.updates.lock().unwrap().push_back(json!({
            "update_id": id,
            "message": {"message_id": id, "date": 0, "chat": {"id": chat, "type": "private"}, "text": text}
        }));
    }

    /// The update id of the last queued message.
    pub fn last_update(&self) -> i64 {
        i64::try_from(self.next_update.load(Ordering::SeqCst)).unwrap()
    }

    pub fn texts_to(&self, chat: i64) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["chat_id"].as_i64() == Some(chat))
            .map(|m| m["text"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

async fn telegram(
    State(t): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        t.bad_token_calls.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    match method.as_str() {
        "sendMessage" => {
            if t.throttle
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"ok": false, "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1}})),
                )
                    .into_response();
            }
            if body["chat_id"].as_i64().is_none() || body["text"].as_str().is_none() {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: chat_id and text"})),
                )
                    .into_response();
            }
            t.sent.lock().unwrap().push(body);
            Json(json!({"ok": true, "result": {"message_id": 1}})).into_response()
        }
        "getUpdates" => {
            let offset = body["offset"].as_i64().unwrap_or(0);
            {
                let mut o = t.offset.lock().unwrap();
                *o = (*o).max(offset);
            }
            // A short hold instead of the real long poll, so tests stay fast.
            for _ in 0..4 {
                let ready: Vec<Value> = t
                    .updates
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                    .cloned()
                    .collect();
                if !ready.is_empty() {
                    return Json(json!({"ok": true, "result": ready})).into_response();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Json(json!({"ok": true, "result": []})).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error_code": 404, "description": "Not Found"})),
        )
            .into_response(),
    }
}

/// A webhook receiver that checks every signature; answers `status`.
#[derive(Clone)]
pub struct Receiver {
    pub bodies: Arc<Mutex<Vec<Value>>>,
    pub calls: Arc<AtomicU32>,
    pub bad_signatures: Arc<AtomicU32>,
    status: Arc<Mutex<StatusCode>>,
}

impl Receiver {
    pub async fn start(status: StatusCode) -> (Self, String) {
        let me = Self {
            bodies: Arc::default(),
            calls: Arc::default(),
            bad_signatures: Arc::default(),
            status: Arc::new(Mutex::new(status)),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(me.clone());
        let addr = listen(app).await;
        (me, format!("http://{addr}/hook"))
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.calls.fetch_add(1, Ordering::SeqCst);
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let verdict = mtq_alerts::webhook::verify(
        WEBHOOK_SECRET.as_bytes(),
        h(mtq_alerts::webhook::TIMESTAMP_HEADER),
        h(mtq_alerts::webhook::SIGNATURE_HEADER),
        &body,
        chrono::Utc::now().timestamp(),
        Duration::from_secs(300),
    );
    if verdict.is_err() {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let status = *r.status.lock().unwrap();
    if status.is_success() {
        r.bodies
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap());
    }
    status
}

/// An endpoint that accepts connections and never answers.
pub async fn black_hole() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    format!("http://{addr}/hook")
}

/// One message an SMTP client handed over.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// Whether the message came over TLS (implicit, or after STARTTLS).
    pub tls: bool,
}

/// How the SMTP server secures its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpMode {
    /// Plain SMTP (a loopback relay).
    Plain,
    /// Plain greeting, `STARTTLS` offered in the EHLO reply; mail only after the upgrade.
    Starttls,
    /// TLS from the first byte (port 465 style).
    Implicit,
}

/// The test CA's certificate (PEM file) that signed the server's certificate for `localhost`
/// and 127.0.0.1; `tests/fixtures/tls/make.sh` regenerates them.
pub fn tls_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(tls_fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_fixture("server.key")).unwrap();
    // The same ring provider as the client (see `http_client`).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A small SMTP server (RFC 5321: greeting, EHLO, MAIL, RCPT, DATA with dot-stuffing, QUIT;
/// RFC 3207 STARTTLS), plain or over TLS.
#[derive(Clone, Default)]
pub struct SmtpServer {
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// TLS handshakes that failed (a client that refused the certificate).
    pub failed_handshakes: Arc<AtomicUsize>,
}

impl SmtpServer {
    pub async fn start() -> (Self, u16) {
        Self::start_with(SmtpMode::Plain).await
    }

    pub async fn start_with(mode: SmtpMode) -> (Self, u16) {
        let me = Self::default();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = me.clone();
        let acceptor = (mode != SmtpMode::Plain).then(tls_acceptor);
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let server = server.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = server.session(s, mode, acceptor).await;
                });
            }
        });
        (me, port)
    }

    async fn session(
        &self,
        s: tokio::net::TcpStream,
        mode: SmtpMode,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<()> {
        let handshake = |r: std::io::Result<_>| {
            if r.is_err() {
                self.failed_handshakes.fetch_add(1, Ordering::SeqCst);
            }
            r
        };
        match (mode, acceptor) {
            (SmtpMode::Implicit, Some(acc)) => {
                let tls = handshake(acc.accept(s).await)?;
                smtp_lines(tls, &self.mails, Stage::Greet { starttls: false }, true).await?;
            }
            (SmtpMode::Starttls, Some(acc)) => {
                if let Some(plain) =
                    smtp_lines(s, &self.mails, Stage::Greet { starttls: true }, false).await?
                {
                    let tls = handshake(acc.accept(plain).await)?;
                    smtp_lines(tls, &self.mails, Stage::AfterStarttls, true).await?;
                }
            }
            _ => {
                smtp_lines(s, &self.mails, Stage::Greet { starttls: false }, false).await?;
            }
        }
        Ok(())
    }
}

/// Where an SMTP dialogue starts.
#[derive(Clone, Copy)]
enum Stage {
    /// A new connection: send the greeting; offer STARTTLS if asked.
    Greet { starttls: bool },
    /// Just upgraded: RFC 3207 says the client starts again with EHLO, with no greeting.
    AfterStarttls,
}

/// Runs one SMTP dialogue; returns the stream when the client asked for STARTTLS.
async fn smtp_lines<S>(
    s: S,
    mails: &Arc<Mutex<Vec<Mail>>>,
    stage: Stage,
    tls: bool,
) -> std::io::Result<Option<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut w = BufReader::new(s);
    let offer_starttls = matches!(stage, Stage::Greet { starttls: true });
    if let Stage::Greet { .. } = stage {
        w.write_all(b"220 localhost ESMTP test\r\n").await?;
        w.flush().await?;
    }
    let mut mail = Mail::default();
    let mut line = String::new();
    loop {
        line.clear();
        if w.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_uppercase();
        if upper.starts_with("EHLO") {
            if offer_starttls {
                w.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 STARTTLS\r\n")
                    .await?;
            } else {
                w.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    .await?;
            }
        } else if upper == "STARTTLS" && offer_starttls {
            w.write_all(b"220 ready to start TLS\r\n").await?;
            w.flush().await?;
            return Ok(Some(w.into_inner()));
        } else if upper.starts_with("HELO") {
            w.write_all(b"250 localhost\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            if offer_starttls {
                // RFC 3207: a server that requires TLS refuses mail before the upgrade.
                w.write_all(b"530 must issue a STARTTLS command first\r\n")
                    .await?;
                w.flush().await?;
                continue;
            }
            mail = Mail {
                from: cmd[10..].trim().to_string(),
                tls,
                ..Mail::default()
            };
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(cmd[8..].trim().to_string());
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            w.flush().await?;
            let mut data = String::new();
            loop {
                line.clear();
                if w.read_line(&mut line).await? == 0 {
                    return Ok(None);
                }
                if line == ".\r\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
            }
            mail.data = data;
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            w.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            w.flush().await?;
            return Ok(None);
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 OK\r\n").await?;
        } else {
            w.write_all(b"502 command not implemented\r\n").await?;
        }
        w.flush().await?;
    }
}
