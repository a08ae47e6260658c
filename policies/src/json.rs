//! A small, strict JSON reader (RFC 8259) for policies: bytes in, a [`Value`] tree out.
//!
//! It exists so that the plugin does not carry a general-purpose serialization framework for
//! a document it reads once, at configuration time. It is strict: the input must be UTF-8,
//! with exactly one value and nothing after it but whitespace; strings may not hold raw
//! control characters or lone surrogates; an object may not repeat a key; containers nest at
//! most [`MAX_DEPTH`] deep. Objects keep their keys in document order.
//!
//! Numbers written as integers stay integers ([`Number::Uint`], [`Number::Int`]); any other
//! number (a fraction, an exponent, more than 64 bits) is kept as written
//! ([`Number::Other`]). Nothing here formats or even parses a float.
//!
//! Every [`Error`] names the JSON path of the value being read and its line and column.

use core::fmt::Write as _;

/// How deep arrays and objects may nest.
pub const MAX_DEPTH: usize = 64;

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, its members in document order (keys are unique).
    Object(Vec<(String, Value)>),
}

/// A JSON number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Number {
    /// An integer in `0..=u64::MAX`, written without fraction or exponent.
    Uint(u64),
    /// A negative integer in `i64::MIN..=-1`, written without fraction or exponent.
    Int(i64),
    /// Any other number (`1.5`, `1e3`, `-0`, `18446744073709551616`), as written.
    Other(String),
}

impl Number {
    /// Whether an [`Number::Other`] was written as an integer (only its size kept it out of
    /// the integer variants).
    pub fn is_integer_literal(text: &str) -> bool {
        !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
    }
}

/// One step of a JSON path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// An object member.
    Key(&'a str),
    /// An array element.
    Index(usize),
}

/// Appends a path step in the policy's path syntax: `a.b[2].c`. Control characters in keys
/// are escaped so that a path stays on one line.
pub fn push_segment(out: &mut String, seg: Segment<'_>) {
    match seg {
        Segment::Key(k) => {
            if !out.is_empty() {
                out.push('.');
            }
            push_escaped(out, k);
        }
        Segment::Index(i) => {
            let _ = write!(out, "[{i}]");
        }
    }
}

/// Appends `s`, with control characters written as `\u{..}`.
pub fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        push_char(out, c);
    }
}

fn push_char(out: &mut String, c: char) {
    if c.is_control() {
        // Control characters all lie below U+00A0: one or two hex digits.
        let n = u32::from(c);
        out.push_str("\\u{");
        if n >= 0x10 {
            out.push(hex_digit(n >> 4));
        }
        out.push(hex_digit(n & 0xF));
        out.push('}');
    } else {
        out.push(c);
    }
}

fn hex_digit(d: u32) -> char {
    char::from_digit(d, 16).unwrap_or('0')
}

/// A document that is not strict JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct Error {
    /// What is wrong.
    pub message: String,
    /// 1-based line of the offending byte.
    pub line: usize,
    /// 1-based column (in characters) of the offending byte.
    pub column: usize,
    /// The path to the value being read, innermost step first.
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Error {
    /// The JSON path of the value being read (`.` for the document itself).
    pub fn path(&self) -> String {
        let mut out = String::new();
        for step in self.steps.iter().rev() {
            push_segment(
                &mut out,
                match step {
                    Step::Key(k) => Segment::Key(k),
                    Step::Index(i) => Segment::Index(*i),
                },
            );
        }
        if out.is_empty() {
            out.push('.');
        }
        out
    }

    fn within(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }
}

