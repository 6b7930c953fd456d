//! `| logfmt`, with `--strict`, `--keep-empty` and optional extraction parameters.
//!
//! # Semantics notes (verified against Loki v3 `parser.go` and `logfmt/decode.go`)
//!
//! Tokenizer (Loki's fork of go-logfmt's decoder, over bytes):
//! - bytes `<= ' '` separate pairs; a key runs to `=` or a separator; a bare `key`
//!   (no `=`) and `key=` have an empty value;
//! - a `"` inside a key, or `=`/`"` inside an unquoted value, is an error
//!   (`unexpected '"'`); a key that starts with `=` is an error (`unexpected '='`);
//!   a key containing invalid UTF-8 is an error (`invalid key`);
//! - quoted values are unquoted JSON-style (`\"`, `\\`, `\n`, `\uXXXX`…); a bad escape
//!   is `invalid quoted value`, a missing closing quote `unterminated quoted value`;
//! - the error message is `logfmt syntax error at pos <n> : <msg>` with a 1-based byte
//!   position.
//!
//! Parser:
//! - keys are sanitised like json keys; a key that sanitises to nothing is skipped; a key
//!   that clashes with a stream label becomes `<key>_extracted`; duplicate keys: last wins;
//! - empty values are dropped unless `--keep-empty`;
//! - invalid UTF-8 / U+FFFD in a value become spaces;
//! - **non-strict** (default): a malformed pair is skipped, parsing continues and **no
//!   error label is set**; **`--strict`**: parsing stops at the first malformed pair and
//!   `__error__="LogfmtParserErr"` plus `__error_details__` are set (pairs before it stay).
//! - with parameters (`| logfmt a, b="c"`), only those keys are extracted (renamed to the
//!   identifier); every identifier that is not a stream label is first set to `""`, so
//!   missing keys yield empty labels; empty values are kept; `--strict` applies.
//! - parser hints ([`LogfmtParser::with_needed_keys`]): only the needed labels are set and
//!   parsing stops once all were found, so errors after that point are not reported;
//!   an empty set skips parsing (Loki's `NoLabels`).

use super::labels::{errors, is_valid_label_name, sanitize_label_key, LabelsBuilder};
use super::StageError;

/// A logfmt syntax error, as Loki reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogfmtError {
    /// 1-based byte position.
    pub pos: usize,
    /// What was wrong.
    pub msg: String,
}

impl std::fmt::Display for LogfmtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "logfmt syntax error at pos {} : {}", self.pos, self.msg)
    }
}

