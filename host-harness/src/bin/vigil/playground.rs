//! `vigil playground`: serves the built policy playground (`scripts/web` → `web/dist`) on
//! loopback and prints its URL. A plain static server: GET and HEAD of the directory's
//! files, the page's Content-Security-Policy on every answer, nothing else.

use anyhow::{anyhow, Context as _};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The policy the page also carries in its meta tag, plus what only a header can say.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where `scripts/web` puts the page, relative to this crate.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist")
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}

/// The file a request path names, if it is one inside `root` (no `..`, no escapes).
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let rel = path.strip_prefix('/')?;
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let ok = rel.split('/').all(|seg| {
        !seg.is_empty()
            && seg != ".."
            && seg != "."
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    });
    if !ok {
        return None;
    }
    let file = root.join(rel).canonicalize().ok()?;
    (file.starts_with(root) && file.is_file()).then_some(file)
}

fn answer(root: &Path, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Skip the headers; this server needs none of them.
    let mut h = String::new();
    while reader.read_line(&mut h)? > 2 {
        h.clear();
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, resolve(root, target)) {
        ("GET" | "HEAD", Some(f)) => ("200 OK", content_type(&f), std::fs::read(&f)?),
        ("GET" | "HEAD", None) => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed\n".to_vec(),
        ),
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCross-Origin-Opener-Policy: same-origin\r\n\
         Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        out.write_all(&body)?;
    }
    out.flush()
}

/// Serves `dir` on `listen` until killed; prints the page's URL on stdout first.
pub fn serve(listen: &str, dir: Option<&Path>) -> anyhow::Result<()> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| anyhow!("--listen `{listen}`: expected IP:PORT, e.g. 127.0.0.1:8717"))?;
    let dir = dir.map_or_else(default_dir, Path::to_path_buf);
    let root = dir
        .canonicalize()
        .ok()
        .filter(|d| d.join("index.html").is_file())
        .ok_or_else(|| {
            anyhow!(
                "no built playground at {} (build it with scripts/web)",
                dir.display()
            )
        })?;
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        eprintln!("vigil: warning: the playground listens beyond loopback, on {bound}");
    }
    let host = match bound {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        SocketAddr::V4(a) => a.to_string(),
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "http://{host}/").context("cannot write stdout")?;
    stdout.flush().context("cannot write stdout")?;
    drop(stdout);
    eprintln!("vigil: serving {} (Ctrl-C to stop)", root.display());
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let root = root.clone();
        std::thread::spawn(move || {
            let _ = answer(&root, conn);
        });
    }
    Ok(())
}
