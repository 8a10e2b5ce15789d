//! The deploy/ files query only metrics MTQ exports: every Grafana panel, every alert rule.
//! A renamed or removed metric fails here instead of leaving a blank panel or a silent alert.

use std::path::PathBuf;

use mtq_metrics::names;

fn deploy(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Every `mtq_...` identifier in a PromQL expression (or any text).
fn mtq_series(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("mtq_") {
        let start = i + at;
        let boundary = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric() || b == b'_')
        };
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if boundary {
            out.push(text[start..end].to_string());
        }
        i = end;
    }
    out
}

fn panels(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    if let Some(list) = v.get("panels").and_then(|p| p.as_array()) {
        for p in list {
            if p.get("type").and_then(|t| t.as_str()) != Some("row") {
                out.push(p.clone());
            }
            panels(p, out);
        }
    }
}

#[test]
fn every_grafana_panel_queries_a_metric_mtq_exports() {
    let dash: serde_json::Value =
        serde_json::from_str(&deploy("grafana/dashboards/mtq-overview.json")).unwrap();
    assert_eq!(dash["uid"], "mtq-overview");
    assert!(
        dash["id"].is_null(),
        "a provisioned dashboard has no fixed id"
    );
    let mut all = Vec::new();
    panels(&dash, &mut all);
    assert!(all.len() >= 30, "only {} panels", all.len());
    for p in &all {
        let title = p["title"].as_str().unwrap_or("?");
        assert_eq!(p["datasource"]["uid"], "mtq-prometheus", "panel {title}");
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {title}: no targets"));
        assert!(!targets.is_empty(), "panel {title}: no queries");
        for t in targets {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title}: a target without expr"));
            let series = mtq_series(expr);
            assert!(
                !series.is_empty() || expr.contains("up{job=\"mtq\"}"),
                "panel {title}: `{expr}` queries no MTQ metric"
            );
            for s in series {
                assert!(
                    names::exports(&s),
                    "panel {title}: `{s}` is not a metric MTQ exports"
                );
            }
        }
    }
    for var in dash["templating"]["list"].as_array().unwrap() {
        for s in mtq_series(var["definition"].as_str().unwrap()) {
            assert!(names::exports(&s), "variable {}: `{s}`", var["name"]);
        }
    }
}

#[test]
fn every_alert_rule_names_only_metrics_mtq_exports() {
    let rules = deploy("prometheus/alerts.yml");
    let found = mtq_series(&rules);
    assert!(found.len() >= 15);
    for s in found {
        assert!(
            names::exports(&s),
            "alerts.yml: `{s}` is not a metric MTQ exports"
        );
    }
}

#[test]
fn the_series_scanner_finds_names_and_skips_lookalikes() {
    assert_eq!(
        mtq_series("rate(mtq_orders_total[5m]) / x_mtq_no + mtq_a_bucket{le=\"1\"}"),
        vec!["mtq_orders_total", "mtq_a_bucket"]
    );
    assert!(!names::exports("mtq_a_bucket"));
}