/// A pull tokenizer over one logfmt line.
#[derive(Debug)]
pub struct Decoder<'a> {
    line: &'a [u8],
    pos: usize,
    key: &'a [u8],
    value_range: Option<(usize, usize)>,
    value_buf: String,
    value_unquoted: bool,
    err: Option<LogfmtError>,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `line`.
    pub fn new(line: &'a [u8]) -> Self {
        Decoder {
            line,
            pos: 0,
            key: &[],
            value_range: None,
            value_buf: String::new(),
            value_unquoted: false,
            err: None,
        }
    }

    /// True once the whole line was consumed.
    pub fn eol(&self) -> bool {
        self.pos >= self.line.len()
    }

    /// The last error met (kept until the end of the line).
    pub fn err(&self) -> Option<&LogfmtError> {
        self.err.as_ref()
    }

    /// The key of the last pair.
    pub fn key(&self) -> &'a [u8] {
        self.key
    }

    /// The value of the last pair (unquoted), as bytes.
    pub fn value(&self) -> &[u8] {
        if self.value_unquoted {
            self.value_buf.as_bytes()
        } else {
            match self.value_range {
                Some((s, e)) => &self.line[s..e],
                None => &[],
            }
        }
    }

    fn error(&mut self, pos: usize, msg: impl Into<String>) {
        self.err = Some(LogfmtError {
            pos: pos + 1,
            msg: msg.into(),
        });
    }

    fn unexpected(&mut self, pos: usize, c: u8) {
        let shown = match c {
            b'\'' => "'\\''".to_string(),
            c => format!("'{}'", c as char),
        };
        self.error(pos, format!("unexpected {shown}"));
    }

    /// Skips to the next separator; returns false (the pair was malformed).
    fn skip_value(&mut self) -> bool {
        let line = self.line;
        self.pos = line[self.pos..]
            .iter()
            .position(|&c| c <= b' ')
            .map_or(line.len(), |p| self.pos + p);
        false
    }

    /// Advances to the next pair; false when the line ended or the pair was malformed
    /// (then [`err`](Self::err) tells why). Use [`eol`](Self::eol) to tell the two apart.
    pub fn scan_keyval(&mut self) -> bool {
        self.key = &[];
        self.value_range = None;
        self.value_unquoted = false;
        let line = self.line;
        match line[self.pos.min(line.len())..]
            .iter()
            .position(|&c| c > b' ')
        {
            Some(p) => self.pos += p,
            None => {
                self.pos = line.len();
                return false;
            }
        }
        // key: up to `=`, `"` or a separator
        let start = self.pos;
        let Some(i) = line[start..]
            .iter()
            .position(|&c| is_stop_byte(c))
            .map(|r| start + r)
        else {
            self.pos = line.len();
            self.key = &line[start..];
            if std::str::from_utf8(self.key).is_err() {
                self.error(self.pos, "invalid key");
                return false;
            }
            return true;
        };
        let c = line[i];
        self.pos = i;
        if c == b'=' {
            if i > start {
                self.key = &line[start..i];
                if std::str::from_utf8(self.key).is_err() {
                    self.error(i, "invalid key");
                    return self.skip_value();
                }
            } else {
                self.unexpected(i, c);
                return self.skip_value();
            }
            return self.after_equal();
        }
        if c == b'"' {
            self.unexpected(i, c);
            return self.skip_value();
        }
        self.key = &line[start..i];
        if std::str::from_utf8(self.key).is_err() {
            self.error(i, "invalid key");
            return false;
        }
        true
    }

    fn after_equal(&mut self) -> bool {
        let line = self.line;
        self.pos += 1;
        if self.pos >= line.len() {
            return true;
        }
        let c = line[self.pos];
        if c <= b' ' {
            return true;
        }
        if c == b'"' {
            return self.quoted_value();
        }
        let start = self.pos;
        let i = line[start..]
            .iter()
            .position(|&c| is_stop_byte(c))
            .map_or(line.len(), |r| start + r);
        if let Some(&c @ (b'=' | b'"')) = line.get(i) {
            self.pos = i;
            self.unexpected(i, c);
            return self.skip_value();
        }
        self.pos = i;
        if i > start {
            self.value_range = Some((start, i));
        }
        true
    }

    fn quoted_value(&mut self) -> bool {
        let line = self.line;
        let start = self.pos; // the opening quote
        let mut has_esc = false;
        let mut esc = false;
        let mut i = start + 1;
        while i < line.len() {
            let c = line[i];
            if esc {
                esc = false;
            } else if c == b'\\' {
                has_esc = true;
                esc = true;
            } else if c == b'"' {
                self.pos = i + 1;
                if has_esc {
                    self.value_buf.clear();
                    if !unquote_into(&line[start + 1..i], &mut self.value_buf) {
                        self.error(self.pos, "invalid quoted value");
                        return false;
                    }
                    self.value_unquoted = true;
                } else if i > start + 1 {
                    self.value_range = Some((start + 1, i));
                }
                return true;
            }
            i += 1;
        }
        self.pos = line.len();
        self.error(self.pos, "unterminated quoted value");
        false
    }
}

/// A byte that ends a key or an unquoted value: `=`, `"` or a separator (`<= ' '`).
#[inline(always)]
fn is_stop_byte(c: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            t[c] = c <= b' ' as usize || c == b'=' as usize || c == b'"' as usize;
            c += 1;
        }
        t
    };
    TABLE[c as usize]
}

