//! The agent's live log service: `GET /logs/JOB-TASK?from=N` answers the bytes of that run's
//! log from offset `N` (at most 1 MiB at a time), with its whole size in `X-Log-Size`, so
//! `job logs -f` can follow a run while it goes. Only the runs the agent has opened are served:
//! a single-replica or submitter-verified task's from its start, a quorum task's once every
//! replica has committed (before that, a competing replica could copy what a log prints). Plain HTTP/1.1 over `std::net`, one short
//! request per connection: nothing here needs a web framework, and the node's RPC server is
//! not the agent's.

use std::{
    collections::BTreeSet,
    io::{BufRead as _, BufReader, Read as _, Seek as _, Write as _},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

const MAX_CHUNK: u64 = 1 << 20;
const MAX_CONNECTIONS: usize = 32;

/// The runs whose logs may be served now, by name (`JOBHEX-TASK`).
pub type LogAccess = Arc<Mutex<BTreeSet<String>>>;

/// Serves the logs under `dir` that `open` names on `listener` from a thread of its own, until
/// the process ends.
pub fn serve_logs(dir: PathBuf, listener: TcpListener, open_logs: LogAccess) {
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                continue; // dropped: the client tries again
            }
            open.fetch_add(1, Ordering::Relaxed);
            let (dir, open, access) = (dir.clone(), open.clone(), open_logs.clone());
            std::thread::spawn(move || {
                let _ = answer(&dir, stream, &access);
                open.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
}

/// A run's log name: 64 hex digits of the job, a dash, the task's index.
fn name_ok(name: &str) -> bool {
    let Some((job, task)) = name.split_once('-') else {
        return false;
    };
    job.len() == 64
        && job.bytes().all(|b| b.is_ascii_hexdigit())
        && !task.is_empty()
        && task.len() <= 20
        && task.bytes().all(|b| b.is_ascii_digit())
}

fn reply(mut s: &TcpStream, status: &str, headers: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )?;
    s.write_all(body)
}

fn answer(dir: &Path, stream: TcpStream, access: &LogAccess) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new((&stream).take(8192)).read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
        return reply(
            &stream,
            "400 Bad Request",
            "",
            b"GET /logs/JOB-TASK?from=N\n",
        );
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let name = path.strip_prefix("/logs/").unwrap_or_default();
    if !name_ok(name) {
        return reply(&stream, "404 Not Found", "", b"no such log\n");
    }
    if !access.lock().is_ok_and(|open| open.contains(name)) {
        let why = b"not open: a quorum task's live log opens once every replica has committed\n";
        return reply(&stream, "403 Forbidden", "", why);
    }
    let from: u64 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("from="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let Ok(mut file) = std::fs::File::open(dir.join(format!("{name}.log"))) else {
        return reply(&stream, "404 Not Found", "", b"no such log\n");
    };
    let size = file.metadata()?.len();
    let from = from.min(size);
    file.seek(std::io::SeekFrom::Start(from))?;
    let mut body = Vec::new();
    file.take(MAX_CHUNK).read_to_end(&mut body)?;
    reply(&stream, "200 OK", &format!("X-Log-Size: {size}\r\n"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_a_growing_log_and_refuses_other_paths() {
        let dir = std::env::temp_dir().join(format!("mm-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("{}-3", "ab".repeat(32));
        std::fs::write(dir.join(format!("{name}.log")), b"step 1\n").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let get = |target: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let access = LogAccess::default();
        serve_logs(dir.clone(), listener, access.clone());
        assert!(
            get(&format!("/logs/{name}?from=0")).starts_with("HTTP/1.1 403"),
            "not opened yet"
        );
        access.lock().unwrap().insert(name.clone());
        assert!(get(&format!("/logs/{name}?from=0")).ends_with("\r\n\r\nstep 1\n"));
        std::fs::write(dir.join(format!("{name}.log")), b"step 1\nstep 2\n").unwrap();
        let more = get(&format!("/logs/{name}?from=7"));
        assert!(
            more.contains("X-Log-Size: 14") && more.ends_with("\r\n\r\nstep 2\n"),
            "{more}"
        );
        assert!(get("/logs/../../etc/passwd").starts_with("HTTP/1.1 404"));
        let unknown = get(&format!("/logs/{}-3", "cd".repeat(32)));
        assert!(
            unknown.starts_with("HTTP/1.1 403"),
            "never opened: {unknown}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
