//! A fluentd forward-protocol receiver for the tests: what Envoy's `envoy.access_loggers.fluentd`
//! sends (`envoy/access-log/fluentd.yaml`) arrives here and each entry becomes a
//! [`FluentdRecord`], its event being the raw bytes of one record field (`message`).
//!
//! Decodes the three modes of the Forward Protocol v1 (Message, Forward, PackedForward;
//! CompressedPackedForward is reported as an error), times as integers or EventTime, and
//! answers `chunk` options with an ack. Envoy 1.40 sends Forward mode, integer seconds, no
//! options: `[tag, [[time, {record}], ...]]`.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let receiver = vigil_tests::fluentd::start()?; // 127.0.0.1:<ephemeral>
//! // ... render the config with receiver.port(), run Envoy, send requests ...
//! let events = receiver.wait_for_events(2, std::time::Duration::from_secs(10))?;
//! # Ok(()) }
//! ```

use crate::msgpack::{self, Value};
use crate::receiver::{fill, Handler, Limits, Receiver, Record, Shared};
use anyhow::{anyhow, bail, Context as _, Result};
use std::io::Write as _;
use std::net::TcpStream;
use std::sync::Arc;

/// The record field that holds the event in `envoy/access-log/fluentd.yaml`.
pub const EVENT_FIELD: &str = "message";

/// A receiver of fluentd forward-protocol messages.
pub type FluentdReceiver = Receiver<FluentdRecord>;

/// How an entry was framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `[tag, time, record, option?]`
    Message,
    /// `[tag, [[time, record], ...], option?]`
    Forward,
    /// `[tag, bin|str of concatenated [time, record], option?]`
    PackedForward,
}

/// One fluentd entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FluentdRecord {
    /// The message's tag.
    pub tag: String,
    /// Entry time: seconds since the epoch.
    pub seconds: u64,
    /// Entry time: nanoseconds (0 for integer times).
    pub nanos: u32,
    /// The record (a map).
    pub record: Value,
    /// How it was framed.
    pub mode: Mode,
    /// The raw bytes of the event field (str or bin), if the record has it.
    pub event: Option<Vec<u8>>,
}

impl Record for FluentdRecord {
    fn event(&self) -> Option<&[u8]> {
        self.event.as_deref()
    }
}

/// Starts a receiver on `127.0.0.1:0` whose events are the [`EVENT_FIELD`] field.
pub fn start() -> Result<FluentdReceiver> {
    start_with(EVENT_FIELD, Limits::default())
}

/// Starts a receiver whose events are the record field `field`.
pub fn start_with(field: &str, limits: Limits) -> Result<FluentdReceiver> {
    let field = field.to_string();
    let handler: Handler<FluentdRecord> =
        Arc::new(move |stream, shared| serve(stream, shared, &field));
    Receiver::start(limits, handler)
}

fn serve(mut stream: TcpStream, shared: &Shared<FluentdRecord>, field: &str) -> Result<()> {
    let mut buf = Vec::new();
    loop {
        match msgpack::decode(&buf) {
            Ok((value, used)) => {
                buf.drain(..used);
                let (records, chunk) = decode_message(&value, field)?;
                for record in records {
                    shared.push(record);
                }
                if let Some(chunk) = chunk {
                    stream.write_all(&ack(&chunk)).context("writing the ack")?;
                }
            }
            Err(msgpack::Error::Incomplete) => {
                if buf.len() > shared.limits().max_frame_bytes {
                    bail!(
                        "message larger than {} bytes",
                        shared.limits().max_frame_bytes
                    );
                }
                if !fill(&mut stream, &mut buf, shared)? {
                    if !buf.is_empty() && !shared.stopping() {
                        bail!("connection closed inside a message ({} bytes)", buf.len());
                    }
                    return Ok(());
                }
            }
            Err(e) => bail!("{e}"),
        }
    }
}

/// Decodes one forward-protocol message: its entries, and the `chunk` option to ack, if any.
pub fn decode_message(message: &Value, field: &str) -> Result<(Vec<FluentdRecord>, Option<Value>)> {
    let Value::Array(items) = message else {
        bail!("a message must be an array, got {message:?}");
    };
    if !(2..=4).contains(&items.len()) {
        bail!("a message has 2 to 4 items, got {}", items.len());
    }
    let tag = match &items[0] {
        Value::Str(tag) => String::from_utf8_lossy(tag).into_owned(),
        other => bail!("the tag must be a str, got {other:?}"),
    };
    let (mode, entries, option) = match &items[1] {
        Value::Array(entries) => (Mode::Forward, entries.clone(), items.get(2)),
        Value::Str(packed) | Value::Bin(packed) => {
            let option = items.get(2);
            if let Some(compressed) = option.and_then(|o| o.get("compressed")) {
                bail!("CompressedPackedForward ({compressed:?}) is not supported");
            }
            let entries = msgpack::decode_all(packed).context("PackedForward entries")?;
            (Mode::PackedForward, entries, option)
        }
        _ => {
            let Some(record) = items.get(2) else {
                bail!("a Message-mode message needs a record");
            };
            let entry = Value::Array(vec![items[1].clone(), record.clone()]);
            (Mode::Message, vec![entry], items.get(3))
        }
    };
    let chunk = match option {
        None | Some(Value::Nil) => None,
        Some(option @ Value::Map(_)) => option.get("chunk").cloned(),
        Some(other) => bail!("the option must be a map, got {other:?}"),
    };
    let records = entries
        .iter()
        .map(|entry| decode_entry(&tag, mode, entry, field))
        .collect::<Result<Vec<_>>>()?;
    Ok((records, chunk))
}

