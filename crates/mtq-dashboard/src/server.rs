//! Serving the embedded files: content types, gzip, `ETag`s and the security headers.

use std::io::Write;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// The policy for every dashboard response: scripts, styles, images and connections (REST and
/// WebSocket) from this origin only; no inline code, no plugins, no framing. The one exception is
/// the chart library's own `<style>` element (lightweight-charts 4.2.3 adds one fixed rule set),
/// allowed by its hash only; any other inline style and every inline script stay refused.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// App files are revalidated on every load (their `ETag` makes that a 304).
const REVALIDATE: &str = "no-cache";
/// The vendor file carries its version in its name, so it never changes under that name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Files below this size are not worth a gzip stream.
const GZIP_MIN: usize = 1024;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The URL path it is served at.
    pub path: &'static str,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    pub body: &'static [u8],
    /// gzip of `body`, when that is smaller.
    pub gzip: Option<Vec<u8>>,
    /// A strong validator: the first 16 bytes of the body's SHA-256, quoted.
    pub etag: String,
}

macro_rules! files {
    ($( $path:literal => $file:literal, $ty:expr, $cache:expr; )*) => {
        [$( ($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $file)) as &'static [u8], $ty, $cache), )*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the app ships, by URL path.
static FILES: &[(&str, &[u8], &str, &str)] = &files! {
    "/" => "index.html", "text/html; charset=utf-8", REVALIDATE;
    "/assets/app.css" => "app.css", "text/css; charset=utf-8", REVALIDATE;
    "/assets/js/app.js" => "js/app.js", JS, REVALIDATE;
    "/assets/js/api.js" => "js/api.js", JS, REVALIDATE;
    "/assets/js/ui.js" => "js/ui.js", JS, REVALIDATE;
    "/assets/js/live.js" => "js/live.js", JS, REVALIDATE;
    "/assets/js/charts.js" => "js/charts.js", JS, REVALIDATE;
    "/assets/js/market.js" => "js/market.js", JS, REVALIDATE;
    "/assets/js/overview.js" => "js/overview.js", JS, REVALIDATE;
    "/assets/js/chart.js" => "js/chart.js", JS, REVALIDATE;
    "/assets/js/indicators.js" => "js/indicators.js", JS, REVALIDATE;
    "/assets/js/trades.js" => "js/trades.js", JS, REVALIDATE;
    "/assets/js/signals.js" => "js/signals.js", JS, REVALIDATE;
    "/assets/js/performance.js" => "js/performance.js", JS, REVALIDATE;
    "/assets/js/risk.js" => "js/risk.js", JS, REVALIDATE;
    "/assets/js/strategies.js" => "js/strategies.js", JS, REVALIDATE;
    "/assets/js/system.js" => "js/system.js", JS, REVALIDATE;
    "/assets/js/controls.js" => "js/controls.js", JS, REVALIDATE;
    "/assets/js/optimizations.js" => "js/optimizations.js", JS, REVALIDATE;
    "/assets/js/approvals.js" => "js/approvals.js", JS, REVALIDATE;
    "/assets/vendor/lightweight-charts-4.2.3.js" => "vendor/lightweight-charts-4.2.3.js", JS, IMMUTABLE;
    "/assets/vendor/LICENSE-lightweight-charts.txt" => "vendor/LICENSE-lightweight-charts.txt", "text/plain; charset=utf-8", REVALIDATE;
    "/assets/vendor/NOTICE-lightweight-charts.txt" => "vendor/NOTICE-lightweight-charts.txt", "text/plain; charset=utf-8", REVALIDATE;
    "/manifest.webmanifest" => "manifest.webmanifest", "application/manifest+json", REVALIDATE;
    "/assets/icons/icon.svg" => "icons/icon.svg", "image/svg+xml", REVALIDATE;
    "/assets/icons/icon-192.png" => "icons/icon-192.png", "image/png", REVALIDATE;
    "/assets/icons/icon-512.png" => "icons/icon-512.png", "image/png", REVALIDATE;
};

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(path, body, content_type, cache_control)| Asset {
            path,
            content_type,
            cache_control,
            body,
            gzip: gzip(body).filter(|z| z.len() < body.len()),
            etag: etag(body),
        })
        .collect()
});

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    if body.len() < GZIP_MIN {
        return None;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(body).ok()?;
    enc.finish().ok()
}

fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The embedded file served at `path`, if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// Every embedded file.
pub fn assets() -> &'static [Asset] {
    &ASSETS
}

/// The dashboard's routes: `/` (the app), `/manifest.webmanifest` and `/assets/...`. No
/// fallback, so it merges beside the API's router.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { respond("/", &h) }))
        .route(
            "/manifest.webmanifest",
            get(|h: HeaderMap| async move { respond("/manifest.webmanifest", &h) }),
        )
        .route(
            "/assets/{*path}",
            get(|Path(p): Path<String>, h: HeaderMap| async move {
                respond(&format!("/assets/{p}"), &h)
            }),
        )
}

fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|part| {
                let mut it = part.split(';');
                let name = it.next().unwrap_or_default().trim();
                let refused =
                    it.any(|q| matches!(q.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
            })
        })
    })
}

fn respond(path: &str, h: &HeaderMap) -> Response {
    let mut res = match asset(path) {
        None => (StatusCode::NOT_FOUND, "no such dashboard file").into_response(),
        Some(a) => {
            let fresh = h
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag || t.trim() == "*"));
            let gz = a.gzip.as_ref().filter(|_| accepts_gzip(h));
            let mut res = if fresh {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                match gz {
                    Some(z) => Response::new(Body::from(z.clone())),
                    None => Response::new(Body::from(a.body)),
                }
            };
            let hs = res.headers_mut();
            hs.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            hs.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(a.cache_control),
            );
            if let Ok(v) = HeaderValue::from_str(&a.etag) {
                hs.insert(header::ETAG, v);
            }
            if a.gzip.is_some() {
                hs.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            if gz.is_some() && !fresh {
                hs.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            res
        }
    };
    let hs = res.headers_mut();
    hs.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    hs.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    hs.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    hs.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
