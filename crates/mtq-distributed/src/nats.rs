//! Connecting to NATS and the JetStream streams, consumers and object store MTQ uses.
//!
//! | name | kind | holds |
//! | --- | --- | --- |
//! | `MTQ_OPT_WORK` | stream, work-queue retention, subjects `mtq.opt.work.RUN.JOB.CHUNK` | work items until a worker acks them |
//! | `mtq-workers` | durable pull consumer on it, explicit acks | shared by every worker: each item goes to one |
//! | `MTQ_OPT_RESULTS` | stream, work-queue retention, subjects `mtq.opt.result.RUN.JOB.CHUNK` | chunk results until the submitter has stored them |
//! | `collect-RUN` | durable pull consumer per run | the submitter's (or `--resume`'s) |
//! | `mtq-opt` | object store | `bars-SHA256` (the data, once per content) and `run-RUN` (the run's description) |
//!
//! Core subjects (not stored): `mtq.opt.cancel.RUN` tells workers to drop a run's chunk in hand;
//! `mtq.opt.refused.RUN` carries a worker's refusal of an item to the submitter.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};

use crate::DistributedError;

pub const WORK_STREAM: &str = "MTQ_OPT_WORK";
pub const RESULT_STREAM: &str = "MTQ_OPT_RESULTS";
pub const WORKER_CONSUMER: &str = "mtq-workers";
pub const BUCKET: &str = "mtq-opt";
/// Largest work item or result message the streams accept (NATS's default `max_payload` is
/// 1 MiB; a result of [`MAX_CHUNK_SETS`](crate::wire::MAX_CHUNK_SETS) sets is about 300 KiB).
pub const MAX_MESSAGE_BYTES: i32 = 1024 * 1024;
/// How long JetStream remembers a message id to drop a republished duplicate.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

pub fn work_subject(run: &str, job: u32, chunk: u32) -> String {
    format!("mtq.opt.work.{run}.{job}.{chunk}")
}
pub fn result_subject(run: &str, job: u32, chunk: u32) -> String {
    format!("mtq.opt.result.{run}.{job}.{chunk}")
}
pub fn cancel_subject(run: &str) -> String {
    format!("mtq.opt.cancel.{run}")
}
pub fn refused_subject(run: &str) -> String {
    format!("mtq.opt.refused.{run}")
}
pub fn collector_name(run: &str) -> String {
    format!("collect-{run}")
}
pub fn run_object(run: &str) -> String {
    format!("run-{run}")
}
pub fn data_object(hash: &str) -> String {
    format!("bars-{hash}")
}

/// Where NATS is and how to authenticate. Secrets are never printed: `Debug` and every log
/// line show the URL without its password and say only which kind of credentials is used.
#[derive(Clone, Default)]
pub struct NatsOptions {
    /// `nats://HOST:4222` or `tls://HOST:4222`; several comma-separated.
    pub url: String,
    /// A `.creds` file (JWT and NKey seed), as `nsc` writes them.
    pub creds_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// CA certificate(s) (PEM) to trust for the server's certificate.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub require_tls: bool,
    /// How long a work item stays with a worker that neither acks nor reports progress before
    /// JetStream hands it to another (the consumer's ack wait).
    pub ack_wait: Duration,
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("url", &redact(&self.url))
            .field("creds_file", &self.creds_file)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key.as_ref().map(|_| "***"))
            .field("require_tls", &self.require_tls)
            .field("ack_wait", &self.ack_wait)
            .finish()
    }
}

/// `url` without the password (or token) in its user part.
pub fn redact(url: &str) -> String {
    url.split(',')
        .map(|u| match (u.find("://"), u.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}***@{}", &u[..s + 3], &u[at + 1..]),
            (None, Some(at)) => format!("***@{}", &u[at + 1..]),
            _ => u.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl NatsOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ack_wait: Duration::from_secs(60),
            ..Self::default()
        }
    }

    /// Connects (retrying for ever once connected: a restarted server is rejoined).
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client, DistributedError> {
        let nats = |reason: String| DistributedError::Nats {
            url: redact(&self.url),
            reason,
        };
        let mut o = match &self.creds_file {
            Some(p) => async_nats::ConnectOptions::with_credentials_file(p.clone())
                .await
                .map_err(|e| nats(format!("credentials file {}: {e}", p.display())))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let (Some(u), Some(p)) = (&self.user, &self.password) {
            o = o.user_and_password(u.clone(), p.clone());
        } else if self.user.is_some() {
            return Err(nats(
                "a user needs a password (MTQ_NATS_PASSWORD or --nats-password-file)".into(),
            ));
        }
        if let Some(t) = &self.token {
            o = o.token(t.clone());
        }
        if let Some(ca) = &self.tls_ca {
            o = o.add_root_certificates(ca.clone());
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => o = o.add_client_certificate(c.clone(), k.clone()),
            (None, None) => {}
            _ => {
                return Err(nats(
                    "--nats-tls-cert and --nats-tls-key go together".into(),
                ));
            }
        }
        let o = o
            .require_tls(self.require_tls)
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None);
        let addrs: Vec<async_nats::ServerAddr> = self
            .url
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<_, _>>()
            .map_err(|e| nats(format!("not a NATS URL: {e}")))?;
        o.connect(addrs).await.map_err(|e| nats(e.to_string()))
    }
}

