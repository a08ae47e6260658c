//! A minimal protobuf reader and the OTLP logs messages the test receiver needs
//! (`ExportLogsServiceRequest` → `ResourceLogs` → `ScopeLogs` → `LogRecord`), decoded by hand:
//! only the fields below, unknown fields skipped, strings kept as raw bytes.

use anyhow::{anyhow, bail, Result};

/// An OTLP `AnyValue`.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyValue {
    /// `string_value` (raw bytes, not checked for UTF-8).
    String(Vec<u8>),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `array_value`.
    Array(Vec<AnyValue>),
    /// `kvlist_value`.
    KvList(Vec<(String, AnyValue)>),
    /// `bytes_value`.
    Bytes(Vec<u8>),
}

impl AnyValue {
    /// The bytes of a `string_value`.
    pub fn as_string(&self) -> Option<&[u8]> {
        match self {
            AnyValue::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One OTLP log record with the resource and scope it came under.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OtlpLogRecord {
    /// The resource's attributes.
    pub resource: Vec<(String, AnyValue)>,
    /// The instrumentation scope's name, if any.
    pub scope: Option<String>,
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `observed_time_unix_nano`.
    pub observed_time_unix_nano: u64,
    /// `severity_number` (0 = unspecified).
    pub severity_number: u64,
    /// `severity_text`.
    pub severity_text: String,
    /// `body`.
    pub body: Option<AnyValue>,
    /// `attributes`.
    pub attributes: Vec<(String, AnyValue)>,
    /// The `content-type` of the HTTP request that carried it.
    pub content_type: String,
}

impl OtlpLogRecord {
    /// A log attribute.
    pub fn attribute(&self, key: &str) -> Option<&AnyValue> {
        find(&self.attributes, key)
    }

    /// A resource attribute.
    pub fn resource_attribute(&self, key: &str) -> Option<&AnyValue> {
        find(&self.resource, key)
    }
}

fn find<'a>(pairs: &'a [(String, AnyValue)], key: &str) -> Option<&'a AnyValue> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// AnyValues nested deeper than this are rejected.
const MAX_DEPTH: usize = 32;

/// A protobuf field's payload.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the fields of one protobuf message.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Fields<'a> {
        Fields { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| anyhow!("truncated varint"))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        bail!("varint longer than 10 bytes")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| anyhow!("length overflow"))?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| anyhow!("field of {n} bytes runs past the message"))?;
        self.pos = end;
        Ok(bytes)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Wire<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(self.take(8)?.try_into()?)),
            2 => {
                let n = usize::try_from(self.varint()?)?;
                Wire::Len(self.take(n)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(self.take(4)?.try_into()?)),
            other => bail!("unsupported wire type {other}"),
        };
        Ok(Some((key >> 3, wire)))
    }
}

/// Calls `each` for every field of `buf`.
fn for_each<'a>(buf: &'a [u8], mut each: impl FnMut(u64, Wire<'a>) -> Result<()>) -> Result<()> {
    let mut fields = Fields::new(buf);
    while let Some((number, wire)) = fields.next_field()? {
        each(number, wire)?;
    }
    Ok(())
}

fn bytes<'a>(what: &str, wire: Wire<'a>) -> Result<&'a [u8]> {
    match wire {
        Wire::Len(b) => Ok(b),
        other => bail!("{what}: expected a length-delimited field, got {other:?}"),
    }
}

fn string(what: &str, wire: Wire<'_>) -> Result<String> {
    Ok(String::from_utf8_lossy(bytes(what, wire)?).into_owned())
}

fn any_value(buf: &[u8], depth: usize) -> Result<AnyValue> {
    if depth > MAX_DEPTH {
        bail!("AnyValue nested deeper than {MAX_DEPTH}");
    }
    // An empty AnyValue (no oneof set) reads as an empty string.
    let mut value = AnyValue::String(Vec::new());
    for_each(buf, |number, wire| {
        value = match (number, wire) {
            (1, Wire::Len(b)) => AnyValue::String(b.to_vec()),
            (2, Wire::Varint(v)) => AnyValue::Bool(v != 0),
            (3, Wire::Varint(v)) => AnyValue::Int(v as i64),
            (4, Wire::Fixed64(v)) => AnyValue::Double(f64::from_bits(v)),
            (5, Wire::Len(b)) => {
                let mut items = Vec::new();
                for_each(b, |n, w| {
                    if n == 1 {
                        items.push(any_value(bytes("ArrayValue.values", w)?, depth + 1)?);
                    }
                    Ok(())
                })?;
                AnyValue::Array(items)
            }
            (6, Wire::Len(b)) => AnyValue::KvList(key_values(b, depth + 1)?),
            (7, Wire::Len(b)) => AnyValue::Bytes(b.to_vec()),
            (1..=7, other) => bail!("AnyValue field {number}: unexpected {other:?}"),
            _ => return Ok(()),
        };
        Ok(())
    })?;
    Ok(value)
}

