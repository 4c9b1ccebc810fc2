//! `/optimade/…`: BMCI's OPTIMADE API (the handler is `metamesh_knowledge::optimade`); this
//! route only supplies the base URL clients reached it at, and the time.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};

use crate::server::Shared;

pub(crate) async fn get(State(shared): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(k) = shared.config.knowledge.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "this node runs without a knowledge graph (no OPTIMADE API)\n",
        )
            .into_response();
    };
    // Only a plain `host[:port]` goes into the links the answer carries.
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}/optimade");
    let path = uri
        .path()
        .strip_prefix("/optimade")
        .unwrap_or("")
        .to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let now = metamesh_knowledge::records::date_time(now);
    let Ok(Ok(permit)) = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        k.slots.clone().acquire_owned(),
    )
    .await
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the knowledge endpoints are busy: try again\n",
        )
            .into_response();
    };
    let r = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        metamesh_knowledge::optimade::handle(
            &k.optimade.current(),
            &metamesh_knowledge::optimade::Request {
                path: &path,
                query: &query,
                base: &base,
                now: &now,
            },
        )
    })
    .await;
    match r {
        Ok(r) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [("content-type", r.content_type)],
            r.body,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the request failed\n").into_response(),
    }
}
