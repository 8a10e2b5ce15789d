//! The dashboard's files as a browser gets them: over the router, with the headers that matter.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::*;

async fn get(path: &str, headers: &[(&str, &str)]) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
    (status, headers, body.to_vec())
}

fn gunzip(z: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(z)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test]
async fn the_app_is_served_at_the_root_as_html_with_a_strict_policy() {
    let (status, h, body) = get("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.contains("/assets/js/app.js"));
}

#[test]
fn the_page_has_no_inline_script_style_or_handler() {
    for a in assets()
        .iter()
        .filter(|a| a.content_type.starts_with("text/html"))
    {
        let html = std::str::from_utf8(a.body).expect("utf-8");
        for tag in html.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap_or_default();
            assert!(open.contains("src="), "inline script in {}: {open}", a.path);
        }
        assert!(!html.contains("<style"), "inline <style> in {}", a.path);
        assert!(!html.contains(" style="), "style attribute in {}", a.path);
        assert!(!html.contains(" onclick="), "inline handler in {}", a.path);
    }
}

#[test]
fn every_module_the_app_imports_is_embedded() {
    for a in assets()
        .iter()
        .filter(|a| a.path.starts_with("/assets/js/"))
    {
        let js = std::str::from_utf8(a.body).expect("utf-8");
        for line in js.lines().filter(|l| l.starts_with("import ")) {
            let Some(spec) = line.split(['\'', '"']).nth(1) else {
                continue;
            };
            let target = format!("/assets/js/{}", spec.trim_start_matches("./"));
            assert!(
                asset(&target).is_some(),
                "{} imports {spec}, which is not embedded",
                a.path
            );
        }
    }
}

#[tokio::test]
async fn scripts_are_gzipped_for_browsers_that_accept_it() {
    let path = "/assets/vendor/lightweight-charts-4.2.3.js";
    let (status, h, body) = get(path, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    assert_eq!(h[header::VARY], "accept-encoding");
    assert_eq!(h[header::CACHE_CONTROL], IMMUTABLE);
    let plain = asset(path).expect("embedded").body;
    assert!(body.len() < plain.len() / 2, "gzip saves less than half");
    assert_eq!(gunzip(&body), plain);

    let (_, h, body) = get(path, &[]).await;
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(body, plain);
    let (_, h, _) = get(path, &[("accept-encoding", "gzip;q=0, identity")]).await;
    assert!(h.get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn a_matching_etag_answers_not_modified() {
    let (_, h, _) = get("/assets/app.css", &[]).await;
    let tag = h[header::ETAG].to_str().expect("ascii").to_string();
    let (status, h, body) = get("/assets/app.css", &[("if-none-match", &tag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(h[header::ETAG].to_str().expect("ascii"), tag);
    let (status, _, _) = get("/assets/app.css", &[("if-none-match", "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_or_escaping_paths_are_not_found() {
    for p in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/src/lib.rs",
    ] {
        let (status, h, _) = get(p, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
        assert!(h.contains_key(header::CONTENT_SECURITY_POLICY));
    }
}

#[tokio::test]
async fn the_manifest_names_installable_icons_that_exist() {
    let (status, h, body) = get("/manifest.webmanifest", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/manifest+json");
    let text = String::from_utf8(body).expect("utf-8");
    for size in ["192x192", "512x512"] {
        assert!(text.contains(size), "manifest lacks a {size} icon");
    }
    for src in text.split("\"src\": \"").skip(1) {
        let path = src.split('"').next().unwrap_or_default();
        let a = asset(path).unwrap_or_else(|| panic!("manifest icon {path} is not embedded"));
        if path.ends_with(".png") {
            assert!(
                a.body.starts_with(b"\x89PNG\r\n\x1a\n"),
                "{path} is not a PNG"
            );
        }
    }
}

#[test]
fn the_chart_library_keeps_its_licence_and_attribution() {
    let lib = std::str::from_utf8(
        asset("/assets/vendor/lightweight-charts-4.2.3.js")
            .expect("vendored")
            .body,
    )
    .expect("utf-8");
    assert!(lib.starts_with("/*!\n * @license\n * TradingView Lightweight Charts"));
    let licence = asset("/assets/vendor/LICENSE-lightweight-charts.txt").expect("licence");
    assert!(
        std::str::from_utf8(licence.body)
            .expect("utf-8")
            .contains("Apache License")
    );
    let page = std::str::from_utf8(asset("/").expect("index").body).expect("utf-8");
    assert!(page.contains("https://www.tradingview.com/"));
}

#[test]
fn first_load_is_under_the_size_budget_compressed() {
    // What a first visit downloads: every file but the PNG icons (the browser fetches those only
    // when installing). The issue's budget is 500 KB transferred.
    let total: usize = assets()
        .iter()
        .filter(|a| !a.path.ends_with(".png") && !a.path.ends_with(".txt"))
        .map(|a| a.gzip.as_ref().map_or(a.body.len(), Vec::len))
        .sum();
    assert!(total < 500 * 1024, "first load is {total} bytes compressed");
}