/// JSON-style unquoting of a quoted logfmt value body; false on a bad escape.
fn unquote_into(raw: &[u8], out: &mut String) -> bool {
    let mut i = 0;
    let mut seg = 0;
    let mut bytes: Vec<u8> = Vec::with_capacity(raw.len());
    while i < raw.len() {
        if raw[i] != b'\\' {
            i += 1;
            continue;
        }
        bytes.extend_from_slice(&raw[seg..i]);
        let Some(&c) = raw.get(i + 1) else {
            return false;
        };
        i += 2;
        let mut ch = [0u8; 4];
        match c {
            b'"' | b'\\' | b'/' | b'\'' => bytes.push(c),
            b'b' => bytes.push(8),
            b'f' => bytes.push(12),
            b'n' => bytes.push(b'\n'),
            b'r' => bytes.push(b'\r'),
            b't' => bytes.push(b'\t'),
            b'u' => {
                let Some(hi) = hex4(raw, i) else {
                    return false;
                };
                i += 4;
                let mut cp = hi;
                if (0xD800..0xDC00).contains(&hi)
                    && raw.get(i) == Some(&b'\\')
                    && raw.get(i + 1) == Some(&b'u')
                {
                    if let Some(lo) = hex4(raw, i + 2).filter(|lo| (0xDC00..0xE000).contains(lo)) {
                        i += 6;
                        cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    }
                }
                let c = char::from_u32(cp).unwrap_or('\u{FFFD}');
                bytes.extend_from_slice(c.encode_utf8(&mut ch).as_bytes());
            }
            _ => return false,
        }
        seg = i;
    }
    bytes.extend_from_slice(&raw[seg.min(raw.len())..]);
    push_lossy(out, &bytes);
    true
}

fn hex4(raw: &[u8], i: usize) -> Option<u32> {
    let s = raw.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in s {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Appends bytes, turning invalid UTF-8 and U+FFFD into spaces.
fn push_lossy(out: &mut String, b: &[u8]) {
    if let Ok(s) = std::str::from_utf8(b) {
        // U+FFFD is EF BF BD in UTF-8.
        if b.is_ascii() || !s.contains('\u{FFFD}') {
            out.push_str(s);
            return;
        }
    }
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            out.push(if c == '\u{FFFD}' { ' ' } else { c });
        }
        for _ in chunk.invalid() {
            out.push(' ');
        }
    }
}

/// The label names a pruned parse sets: the needed names plus, for a needed
/// `<key>_extracted`, the bare `<key>` (a key is tested before its clash renaming).
#[derive(Debug, Clone, Default)]
struct NeededNames {
    list: Vec<String>,
    set: std::collections::HashSet<String>,
}