fn decode_entry(tag: &str, mode: Mode, entry: &Value, field: &str) -> Result<FluentdRecord> {
    let Value::Array(pair) = entry else {
        bail!("an entry must be [time, record], got {entry:?}");
    };
    let [time, record] = pair.as_slice() else {
        bail!("an entry must be [time, record], got {} items", pair.len());
    };
    let (seconds, nanos) = decode_time(time)?;
    if !matches!(record, Value::Map(_)) {
        bail!("a record must be a map, got {record:?}");
    }
    Ok(FluentdRecord {
        tag: tag.to_string(),
        seconds,
        nanos,
        record: record.clone(),
        mode,
        event: record
            .get(field)
            .and_then(Value::as_bytes)
            .map(<[u8]>::to_vec),
    })
}

/// An entry time: an integer (seconds) or EventTime (ext 0: u32 seconds, u32 nanoseconds).
fn decode_time(time: &Value) -> Result<(u64, u32)> {
    match time {
        Value::UInt(s) => Ok((*s, 0)),
        Value::Ext(0, data) if data.len() == 8 => {
            let word = |at: usize| -> Result<u32> {
                let bytes = data
                    .get(at..at + 4)
                    .ok_or_else(|| anyhow!("short EventTime"))?;
                Ok(u32::from_be_bytes(bytes.try_into()?))
            };
            Ok((u64::from(word(0)?), word(4)?))
        }
        other => bail!("an entry time must be an integer or EventTime, got {other:?}"),
    }
}

