//! The pattern compiler: parses a glob or a regex of the supported subset and writes the
//! Pike VM's instructions directly (no syntax tree), within [`super::MAX_PROGRAM`]
//! instructions, [`super::MAX_REPEAT`] repetitions and [`super::MAX_DEPTH`] nested groups.

use super::*;

/// Compiles a glob into a program.
pub(super) fn glob(s: &str) -> Result<Program, PatternError> {
    let mut c = Compiler::new(s);
    c.glob()?;
    Ok(c.finish())
}

/// Compiles a regex into a program.
pub(super) fn regex(s: &str) -> Result<Program, PatternError> {
    let mut c = Compiler::new(s);
    if s.starts_with("(?i)") {
        c.icase = true;
        c.pos = 4;
    }
    c.alternation()?;
    if c.pos < c.src.len() {
        return Err(c.err("unopened group: unmatched ')'"));
    }
    c.emit(Inst::Match)?;
    Ok(c.finish())
}

const DIGIT: Set = [0x03ff_0000_0000_0000, 0, 0, 0];
const WORD: Set = [0x03ff_0000_0000_0000, 0x07ff_fffe_87ff_fffe, 0, 0];
const SPACE: Set = [0x0000_0001_0000_3e00, 0, 0, 0];
const NOT_NL: Set = [!0x400, !0, !0, !0];
const NOT_SLASH: Set = [!(1 << b'/'), !0, !0, !0];
const ANY: Set = [!0; 4];

/// Parser and code generator for both globs and regexes. (The `#[inline(never)]`s keep the
/// `.wasm` small: measured, inlining these single-call functions grows it.)
struct Compiler<'s> {
    text: &'s str,
    src: &'s [u8],
    pos: usize,
    prog: Vec<Inst>,
    sets: Vec<Set>,
    icase: bool,
    depth: usize,
}

/// A class item: one byte or a set (`\d` and friends).
enum Item {
    Byte(u8),
    Set(Set),
}

type Res<T = ()> = Result<T, PatternError>;

impl<'s> Compiler<'s> {
    fn new(src: &'s str) -> Self {
        Compiler {
            text: src,
            src: src.as_bytes(),
            pos: 0,
            prog: Vec::new(),
            sets: Vec::new(),
            icase: false,
            depth: 0,
        }
    }

    fn finish(self) -> Program {
        let anchored = self.prog.first() == Some(&Inst::Start);
        Program {
            source: self.text.into(),
            insts: self.prog,
            sets: self.sets,
            anchored,
        }
    }

    #[cold]
    #[inline(never)]
    fn err_at(&self, offset: usize, message: &str) -> PatternError {
        PatternError {
            offset,
            message: message.into(),
        }
    }