impl NeededNames {
    fn new<I, S>(needed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = std::collections::HashSet::new();
        for n in needed {
            let n: String = n.into();
            if let Some(s) = n.strip_suffix(super::labels::DUPLICATE_SUFFIX) {
                set.insert(s.to_string());
            }
            set.insert(n);
        }
        NeededNames {
            list: set.iter().cloned().collect(),
            set,
        }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    #[inline]
    fn has(&self, name: &[u8]) -> bool {
        if self.list.len() <= 8 {
            // A few names (the usual case): comparing bytes beats hashing.
            self.list.iter().any(|k| {
                let k = k.as_bytes();
                k.len() == name.len() && k.first() == name.first() && k == name
            })
        } else {
            std::str::from_utf8(name).is_ok_and(|n| self.set.contains(n))
        }
    }
}

/// True when a key is its own sanitised label name: not empty, no leading digit, only
/// `[a-zA-Z0-9_]` (see [`sanitize_label_key`]).
#[inline]
fn is_plain_key(key: &[u8]) -> bool {
    key.first().is_some_and(|c| !c.is_ascii_digit())
        && key.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The `| logfmt` stage.
#[derive(Debug, Clone, Default)]
pub struct LogfmtParser {
    strict: bool,
    keep_empty: bool,
    /// `(identifier, key in the line)` for `| logfmt a, b="c"`.
    params: Vec<(String, String)>,
    /// Parser hints: only these labels are extracted (see [`LogfmtParser::with_needed_keys`]).
    needed: Option<NeededNames>,
    /// With `needed`: scan the whole line as the full parse does (no early stop).
    exact: bool,
    key: String,
    value: String,
}

impl LogfmtParser {
    /// `| logfmt` with the `--strict` and `--keep-empty` flags.
    pub fn new(strict: bool, keep_empty: bool) -> Self {
        LogfmtParser {
            strict,
            keep_empty,
            ..Default::default()
        }
    }

    /// `| logfmt` that extracts only the labels in `needed` (named as they would be after
    /// sanitising and `_extracted` renaming; a name ending in `_extracted` also matches the
    /// bare key) and stops once all were found, like Loki's parser hints. An empty set
    /// means no label is needed: lines are not parsed and no error is set (`NoLabels`).
    pub fn with_needed_keys<I, S>(strict: bool, keep_empty: bool, needed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        LogfmtParser {
            strict,
            keep_empty,
            needed: Some(NeededNames::new(needed)),
            ..Default::default()
        }
    }

    /// `| logfmt` that sets only the labels named in `needed` (named as for
    /// [`with_needed_keys`](Self::with_needed_keys)) but otherwise behaves exactly as
    /// [`new`](Self::new): it scans the whole line, so each needed label gets the value
    /// the full parse gives it (the last duplicate wins), and with `--strict` the error
    /// is the full parse's. Keys named `__error__`/`__error_details__` are always taken.
    ///
    /// ```
    /// use logjar_logql::eval::logfmt::LogfmtParser;
    /// use logjar_logql::eval::labels::LabelsBuilder;
    ///
    /// let mut b = LabelsBuilder::new();
    /// let mut p = LogfmtParser::with_needed_keys_exact(false, false, ["status"]);
    /// p.parse(b"status=200 msg=hi status=503", &mut b);
    /// assert_eq!(b.get("status"), Some("503"));
    /// assert_eq!(b.get("msg"), None);
    /// ```
    pub fn with_needed_keys_exact<I, S>(strict: bool, keep_empty: bool, needed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = needed.into_iter().map(Into::into).chain([
            super::labels::ERROR_LABEL.to_string(),
            super::labels::ERROR_DETAILS_LABEL.to_string(),
        ]);
        LogfmtParser {
            exact: true,
            ..Self::with_needed_keys(strict, keep_empty, names)
        }
    }

    /// For a `| logfmt` without parameters or hints ([`new`](Self::new)): the same
    /// parser narrowed to `needed` by [`with_needed_keys_exact`](Self::with_needed_keys_exact).
    /// `None` otherwise (parameters, hints), which are left as they are.
    pub fn exact_pruned<I, S>(&self, needed: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        (self.params.is_empty() && self.needed.is_none())
            .then(|| Self::with_needed_keys_exact(self.strict, self.keep_empty, needed))
    }

    /// `| logfmt [--strict] id, id2="key"`: extracts only the listed keys.
    /// `params` are `(identifier, key)` pairs; for a bare `id`, pass `(id, id)`.
    pub fn with_params<N: AsRef<str>, K: AsRef<str>>(
        strict: bool,
        keep_empty: bool,
        params: &[(N, K)],
    ) -> Result<Self, StageError> {
        if params.is_empty() {
            return Err(StageError::new("no logfmt expression provided"));
        }
        let mut out = Vec::new();
        for (id, key) in params {
            let (id, key) = (id.as_ref(), key.as_ref());
            if key.is_empty() || key.bytes().any(|c| c <= b' ' || c == b'=' || c == b'"') {
                return Err(StageError::new(format!(
                    "cannot parse expression [{key}]: syntax error"
                )));
            }
            if !is_valid_label_name(id) {
                return Err(StageError::new(format!(
                    "invalid extracted label name '{id}'"
                )));
            }
            out.push((id.to_string(), key.to_string()));
        }
        Ok(LogfmtParser {
            strict,
            keep_empty,
            params: out,
            ..Default::default()
        })
    }

    /// Parses one line into `labels`.
    pub fn parse(&mut self, line: &[u8], labels: &mut LabelsBuilder) {
        let mut remaining = usize::MAX;
        if let Some(n) = &self.needed {
            if n.is_empty() {
                return;
            }
            if !self.exact {
                remaining = n.len();
            }
        }
        if !self.params.is_empty() {
            for (id, _) in &self.params {
                if !labels.base_has(id) {
                    labels.set_parsed(id, "");
                }
            }
        }
        let mut dec = Decoder::new(line);
        while !dec.eol() {
            if !dec.scan_keyval() {
                if self.strict {
                    break;
                }
                continue;
            }
            if let (Some(n), true) = (&self.needed, self.params.is_empty()) {
                // A key that sanitises to itself is its own label name (or that name +
                // `_extracted`, whose bare form `n` holds too): reject it unbuilt.
                let raw = dec.key();
                if is_plain_key(raw) && !n.has(raw) {
                    continue;
                }
            }
            let sanitized = sanitize_label_key(dec.key(), true);
            if sanitized.is_empty() {
                continue;
            }
            self.value.clear();
            push_lossy(&mut self.value, dec.value());
            if self.params.is_empty() {
                if !self.keep_empty && self.value.is_empty() {
                    continue;
                }
                self.key.clear();
                self.key.push_str(&sanitized);
                if labels.base_has(&self.key) {
                    self.key.push_str(super::labels::DUPLICATE_SUFFIX);
                }
                if let Some(n) = &self.needed {
                    if !n.has(self.key.as_bytes()) {
                        continue;
                    }
                    if !self.exact && !labels.parsed().any(|(k, _)| k == self.key) {
                        remaining -= 1;
                    }
                }
                labels.set_parsed(&self.key, &self.value);
                if remaining == 0 {
                    break;
                }
            } else {
                let Some((id, _)) = self.params.iter().find(|(_, k)| *k == *sanitized) else {
                    continue;
                };
                let key = labels.parsed_name(id).into_owned();
                labels.set_parsed(&key, &self.value);
            }
        }
        if self.strict {
            if let Some(e) = dec.err() {
                labels.set_error(errors::LOGFMT_PARSER);
                labels.set_error_details(&e.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut LogfmtParser, stream: &[(&str, &str)], line: &[u8]) -> LabelsBuilder {
        let s: Vec<(String, String)> = stream
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut b = LabelsBuilder::with_stream(&s);
        p.parse(line, &mut b);
        b
    }

    fn sorted(b: &LabelsBuilder) -> Vec<(String, String)> {
        b.to_vec()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn basic_pairs_and_quotes() {
        let mut p = LogfmtParser::new(false, false);
        let b = run(
            &mut p,
            &[],
            br#"level=info msg="hello \"world\"\n" duration=1.5s empty= bare path=/a?b=c"#,
        );
        // `path=/a?b=c` has '=' in an unquoted value: skipped in non-strict mode
        assert_eq!(
            sorted(&b),
            pairs(&[
                ("duration", "1.5s"),
                ("level", "info"),
                ("msg", "hello \"world\"\n")
            ])
        );
        assert!(!b.has_error());
    }

    #[test]
    fn keep_empty() {
        let mut p = LogfmtParser::new(false, true);
        let b = run(&mut p, &[], b"a= b c=\"\" d=1");
        assert_eq!(
            sorted(&b),
            pairs(&[("a", ""), ("b", ""), ("c", ""), ("d", "1")])
        );
    }

    #[test]
    fn strict_errors() {
        type Case<'a> = (&'a [u8], &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            (
                b"a=1 b=\"x",
                "logfmt syntax error at pos 9 : unterminated quoted value",
                &[("a", "1")],
            ),
            (
                b"a=1 =2 c=3",
                "logfmt syntax error at pos 5 : unexpected '='",
                &[("a", "1")],
            ),
            (
                b"a\"b=1",
                "logfmt syntax error at pos 2 : unexpected '\"'",
                &[],
            ),
            (
                b"a=b=c",
                "logfmt syntax error at pos 4 : unexpected '='",
                &[],
            ),
            (
                b"a=\"\\q\" b=1",
                "logfmt syntax error at pos 7 : invalid quoted value",
                &[],
            ),
            (
                b"k\xff=1",
                "logfmt syntax error at pos 3 : invalid key",
                &[],
            ),
        ];
        for (line, details, want) in cases {
            let mut p = LogfmtParser::new(true, false);
            let b = run(&mut p, &[], line);
            assert_eq!(b.error(), Some("LogfmtParserErr"), "{line:?}");
            assert_eq!(b.error_details(), Some(*details), "{line:?}");
            let mut labels: Vec<(String, String)> = b
                .parsed()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            labels.sort();
            assert_eq!(labels, pairs(want), "{line:?}");
            // non-strict: no error, the bad pair is skipped and parsing goes on
            let mut p = LogfmtParser::new(false, false);
            assert!(!run(&mut p, &[], line).has_error());
        }
        let mut p = LogfmtParser::new(false, false);
        let b = run(&mut p, &[], b"a=1 =2 c=3");
        assert_eq!(sorted(&b), pairs(&[("a", "1"), ("c", "3")]));
    }

    #[test]
    fn sanitise_clash_utf8() {
        let mut p = LogfmtParser::new(false, false);
        let b = run(
            &mut p,
            &[("app", "s")],
            "app=x http.status=200 1x=y caf\u{e9}=ok v=a\u{FFFD}b w=\"\\u00e9\"".as_bytes(),
        );
        assert_eq!(
            sorted(&b),
            pairs(&[
                ("_1x", "y"),
                ("app", "s"),
                ("app_extracted", "x"),
                ("caf_", "ok"),
                ("http_status", "200"),
                ("v", "a b"),
                ("w", "é")
            ])
        );
        let b = run(&mut p, &[], b"v=a\xffb");
        assert_eq!(b.get("v"), Some("a b"));
        let b = run(&mut p, &[], b"");
        assert!(b.is_unchanged());
        let b = run(&mut p, &[], b"   \t ");
        assert!(b.is_unchanged());
    }

    #[test]
    fn params() {
        let mut p = LogfmtParser::with_params(
            false,
            false,
            &[
                ("lvl", "level"),
                ("msg", "msg"),
                ("app", "app"),
                ("gone", "gone"),
            ],
        )
        .unwrap();
        let b = run(&mut p, &[("app", "s")], b"level=info msg= app=a other=1");
        assert_eq!(
            sorted(&b),
            pairs(&[
                ("app", "s"),
                ("app_extracted", "a"),
                ("gone", ""),
                ("lvl", "info"),
                ("msg", "")
            ])
        );
        assert!(LogfmtParser::with_params::<&str, &str>(false, false, &[]).is_err());
        assert!(LogfmtParser::with_params(false, false, &[("1a", "b")]).is_err());
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let mut p = LogfmtParser::new(false, false);
        let b = run(&mut p, &[], b"a=1 a=2");
        assert_eq!(b.get("a"), Some("2"));
    }

    #[test]
    fn needed_keys() {
        let mut p = LogfmtParser::with_needed_keys(true, false, ["status", "app_extracted"]);
        let b = run(&mut p, &[("app", "s")], b"app=a status=500 level=x");
        assert_eq!(
            sorted(&b),
            pairs(&[("app", "s"), ("app_extracted", "a"), ("status", "500")])
        );
        // `app_extracted` also asks for `app`, which is never set: no early stop (as Loki)
        let b = run(&mut p, &[("app", "s")], b"app=a status=500 bad\"pair");
        assert!(b.has_error());
        // stops once everything needed was found: a later malformed pair is not seen
        let mut p = LogfmtParser::with_needed_keys(true, false, ["status"]);
        let b = run(&mut p, &[], b"app=a status=500 bad\"pair");
        assert!(!b.has_error());
        assert_eq!(sorted(&b), pairs(&[("status", "500")]));
        let mut p = LogfmtParser::with_needed_keys(true, false, Vec::<String>::new());
        assert!(run(&mut p, &[], b"a\"b").is_unchanged());
        let mut p = LogfmtParser::with_needed_keys(true, false, ["__error__"]);
        assert!(run(&mut p, &[], b"a\"b").has_error());
    }
    /// The exact pruned scan gives exactly the needed part of the full parse, errors
    /// included, in strict and lenient mode, with and without `--keep-empty`.
    #[test]
    fn exact_needed_keys_match_full_parse() {
        let lines: &[&[u8]] = &[
            b"status=500 msg=hi status=200",
            b"status=500 bad\"pair status=200",
            b"status=200 app=a duration=5ms app=b",
            b"status= level=\"quoted \\\"x\\\"\" status",
            b"1status=digit st-atus=dash  status=ok",
            b"\xffkey=bad status=1 =x __error__=from_line __error_details__=d",
            b"status=\"unterminated",
            b"",
            b"   ",
            "status=caf\u{e9} lev\u{e9}l=x".as_bytes(),
        ];
        let needed: &[&[&str]] = &[
            &["status"],
            &["status", "app_extracted"],
            &["_1status", "st_atus", "lev_l"],
            &["__error__"],
            &[],
        ];
        let stream = [("app", "s")];
        for strict in [false, true] {
            for keep_empty in [false, true] {
                for line in lines {
                    let full = run(&mut LogfmtParser::new(strict, keep_empty), &stream, line);
                    let full = sorted(&full);
                    for names in needed {
                        let mut p = LogfmtParser::with_needed_keys_exact(
                            strict,
                            keep_empty,
                            names.iter().copied(),
                        );
                        let got = sorted(&run(&mut p, &stream, line));
                        let want: Vec<(String, String)> = full
                            .iter()
                            .filter(|(n, _)| {
                                n == "app"
                                    || names.contains(&n.as_str())
                                    || n.starts_with("__error")
                            })
                            .cloned()
                            .collect();
                        assert_eq!(
                            got,
                            want,
                            "line {:?} needed {names:?} strict {strict} keep_empty {keep_empty}",
                            String::from_utf8_lossy(line)
                        );
                    }
                }
            }
        }
    }
}
