//! One keep-alive HTTP/1.1 client connection, non-blocking: optional source-address binding,
//! a request written (partially, if the socket is full), the response parsed incrementally
//! (`Content-Length`, chunked, or to close).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// A connected client: its socket, the unsent part of the request, the unparsed input.
pub struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    buf: Vec<u8>,
    eof: bool,
}

/// What reading gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// The response is not complete yet.
    Pending,
    /// A complete response: its status, and whether the connection stays open.
    Done(u16, bool),
}

/// The `n`-th address of the rotation: 127.b.c.d with d in 1..=254, skipping 127.0.0.0/16
/// (so the rotation never collides with 127.0.0.1, Envoy's own address).
pub fn source_ip(n: u64) -> Ipv4Addr {
    let d = (n % 254) as u8 + 1;
    let rest = n / 254;
    let c = (rest % 256) as u8;
    let b = ((rest / 256) % 255) as u8 + 1;
    Ipv4Addr::new(127, b, c, d)
}

impl Conn {
    /// Connects to `to` (blocking, loopback is immediate), from `from` if given; then
    /// switches the socket to non-blocking.
    pub fn connect(to: SocketAddr, from: Option<Ipv4Addr>) -> io::Result<Conn> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        if let Some(ip) = from {
            socket.bind(&SocketAddr::V4(SocketAddrV4::new(ip, 0)).into())?;
        }
        socket.connect_timeout(&to.into(), Duration::from_secs(2))?;
        socket.set_tcp_nodelay(true)?;
        socket.set_nonblocking(true)?;
        Ok(Conn {
            stream: socket.into(),
            out: Vec::new(),
            buf: Vec::with_capacity(4096),
            eof: false,
        })
    }

    /// The socket's descriptor, for `poll`.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Whether part of the request is still unsent.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Starts sending a request.
    pub fn send(&mut self, request: Vec<u8>) -> io::Result<()> {
        self.out = request;
        self.flush()
    }

    /// Writes what the socket takes of the unsent request.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what is there and says whether the response is complete.
    pub fn read(&mut self) -> io::Result<Progress> {
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match parse_response(&self.buf, self.eof)? {
            Some((status, keep, used)) => {
                self.buf.drain(..used);
                Ok(Progress::Done(status, keep && !self.eof))
            }
            None if self.eof => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-response",
            )),
            None => Ok(Progress::Pending),
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad HTTP response: {what}"),
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

enum Body {
    Length(usize),
    Chunked,
    ToClose,
}

/// Parses one response at the start of `buf`: `(status, keep_alive, bytes used)` when it is
/// complete, `None` when more input is needed.
fn parse_response(buf: &[u8], eof: bool) -> io::Result<Option<(u16, bool, usize)>> {
    let Some(head_end) = find(buf, b"\r\n\r\n").map(|p| p + 4) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = text.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let mut keep = version == "HTTP/1.1";
    let mut body = Body::ToClose;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => {
                body = Body::Length(value.parse().map_err(|_| bad("content-length"))?)
            }
            "transfer-encoding" if value.eq_ignore_ascii_case("chunked") => body = Body::Chunked,
            "connection" if value.eq_ignore_ascii_case("close") => keep = false,
            "connection" if value.eq_ignore_ascii_case("keep-alive") => keep = true,
            _ => {}
        }
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        body = Body::Length(0);
    }
    let rest = &buf[head_end..];
    let used = match body {
        Body::Length(n) if rest.len() >= n => n,
        Body::Length(_) => return Ok(None),
        Body::ToClose if eof => return Ok(Some((status, false, buf.len()))),
        Body::ToClose => return Ok(None),
        Body::Chunked => match chunked_len(rest)? {
            Some(n) => n,
            None => return Ok(None),
        },
    };
    Ok(Some((status, keep, head_end + used)))
}

/// The length of a complete chunked body at the start of `b` (trailers included), if there.
fn chunked_len(b: &[u8]) -> io::Result<Option<usize>> {
    let mut at = 0;
    loop {
        let Some(eol) = find(&b[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&b[at..at + eol]).to_string();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("chunk size"))?;
        at += eol + 2;
        if size == 0 {
            loop {
                let Some(eol) = find(&b[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if b.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ips_rotate_outside_127_0() {
        assert_eq!(source_ip(0), Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(source_ip(253), Ipv4Addr::new(127, 1, 0, 254));
        assert_eq!(source_ip(254), Ipv4Addr::new(127, 1, 1, 1));
        let many: std::collections::HashSet<_> = (0..100_000).map(source_ip).collect();
        assert_eq!(many.len(), 100_000);
    }

    #[test]
    fn responses_parse_incrementally() -> io::Result<()> {
        let r = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse_response(&r[..20], false)?, None);
        assert_eq!(parse_response(&r[..r.len() - 1], false)?, None);
        assert_eq!(parse_response(r, false)?, Some((401, true, r.len())));
        let c = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\nNEXT";
        assert_eq!(parse_response(&c[..c.len() - 6], false)?, None);
        assert_eq!(parse_response(c, false)?, Some((200, false, c.len() - 4)));
        let t = b"HTTP/1.0 200 OK\r\n\r\nbody";
        assert_eq!(parse_response(t, false)?, None);
        assert_eq!(parse_response(t, true)?, Some((200, false, t.len())));
        assert!(parse_response(b"garbage\r\n\r\n", false).is_err());
        Ok(())
    }
}
