//! An OTLP/HTTP logs receiver for the tests: what Envoy's `envoy.access_loggers.open_telemetry`
//! sends over `http_service` (`envoy/access-log/otel.yaml`) arrives here as HTTP/1.1
//! `POST /v1/logs` with a protobuf `ExportLogsServiceRequest` (Envoy 1.40 sends
//! `content-type: application/x-protobuf` and a chunked body); each log record becomes an
//! [`OtlpLogRecord`] whose event is its `body` `string_value`, byte for byte.
//!
//! Answers 200 with an empty `ExportLogsServiceResponse` (or the status the test asked for,
//! to exercise Envoy's `logs_dropped`), 404 for other paths, 405 for other methods, 415 for
//! JSON, 400 for a body that does not decode (recorded in [`Receiver::errors`]).
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let receiver = vigil_tests::otlp::start()?; // http://127.0.0.1:<port>/v1/logs
//! // ... render the config with receiver.port(), run Envoy, send requests ...
//! let events = receiver.wait_for_events(2, std::time::Duration::from_secs(10))?;
//! # Ok(()) }
//! ```

use crate::receiver::{fill, Handler, Limits, Receiver, Record, Shared};
use anyhow::{bail, Context as _, Result};
use std::io::Write as _;
use std::net::TcpStream;
use std::sync::Arc;

pub use crate::otlp_pb::{decode_export_request, AnyValue, OtlpLogRecord};

/// A receiver of OTLP/HTTP log exports.
pub type OtlpReceiver = Receiver<OtlpLogRecord>;

/// The path OTLP/HTTP exporters post logs to.
pub const LOGS_PATH: &str = "/v1/logs";

/// Largest request head (request line and headers) accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

impl Record for OtlpLogRecord {
    fn event(&self) -> Option<&[u8]> {
        self.body.as_ref().and_then(AnyValue::as_string)
    }
}

/// Starts a receiver on `127.0.0.1:0` that answers every valid export with 200.
pub fn start() -> Result<OtlpReceiver> {
    start_with(200, Limits::default())
}

/// Starts a receiver that answers valid exports with `status` (records are kept whatever
/// the status, so a test can tell what Envoy sent from what Envoy counted).
pub fn start_with(status: u16, limits: Limits) -> Result<OtlpReceiver> {
    let handler: Handler<OtlpLogRecord> =
        Arc::new(move |stream, shared| serve(stream, shared, status));
    Receiver::start(limits, handler)
}

/// A parsed request head.
#[derive(Debug, Default)]
struct Head {
    method: String,
    path: String,
    content_type: String,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
    expect_continue: bool,
}

fn serve(mut stream: TcpStream, shared: &Shared<OtlpLogRecord>, status: u16) -> Result<()> {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            if buf.len() > MAX_HEAD_BYTES {
                bail!("request head larger than {MAX_HEAD_BYTES} bytes");
            }
            if !fill(&mut stream, &mut buf, shared)? {
                if !buf.is_empty() && !shared.stopping() {
                    bail!("connection closed inside a request head");
                }
                return Ok(());
            }
        };
        let head = parse_head(&buf[..head_end])?;
        buf.drain(..head_end);
        if head.expect_continue {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let max = shared.limits().max_frame_bytes;
        let body = if head.chunked {
            read_chunked(&mut stream, &mut buf, shared, max)?
        } else {
            let n = head.content_length.unwrap_or(0);
            if n > max {
                bail!("body of {n} bytes is larger than {max}");
            }
            read_exact(&mut stream, &mut buf, shared, n)?
        };
        let Some(body) = body else {
            return Ok(()); // stopping
        };
        let code = handle(&head, &body, shared, status);
        let reply = format!(
            "HTTP/1.1 {code} {}\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
            reason(code)
        );
        stream
            .write_all(reply.as_bytes())
            .context("writing the response")?;
        if head.close {
            return Ok(());
        }
    }
}