/// The streams, the workers' consumer and the object store, created when missing.
#[derive(Clone)]
pub struct Queue {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub work: stream::Stream,
    pub results: stream::Stream,
    pub store: jetstream::object_store::ObjectStore,
    pub ack_wait: Duration,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("work", &WORK_STREAM)
            .field("results", &RESULT_STREAM)
            .field("store", &BUCKET)
            .field("ack_wait", &self.ack_wait)
            .finish()
    }
}

fn js_err(what: &str, e: impl std::fmt::Display) -> DistributedError {
    DistributedError::JetStream(format!("{what}: {e}"))
}

impl Queue {
    pub async fn open(opts: &NatsOptions, name: &str) -> Result<Self, DistributedError> {
        let client = opts.connect(name).await?;
        let js = jetstream::new(client.clone());
        let stream_config = |name: &str, subjects: &str| stream::Config {
            name: name.to_string(),
            subjects: vec![subjects.to_string()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_message_size: MAX_MESSAGE_BYTES,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        let work = js
            .get_or_create_stream(stream_config(WORK_STREAM, "mtq.opt.work.>"))
            .await
            .map_err(|e| js_err("creating the work stream", e))?;
        let results = js
            .get_or_create_stream(stream_config(RESULT_STREAM, "mtq.opt.result.>"))
            .await
            .map_err(|e| js_err("creating the result stream", e))?;
        let store = match js.get_object_store(BUCKET).await {
            Ok(s) => s,
            Err(_) => js
                .create_object_store(jetstream::object_store::Config {
                    bucket: BUCKET.to_string(),
                    description: Some("MTQ optimisation data and run descriptions".into()),
                    ..Default::default()
                })
                .await
                .map_err(|e| js_err("creating the object store", e))?,
        };
        Ok(Self {
            client,
            js,
            work,
            results,
            store,
            ack_wait: opts.ack_wait,
        })
    }

    /// The consumer every worker pulls from.
    pub async fn worker_consumer(
        &self,
    ) -> Result<consumer::Consumer<consumer::pull::Config>, DistributedError> {
        self.work
            .get_or_create_consumer(
                WORKER_CONSUMER,
                consumer::pull::Config {
                    durable_name: Some(WORKER_CONSUMER.to_string()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    filter_subject: "mtq.opt.work.>".to_string(),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| js_err("creating the workers' consumer", e))
    }

    /// The run's result collector.
    pub async fn collector(
        &self,
        run: &str,
    ) -> Result<consumer::Consumer<consumer::pull::Config>, DistributedError> {
        let name = collector_name(run);
        self.results
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    filter_subject: format!("mtq.opt.result.{run}.>"),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| js_err("creating the result collector", e))
    }

    /// Messages per subject under `filter` in `stream`.
    pub async fn subjects(
        stream: &stream::Stream,
        filter: &str,
    ) -> Result<std::collections::HashMap<String, usize>, DistributedError> {
        use futures_util::TryStreamExt;
        let mut info = stream
            .info_with_subjects(filter)
            .await
            .map_err(|e| js_err("reading a stream's subjects", e))?;
        let mut out = std::collections::HashMap::new();
        while let Some((subject, count)) = info
            .try_next()
            .await
            .map_err(|e| js_err("reading a stream's subjects", e))?
        {
            out.insert(subject, count);
        }
        Ok(out)
    }

    /// Reads a whole object.
    pub async fn get_object(&self, name: &str) -> Result<Option<Vec<u8>>, DistributedError> {
        use tokio::io::AsyncReadExt;
        let mut obj = match self.store.get(name).await {
            Ok(o) => o,
            Err(e) if e.kind() == jetstream::object_store::GetErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(js_err(&format!("reading object {name}"), e)),
        };
        let mut out = Vec::new();
        obj.read_to_end(&mut out)
            .await
            .map_err(|e| js_err(&format!("reading object {name}"), e))?;
        Ok(Some(out))
    }

    pub async fn put_object(&self, name: &str, bytes: &[u8]) -> Result<(), DistributedError> {
        let mut reader = bytes;
        self.store
            .put(name, &mut reader)
            .await
            .map_err(|e| js_err(&format!("writing object {name}"), e))?;
        Ok(())
    }

    pub async fn has_object(&self, name: &str) -> bool {
        self.store.info(name).await.is_ok()
    }
}