/// The ack for a `chunk` option: `{"ack": chunk}`.
fn ack(chunk: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::encode_map_header(&mut out, 1);
    msgpack::encode_str(&mut out, b"ack");
    if let Some(id) = chunk.as_bytes() {
        msgpack::encode_str(&mut out, id);
    } else {
        out.push(0xc0);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;
    use std::io::Read as _;
    use std::time::Duration;

    /// Bytes Envoy 1.40 sent with envoy/access-log/fluentd.yaml (captured from the probe
    /// filter): `["vigil.event", [[0x6b047bd7, {"message": "<event>"}]]]`.
    const ENVOY_FORWARD: &[u8] =
        b"\x92\xabvigil.event\x91\x92\xcek\x04{\xd7\x81\xa7message\xd94{\"event\":{\"kind\":\"\
        event\",\"seq\":2,\"slot\":0},\"id\":\"k\"}";
    const ENVOY_EVENT: &[u8] = br#"{"event":{"kind":"event","seq":2,"slot":0},"id":"k"}"#;

    fn record(field: &str, event: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        msgpack::encode_map_header(&mut out, 2);
        msgpack::encode_str(&mut out, b"other");
        out.push(0x2a);
        msgpack::encode_str(&mut out, field.as_bytes());
        msgpack::encode_str(&mut out, event);
        out
    }

    fn message(bytes: &[u8]) -> Value {
        let (value, used) = msgpack::decode(bytes).expect("valid msgpack");
        assert_eq!(used, bytes.len());
        value
    }

    #[test]
    fn envoy_forward_mode() {
        let (records, chunk) = decode_message(&message(ENVOY_FORWARD), EVENT_FIELD).expect("ok");
        assert_eq!(chunk, None);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].tag, "vigil.event");
        assert_eq!((records[0].seconds, records[0].nanos), (0x6b04_7bd7, 0));
        assert_eq!(records[0].mode, Mode::Forward);
        assert_eq!(records[0].event.as_deref(), Some(ENVOY_EVENT));
    }

    #[test]
    fn message_and_packed_modes_event_time_and_chunk() {
        let ev = "{\"a\":\"é\u{2028}\\\"\"}".as_bytes();
        let event_time = [0xd7, 0x00, 0, 0, 0, 7, 0, 0, 0, 9];
        // Message mode with EventTime and a chunk option.
        let mut m = vec![0x94, 0xa1, b't'];
        m.extend_from_slice(&event_time);
        m.extend(record(EVENT_FIELD, ev));
        m.extend([0x81, 0xa5, b'c', b'h', b'u', b'n', b'k', 0xa2, b'i', b'd']);
        let (records, chunk) = decode_message(&message(&m), EVENT_FIELD).expect("ok");
        assert_eq!(chunk, Some(Value::Str(b"id".to_vec())));
        assert_eq!(
            (records[0].mode, records[0].seconds, records[0].nanos),
            (Mode::Message, 7, 9)
        );
        assert_eq!(records[0].event.as_deref(), Some(ev));
        // PackedForward: two entries back to back in a bin.
        let mut packed = Vec::new();
        for (t, e) in [(1u8, &b"{}"[..]), (2, ev)] {
            packed.extend([0x92, t]);
            packed.extend(record(EVENT_FIELD, e));
        }
        let mut p = vec![0x92, 0xa1, b't', 0xc5];
        p.extend((packed.len() as u16).to_be_bytes());
        p.extend(&packed);
        let (records, _) = decode_message(&message(&p), EVENT_FIELD).expect("ok");
        let events: Vec<_> = records.iter().map(|r| r.event.clone()).collect();
        assert_eq!(events, vec![Some(b"{}".to_vec()), Some(ev.to_vec())]);
        assert!(records.iter().all(|r| r.mode == Mode::PackedForward));
    }

    #[test]
    fn malformed_messages_are_errors() {
        let bad: &[&[u8]] = &[
            &[0xa1, b't'],                   // not an array
            &[0x91, 0xa1, b't'],             // one item
            &[0x92, 0x01, 0x90],             // tag not a str
            &[0x92, 0xa1, b't', 0x91, 0x01], // entry not [time, record]
            &[0x93, 0xa1, b't', 0x01, 0x01], // record not a map
            &[0x93, 0xa1, b't', 0xc0, 0x80], // time nil
            &[0x93, 0xa1, b't', 0x90, 0x01], // option not a map
        ];
        for bytes in bad {
            assert!(
                decode_message(&message(bytes), EVENT_FIELD).is_err(),
                "{bytes:02x?}"
            );
        }
        let compressed = [0x93, 0xa1, b't', 0xa0, 0x81, 0xaa];
        let mut c = compressed.to_vec();
        c.extend(b"compressed");
        c.extend([0xa4, b'g', b'z', b'i', b'p']);
        assert!(decode_message(&message(&c), EVENT_FIELD).is_err());
    }

    #[test]
    fn receives_over_tcp_in_pieces_and_acks() -> Result<()> {
        let mut receiver = start()?;
        let mut stream = TcpStream::connect(receiver.addr())?;
        // Two messages, written a few bytes at a time.
        let mut bytes = ENVOY_FORWARD.to_vec();
        bytes.extend(ENVOY_FORWARD);
        for piece in bytes.chunks(5) {
            stream.write_all(piece)?;
            stream.flush()?;
            std::thread::sleep(Duration::from_millis(2));
        }
        let events = receiver.wait_for_events(2, Duration::from_secs(5))?;
        assert_eq!(events, vec![ENVOY_EVENT.to_vec(); 2]);
        // Message mode with a chunk: the receiver answers {"ack": "c1"}.
        let mut m = vec![0x94, 0xa1, b't', 0x01];
        m.extend(record(EVENT_FIELD, b"{}"));
        m.extend([0x81, 0xa5, b'c', b'h', b'u', b'n', b'k', 0xa2, b'c', b'1']);
        stream.write_all(&m)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut reply = [0u8; 8];
        stream.read_exact(&mut reply)?;
        assert_eq!(reply, [0x81, 0xa3, b'a', b'c', b'k', 0xa2, b'c', b'1']);
        receiver.wait_for(3, Duration::from_secs(5))?;
        drop(stream);
        receiver.stop();
        assert_eq!(receiver.errors(), Vec::<String>::new());
        assert_eq!(receiver.connections(), 1);
        Ok(())
    }

    #[test]
    fn bounded_records_and_bad_bytes() -> Result<()> {
        let limits = Limits {
            max_records: 1,
            max_frame_bytes: 64,
        };
        let receiver = start_with(EVENT_FIELD, limits)?;
        let mut stream = TcpStream::connect(receiver.addr())?;
        stream.write_all(ENVOY_FORWARD)?;
        stream.write_all(ENVOY_FORWARD)?;
        stream.write_all(&[0xc1])?;
        stream.flush()?;
        receiver.wait_for(1, Duration::from_secs(5))?;
        for _ in 0..200 {
            if !receiver.errors().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(receiver.overflow(), 1);
        assert_eq!(receiver.errors().len(), 1, "{:?}", receiver.errors());
        // A frame that never ends is cut at max_frame_bytes.
        let mut stream = TcpStream::connect(receiver.addr())?;
        stream.write_all(&[0xdb, 0, 1, 0, 0])?;
        stream.write_all(&[b'x'; 100])?;
        for _ in 0..200 {
            if receiver.errors().len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            receiver.errors()[1].contains("larger than 64"),
            "{:?}",
            receiver.errors()
        );
        Ok(())
    }
}
