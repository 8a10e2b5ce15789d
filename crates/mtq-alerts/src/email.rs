//! Email over SMTP (`lettre` on rustls): STARTTLS (required, port 587) or implicit TLS (465);
//! plain SMTP only to a loopback relay.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mtq_orchestrator::config::{EmailSection, SmtpTls};

use crate::SetupError;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the message could not be built: {0}")]
    Build(String),
    /// A 4xx reply or a connection problem: worth trying again.
    #[error("the SMTP server did not take the message (temporary): {0}")]
    Transient(String),
    /// A 5xx reply: the server refuses it.
    #[error("the SMTP server refused the message: {0}")]
    Permanent(String),
}

impl EmailError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, EmailError::Transient(_))
    }
}

/// Whether `host` is this machine (a relay plain SMTP may go to).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The TLS parameters trusting `alerts.email.ca_file` besides the system's roots, or `None` when
/// no CA file is set (lettre's defaults then apply).
fn tls_with_ca(cfg: &EmailSection) -> Result<Option<TlsParameters>, String> {
    let path = cfg.ca_file.trim();
    if path.is_empty() {
        return Ok(None);
    }
    let pem = std::fs::read(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .filter(Result::is_ok)
        .count();
    if certs == 0 {
        return Err(format!(
            "`{path}` holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block)"
        ));
    }
    let cert = Certificate::from_pem(&pem)
        .map_err(|e| format!("`{path}` holds no PEM certificate lettre can use: {e}"))?;
    TlsParameters::builder(cfg.host.clone())
        .add_root_certificate(cert)
        .build_rustls()
        .map(Some)
        .map_err(|e| format!("the TLS settings for `{}` cannot be built: {e}", cfg.host))
}

/// Sends alerts to the configured recipients through one SMTP server.
#[derive(Clone)]
pub struct EmailClient {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for EmailClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailClient")
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl EmailClient {
    /// Checks `alerts.email` and builds the transport (nothing is sent yet).
    pub fn new(cfg: &EmailSection) -> Result<Self, SetupError> {
        let bad = |key: &str, why: String| SetupError::Config {
            key: format!("alerts.email.{key}"),
            reason: why,
        };
        if cfg.host.trim().is_empty() {
            return Err(bad("host", "set the SMTP server's host name".into()));
        }
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e| bad("from", format!("`{}` is not an address: {e}", cfg.from)))?;
        if cfg.to.is_empty() {
            return Err(bad("to", "list at least one recipient".into()));
        }
        let to = cfg
            .to
            .iter()
            .map(|a| {
                a.parse::<Mailbox>()
                    .map_err(|e| bad("to", format!("`{a}` is not an address: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let builder = match cfg.tls {
            SmtpTls::Starttls | SmtpTls::Implicit => {
                let base = if cfg.tls == SmtpTls::Starttls {
                    AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host)
                } else {
                    AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host)
                }
                .map_err(|e| bad("host", e.to_string()))?;
                match tls_with_ca(cfg).map_err(|why| bad("ca_file", why))? {
                    Some(params) if cfg.tls == SmtpTls::Starttls => base.tls(Tls::Required(params)),
                    Some(params) => base.tls(Tls::Wrapper(params)),
                    None => base,
                }
            }
            SmtpTls::None if is_loopback_host(&cfg.host) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            }
            SmtpTls::None => {
                return Err(bad(
                    "tls",
                    format!(
                        "`none` sends the password and the alerts in clear: only allowed to a loopback relay, not `{}`; use starttls or implicit",
                        cfg.host
                    ),
                ));
            }
        };
        let mut builder = builder
            .port(cfg.port)
            .timeout(Some(Duration::from_secs(cfg.timeout_seconds.max(1))));
        if !cfg.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                cfg.username.clone(),
                cfg.password.expose().to_string(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            to,
        })
    }

    /// Sends one message; `silent` marks it low importance.
    pub async fn send(&self, subject: &str, body: &str, silent: bool) -> Result<(), EmailError> {
        let mut b = Message::builder().from(self.from.clone()).subject(subject);
        for to in &self.to {
            b = b.to(to.clone());
        }
        if silent {
            b = b.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Importance"),
                "low".into(),
            ));
        }
        let msg = b
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| EmailError::Build(e.to_string()))?;
        self.transport.send(msg).await.map(drop).map_err(|e| {
            if e.is_permanent() {
                EmailError::Permanent(e.to_string())
            } else {
                EmailError::Transient(e.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> EmailSection {
        EmailSection {
            enabled: true,
            host: "smtp.example.com".into(),
            from: "MTQ <mtq@example.com>".into(),
            to: vec!["ops@example.com".into()],
            ..EmailSection::default()
        }
    }

    #[test]
    fn plain_smtp_is_refused_beyond_loopback() {
        let cfg = EmailSection {
            tls: SmtpTls::None,
            ..section()
        };
        let e = EmailClient::new(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("alerts.email.tls") && e.contains("loopback"),
            "{e}"
        );
        let local = EmailSection {
            host: "127.0.0.1".into(),
            ..cfg
        };
        assert!(EmailClient::new(&local).is_ok());
        assert!(is_loopback_host("::1") && is_loopback_host("localhost"));
        assert!(!is_loopback_host("10.0.0.1"));
    }

    #[test]
    fn a_bad_address_names_its_key() {
        let cfg = EmailSection {
            to: vec!["not an address".into()],
            ..section()
        };
        let e = EmailClient::new(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("alerts.email.to") && e.contains("not an address"),
            "{e}"
        );
        let none = EmailSection {
            to: vec![],
            ..section()
        };
        assert!(EmailClient::new(&none).is_err());
    }
}