/// The `KeyValue`s (field 1) of a `KeyValueList` / `Resource`.
fn key_values(buf: &[u8], depth: usize) -> Result<Vec<(String, AnyValue)>> {
    let mut pairs = Vec::new();
    for_each(buf, |number, wire| {
        if number == 1 {
            pairs.push(key_value(bytes("KeyValue", wire)?, depth)?);
        }
        Ok(())
    })?;
    Ok(pairs)
}

fn key_value(buf: &[u8], depth: usize) -> Result<(String, AnyValue)> {
    let mut key = String::new();
    let mut value = AnyValue::String(Vec::new());
    for_each(buf, |number, wire| {
        match number {
            1 => key = string("KeyValue.key", wire)?,
            2 => value = any_value(bytes("KeyValue.value", wire)?, depth + 1)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((key, value))
}

fn log_record(buf: &[u8], template: &OtlpLogRecord) -> Result<OtlpLogRecord> {
    let mut record = template.clone();
    for_each(buf, |number, wire| {
        match (number, wire) {
            (1, Wire::Fixed64(v)) => record.time_unix_nano = v,
            (11, Wire::Fixed64(v)) => record.observed_time_unix_nano = v,
            (2, Wire::Varint(v)) => record.severity_number = v,
            (3, w) => record.severity_text = string("LogRecord.severity_text", w)?,
            (5, w) => record.body = Some(any_value(bytes("LogRecord.body", w)?, 0)?),
            (6, w) => record
                .attributes
                .push(key_value(bytes("LogRecord.attributes", w)?, 0)?),
            (1 | 11 | 2, other) => bail!("LogRecord field {number}: unexpected {other:?}"),
            _ => {}
        }
        Ok(())
    })?;
    Ok(record)
}

fn scope_logs(buf: &[u8], template: &OtlpLogRecord, out: &mut Vec<OtlpLogRecord>) -> Result<()> {
    // The scope (field 1) may come after the records on the wire: read it first.
    let mut scoped = template.clone();
    for_each(buf, |number, wire| {
        if number == 1 {
            for_each(bytes("ScopeLogs.scope", wire)?, |n, w| {
                if n == 1 {
                    scoped.scope = Some(string("InstrumentationScope.name", w)?);
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    for_each(buf, |number, wire| {
        if number == 2 {
            out.push(log_record(bytes("ScopeLogs.log_records", wire)?, &scoped)?);
        }
        Ok(())
    })
}

fn resource_logs(buf: &[u8], content_type: &str, out: &mut Vec<OtlpLogRecord>) -> Result<()> {
    let mut template = OtlpLogRecord {
        content_type: content_type.to_string(),
        ..OtlpLogRecord::default()
    };
    for_each(buf, |number, wire| {
        if number == 1 {
            template.resource = key_values(bytes("ResourceLogs.resource", wire)?, 0)?;
        }
        Ok(())
    })?;
    for_each(buf, |number, wire| {
        if number == 2 {
            scope_logs(bytes("ResourceLogs.scope_logs", wire)?, &template, out)?;
        }
        Ok(())
    })
}

/// Decodes a protobuf `ExportLogsServiceRequest` into its log records, in wire order.
pub fn decode_export_request(buf: &[u8], content_type: &str) -> Result<Vec<OtlpLogRecord>> {
    let mut out = Vec::new();
    for_each(buf, |number, wire| {
        if number == 1 {
            resource_logs(bytes("resource_logs", wire)?, content_type, &mut out)?;
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body Envoy 1.40 sent with envoy/access-log/otel.yaml (captured from the probe filter):
    /// resource = built-in labels + service.name, one record: time, string body, event.kind.
    const ENVOY_EXPORT: &[u8] =
        b"\x0a\xc2\x01\x0ad\x0a\x13\x0a\x08log_name\x12\x07\x0a\x05vigil\x0a\x0f\x0a\x09zone_n\
        ame\x12\x02\x0a\x00\x0a\x12\x0a\x0ccluster_name\x12\x02\x0a\x00\x0a\x0f\x0a\x09node_\
        name\x12\x02\x0a\x00\x0a\x17\x0a\x0cservice.name\x12\x07\x0a\x05vigil\x12Z\x12X\x09\
        \x80\x9c\xbd\xce\xae\xbd\xea\x18*6\x0a4{\"event\":{\"kind\":\"event\",\"seq\":2,\"sl\
        ot\":0},\"id\":\"k\"}2\x15\x0a\x0aevent.kind\x12\x07\x0a\x05event";

    fn len(field: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![(field << 3) | 2];
        let mut n = body.len();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(body);
        out
    }

    fn kv(key: &str, value: &[u8]) -> Vec<u8> {
        [len(1, key.as_bytes()), len(2, value)].concat()
    }

    #[test]
    fn envoy_export_request() -> Result<()> {
        let records = decode_export_request(ENVOY_EXPORT, "application/x-protobuf")?;
        assert_eq!(records.len(), 1);
        let r = &records[0];
        let s = |v: &str| AnyValue::String(v.as_bytes().to_vec());
        assert_eq!(r.resource_attribute("service.name"), Some(&s("vigil")));
        assert_eq!(r.resource_attribute("log_name"), Some(&s("vigil")));
        assert_eq!(r.resource_attribute("node_name"), Some(&s("")));
        assert_eq!(r.attribute("event.kind"), Some(&s("event")));
        assert_eq!(r.time_unix_nano, 0x18ea_bdae_cebd_9c80);
        assert_eq!(
            r.body.as_ref().and_then(AnyValue::as_string),
            Some(&br#"{"event":{"kind":"event","seq":2,"slot":0},"id":"k"}"#[..])
        );
        assert_eq!(r.scope, None);
        assert_eq!(r.content_type, "application/x-protobuf");
        Ok(())
    }

    #[test]
    fn every_any_value_kind_attributes_scope_and_order() -> Result<()> {
        let values = [
            len(1, b"s"),
            vec![0x10, 0x01],
            vec![
                0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            [vec![0x21], 1.5f64.to_le_bytes().to_vec()].concat(),
            len(5, &[len(1, &len(1, b"a")), len(1, &[0x10, 0x00])].concat()),
            len(6, &len(1, &kv("k", &len(1, b"v")))),
            len(7, &[0, 0xff]),
        ];
        let attrs: Vec<u8> = values
            .iter()
            .enumerate()
            .flat_map(|(i, v)| len(6, &kv(&format!("a{i}"), v)))
            .collect();
        let rec = |body: &[u8]| [len(5, &len(1, body)), attrs.clone(), vec![0x10, 0x11]].concat();
        let scope_logs = [
            len(2, &rec(b"one")),
            len(2, &rec(b"two")),
            len(1, &len(1, b"sc")),
        ]
        .concat();
        let resource = len(1, &len(1, &kv("service.name", &len(1, b"svc"))));
        let request = len(1, &[resource, len(2, &scope_logs)].concat());
        let records = decode_export_request(&request, "ct")?;
        let bodies: Vec<_> = records.iter().filter_map(|r| r.body.clone()).collect();
        assert_eq!(
            bodies,
            vec![
                AnyValue::String(b"one".to_vec()),
                AnyValue::String(b"two".to_vec())
            ]
        );
        let r = &records[1];
        assert_eq!((r.scope.as_deref(), r.severity_number), (Some("sc"), 17));
        assert_eq!(
            r.resource_attribute("service.name"),
            Some(&AnyValue::String(b"svc".to_vec()))
        );
        let want = [
            AnyValue::String(b"s".to_vec()),
            AnyValue::Bool(true),
            AnyValue::Int(-1),
            AnyValue::Double(1.5),
            AnyValue::Array(vec![AnyValue::String(b"a".to_vec()), AnyValue::Bool(false)]),
            AnyValue::KvList(vec![("k".to_string(), AnyValue::String(b"v".to_vec()))]),
            AnyValue::Bytes(vec![0, 0xff]),
        ];
        for (i, want) in want.iter().enumerate() {
            assert_eq!(r.attribute(&format!("a{i}")), Some(want), "a{i}");
        }
        Ok(())
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let bad: &[&[u8]] = &[
            &[0x0a, 0x05, 0x00],       // length past the end
            &[0x0a],                   // truncated length
            &[0x0b, 0x00],             // group wire type
            &[0x0a, 0x02, 0x12, 0x05], // scope_logs past the end
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ], // varint
            &[0x0a, 0x04, 0x12, 0x02, 0x12, 0x00][..4], // cut short
        ];
        for b in bad {
            assert!(decode_export_request(b, "").is_err(), "{b:02x?}");
        }
        // Deeply nested arrays are rejected, not a stack overflow.
        let mut v = len(1, b"x");
        for _ in 0..(MAX_DEPTH + 2) {
            v = len(5, &len(1, &v));
        }
        let request = len(1, &len(2, &len(2, &len(5, &v))));
        assert!(decode_export_request(&request, "").is_err());
        // Unknown fields are skipped.
        assert_eq!(
            decode_export_request(&[0x10, 0x01, 0x1a, 0x00], "").ok(),
            Some(vec![])
        );
    }
}
