//! Small, linear-time byte patterns: exact, prefix, glob and a regex subset.
//!
//! Policies match request paths, header values and the like against [`Pattern`]s. A full
//! regex engine costs far too much `.wasm`, so this module compiles globs and a regex subset
//! to a tiny instruction program and runs it as a Pike VM (a Thompson NFA simulation: a set
//! of threads advanced in lock step, no backtracking). [`Pattern::is_match`] therefore runs
//! in `O(hay.len() × program size)` time and `O(program size)` memory whatever the pattern
//! (`(a*)*b` included) and whatever the input, and never panics.
//!
//! # Regex subset ([`Pattern::regex`])
//!
//! Search semantics like the `regex` crate's `is_match` with Unicode disabled: the pattern
//! may match anywhere in the haystack unless anchored.
//!
//! * Literals are bytes; a non-ASCII character in the pattern matches its UTF-8 bytes (and a
//!   quantifier after it repeats the whole character).
//! * `.` is any byte except `\n`.
//! * Classes `[abc]`, ranges `[a-z]`, negation `[^...]` (a negated class matches `\n` and any
//!   byte outside it), `]` first in a class is literal, `-` is literal only first or last,
//!   escapes inside classes as below. Classes hold ASCII characters and `\xHH` bytes only.
//! * Escapes: `\d \D \w \W \s \S` (ASCII: `[0-9]`, `[0-9A-Za-z_]`, `[\t\n\v\f\r ]` and their
//!   complements over all 256 bytes), `\n \t \r \f \v`, `\xHH` (exactly two hex digits: one
//!   byte), and any escaped ASCII punctuation except `<` and `>` (a literal).
//! * Groups `(...)` and `(?:...)` (both non-capturing: only `is_match` is offered),
//!   alternation `|`, empty branches and groups.
//! * Quantifiers `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (no spaces, `n <= m <= 1000`); a
//!   trailing `?` (lazy) is accepted and ignored; quantifiers may be stacked (`a{2}{3}`).
//! * `^` matches only at the start of the haystack and `$` only at its very end (no
//!   multi-line mode; `$` does not match before a final `\n`).
//! * `(?i)`, only at the very start of the pattern: ASCII case-insensitive matching.
//!
//! Everything else is rejected with a [`PatternError`] giving the byte offset: backreferences,
//! lookaround, word boundaries (`\b`, `\<`), `\A`, `\z`, Unicode classes (`\p`), `\x{...}`,
//! other flags or flags elsewhere, named groups, nested and POSIX classes (`[[:alpha:]]`),
//! class set operations (`&&`, `--`, `~~`). Limits keep a hostile policy from exhausting
//! memory: repetition counts are at most [`MAX_REPEAT`], group nesting at most [`MAX_DEPTH`]
//! and the compiled program at most [`MAX_PROGRAM`] instructions (so a literal longer than
//! about 10,000 bytes, `a{1000}{1000}` or 10,000 alternatives are errors).
//!
//! # Glob ([`Pattern::glob`])
//!
//! The whole haystack must match. `*` is any run of bytes without `/`, `**` any run of bytes
//! (`/` included), and `**/` at the start of the glob or right after a `/` is zero or more
//! whole segments (`/a/**/b` matches `/a/b` and `/a/x/y/b`). `?` is one byte other than `/`.
//! Classes `[abc]`, `[a-z]`, negated `[!x]` or `[^x]` (a negated class never matches `/`)
//! follow the regex class rules above (ASCII only, `]` literal when first, `-` and `[`
//! escaped elsewhere) except that `\` escapes any ASCII byte. Outside classes `\` escapes the
//! next byte. `/static/**` matches `/static/` and everything below it, not `/static`. Globs
//! share the program size limit.

use std::fmt;

/// Largest count accepted in `{n}`, `{n,}` and `{n,m}`.
pub const MAX_REPEAT: u32 = 1000;
/// Largest compiled program, in instructions.
pub const MAX_PROGRAM: usize = 10_000;
/// Deepest group nesting.
pub const MAX_DEPTH: usize = 100;

/// A compiled pattern over bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The haystack equals these bytes.
    Exact(Vec<u8>),
    /// The haystack starts with these bytes.
    Prefix(Vec<u8>),
    /// A glob, matched against the whole haystack.
    Glob(Program),
    /// A regex (subset), searched anywhere in the haystack unless anchored.
    Regex(Program),
}

/// Why a glob or regex was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Byte offset in the pattern where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for PatternError {}

impl Pattern {
    /// A pattern matching exactly `s`.
    pub fn exact(s: &str) -> Pattern {
        Pattern::Exact(s.as_bytes().to_vec())
    }

    /// A pattern matching any haystack starting with `s`.
    pub fn prefix(s: &str) -> Pattern {
        Pattern::Prefix(s.as_bytes().to_vec())
    }

    /// Compiles a glob (see the [module docs](self)).
    pub fn glob(s: &str) -> Result<Pattern, PatternError> {
        compile::glob(s).map(Pattern::Glob)
    }

    /// Compiles a regex of the supported subset (see the [module docs](self)).
    pub fn regex(s: &str) -> Result<Pattern, PatternError> {
        compile::regex(s).map(Pattern::Regex)
    }