    fn err(&self, message: &str) -> PatternError {
        self.err_at(self.pos, message)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    fn next(&mut self, what: &str) -> Res<u8> {
        let b = self.peek().ok_or_else(|| self.err(what))?;
        self.pos += 1;
        Ok(b)
    }

    fn here(&self) -> u32 {
        self.prog.len() as u32
    }

    fn room(&self, n: usize) -> Res {
        if self.prog.len() + n > MAX_PROGRAM {
            return Err(self.err("pattern too large: compiled program exceeds 10000 instructions"));
        }
        Ok(())
    }

    #[inline(never)]
    fn emit(&mut self, i: Inst) -> Res {
        self.room(1)?;
        self.prog.push(i);
        Ok(())
    }

    fn emit_set(&mut self, s: Set) -> Res {
        let i = Inst::Set(self.sets.len() as u32);
        self.emit(i)?;
        self.sets.push(s);
        Ok(())
    }

    fn emit_byte(&mut self, b: u8) -> Res {
        if self.icase && b.is_ascii_alphabetic() {
            self.emit(Inst::Byte(b.to_ascii_lowercase(), b.to_ascii_uppercase()))
        } else {
            self.emit(Inst::Byte(b, b))
        }
    }

    /// `s*`
    fn emit_star(&mut self, s: Set) -> Res {
        let l = self.here();
        self.emit(Inst::Split(l + 1, l + 3))?;
        self.emit_set(s)?;
        self.emit(Inst::Jmp(l))
    }

    /// Removes the code from `start` on, with targets made relative to `start`.
    fn take(&mut self, start: usize) -> Vec<Inst> {
        let base = start as u32;
        let mut frag = self.prog.split_off(start);
        for i in &mut frag {
            *i = i.reloc(|t| t.wrapping_sub(base));
        }
        frag
    }

    /// Appends a fragment returned by [`Self::take`].
    fn put(&mut self, frag: &[Inst]) -> Res {
        self.room(frag.len())?;
        let base = self.here();
        self.prog
            .extend(frag.iter().map(|i| i.reloc(|t| t.wrapping_add(base))));
        Ok(())
    }

    // ---- regex ----

    /// `branch ('|' branch)*`, up to the end or an unconsumed `)`.
    fn alternation(&mut self) -> Res {
        let mut jumps = Vec::new();
        loop {
            let start = self.prog.len();
            self.concat()?;
            if !self.eat(b'|') {
                break;
            }
            let frag = self.take(start);
            let after = self.here() + 1 + frag.len() as u32 + 1;
            self.emit(Inst::Split(self.here() + 1, after))?;
            self.put(&frag)?;
            jumps.push(self.prog.len());
            self.emit(Inst::Jmp(0))?;
        }
        let end = self.here();
        for j in jumps {
            if let Some(i) = self.prog.get_mut(j) {
                *i = Inst::Jmp(end);
            }
        }
        Ok(())
    }

    fn concat(&mut self) -> Res {
        while let Some(b) = self.peek() {
            if b == b'|' || b == b')' {
                break;
            }
            let start = self.prog.len();
            self.atom()?;
            self.quantifiers(start)?;
        }
        Ok(())
    }

    #[inline(never)]
    fn atom(&mut self) -> Res {
        let at = self.pos;
        let b = self.next("unexpected end")?;
        match b {
            b'(' => self.group(at),
            b'*' | b'+' | b'?' | b'{' => {
                Err(self.err_at(at, "repetition operator missing expression"))
            }
            b'.' => self.emit_set(NOT_NL),
            b'^' => self.emit(Inst::Start),
            b'$' => self.emit(Inst::End),
            b'[' => self.class(false),
            b'\\' => match self.escape(false)? {
                Item::Byte(b) => self.emit_byte(b),
                Item::Set(s) => self.emit_set(s),
            },
            _ => {
                // One UTF-8 character: its lead byte and continuation bytes.
                self.emit_byte(b)?;
                while let Some(c) = self.peek().filter(|c| b >= 0x80 && c & 0xc0 == 0x80) {
                    self.pos += 1;
                    self.emit(Inst::Byte(c, c))?;
                }
                Ok(())
            }
        }
    }

    #[inline(never)]
    fn group(&mut self, at: usize) -> Res {
        if self.depth >= MAX_DEPTH {
            return Err(self.err_at(at, "groups nested too deeply (more than 100)"));
        }
        if self.eat(b'?') {
            let rest = &self.src[self.pos..];
            let msg = match rest {
                [b':', ..] => None,
                [b'=' | b'!', ..] => Some("lookahead is not supported"),
                [b'<', b'=' | b'!', ..] => Some("lookbehind is not supported"),
                [b'<', ..] | [b'P', b'<', ..] => {
                    Some("named groups are not supported: use (...) or (?:...)")
                }
                [b'i', b')', ..] => Some("(?i) is only supported at the start of the pattern"),
                _ => {
                    Some("unsupported group or flag: only (?:...) and a leading (?i) are supported")
                }
            };
            if let Some(msg) = msg {
                return Err(self.err_at(at, msg));
            }
            self.pos += 1;
        }
        self.depth += 1;
        self.alternation()?;
        self.depth -= 1;
        if !self.eat(b')') {
            return Err(self.err_at(at, "unclosed group"));
        }
        Ok(())
    }

    fn number(&mut self) -> Res<Option<u32>> {
        let start = self.pos;
        let mut n: u32 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            self.pos += 1;
            n = n.saturating_mul(10).saturating_add(u32::from(d - b'0'));
        }
        if self.pos == start {
            return Ok(None);
        }
        if n > MAX_REPEAT {
            return Err(self.err_at(start, "repetition count exceeds 1000"));
        }
        Ok(Some(n))
    }

