//! Every route of the generated OpenAPI document, walked over real HTTP on loopback: none is
//! reachable without credentials, and a viewer can change nothing.

mod common;

use common::{call, start};

/// Routes anyone may call.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
];
/// Reads only an admin may make.
const ADMIN_READS: &[&str] = &["/api/v1/logs"];
/// Mutating routes every role may call on itself.
const SELF_SERVICE: &[&str] = &["/api/v1/auth/logout", "/api/v1/auth/ws-ticket"];

/// The route with its path parameters filled in, and its required query parameters.
fn concrete(path: &str) -> String {
    let p = path
        .replace("{account}", "default")
        .replace("{ticket}", "42")
        .replace("{symbol}", "EURUSD")
        .replace("{id}", "1");
    let required = [
        ("/performance/periods", "period=daily"),
        ("/performance/groups", "by=symbol"),
        ("/bars", "timeframe=M5"),
    ];
    match required.iter().find(|(end, _)| p.ends_with(end)) {
        Some((_, q)) => format!("{p}?{q}"),
        None => p,
    }
}

fn operations(api: &utoipa::openapi::OpenApi) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in &api.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (m, present) in methods {
            if present {
                ops.push((m.to_string(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_non_public_route_refuses_a_request_without_credentials() {
    let s = start(true).await;
    let ops = operations(&s.openapi);
    assert!(
        ops.len() >= 30,
        "the document lists {} operations",
        ops.len()
    );
    for (method, path) in ops {
        if PUBLIC.contains(&path.as_str()) {
            continue;
        }
        let body = (method != "GET").then_some(b"{}".as_slice());
        let r = call(s.addr, &method, &concrete(&path), &[], body).await;
        assert_eq!(
            r.status, 401,
            "{method} {path} answered {}: {}",
            r.status, r.body
        );
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("application/problem+json")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_key_may_change_nothing() {
    let s = start(true).await;
    let auth = format!("Bearer {}", s.viewer);
    let mut mutating = 0;
    for (method, path) in operations(&s.openapi) {
        if method == "GET"
            || PUBLIC.contains(&path.as_str())
            || SELF_SERVICE.contains(&path.as_str())
        {
            continue;
        }
        mutating += 1;
        let r = call(
            s.addr,
            &method,
            &concrete(&path),
            &[("Authorization", &auth)],
            Some(b"{}"),
        )
        .await;
        assert_eq!(
            r.status, 403,
            "{method} {path} answered {}: {}",
            r.status, r.body
        );
    }
    assert!(mutating >= 11, "only {mutating} mutating routes");
    assert!(
        s.commands.lock().unwrap().is_empty(),
        "a viewer's command reached the driver"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_key_reads_every_get_route_without_a_server_error() {
    let s = start(true).await;
    let auth = format!("Bearer {}", s.viewer);
    for (method, path) in operations(&s.openapi) {
        if method != "GET" || path == "/api/v1/ws" {
            continue;
        }
        let r = call(
            s.addr,
            "GET",
            &concrete(&path),
            &[("Authorization", &auth)],
            None,
        )
        .await;
        if ADMIN_READS.contains(&path.as_str()) {
            assert_eq!(
                r.status, 403,
                "GET {path} answered {}: {}",
                r.status, r.body
            );
            continue;
        }
        assert!(
            r.status == 200 || r.status == 404,
            "GET {path} answered {}: {}",
            r.status,
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_swagger_ui_are_served() {
    let s = start(false).await;
    let doc = call(s.addr, "GET", "/api/openapi.json", &[], None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json()["openapi"].as_str().unwrap().starts_with("3.1"));
    let ui = call(s.addr, "GET", "/api/docs/", &[], None).await;
    assert_eq!(ui.status, 200, "{}", ui.body);
    assert!(ui.body.contains("swagger"), "{}", ui.body);
}
