//! Where a policy error's JSON path (`a.b[2].c`) is in the policy's text: a small scanner
//! over the JSON that follows the path's keys and indexes (the engine's own reader checks
//! the document; this only places the editor's mark).

/// Path segments: keys and list indexes.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some((n, r)) = rest.split_once(']') {
            if let Ok(i) = n.parse() {
                out.push(Seg::Index(i));
            }
            rest = r.strip_prefix('[').unwrap_or(r);
        }
    }
    out
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i;
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => {
                    let raw = std::str::from_utf8(self.b.get(start..self.i)?).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => {}
            }
        }
        None
    }

    /// Skips one value.
    fn skip(&mut self) -> Option<()> {
        self.ws();
        match self.b.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                while let Some(&c) = self.b.get(self.i) {
                    match c {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                None
            }
            _ => {
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| !b",}] \t\r\n".contains(c))
                {
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    /// At an object: the offset of `key`'s name, leaving the scanner at its value.
    fn member(&mut self, key: &str) -> Option<usize> {
        self.ws();
        if self.b.get(self.i) != Some(&b'{') {
            return None;
        }
        self.i += 1;
        loop {
            self.ws();
            let at = self.i;
            let k = self.string()?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return None;
            }
            self.i += 1;
            if k == key {
                self.ws();
                return Some(at);
            }
            self.skip()?;
            self.ws();
            if self.b.get(self.i) != Some(&b',') {
                return None;
            }
            self.i += 1;
        }
    }

    /// At a list: the offset of element `n`, leaving the scanner there.
    fn element(&mut self, n: usize) -> Option<usize> {
        self.ws();
        if self.b.get(self.i) != Some(&b'[') {
            return None;
        }
        self.i += 1;
        for _ in 0..n {
            self.skip()?;
            self.ws();
            if self.b.get(self.i) != Some(&b',') {
                return None;
            }
            self.i += 1;
        }
        self.ws();
        Some(self.i)
    }
}

/// The byte offset of the deepest part of `path` found in `text`.
pub fn offset(text: &str, path: &str) -> Option<usize> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: 0,
    };
    s.ws();
    let mut at = s.i;
    for seg in segments(path) {
        let found = match seg {
            Seg::Key(k) => s.member(k),
            Seg::Index(n) => s.element(n),
        };
        match found {
            Some(o) => at = o,
            None => break,
        }
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_placed_at_their_json_path() {
        let t = r#"{"a": {"b": [1, {"c": "x"}], "d": 2}, "e": "}"}"#;
        assert_eq!(offset(t, "a.d"), t.find(r#""d""#));
        assert_eq!(offset(t, "a.b[1].c"), t.find(r#""c""#));
        assert_eq!(offset(t, "e"), t.find(r#""e""#));
        assert_eq!(offset(t, "a.zz"), t.find(r#""a""#));
        assert_eq!(offset(t, ""), Some(0));
    }
}