/// Checks and decodes one request; the status to answer.
fn handle(head: &Head, body: &[u8], shared: &Shared<OtlpLogRecord>, status: u16) -> u16 {
    if head.path != LOGS_PATH {
        shared.error(format!("{} {}: not {LOGS_PATH}", head.method, head.path));
        return 404;
    }
    if head.method != "POST" {
        shared.error(format!("{} {}: not POST", head.method, head.path));
        return 405;
    }
    let media_type = head.content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-protobuf") {
        shared.error(format!(
            "content-type {:?} is not application/x-protobuf",
            head.content_type
        ));
        return 415;
    }
    match decode_export_request(body, &head.content_type) {
        Ok(records) => {
            for record in records {
                shared.push(record);
            }
            status
        }
        Err(e) => {
            shared.error(format!(
                "ExportLogsServiceRequest ({} bytes): {e:#}",
                body.len()
            ));
            400
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(raw: &[u8]) -> Result<Head> {
    let text = std::str::from_utf8(raw).context("request head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("bad request line {request_line:?}");
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        bail!("unsupported version {version:?}");
    }
    let mut head = Head {
        method: method.to_string(),
        path: path.to_string(),
        close: version == "HTTP/1.0",
        ..Head::default()
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            bail!("bad header line {line:?}");
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => head.content_type = value.to_string(),
            "content-length" => {
                head.content_length = Some(value.parse().context("bad content-length")?);
            }
            "transfer-encoding" => head.chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => head.close = value.eq_ignore_ascii_case("close"),
            "expect" => head.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    Ok(head)
}

/// Takes `n` bytes (from `buf`, reading more as needed); `None` when stopping.
fn read_exact(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared<OtlpLogRecord>,
    n: usize,
) -> Result<Option<Vec<u8>>> {
    while buf.len() < n {
        if !fill(stream, buf, shared)? {
            if shared.stopping() {
                return Ok(None);
            }
            bail!(
                "connection closed inside a body ({} of {n} bytes)",
                buf.len()
            );
        }
    }
    Ok(Some(buf.drain(..n).collect()))
}

/// Takes one line (without its CRLF); `None` when stopping.
fn read_line(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared<OtlpLogRecord>,
) -> Result<Option<String>> {
    loop {
        if let Some(at) = find(buf, b"\r\n") {
            let line: Vec<u8> = buf.drain(..at + 2).take(at).collect();
            return Ok(Some(
                String::from_utf8(line).context("chunk line is not UTF-8")?,
            ));
        }
        if buf.len() > MAX_HEAD_BYTES {
            bail!("chunk line longer than {MAX_HEAD_BYTES} bytes");
        }
        if !fill(stream, buf, shared)? {
            if shared.stopping() {
                return Ok(None);
            }
            bail!("connection closed inside a chunked body");
        }
    }
}

/// Reads a chunked body (chunk extensions and trailers ignored); `None` when stopping.
fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared<OtlpLogRecord>,
    max: usize,
) -> Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line) = read_line(stream, buf, shared)? else {
            return Ok(None);
        };
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("bad chunk size {line:?}"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                match read_line(stream, buf, shared)? {
                    None => return Ok(None),
                    Some(l) if l.is_empty() => return Ok(Some(body)),
                    Some(_) => {}
                }
            }
        }
        if body.len().saturating_add(size) > max {
            bail!("chunked body larger than {max} bytes");
        }
        let Some(chunk) = read_exact(stream, buf, shared, size + 2)? else {
            return Ok(None);
        };
        if !chunk.ends_with(b"\r\n") {
            bail!("chunk of {size} bytes not followed by CRLF");
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::time::Duration;

    /// An export with one record whose body is `body`, and a resource attribute.
    fn export(body: &[u8]) -> Vec<u8> {
        fn len(field: u8, b: &[u8]) -> Vec<u8> {
            let mut out = vec![(field << 3) | 2, b.len() as u8];
            out.extend_from_slice(b);
            out
        }
        let resource = len(
            1,
            &len(
                1,
                &[len(1, b"service.name"), len(2, &len(1, b"vigil"))].concat(),
            ),
        );
        let record = len(2, &len(5, &len(1, body)));
        len(1, &[resource, len(2, &record)].concat())
    }

    fn response(stream: &mut TcpStream) -> Result<String> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte)?;
            got.push(byte[0]);
        }
        Ok(String::from_utf8_lossy(&got).into_owned())
    }

    #[test]
    fn chunked_and_sized_posts_on_one_connection() -> Result<()> {
        let mut receiver = start()?;
        let mut stream = TcpStream::connect(receiver.addr())?;
        let ev1 = "{\"a\":\"é\u{2028}\\\"\"}".as_bytes();
        let body = export(ev1);
        // Chunked, as Envoy sends it, split over several chunks and writes.
        let (a, b) = body.split_at(7);
        let mut req = format!(
            "POST /v1/logs HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n\
             transfer-encoding: chunked\r\n\r\n{:x};ext=1\r\n",
            a.len()
        )
        .into_bytes();
        req.extend_from_slice(a);
        req.extend_from_slice(format!("\r\n{:X}\r\n", b.len()).as_bytes());
        req.extend_from_slice(b);
        req.extend_from_slice(b"\r\n0\r\nx-trailer: 1\r\n\r\n");
        for piece in req.chunks(9) {
            stream.write_all(piece)?;
        }
        assert!(response(&mut stream)?.starts_with("HTTP/1.1 200 OK\r\n"));
        // Then a content-length request on the same connection.
        let body = export(b"{}");
        let mut req = format!(
            "POST /v1/logs HTTP/1.1\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        stream.write_all(&req)?;
        assert!(response(&mut stream)?.contains("content-length: 0\r\n"));
        let events = receiver.wait_for_events(2, Duration::from_secs(5))?;
        assert_eq!(events, vec![ev1.to_vec(), b"{}".to_vec()]);
        let records = receiver.records();
        assert_eq!(
            records[0].resource_attribute("service.name"),
            Some(&AnyValue::String(b"vigil".to_vec()))
        );
        assert_eq!(records[0].content_type, "application/x-protobuf");
        drop(stream);
        receiver.stop();
        assert_eq!(receiver.errors(), Vec::<String>::new());
        assert_eq!(receiver.connections(), 1);
        Ok(())
    }

    #[test]
    fn rejects_what_is_not_an_otlp_protobuf_export() -> Result<()> {
        let receiver = start_with(503, Limits::default())?;
        let send = |head: &str, body: &[u8]| -> Result<String> {
            let mut stream = TcpStream::connect(receiver.addr())?;
            let mut req = format!("{head}\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
            req.extend_from_slice(body);
            stream.write_all(&req)?;
            response(&mut stream)
        };
        let ok_body = export(b"{}");
        let pb = "content-type: application/x-protobuf";
        assert!(send(&format!("POST /v1/traces HTTP/1.1\r\n{pb}"), &ok_body)?.contains(" 404 "));
        assert!(send(&format!("GET /v1/logs HTTP/1.1\r\n{pb}"), b"")?.contains(" 405 "));
        let json = "content-type: application/json";
        assert!(send(&format!("POST /v1/logs HTTP/1.1\r\n{json}"), b"{}")?.contains(" 415 "));
        assert!(send(&format!("POST /v1/logs HTTP/1.1\r\n{pb}"), &[0x0a, 0x09])?.contains(" 400 "));
        // A valid export gets the configured status, and is still recorded.
        assert!(send(&format!("POST /v1/logs HTTP/1.1\r\n{pb}"), &ok_body)?.contains(" 503 "));
        assert_eq!(
            receiver.wait_for_events(1, Duration::from_secs(5))?,
            vec![b"{}".to_vec()]
        );
        assert_eq!(receiver.errors().len(), 4, "{:?}", receiver.errors());
        Ok(())
    }

    #[test]
    fn bounded_bodies_and_records() -> Result<()> {
        let limits = Limits {
            max_records: 1,
            max_frame_bytes: 100,
        };
        let receiver = start_with(200, limits)?;
        let pb = "content-type: application/x-protobuf";
        for _ in 0..2 {
            let mut stream = TcpStream::connect(receiver.addr())?;
            let body = export(b"{}");
            let mut req = format!(
                "POST /v1/logs HTTP/1.1\r\n{pb}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(&body);
            stream.write_all(&req)?;
            response(&mut stream)?;
        }
        assert_eq!((receiver.records().len(), receiver.overflow()), (1, 1));
        let mut stream = TcpStream::connect(receiver.addr())?;
        stream.write_all(
            format!("POST /v1/logs HTTP/1.1\r\n{pb}\r\ncontent-length: 101\r\n\r\n").as_bytes(),
        )?;
        let mut rest = Vec::new();
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        // The receiver closes the connection without answering.
        assert_eq!(stream.read_to_end(&mut rest)?, 0);
        let too_big = || {
            receiver
                .errors()
                .iter()
                .any(|e| e.contains("larger than 100"))
        };
        for _ in 0..200 {
            if too_big() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(too_big(), "{:?}", receiver.errors());
        Ok(())
    }
}
