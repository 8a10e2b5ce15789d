//! `/metrics` on a real `serve` paper session: the scrape token guards it, a scrape taken
//! mid-session carries every family of a trading session with low-cardinality labels, and
//! `promtool check metrics` (when installed, as in CI) finds nothing to complain about.

mod serve_kit;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use mtq_metrics::names;
use serve_kit::{ACCOUNT, Serve, request};

const TOKEN: &str = "e2e-scrape-token-0123456789abcdef";

async fn scrape(s: &Serve, token: &str) -> serve_kit::Reply {
    request(&s.authority(), "GET", "/metrics", token, &[], "")
        .await
        .expect("GET /metrics")
}

/// The family a sample line belongs to (`mtq_x_bucket{..} 1` -> `mtq_x`).
fn family(line: &str) -> &str {
    let name = line.split(['{', ' ']).next().unwrap_or("");
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && names::find(base).is_some_and(|m| m.kind == names::Kind::Histogram)
        {
            return base;
        }
    }
    name
}

/// Label names of a sample line.
fn label_names(line: &str) -> Vec<String> {
    let Some(open) = line.find('{') else {
        return Vec::new();
    };
    let close = line.rfind('}').unwrap_or(line.len());
    line[open + 1..close]
        .split("\",")
        .filter_map(|kv| kv.split('=').next())
        .map(|k| k.trim_matches(',').to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_scrape_token_and_cover_a_trading_session_with_bounded_labels() {
    let s = Serve::start_with_env("metrics", &[("MTQ_METRICS_TOKEN", TOKEN)]).await;

    // No token, a wrong one, or an API key (which is not the scrape token): 401.
    for wrong in ["", "not-the-token", s.admin.as_str()] {
        assert_eq!(scrape(&s, wrong).await.status, 401, "token `{wrong}`");
    }
    // A route with a path parameter, for the HTTP metrics.
    s.get(ACCOUNT).await;

    let text = s
        .until(
            "orders, closed trades and positions in the metrics",
            |s| async move {
                let r = scrape(s, TOKEN).await;
                let t = r.text();
                (r.status == 200
                    && t.contains("mtq_orders_total{")
                    && t.contains("mtq_trades_closed_total{")
                    && t.contains("mtq_gross_")
                    && t.contains("mtq_positions_open{"))
                .then_some(t)
            },
        )
        .await;

    let mut families = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(
                names::find(name).is_some(),
                "`{name}` is exported but not in the table"
            );
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "`{name}` has no description"
            );
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let f = family(line);
        let m = names::find(f).unwrap_or_else(|| panic!("sample of an unknown family: {line}"));
        families.insert(f.to_string());
        for label in label_names(line) {
            assert!(
                m.labels.contains(&label.as_str()) || label == "le",
                "{f} has label `{label}`, not in its declared set {:?}: {line}",
                m.labels
            );
        }
    }
    for expected in [
        names::BUILD_INFO,
        names::TRADING_STATE,
        names::KILL_SWITCH_ACTIVE,
        names::CYCLE_DURATION,
        names::CYCLES,
        names::LAST_CYCLE,
        names::BROKER_CONNECTED,
        names::BROKER_REQUEST_DURATION,
        names::TICKS,
        names::BARS,
        names::LAST_TICK,
        names::SPREAD,
        names::MARKET_OPEN,
        names::SIGNALS,
        names::ORDERS,
        names::ORDER_LATENCY,
        names::POSITIONS_OPEN,
        names::POSITION_VOLUME,
        names::BALANCE,
        names::EQUITY,
        names::MARGIN_LEVEL,
        names::DRAWDOWN,
        names::DAILY_PNL,
        names::DAILY_LOSS_USED,
        names::TRADES_CLOSED,
        names::DB_WRITE_DURATION,
        names::QUEUE_DEPTH,
        names::HTTP_REQUESTS,
        names::HTTP_DURATION,
        names::AUTH_FAILURES,
        names::WS_CONNECTIONS,
    ] {
        assert!(
            families.contains(expected),
            "no `{expected}` in the scrape:\n{text}"
        );
    }
    // Route templates, never raw paths with their ids.
    assert!(
        text.contains(r#"route="/api/v1/accounts/{account}""#),
        "{text}"
    );
    assert!(!text.contains(r#"route="/api/v1/accounts/default""#));
    assert!(
        text.contains(r#"mtq_auth_failures_total{kind="scrape_token"} 3"#),
        "{text}"
    );

    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && said.trim().is_empty(),
                "promtool check metrics: {said}"
            );
        }
        Err(_) => eprintln!(
            "promtool not installed: `promtool check metrics` skipped here (.ci/observability runs it)"
        ),
    }
}