    /// The pattern as a policy writes it: `{"glob": "/api/*"}`.
    pub fn describe(&self) -> String {
        let (k, v) = match self {
            Pattern::Exact(b) => ("exact", String::from_utf8_lossy(b).into_owned()),
            Pattern::Prefix(b) => ("prefix", String::from_utf8_lossy(b).into_owned()),
            Pattern::Glob(p) => ("glob", p.source().to_string()),
            Pattern::Regex(p) => ("regex", p.source().to_string()),
        };
        format!("{{\"{k}\": {v:?}}}")
    }

    /// Whether the pattern matches `hay`.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        match self {
            Pattern::Exact(b) => hay == b.as_slice(),
            Pattern::Prefix(b) => hay.starts_with(b),
            Pattern::Glob(p) | Pattern::Regex(p) => p.is_match(hay),
        }
    }
}

/// A 256-bit byte set.
type Set = [u64; 4];

fn set_has(s: &Set, b: u8) -> bool {
    s[usize::from(b >> 6)] >> (b & 63) & 1 == 1
}

fn set_add(s: &mut Set, lo: u8, hi: u8) {
    for b in usize::from(lo)..usize::from(hi) + 1 {
        s[b >> 6 & 3] |= 1 << (b & 63);
    }
}

fn set_not(s: &Set) -> Set {
    s.map(|w| !w)
}

/// One instruction. Jump targets are absolute instruction indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inst {
    /// Consume one byte equal to either value.
    Byte(u8, u8),
    /// Consume one byte in the set with this index.
    Set(u32),
    /// Continue at both targets.
    Split(u32, u32),
    /// Continue at the target.
    Jmp(u32),
    /// Assert the start of the haystack.
    Start,
    /// Assert the end of the haystack.
    End,
    /// Success.
    Match,
}

impl Inst {
    fn reloc(self, f: impl Fn(u32) -> u32) -> Inst {
        match self {
            Inst::Split(a, b) => Inst::Split(f(a), f(b)),
            Inst::Jmp(a) => Inst::Jmp(f(a)),
            i => i,
        }
    }
}

/// A compiled glob or regex program (see [`Pattern`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Program {
    source: Box<str>,
    insts: Vec<Inst>,
    sets: Vec<Set>,
    /// The program can only match at offset 0 (starts with `^`).
    anchored: bool,
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Program").field(&self.source).finish()
    }
}

impl Program {
    /// The pattern text this program was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    #[inline(never)]
    fn is_match(&self, hay: &[u8]) -> bool {
        let n = self.insts.len();
        let mut vm = Vm {
            prog: self,
            seen: vec![0; n],
            stack: Vec::new(),
            len: hay.len(),
        };
        let mut cur = Vec::with_capacity(n);
        let mut next = Vec::with_capacity(n);
        if vm.add(&mut cur, 0, 0) {
            return true;
        }
        for (i, &b) in hay.iter().enumerate() {
            next.clear();
            for &pc in &cur {
                let ok = match self.insts.get(pc) {
                    Some(Inst::Byte(x, y)) => b == *x || b == *y,
                    Some(Inst::Set(s)) => self.sets.get(*s as usize).is_some_and(|s| set_has(s, b)),
                    _ => false,
                };
                if ok && vm.add(&mut next, pc + 1, i + 1) {
                    return true;
                }
            }
            if !self.anchored && vm.add(&mut next, 0, i + 1) {
                return true;
            }
            if next.is_empty() && self.anchored {
                return false;
            }
            std::mem::swap(&mut cur, &mut next);
        }
        false
    }
}

/// Pike VM scratch state for one [`Program::is_match`] call.
struct Vm<'p> {
    prog: &'p Program,
    /// `seen[pc] == pos + 1`: `pc` is already in the thread list for `pos`.
    seen: Vec<usize>,
    stack: Vec<usize>,
    len: usize,
}

impl Vm<'_> {
    /// Adds the thread `pc` at `pos`, following jumps, splits and assertions, to `list`.
    /// Returns whether a `Match` was reached.
    fn add(&mut self, list: &mut Vec<usize>, pc: usize, pos: usize) -> bool {
        self.stack.push(pc);
        while let Some(pc) = self.stack.pop() {
            match self.seen.get_mut(pc) {
                Some(s) if *s != pos + 1 => *s = pos + 1,
                _ => continue,
            }
            match self.prog.insts.get(pc) {
                Some(Inst::Byte(..) | Inst::Set(_)) => list.push(pc),
                Some(Inst::Split(a, b)) => {
                    self.stack.push(*b as usize);
                    self.stack.push(*a as usize);
                }
                Some(Inst::Jmp(a)) => self.stack.push(*a as usize),
                Some(Inst::Start) if pos == 0 => self.stack.push(pc + 1),
                Some(Inst::End) if pos == self.len => self.stack.push(pc + 1),
                Some(Inst::Match) => {
                    self.stack.clear();
                    return true;
                }
                _ => {}
            }
        }
        false
    }
}

mod compile;

#[cfg(test)]
mod tests;
