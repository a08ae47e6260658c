//! A small MessagePack decoder (the whole format, strings kept as raw bytes) for the fluentd
//! forward-protocol receiver, plus the few encoders its tests and acks need.

use std::fmt;

/// A decoded MessagePack value. Strings keep their raw bytes (no UTF-8 check), so a test can
/// compare them byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// nil
    Nil,
    /// true / false
    Bool(bool),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Int(i64),
    /// float 32 or float 64.
    Float(f64),
    /// str (raw bytes).
    Str(Vec<u8>),
    /// bin.
    Bin(Vec<u8>),
    /// array.
    Array(Vec<Value>),
    /// map, in wire order.
    Map(Vec<(Value, Value)>),
    /// ext: type and data.
    Ext(i8, Vec<u8>),
}

impl Value {
    /// The bytes of a str or bin.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(b) | Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// The value under string key `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key.as_bytes()))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why a buffer did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The value is cut short: more bytes are needed.
    Incomplete,
    /// The bytes are not MessagePack (the reserved byte 0xc1) or nest too deep.
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Incomplete => write!(f, "incomplete MessagePack value"),
            Error::Invalid(why) => write!(f, "invalid MessagePack: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Arrays and maps nested deeper than this are rejected (no stack overflow on hostile input).
pub const MAX_DEPTH: usize = 64;

/// Decodes the first value of `buf`: the value and the number of bytes it used.
pub fn decode(buf: &[u8]) -> Result<(Value, usize), Error> {
    let mut reader = Reader { buf, pos: 0 };
    let value = reader.value(0)?;
    Ok((value, reader.pos))
}

/// Decodes every value of `buf` (a PackedForward entries blob: values back to back).
pub fn decode_all(mut buf: &[u8]) -> Result<Vec<Value>, Error> {
    let mut values = Vec::new();
    while !buf.is_empty() {
        let (value, used) = decode(buf)?;
        values.push(value);
        buf = &buf[used..];
    }
    Ok(values)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Incomplete)?;
        let bytes = self.buf.get(self.pos..end).ok_or(Error::Incomplete)?;
        self.pos = end;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, Error> {
        usize::try_from(self.uint(n)?).map_err(|_| Error::Invalid("length overflows".into()))
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, Error> {
        Ok(self.take(n)?.to_vec())
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, Error> {
        // Never trust a claimed length for allocation: each element takes at least one byte.
        let mut items = Vec::with_capacity(n.min(self.buf.len() - self.pos));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, Error> {
        let mut pairs = Vec::with_capacity(n.min((self.buf.len() - self.pos) / 2));
        for _ in 0..n {
            let key = self.value(depth + 1)?;
            let value = self.value(depth + 1)?;
            pairs.push((key, value));
        }
        Ok(Value::Map(pairs))
    }

    fn ext(&mut self, n: usize) -> Result<Value, Error> {
        let kind = i8::from_be_bytes([self.take(1)?[0]]);
        Ok(Value::Ext(kind, self.bytes(n)?))
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::Invalid(format!("nested deeper than {MAX_DEPTH}")));
        }
        let tag = self.take(1)?[0];
        Ok(match tag {
            0x00..=0x7f => Value::UInt(u64::from(tag)),
            0x80..=0x8f => return self.map(usize::from(tag & 0x0f), depth),
            0x90..=0x9f => return self.array(usize::from(tag & 0x0f), depth),
            0xa0..=0xbf => Value::Str(self.bytes(usize::from(tag & 0x1f))?),
            0xc0 => Value::Nil,
            0xc1 => return Err(Error::Invalid("reserved byte 0xc1".into())),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (tag - 0xc4))?;
                Value::Bin(self.bytes(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (tag - 0xc7))?;
                return self.ext(n);
            }
            0xca => Value::Float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.uint(8)?)),
            0xcc..=0xcf => Value::UInt(self.uint(1 << (tag - 0xcc))?),
            0xd0..=0xd3 => {
                let n = 1usize << (tag - 0xd0);
                let raw = self.uint(n)?;
                let shift = 64 - 8 * n as u32;
                Value::Int(((raw << shift) as i64) >> shift)
            }
            0xd4..=0xd8 => return self.ext(1 << (tag - 0xd4)),
            0xd9..=0xdb => {
                let n = self.len(1 << (tag - 0xd9))?;
                Value::Str(self.bytes(n)?)
            }
            0xdc | 0xdd => {
                let n = self.len(2 << (tag - 0xdc))?;
                return self.array(n, depth);
            }
            0xde | 0xdf => {
                let n = self.len(2 << (tag - 0xde))?;
                return self.map(n, depth);
            }
            0xe0..=0xff => Value::Int(i64::from(i8::from_be_bytes([tag]))),
        })
    }
}

