//! `vigil playground` as users run it: the URL on stdout, loopback by default, the page's
//! Content-Security-Policy on every answer, only the directory's files, one-line errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn page_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-playground-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(dir.join("pkg/x.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.join("../vigil-playground-secret.txt"), "secret").unwrap();
    dir
}

fn start(args: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("playground")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Server(child), line.trim().to_string())
}

fn get(url: &str, path: &str) -> String {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn playground_serves_the_page_on_loopback_with_its_csp_and_nothing_outside_it() {
    let dir = page_dir();
    let (_server, url) = start(&["--listen", "127.0.0.1:0", "--dir", dir.to_str().unwrap()]);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    let index = get(&url, "/");
    assert!(index.starts_with("HTTP/1.1 200 OK\r\n"), "{index}");
    assert!(index.contains(
        "\r\nContent-Security-Policy: default-src 'none'; script-src 'self' 'wasm-unsafe-eval';"
    ));
    assert!(index.contains("\r\nX-Content-Type-Options: nosniff\r\n"));
    assert!(get(&url, "/pkg/x.wasm").contains("Content-Type: application/wasm\r\n"));
    for bad in [
        "/../vigil-playground-secret.txt",
        "/pkg/../../vigil-playground-secret.txt",
        "/%2e%2e/x",
        "/missing.js",
    ] {
        let r = get(&url, bad);
        assert!(r.starts_with("HTTP/1.1 404"), "{bad}: {r}");
        assert!(!r.contains("secret"));
    }
}

#[test]
fn playground_bad_listen_address_or_missing_page_is_a_one_line_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["playground", "--listen", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--listen `localhost`"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "playground",
            "--listen",
            "127.0.0.1:0",
            "--dir",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("scripts/web"), "{err}");
}