    #[inline(never)]
    fn quantifiers(&mut self, start: usize) -> Res {
        loop {
            let at = self.pos;
            let (min, max) = match self.peek() {
                Some(b'*') => (0, None),
                Some(b'+') => (1, None),
                Some(b'?') => (0, Some(1)),
                Some(b'{') => {
                    self.pos += 1;
                    let min = self
                        .number()?
                        .ok_or_else(|| self.err("invalid counted repetition: expected a number"))?;
                    let max = if self.eat(b',') {
                        self.number()?
                    } else {
                        Some(min)
                    };
                    if self.peek() != Some(b'}') {
                        return Err(self.err("invalid counted repetition: expected '}'"));
                    }
                    if max.is_some_and(|m| m < min) {
                        return Err(self.err_at(at, "invalid counted repetition: min > max"));
                    }
                    (min, max)
                }
                _ => return Ok(()),
            };
            self.pos += 1;
            self.eat(b'?'); // lazy: the same for is_match
            self.repeat(start, min, max)?;
        }
    }

    /// Replaces the code from `start` on (one atom) by its repetition.
    #[inline(never)]
    fn repeat(&mut self, start: usize, min: u32, max: Option<u32>) -> Res {
        let frag = self.take(start);
        let len = frag.len() as u32;
        let copies = if max.is_none() && min > 0 {
            min - 1
        } else {
            min
        };
        for _ in 0..copies {
            self.put(&frag)?;
        }
        match max {
            None if min == 0 => {
                let l = self.here();
                self.emit(Inst::Split(l + 1, l + len + 2))?;
                self.put(&frag)?;
                self.emit(Inst::Jmp(l))
            }
            None => {
                let l = self.here();
                self.put(&frag)?;
                self.emit(Inst::Split(l, l + len + 1))
            }
            Some(max) => {
                let k = max - min;
                self.room(k as usize * (len as usize + 1))?;
                let end = self.here() + k * (len + 1);
                for _ in 0..k {
                    self.emit(Inst::Split(self.here() + 1, end))?;
                    self.put(&frag)?;
                }
                Ok(())
            }
        }
    }

    /// After a `\` (in a class if `in_class`).
    fn escape(&mut self, in_class: bool) -> Res<Item> {
        let at = self.pos - 1;
        let b = self.next("trailing backslash")?;
        Ok(match b {
            b'd' => Item::Set(DIGIT),
            b'D' => Item::Set(set_not(&DIGIT)),
            b'w' => Item::Set(WORD),
            b'W' => Item::Set(set_not(&WORD)),
            b's' => Item::Set(SPACE),
            b'S' => Item::Set(set_not(&SPACE)),
            b'n' => Item::Byte(b'\n'),
            b't' => Item::Byte(b'\t'),
            b'r' => Item::Byte(b'\r'),
            b'f' => Item::Byte(0x0c),
            b'v' => Item::Byte(0x0b),
            b'x' => {
                let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
                match (hex(self.src.get(self.pos)), hex(self.src.get(self.pos + 1))) {
                    (Some(h), Some(l)) => {
                        self.pos += 2;
                        Item::Byte((h * 16 + l) as u8)
                    }
                    _ => return Err(self.err_at(at, "expected \\xHH with two hex digits")),
                }
            }
            b'0'..=b'9' => return Err(self.err_at(at, "backreferences are not supported")),
            b'b' | b'B' | b'<' | b'>' if !in_class => {
                return Err(self.err_at(at, "word boundaries are not supported"))
            }
            b'A' | b'z' | b'Z' => return Err(self.err_at(at, "use ^ and $ instead of \\A and \\z")),
            b'p' | b'P' => return Err(self.err_at(at, "Unicode classes are not supported")),
            b'<' | b'>' => return Err(self.err_at(at, "unrecognized escape sequence")),
            _ if b.is_ascii_punctuation() => Item::Byte(b),
            _ => return Err(self.err_at(at, "unrecognized escape sequence")),
        })
    }

    /// After a `\\` in a class: a glob escapes any byte.
    fn class_escape(&mut self, glob: bool) -> Res<Item> {
        if !glob {
            return self.escape(true);
        }
        match self.next("trailing backslash")? {
            0x80.. => Err(self.err_at(
                self.pos - 1,
                "non-ASCII characters are not allowed in classes",
            )),
            b => Ok(Item::Byte(b)),
        }
    }