/// Encodes a str header and the bytes (the smallest form).
pub fn encode_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Encodes a map header for `n` pairs.
pub fn encode_map_header(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n <= 0xffff {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Encodes an array header for `n` items.
pub fn encode_array_header(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= 0xffff {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;

    #[test]
    fn scalars() {
        let cases: &[(&[u8], Value)] = &[
            (&[0x05], Value::UInt(5)),
            (&[0xff], Value::Int(-1)),
            (&[0xe0], Value::Int(-32)),
            (&[0xcc, 0xc8], Value::UInt(200)),
            (&[0xce, 0x6b, 0x04, 0x79, 0x5b], Value::UInt(0x6b04_795b)),
            (&[0xd0, 0x80], Value::Int(-128)),
            (&[0xd1, 0xff, 0x00], Value::Int(-256)),
            (
                &[0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],
                Value::Int(-2),
            ),
            (&[0xc0], Value::Nil),
            (&[0xc3], Value::Bool(true)),
            (&[0xca, 0x3f, 0xc0, 0x00, 0x00], Value::Float(1.5)),
            (&[0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0], Value::Float(2.5)),
            (&[0xa2, b'h', b'i'], Value::Str(b"hi".to_vec())),
            (
                &[0xd9, 0x02, 0xc3, 0xa9],
                Value::Str("é".as_bytes().to_vec()),
            ),
            (&[0xc4, 0x02, 0x00, 0xff], Value::Bin(vec![0, 0xff])),
            (
                &[0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 2],
                Value::Ext(0, vec![0, 0, 0, 1, 0, 0, 0, 2]),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                decode(bytes),
                Ok((want.clone(), bytes.len())),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn containers_and_lookup() {
        // {"a": [1, nil], "b": "x"} followed by a trailing byte that is not consumed.
        let bytes = [
            0x82, 0xa1, b'a', 0x92, 0x01, 0xc0, 0xa1, b'b', 0xa1, b'x', 0x07,
        ];
        let (value, used) = decode(&bytes).expect("decodes");
        assert_eq!(used, 10);
        assert_eq!(
            value.get("a"),
            Some(&Value::Array(vec![Value::UInt(1), Value::Nil]))
        );
        assert_eq!(value.get("b").and_then(Value::as_bytes), Some(&b"x"[..]));
        assert_eq!(value.get("c"), None);
    }

    #[test]
    fn cut_short_is_incomplete_and_garbage_is_invalid() {
        let full = [0x92, 0xa3, b'a', b'b', b'c', 0xd9, 0x01, b'z'];
        for cut in 0..full.len() {
            assert_eq!(decode(&full[..cut]), Err(Error::Incomplete), "cut at {cut}");
        }
        assert!(decode(&full).is_ok());
        assert!(matches!(decode(&[0xc1]), Err(Error::Invalid(_))));
        // A huge claimed length with no bytes behind it: incomplete, and no huge allocation.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(Error::Incomplete)
        );
        assert_eq!(
            decode(&[0xdb, 0xff, 0xff, 0xff, 0xff]),
            Err(Error::Incomplete)
        );
        let deep = vec![0x91; MAX_DEPTH + 2];
        assert!(matches!(decode(&deep), Err(Error::Invalid(_))));
    }

    #[test]
    fn encoders_round_trip() {
        for n in [0usize, 31, 32, 255, 256, 70_000] {
            let s = vec![b'x'; n];
            let mut out = Vec::new();
            encode_str(&mut out, &s);
            assert_eq!(decode(&out), Ok((Value::Str(s), out.len())));
        }
        for n in [0usize, 15, 16, 70_000] {
            let mut out = Vec::new();
            encode_array_header(&mut out, n);
            out.extend(std::iter::repeat_n(0xc0, n));
            assert_eq!(
                decode(&out),
                Ok((Value::Array(vec![Value::Nil; n]), out.len()))
            );
            let mut out = Vec::new();
            encode_map_header(&mut out, n);
            out.extend(std::iter::repeat_n(0xc0, 2 * n));
            let (value, _) = decode(&out).expect("decodes");
            assert_eq!(value, Value::Map(vec![(Value::Nil, Value::Nil); n]));
        }
        assert_eq!(
            decode_all(&[0x01, 0xa1, b'q', 0xc0]),
            Ok(vec![Value::UInt(1), Value::Str(b"q".to_vec()), Value::Nil])
        );
    }
}
