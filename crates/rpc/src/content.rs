//! Content over HTTP, beside JSON-RPC on the same port: CAR files in and out, and fetches from
//! the network. Bodies stream in both directions, so a file of any size passes through a fixed
//! amount of memory.
//!
//! ```text
//! POST /content/car?pin=roots|last|none&name=N&size=S&profile=P&encrypted=true
//!                                      body: CAR v1 → stored and pinned
//! GET  /content/car/{cid}              → CAR v1 of the DAG (fetched from providers if missing)
//! POST /content/fetch/{cid}?pin=true   → fetched from providers, optionally pinned
//! ```
//! Writes (POST) are admin calls: loopback or the admin token.

use std::{io::Write, sync::Arc};

use axum::{
    body::{Body, Bytes},
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt as _;
use metamesh_node::{Content, NodeService};
use metamesh_storage::{
    Cid, PinInfo,
    car::{CarReader, CarWriter},
    parse_cid, walk,
};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddQuery {
    /// `roots` (the CAR header's, the default), `last` (the stream's last block: the root a
    /// UnixFS importer writes last) or `none`; for fetches, `true` or `false`.
    pub pin: Option<String>,
    pub name: Option<String>,
    pub size: Option<u64>,
    pub profile: Option<String>,
    pub encrypted: Option<bool>,
}

fn error(status: StatusCode, message: impl ToString) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"error": message.to_string()}).to_string(),
    )
        .into_response()
}

/// A refusal, turned into a response at the handler's edge.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

fn content(node: &NodeService) -> Result<Arc<Content>, Refusal> {
    node.content().cloned().ok_or_else(|| {
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "this node keeps no content store".into(),
        )
    })
}

fn cid_of(text: &str) -> Result<Cid, Refusal> {
    parse_cid(text).map_err(|e| Refusal(StatusCode::BAD_REQUEST, e.to_string()))
}

/// Bytes the body is gathered into before the blocking reader takes them: one hand-over per
/// MiB rather than one per HTTP frame keeps the two threads from waking each other constantly.
const CHUNK: usize = 1 << 20;

/// What the gathering task hands the reader. The end is said explicitly: a task that stops
/// without saying it (the client went away, the task was dropped) is an error to the reader,
/// never a body that looks complete.
enum Chunk {
    Data(Vec<u8>),
    End,
    Error(String),
}

/// The request body as a blocking `Read`, fed in chunks of about [`CHUNK`] by an async task.
struct BodyReader {
    chunks: std::sync::mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl std::io::Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Chunk::Data(chunk)) => (self.current, self.at) = (chunk, 0),
                Ok(Chunk::End) => self.ended = true,
                Ok(Chunk::Error(e)) => return Err(std::io::Error::other(e)),
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the request body stopped before its end",
                    ));
                }
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Sends `chunk` to the reader from a blocking thread (a full channel waits for the reader
/// without holding a runtime worker); false once the reader is gone.
async fn hand_over(tx: &std::sync::mpsc::SyncSender<Chunk>, chunk: Chunk) -> bool {
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || tx.send(chunk).is_ok())
        .await
        .unwrap_or(false)
}

/// Starts gathering `body` into chunks; the reader ends where the body does.
fn body_reader(body: Body) -> BodyReader {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            match stream.try_next().await {
                Ok(Some(frame)) => {
                    chunk.extend_from_slice(&frame);
                    if chunk.len() >= CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                        if !hand_over(&tx, Chunk::Data(full)).await {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    hand_over(&tx, Chunk::Error(format!("reading the request body: {e}"))).await;
                    return;
                }
            }
        }
        if !chunk.is_empty() && !hand_over(&tx, Chunk::Data(chunk)).await {
            return;
        }
        hand_over(&tx, Chunk::End).await;
    });
    BodyReader {
        chunks: rx,
        current: Vec::new(),
        at: 0,
        ended: false,
    }
}

