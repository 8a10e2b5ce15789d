//! Email over TLS against a real SMTP server on loopback: STARTTLS (RFC 3207) and implicit TLS,
//! with the server's certificate signed by a private CA that `alerts.email.ca_file` trusts. A
//! client that does not trust the certificate reports the failure and sends nothing in clear.

mod kit;

use std::sync::atomic::Ordering;

use kit::{SmtpMode, SmtpServer, tls_fixture};
use mtq_alerts::email::EmailClient;
use mtq_orchestrator::config::{EmailSection, SmtpTls};

fn section(port: u16, tls: SmtpTls, ca: &str) -> EmailSection {
    EmailSection {
        enabled: true,
        host: "localhost".into(),
        port,
        tls,
        ca_file: tls_fixture(ca).display().to_string(),
        from: "MTQ <mtq@example.com>".into(),
        to: vec!["ops@example.com".into()],
        timeout_seconds: 5,
        ..EmailSection::default()
    }
}

async fn sends_over_tls(mode: SmtpMode, tls: SmtpTls) {
    let (server, port) = SmtpServer::start_with(mode).await;
    let client = EmailClient::new(&section(port, tls, "ca.pem")).unwrap();
    client
        .send(
            "MTQ: kill switch tripped",
            "daily loss limit reached",
            false,
        )
        .await
        .unwrap();
    let mails = server.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "one message reaches the server");
    assert!(mails[0].tls, "the message came over TLS");
    assert!(mails[0].data.contains("daily loss limit reached"));
    assert!(mails[0].to[0].contains("ops@example.com"));
    assert_eq!(server.failed_handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn starttls_upgrades_before_any_mail_and_trusts_the_configured_ca() {
    sends_over_tls(SmtpMode::Starttls, SmtpTls::Starttls).await;
}

#[tokio::test]
async fn implicit_tls_sends_through_a_server_signed_by_the_configured_ca() {
    sends_over_tls(SmtpMode::Implicit, SmtpTls::Implicit).await;
}

async fn refuses_an_untrusted_certificate(mode: SmtpMode, tls: SmtpTls) {
    let (server, port) = SmtpServer::start_with(mode).await;
    // Trusts another CA (and the system's roots), not the one that signed the server.
    let client = EmailClient::new(&section(port, tls, "other-ca.pem")).unwrap();
    let err = client
        .send("MTQ: test", "must not be sent", false)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.to_lowercase().contains("certificate") || text.to_lowercase().contains("tls"),
        "the error says why: {text}"
    );
    assert!(server.mails.lock().unwrap().is_empty(), "nothing was sent");
    // It failed in the TLS handshake (the certificate), not before it.
    kit::eventually("the server sees the handshake fail", || {
        server.failed_handshakes.load(Ordering::SeqCst) >= 1
    })
    .await;
}

#[tokio::test]
async fn starttls_to_an_untrusted_certificate_is_an_error_and_sends_nothing() {
    refuses_an_untrusted_certificate(SmtpMode::Starttls, SmtpTls::Starttls).await;
}

#[tokio::test]
async fn implicit_tls_to_an_untrusted_certificate_is_an_error_and_sends_nothing() {
    refuses_an_untrusted_certificate(SmtpMode::Implicit, SmtpTls::Implicit).await;
}

#[tokio::test]
async fn a_server_that_does_not_offer_starttls_is_refused_not_used_in_clear() {
    // A plain server (no STARTTLS in its EHLO reply): required STARTTLS must not fall back.
    let (server, port) = SmtpServer::start_with(SmtpMode::Plain).await;
    let client = EmailClient::new(&section(port, SmtpTls::Starttls, "ca.pem")).unwrap();
    assert!(client.send("MTQ: test", "secret", false).await.is_err());
    assert!(server.mails.lock().unwrap().is_empty());
}

#[test]
fn a_missing_or_bad_ca_file_names_the_key() {
    let mut cfg = section(587, SmtpTls::Starttls, "ca.pem");
    cfg.ca_file = "/nonexistent/relay-ca.pem".into();
    let e = EmailClient::new(&cfg).unwrap_err().to_string();
    assert!(
        e.contains("alerts.email.ca_file") && e.contains("/nonexistent/relay-ca.pem"),
        "{e}"
    );
    cfg.ca_file = tls_fixture("make.sh").display().to_string();
    let e = EmailClient::new(&cfg).unwrap_err().to_string();
    assert!(e.contains("alerts.email.ca_file"), "{e}");
}
