//! The supervisor dashboard and the agent page: static HTML, CSS and JavaScript embedded in the
//! binary (`include_str!`, no build step, no external URLs).
//!
//! | route | page |
//! |---|---|
//! | `GET /` | the floor: a tile per live call (attention first) and the recently finished calls |
//! | `GET /call/{id}` | one call: live timeline, alerts, events, the summary once finished |
//! | `GET /agent/{id}` | the agent's calm view: who speaks, agitation, talk ratio, coaching |
//! | `GET /assets/{file}` | the pages' scripts and style sheet |
//!
//! Pages and assets need the login token like the API ([`super::http::authorized`]). A page
//! opened with a valid `?token=` sets the `callpulse_token` cookie (HttpOnly,
//! SameSite=Strict) so its assets and WebSocket calls authenticate without the token in
//! their URLs; the page then removes the token from the address bar. The token must be
//! cookie-safe (letters, digits, `-_.~` and other printable ASCII except `"`, `,`, `;`, `\`).
//! Every answer carries `Cache-Control: no-cache` and a self-only Content-Security-Policy
//! (no inline scripts or styles; WebSockets to the same host only).
//!
//! The pages read `/ws/floor` and `/ws/call/{id}` (a snapshot, then updates) and reconnect
//! with backoff when a socket drops.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::http::{AppState, TokenQuery, authorized};

/// The Content-Security-Policy of every dashboard answer: only this origin's scripts, styles,
/// images and sockets; nothing inline, no frames, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const FLOOR_HTML: &str = include_str!("../../assets/dashboard/floor.html");
const CALL_HTML: &str = include_str!("../../assets/dashboard/call.html");
const AGENT_HTML: &str = include_str!("../../assets/dashboard/agent.html");

/// The embedded assets: file name, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/dashboard/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/common.js"),
    ),
    (
        "floor.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/floor.js"),
    ),
    (
        "call.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/call.js"),
    ),
    (
        "agent.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/agent.js"),
    ),
];

/// The dashboard's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(floor_page))
        .route("/call/{id}", get(call_page))
        .route("/agent/{id}", get(agent_page))
        .route("/assets/{file}", get(asset))
}

/// Headers every dashboard answer carries.
fn common_headers(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 5] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// The 401 page: how to log in.
fn login_required() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        common_headers("text/html; charset=utf-8"),
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>callpulse: login required</title></head><body>\
         <h1>401: login required</h1>\
         <p>This dashboard needs the login token the server was started with. Open the page \
         with <code>?token=YOUR_TOKEN</code> added to its address, for example \
         <code>/?token=YOUR_TOKEN</code>; the browser then keeps it in a cookie for this \
         session.</p><p>The token is the <code>dashboard_token</code> of the server's \
         configuration (see <code>callpulse serve --help</code>).</p></body></html>\n",
    )
        .into_response()
}

/// A page, behind the login token; a valid `?token=` also sets the cookie.
fn page(state: &AppState, headers: &HeaderMap, query: &TokenQuery, html: &'static str) -> Response {
    if !authorized(&state.config, headers, query) {
        return login_required();
    }
    let mut response = (common_headers("text/html; charset=utf-8"), html).into_response();
    if let Some(token) = &query.token {
        if cookie_safe(token)
            && let Ok(cookie) = HeaderValue::from_str(&format!(
                "callpulse_token={token}; Path=/; HttpOnly; SameSite=Strict"
            ))
        {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        } else {
            tracing::warn!(
                "the dashboard token has characters a cookie cannot carry; \
                 the pages' live updates will be refused (use letters, digits, - _ . ~)"
            );
        }
    }
    response
}

/// Whether `value` can be a cookie value as is (RFC 6265 `cookie-octet`s).
fn cookie_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
}

async fn floor_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    page(&state, &headers, &q, FLOOR_HTML)
}

async fn call_page(
    State(state): State<Arc<AppState>>,
    Path(_id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    page(&state, &headers, &q, CALL_HTML)
}

async fn agent_page(
    State(state): State<Arc<AppState>>,
    Path(_id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    page(&state, &headers, &q, AGENT_HTML)
}

/// The scripts and style sheet, behind the token like the pages (the page's cookie carries
/// it).
async fn asset(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !authorized(&state.config, &headers, &q) {
        return login_required();
    }
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (common_headers(content_type), *body).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            common_headers("text/plain; charset=utf-8"),
            "no such asset\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_references_only_embedded_assets() {
        for html in [FLOOR_HTML, CALL_HTML, AGENT_HTML] {
            for part in html.split("/assets/").skip(1) {
                let name = part.split('"').next().unwrap_or_default();
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == name),
                    "page references /assets/{name}, which is not embedded"
                );
            }
            assert!(!html.contains("<script>"), "no inline scripts");
            assert!(!html.contains("http://") && !html.contains("https://"));
        }
    }

    #[test]
    fn cookie_safe_tokens() {
        assert!(cookie_safe("abc-123_X.~"));
        assert!(!cookie_safe(""));
        assert!(!cookie_safe("a;b"));
        assert!(!cookie_safe("a b"));
        assert!(!cookie_safe("a,b"));
    }
}
