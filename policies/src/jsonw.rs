//! The JSON record writer the JSON formats share (ECS, OCSF, OWASP): members written
//! straight into one `String`, every untrusted value through [`crate::escape`], truncated
//! and lossy fields collected for the record's own `truncated` list and `original` object.

use crate::escape::{write_json_str, write_json_text};

pub(crate) struct W {
    pub(crate) out: String,
    pub(crate) first: bool,
    cap: usize,
    /// Fields cut at the cap (`vigil.truncated`).
    truncated: Vec<String>,
    /// Fields written lossy, with their exact bytes (`vigil.original`).
    original: Vec<(String, Vec<u8>)>,
}

/// The most bytes `vigil.original.<field>` carries (base64 of 765 bytes is 1020 characters,
/// within an ECS keyword's 1024); a longer original is cut and its field listed in
/// `vigil.truncated` as `vigil.original.<field>`.
const ORIGINAL_MAX_BYTES: usize = 765;

impl W {
    pub(crate) fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }
    pub(crate) fn open(&mut self, k: &str) {
        self.key(k);
        self.out.push('{');
        self.first = true;
    }
    pub(crate) fn close(&mut self) {
        self.out.push('}');
        self.first = false;
    }
    /// A member whose key is not a fixed name (escaped like any string).
    pub(crate) fn key_text(&mut self, k: &str, v: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_json_text(&mut self.out, k);
        self.out.push(':');
        write_json_text(&mut self.out, v);
    }
    pub(crate) fn text(&mut self, k: &str, v: &str) {
        self.key(k);
        write_json_text(&mut self.out, v);
    }
    pub(crate) fn bytes(&mut self, k: &str, field: &str, v: &[u8]) {
        self.key(k);
        let w = write_json_str(&mut self.out, v, self.cap);
        if w.truncated {
            self.truncated.push(field.to_string());
        }
        if w.lossy {
            let exact = &v[..w.consumed];
            if exact.len() > ORIGINAL_MAX_BYTES {
                self.truncated.push(format!("vigil.original.{field}"));
            }
            let exact = &exact[..exact.len().min(ORIGINAL_MAX_BYTES)];
            self.original.push((field.to_string(), exact.to_vec()));
        }
    }
    pub(crate) fn opt_bytes(&mut self, k: &str, field: &str, v: &Option<Vec<u8>>) {
        if let Some(v) = v {
            self.bytes(k, field, v);
        }
    }
    pub(crate) fn num(&mut self, k: &str, v: u64) {
        self.key(k);
        crate::escape::push_u64(&mut self.out, v);
    }
    pub(crate) fn list<S: AsRef<str>>(&mut self, k: &str, v: &[S]) {
        self.key(k);
        self.out.push('[');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_json_text(&mut self.out, s.as_ref());
        }
        self.out.push(']');
    }
}

impl W {
    /// A writer whose values are capped at `cap` characters.
    pub(crate) fn new(cap: usize) -> W {
        W {
            out: String::with_capacity(1024),
            first: true,
            cap,
            truncated: Vec::new(),
            original: Vec::new(),
        }
    }

    /// Writes `original` (the exact bytes of lossy values) and `truncated` (the cut fields)
    /// into the open object; returns the number of cut fields.
    pub(crate) fn finish_vigil_extras(&mut self) -> usize {
        if !self.original.is_empty() {
            let o = std::mem::take(&mut self.original);
            self.open("original");
            for (field, bytes) in &o {
                self.key_text(field, &crate::escape::base64(bytes));
            }
            self.close();
        }
        let n = self.truncated.len();
        if n > 0 {
            let t = std::mem::take(&mut self.truncated);
            self.list("truncated", &t);
        }
        n
    }
}