/// Stores a CAR stream in one add session and pins what `pin` says (complete DAGs only).
pub async fn add_car(node: Arc<NodeService>, query: AddQuery, body: Body) -> Response {
    let content = match content(&node) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let reader = body_reader(body);
    let store = content.store().clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(Vec<Cid>, u64, u64), String> {
        let mut car = CarReader::new(std::io::BufReader::with_capacity(64 << 10, reader))
            .map_err(|e| e.to_string())?;
        let roots = car.roots().to_vec();
        let mut session = store.session();
        let (mut blocks, mut bytes) = (0u64, 0u64);
        let mut last = None;
        for block in car.by_ref() {
            let block = block.map_err(|e| e.to_string())?;
            blocks += 1;
            last = Some(block.cid);
            bytes += block.data.len() as u64;
            metamesh_storage::BlockSink::put(&mut session, block).map_err(|e| e.to_string())?;
        }
        let info = PinInfo {
            name: query.name.unwrap_or_default(),
            size: query.size.unwrap_or(bytes),
            profile: query.profile.unwrap_or_default(),
            encrypted: query.encrypted.unwrap_or(false),
        };
        let pinned = match query.pin.as_deref() {
            None | Some("roots") => roots.clone(),
            Some("last") => last.into_iter().collect(),
            Some("none") => Vec::new(),
            Some(other) => return Err(format!("pin={other}: use roots, last or none")),
        };
        match pinned.split_first() {
            Some((final_root, rest)) => {
                for root in rest {
                    store.pin(root, &info).map_err(|e| e.to_string())?;
                }
                session
                    .commit(final_root, &info)
                    .map_err(|e| e.to_string())?;
            }
            None if query.pin.as_deref() == Some("none") => {
                session.finish_unpinned().map_err(|e| e.to_string())?
            }
            None => return Err("nothing to pin: the CAR file names no root".into()),
        }
        Ok((pinned, blocks, bytes))
    })
    .await;
    match result {
        Ok(Ok((roots, blocks, bytes))) => {
            for root in &roots {
                content.provide(root);
            }
            let roots: Vec<String> = roots.iter().map(Cid::to_string).collect();
            axum::Json(json!({"pinned": roots, "blocks": blocks, "bytes": bytes})).into_response()
        }
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Makes the DAG complete locally (from the network when needed) and pins it when asked.
pub async fn fetch(node: Arc<NodeService>, cid: String, query: AddQuery) -> Response {
    let (content, root) = match content(&node).and_then(|c| Ok((c, cid_of(&cid)?))) {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let pin = matches!(query.pin.as_deref(), Some("true" | "1"));
    // A pin already there keeps what it says (name, size, profile).
    let known = content.store().pin_info(&root).ok().flatten();
    let info = pin.then(|| {
        known.unwrap_or(PinInfo {
            name: query.name.unwrap_or_default(),
            size: query.size.unwrap_or(0),
            profile: query.profile.unwrap_or_default(),
            encrypted: query.encrypted.unwrap_or(false),
        })
    });
    let fetched = match content.fetch(&root, info).await {
        Ok(f) => f,
        Err(e) => return error(StatusCode::NOT_FOUND, e),
    };
    if pin {
        content.provide(&root);
    }
    axum::Json(json!({
        "cid": root.to_string(), "fetchedBlocks": fetched.blocks, "fetchedBytes": fetched.bytes,
        "peers": fetched.peers, "pinned": pin,
    }))
    .into_response()
}

/// Adapts a channel of byte chunks to `Write` for the blocking CAR writer.
struct ChunkSender {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.tx
                .blocking_send(Ok(chunk))
                .map_err(|_| std::io::Error::other("the client went away"))?;
        }
        Ok(())
    }
}

/// Streams the DAG under `cid` as a CAR file, root first. Only an admin caller makes the node
/// fetch what it lacks; anyone else gets what is already here.
pub async fn export_car(node: Arc<NodeService>, cid: String, admin: bool) -> Response {
    let (content, root) = match content(&node).and_then(|c| Ok((c, cid_of(&cid)?))) {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let missing = match content.store().missing(&root) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if !missing.is_empty() {
        if !admin {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "{root} is not complete on this node ({} blocks missing)",
                    missing.len()
                ),
            );
        }
        if let Err(e) = content.fetch(&root, None).await {
            return error(StatusCode::NOT_FOUND, e);
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let store = content.store().clone();
    tokio::task::spawn_blocking(move || {
        let sender = ChunkSender {
            tx: tx.clone(),
            buf: Vec::new(),
        };
        let result = CarWriter::new(sender, &[root]).and_then(|mut car| {
            walk(&store, &root, &mut |c, d| car.write(c, d))?;
            car.finish().map(|_| ())
        });
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (
        [("content-type", "application/vnd.ipld.car; version=1")],
        Body::from_stream(stream),
    )
        .into_response()
}

pub fn path_of(p: Path<String>) -> String {
    p.0
}
