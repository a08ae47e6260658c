//! A raw HTTP/1.1 client for the end-to-end tests: requests serialised by hand, so a test
//! can put any bytes anywhere (hostile header values, invalid UTF-8 in the path).

use anyhow::{anyhow, Context as _, Result};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// An HTTP/1.1 request, serialised by hand so tests can put any bytes anywhere.
#[derive(Debug, Clone)]
pub struct Req {
    /// Method.
    pub method: Vec<u8>,
    /// Request target (path and query).
    pub path: Vec<u8>,
    /// Headers (name, value), sent in order after `host`.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Body; `content-length` is added when non-empty or the method is POST/PUT/PATCH.
    pub body: Vec<u8>,
}

impl Req {
    /// A request with `host: vigil.test` and no body.
    pub fn new(method: &str, path: &str) -> Req {
        Req {
            method: method.as_bytes().to_vec(),
            path: path.as_bytes().to_vec(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// GET `path`.
    pub fn get(path: &str) -> Req {
        Req::new("GET", path)
    }

    /// POST `path` with a body and its content type.
    pub fn post(path: &str, content_type: &str, body: &str) -> Req {
        Req::new("POST", path)
            .header("content-type", content_type)
            .body(body.as_bytes())
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers
            .push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
        self
    }

    /// Adds a header with raw value bytes.
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Req {
        self.headers
            .push((name.as_bytes().to_vec(), value.to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &[u8]) -> Req {
        self.body = body.to_vec();
        self
    }

    /// Adds `authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Adds `x-request-id`.
    pub fn id(self, id: &str) -> Req {
        self.header("x-request-id", id)
    }

    /// The `x-request-id` header, if set.
    pub fn request_id(&self) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"x-request-id"))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The request line and the headers, without the framing headers and the blank line.
    fn head(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.method);
        out.push(b' ');
        out.extend_from_slice(&self.path);
        out.extend_from_slice(b" HTTP/1.1\r\nhost: vigil.test\r\n");
        for (n, v) in &self.headers {
            out.extend_from_slice(n);
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head();
        let bodyful = matches!(self.method.as_slice(), b"POST" | b"PUT" | b"PATCH");
        if !self.body.is_empty() || bodyful {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// The wire bytes with the body sent chunked (one chunk, then the last).
    pub fn to_bytes_chunked(&self) -> Vec<u8> {
        self.to_parts_chunked(&[self.body.len()]).concat()
    }

    /// The wire bytes with the body sent chunked, cut into chunks of the given sizes (the
    /// rest of the body, if any, in one more chunk): the head with the first chunk, then one
    /// part per further chunk, the last part ending with the terminating chunk. Written with
    /// a pause between parts ([`send_parts`]), each part reaches Envoy in its own read.
    pub fn to_parts_chunked(&self, sizes: &[usize]) -> Vec<Vec<u8>> {
        let mut head = self.head();
        head.extend_from_slice(b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
        let mut parts = vec![head];
        let mut rest = self.body.as_slice();
        let mut sizes = sizes.iter().copied();
        let mut first = true;
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let mut p = format!("{:x}\r\n", chunk.len()).into_bytes();
            p.extend_from_slice(chunk);
            p.extend_from_slice(b"\r\n");
            if first {
                parts[0].extend_from_slice(&p);
                first = false;
            } else {
                parts.push(p);
            }
        }
        if let Some(last) = parts.last_mut() {
            last.extend_from_slice(b"0\r\n\r\n");
        }
        parts
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header value by (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Opens a connection to `addr` (not yet used).
pub fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// Opens a connection to `addr` from the local address `from` (a loopback address such as
/// `127.0.0.2`: a distinct client source for Envoy).
pub fn connect_from(addr: SocketAddr, from: std::net::IpAddr) -> Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.bind(&SocketAddr::new(from, 0).into())
        .with_context(|| format!("binding {from}"))?;
    s.connect_timeout(&addr.into(), Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr} from {from}"))?;
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// Writes `bytes` on an open connection and reads the response until the peer closes it.
pub fn exchange_on(mut s: TcpStream, bytes: &[u8]) -> Result<HttpResponse> {
    s.write_all(bytes)?;
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => {}
        // A reset after a complete response (Envoy closing a connection with unread bytes).
        Err(e) if !buf.is_empty() => {
            let _ = e;
        }
        Err(e) => return Err(e.into()),
    }
    parse_response(&buf)
}

/// `body` cut into chunks of the given sizes, the rest (if any) in one more chunk.
pub fn chunks_of<'b>(body: &'b [u8], sizes: &[usize]) -> Vec<&'b [u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    for n in sizes.iter().copied().chain(std::iter::once(usize::MAX)) {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(n.min(rest.len()));
        parts.push(a);
        rest = b;
    }
    parts
}

/// Writes `parts` on a new connection with `gap` between them (so that each reaches the
/// peer in its own read), then reads the response.
pub fn send_parts(addr: SocketAddr, parts: &[Vec<u8>], gap: Duration) -> Result<HttpResponse> {
    let mut s = connect(addr)?;
    s.set_nodelay(true)?;
    let Some((last, first)) = parts.split_last() else {
        return Err(anyhow!("no request bytes"));
    };
    for p in first {
        s.write_all(p)?;
        s.flush()?;
        std::thread::sleep(gap);
    }
    exchange_on(s, last)
}

/// Sends raw request bytes on a new connection and reads the response.
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Result<HttpResponse> {
    exchange_on(connect(addr)?, bytes)
}

/// GET on the admin (or any) address.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<HttpResponse> {
    let req = format!("GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n");
    send_raw(addr, req.as_bytes())
}

/// Parses a raw HTTP/1.1 response (status line, headers, body).
pub fn parse_response(buf: &[u8]) -> Result<HttpResponse> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("incomplete response: {:?}", String::from_utf8_lossy(buf)))?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    } else if let Some(len) = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..p]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < p + 2 + size {
            break;
        }
        out.extend_from_slice(&b[p + 2..p + 2 + size]);
        b = &b[(p + 2 + size + 2).min(b.len())..];
    }
    out
}

/// A unique request id for a test request.
pub fn new_request_id(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