/// Parses one JSON document.
pub fn parse(bytes: &[u8]) -> Result<Value, Error> {
    let mut p = Parser { b: bytes, i: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.i < bytes.len() {
        return Err(p.fail(p.i, "trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    #[cold]
    #[inline(never)]
    fn fail(&self, at: usize, message: &str) -> Error {
        let before = self.b.get(..at).unwrap_or(self.b);
        let line_start = before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |n| n + 1);
        Error {
            message: message.to_owned(),
            line: 1 + before.iter().filter(|&&c| c == b'\n').count(),
            // Characters, not bytes: count every byte that does not continue a UTF-8 sequence.
            column: 1 + before[line_start..]
                .iter()
                .filter(|&&c| c & 0xC0 != 0x80)
                .count(),
            steps: Vec::new(),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        self.ws();
        let open = matches!(self.peek(), Some(b'[' | b'{'));
        if open && depth >= MAX_DEPTH {
            return Err(self.fail(self.i, "nesting deeper than 64 levels"));
        }
        match self.peek() {
            None => Err(self.fail(self.i, "EOF while parsing a value")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", "expected `true`", Value::Bool(true)),
            Some(b'f') => self.literal("false", "expected `false`", Value::Bool(false)),
            Some(b'n') => self.literal("null", "expected `null`", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(_) => Err(self.fail(self.i, "expected value")),
        }
    }

    fn literal(&mut self, word: &str, expected: &str, v: Value) -> Result<Value, Error> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.fail(self.i, expected))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Number, Error> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let int_start = self.i;
        match self.digits() {
            0 => return Err(self.fail(self.i, "invalid number")),
            n if n > 1 && self.b[int_start] == b'0' => {
                return Err(self.fail(int_start + 1, "invalid number: leading zero"))
            }
            _ => {}
        }
        let int_end = self.i;
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.fail(self.i, "invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.fail(self.i, "invalid number"));
            }
        }
        if self.i == int_end {
            let magnitude = self.b[int_start..int_end].iter().try_fold(0u64, |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            match (negative, magnitude) {
                (false, Some(n)) => return Ok(Number::Uint(n)),
                (true, Some(n)) if n > 0 => {
                    if let Some(n) = 0i64.checked_sub_unsigned(n) {
                        return Ok(Number::Int(n));
                    }
                }
                _ => {}
            }
        }
        Ok(Number::Other(
            self.b[start..self.i]
                .iter()
                .map(|&c| char::from(c))
                .collect(),
        ))
    }

    /// Reads a string; `self.i` is at its opening quote.
    fn string(&mut self) -> Result<String, Error> {
        self.i += 1;
        let mut out = String::new();
        let mut run = self.i;
        loop {
            match self.peek() {
                None => return Err(self.fail(self.i, "EOF while parsing a string")),
                Some(b'"') => {
                    self.flush(&mut out, run)?;
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.flush(&mut out, run)?;
                    self.escape(&mut out)?;
                    run = self.i;
                }
                Some(0..=0x1F) => {
                    return Err(self.fail(self.i, "control character in string"));
                }
                Some(_) => self.i += 1,
            }
        }
    }

    /// Appends the raw bytes `run..self.i`, which must be UTF-8.
    fn flush(&self, out: &mut String, run: usize) -> Result<(), Error> {
        match core::str::from_utf8(&self.b[run..self.i]) {
            Ok(s) => {
                out.push_str(s);
                Ok(())
            }
            Err(e) => Err(self.fail(run + e.valid_up_to(), "invalid UTF-8 in string")),
        }
    }

    /// Reads an escape sequence; `self.i` is at its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), Error> {
        let at = self.i;
        self.i += 1;
        let c = match self.peek() {
            None => return Err(self.fail(self.i, "EOF while parsing a string")),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.i += 1;
                let hi = self.hex4()?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        if !self.b[self.i..].starts_with(b"\\u") {
                            return Err(self.fail(at, "lone leading surrogate in \\u escape"));
                        }
                        self.i += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(self.fail(at, "lone leading surrogate in \\u escape"));
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => {
                        return Err(self.fail(at, "lone trailing surrogate in \\u escape"))
                    }
                    _ => hi,
                };
                match char::from_u32(code) {
                    Some(c) => out.push(c),
                    None => return Err(self.fail(at, "invalid \\u escape")),
                }
                return Ok(());
            }
            Some(_) => return Err(self.fail(at, "invalid escape")),
        };
        self.i += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut n = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                None => return Err(self.fail(self.i, "EOF while parsing a string")),
                Some(_) => {
                    return Err(self.fail(self.i, "invalid \\u escape: expected 4 hex digits"))
                }
            };
            n = n * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(n)
    }

    /// After a member or element: `,`, the closing bracket, or an error.
    fn separator(&mut self, close: u8, eof: &str, expected: &str) -> Result<bool, Error> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(close) {
                    return Err(self.fail(self.i, "trailing comma"));
                }
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            None => Err(self.fail(self.i, eof)),
            Some(_) => Err(self.fail(self.i, expected)),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        self.i += 1;
        self.ws();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            let v = self
                .value(depth)
                .map_err(|e| e.within(Step::Index(items.len())))?;
            items.push(v);
            if !self.separator(b']', "EOF while parsing an array", "expected `,` or `]`")? {
                return Ok(Value::Array(items));
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        self.i += 1;
        self.ws();
        let mut members: Vec<(String, Value)> = Vec::new();
        // Member indices sorted by key, to find a repeated key in O(log n) comparisons.
        let mut sorted: Vec<usize> = Vec::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            let start = self.i;
            let key = match self.peek() {
                Some(b'"') => self.string()?,
                None => return Err(self.fail(self.i, "EOF while parsing an object")),
                Some(_) => return Err(self.fail(self.i, "key must be a string")),
            };
            match sorted.binary_search_by(|&j| members[j].0.as_str().cmp(&key)) {
                Ok(_) => {
                    let mut message = String::from("duplicate key `");
                    push_escaped(&mut message, &key);
                    message.push('`');
                    return Err(self.fail(start, &message).within(Step::Key(key)));
                }
                Err(at) => sorted.insert(at, members.len()),
            }
            self.ws();
            match self.peek() {
                Some(b':') => self.i += 1,
                None => return Err(self.fail(self.i, "EOF while parsing an object")),
                Some(_) => return Err(self.fail(self.i, "expected `:`")),
            }
            let v = match self.value(depth) {
                Ok(v) => v,
                Err(e) => return Err(e.within(Step::Key(key))),
            };
            members.push((key, v));
            if !self.separator(b'}', "EOF while parsing an object", "expected `,` or `}`")? {
                return Ok(Value::Object(members));
            }
        }
    }
}

#[cfg(test)]
mod tests;