    /// After a `[`, in a glob (`!` also negates, a negated class excludes `/`) or a regex.
    #[inline(never)]
    fn class(&mut self, glob: bool) -> Res {
        let open = self.pos - 1;
        let negate = self.eat(b'^') || (glob && self.eat(b'!'));
        let first = self.pos;
        let mut set: Set = [0; 4];
        loop {
            let at = self.pos;
            let b = self
                .next("unclosed class")
                .map_err(|_| self.err_at(open, "unclosed class"))?;
            let item = match b {
                b']' if at != first => break,
                b'[' => {
                    return Err(self.err_at(
                        at,
                        "nested and [:posix:] classes are not supported: escape '[' as \\[",
                    ))
                }
                b'&' | b'~' | b'-' if self.peek() == Some(b) => {
                    return Err(self.err_at(
                        at,
                        "class set operations are not supported: escape the operator",
                    ))
                }
                b'-' if at != first && self.peek() != Some(b']') => {
                    return Err(self.err_at(
                        at,
                        "'-' in a class must be first, last or part of a range: escape it",
                    ))
                }
                b'\\' => self.class_escape(glob)?,
                0x80.. => {
                    return Err(self.err_at(
                        at,
                        "non-ASCII characters are not allowed in classes: use \\xHH",
                    ))
                }
                _ => Item::Byte(b),
            };
            let lo = match item {
                Item::Set(s) => {
                    for (w, x) in set.iter_mut().zip(s) {
                        *w |= x;
                    }
                    continue;
                }
                Item::Byte(lo) => lo,
            };
            let hi = if self.peek() == Some(b'-')
                && self.src.get(self.pos + 1).is_some_and(|&c| c != b']')
            {
                self.pos += 1;
                let hat = self.pos;
                match self.next("unclosed class")? {
                    b'\\' => match self.class_escape(glob)? {
                        Item::Byte(hi) => hi,
                        Item::Set(_) => {
                            return Err(self.err_at(hat, "invalid range end: must be a single byte"))
                        }
                    },
                    b'[' | b'-' => {
                        return Err(self.err_at(
                            hat - 1,
                            "class set operations and nested classes are not supported: escape '-' or '['",
                        ))
                    }
                    0x80.. => {
                        return Err(self.err_at(
                            hat,
                            "non-ASCII characters are not allowed in classes: use \\xHH",
                        ))
                    }
                    hi => hi,
                }
            } else {
                lo
            };
            if hi < lo {
                return Err(self.err_at(at, "invalid class range: start > end"));
            }
            set_add(&mut set, lo, hi);
        }
        if self.icase {
            // ASCII letters are bits 1..=26 (upper) and 33..=58 (lower) of word 1.
            let letters = (set[1] | set[1] >> 32) & 0x07ff_fffe;
            set[1] |= letters | letters << 32;
        }
        if negate {
            set = set_not(&set);
            if glob {
                set[0] &= !(1 << b'/');
            }
        }
        self.emit_set(set)
    }

    // ---- glob ----

    #[inline(never)]
    fn glob(&mut self) -> Res {
        self.emit(Inst::Start)?;
        let mut seg_start = true;
        while let Some(b) = self.peek() {
            self.pos += 1;
            let at_seg = seg_start;
            seg_start = false;
            match b {
                b'*' if self.eat(b'*') => {
                    while self.eat(b'*') {}
                    if at_seg && self.eat(b'/') {
                        // `**/`: zero or more whole segments.
                        let l = self.here();
                        self.emit(Inst::Split(l + 1, l + 5))?;
                        self.emit_star(ANY)?;
                        self.emit(Inst::Byte(b'/', b'/'))?;
                        seg_start = true;
                    } else {
                        self.emit_star(ANY)?;
                    }
                }
                b'*' => self.emit_star(NOT_SLASH)?,
                b'?' => self.emit_set(NOT_SLASH)?,
                b'[' => self.class(true)?,
                b'\\' => {
                    let c = self.next("trailing backslash")?;
                    seg_start = c == b'/';
                    self.emit(Inst::Byte(c, c))?;
                }
                _ => {
                    seg_start = b == b'/';
                    self.emit(Inst::Byte(b, b))?;
                }
            }
        }
        self.emit(Inst::End)?;
        self.emit(Inst::Match)
    }
}
