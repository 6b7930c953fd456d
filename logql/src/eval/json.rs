//! `| json` — without parameters (flatten every field) and with parameters
//! (`| json a="x.y[0]", b`).
//!
//! # Semantics notes
//!
//! Verified against Loki v3 `pkg/logql/log/parser.go` and the `buger/jsonparser`
//! behaviour it relies on:
//!
//! - **Flatten** walks the top-level object; nested objects are flattened with `_`
//!   between the sanitised keys (`{"pod":{"uuid":"x"}}` → `pod_uuid="x"`); **arrays are
//!   skipped**, and so are **`null` values** (no label at all). Strings are unescaped,
//!   numbers are kept **as written** (`5.56909`, `1e3`), booleans become `true`/`false`.
//!   Invalid UTF-8 and U+FFFD in a string value become a space each. A string value with
//!   an invalid escape becomes the empty string.
//! - Keys are sanitised ([`sanitize_label_key`](crate::eval::labels::sanitize_label_key)); the leading-digit `_` prefix applies only
//!   to the first segment. A top-level key that sanitises to nothing (`" "`) adds no
//!   prefix segment, so `{" ":{"foo":"bar"}}` gives `foo="bar"`. A key that clashes with a
//!   stream label gets `_extracted`. Duplicate keys: the last one wins.
//! - The line must start (after white space) with an object; trailing bytes after the
//!   closing brace are ignored. Errors set `__error__="JSONParserErr"` and
//!   `__error_details__` to jsonparser's message, e.g. `Value looks like object, but
//!   can't find closing '}' symbol` for a non-object line, `Malformed JSON error` for a
//!   bad key or colon. Labels extracted before the error stay.
//! - **With parameters**, every identifier gets a label: the value at the path, or `""`
//!   when the path is missing (unless a stream label of that name exists). Objects are
//!   returned as their raw JSON text, strings unescaped, `null` as `""`. A line that
//!   does not start with `{`, `[` or `"` sets `JSONParserErr` without details.
//!   *Assumed*: a malformed structure met while following a path sets `JSONParserErr`
//!   with the jsonparser-style message; a duplicate key resolves to its first occurrence.
//!
//! Paths (Loki's `jsonexpr`): fields `[a-zA-Z_][a-zA-Z0-9_]*` joined by `.`, indexes `[0]`,
//! and bracketed strings `["key with.dots"]` (no escapes: the string ends at `"` or `]`):
//! `a`, `a.b`, `a[0]`, `a.b[1].c`, `a["b-c"]`, `[0]`. White space between tokens is ignored.
//!
//! The scanner works directly on the bytes, extracts only what is needed, and reuses its
//! buffers: no DOM and no allocation per entry in the steady state.

use std::collections::HashSet;

use super::labels::{
    append_sanitized, errors, LabelsBuilder, DUPLICATE_SUFFIX, ERROR_DETAILS_LABEL, ERROR_LABEL,
};
use super::StageError;

/// Nesting depth beyond which nested objects are not flattened.
const MAX_DEPTH: usize = 256;

const MALFORMED_JSON: &str = "Malformed JSON error";
const MALFORMED_OBJECT: &str = "Value looks like object, but can't find closing '}' symbol";
const MALFORMED_ARRAY: &str = "Value is array, but can't find closing ']' symbol";
const MALFORMED_STRING: &str = "Value is string, but can't find closing '\"' symbol";
const MALFORMED_ESCAPE: &str = "Encountered invalid escape sequence in a string";
const UNKNOWN_TYPE: &str = "Unknown value type";

/// A JSON value kind as the scanner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Parses a Loki json expression (`a.b[0]["c d"]`) into steps.
///
/// ```
/// use logjar_logql::eval::json::{parse_path, PathStep};
/// assert_eq!(
///     parse_path(r#"request.headers["User-Agent"][0]"#).unwrap(),
///     vec![
///         PathStep::Key("request".into()),
///         PathStep::Key("headers".into()),
///         PathStep::Key("User-Agent".into()),
///         PathStep::Index(0),
///     ]
/// );
/// assert!(parse_path("a..b").is_err());
/// ```
pub fn parse_path(expr: &str) -> Result<Vec<PathStep>, StageError> {
    let err = |why: &str| StageError::new(format!("cannot parse expression [{expr}]: {why}"));
    let b = expr.as_bytes();
    let is_ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n');
    let mut steps = Vec::new();
    let mut i = 0;
    let mut expect_field = true; // at start or after '.'
    let mut after_dot = false;
    while i < b.len() {
        match b[i] {
            c if is_ws(c) => i += 1,
            b'.' => {
                if expect_field {
                    return Err(err("syntax error: unexpected ."));
                }
                expect_field = true;
                after_dot = true;
                i += 1;
            }
            b'[' => {
                if after_dot {
                    return Err(err("syntax error: unexpected ["));
                }
                i += 1;
                while i < b.len() && is_ws(b[i]) {
                    i += 1;
                }
                if i < b.len() && b[i] == b'"' {
                    // Loki's scanner has no escapes: the string ends at `"` or `]`.
                    let start = i + 1;
                    let end = b[start..]
                        .iter()
                        .position(|&c| c == b'"' || c == b']')
                        .map_or(b.len(), |p| start + p);
                    steps.push(PathStep::Key(expr[start..end].to_string()));
                    i = end + usize::from(end < b.len() && b[end] == b'"');
                } else {
                    let start = i;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    if i < b.len() && b[i] == b'.' && i > start {
                        return Err(err("cannot use float as array index"));
                    }
                    let n: usize = expr[start..i]
                        .parse()
                        .map_err(|_| err("syntax error: expected an index or a string"))?;
                    steps.push(PathStep::Index(n));
                }
                while i < b.len() && is_ws(b[i]) {
                    i += 1;
                }
                if i >= b.len() || b[i] != b']' {
                    return Err(err("syntax error: missing ]"));
                }
                i += 1;
                expect_field = false;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                if !expect_field {
                    return Err(err("syntax error: expected . or ["));
                }
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                steps.push(PathStep::Key(expr[start..i].to_string()));
                expect_field = false;
                after_dot = false;
            }
            _ => {
                let ch = expr[i..].chars().next().unwrap_or('?');
                return Err(err(&format!("unexpected char {ch}")));
            }
        }
    }
    if steps.is_empty() || expect_field {
        return Err(err("syntax error: empty path"));
    }
    Ok(steps)
}

/// The `| json` stage.
#[derive(Debug, Clone)]
pub struct JsonParser {
    mode: Mode,
    key: String,
    value: String,
}

#[derive(Debug, Clone)]
enum Mode {
    Flatten { needed: Option<Needed> },
    Params(Vec<(String, Vec<PathStep>)>),
}

#[derive(Debug, Clone)]
struct Needed {
    names: HashSet<String>,
    /// Stop once this many distinct needed labels were set (when ≤ 64 names).
    count: usize,
    list: Vec<String>,
    /// Walk the line exactly as the full flattening does (every nested object, to the
    /// end or the first error; the last duplicate wins) and only skip building the
    /// labels that are not needed: see [`JsonParser::with_needed_keys_exact`].
    exact: bool,
}

impl Needed {
    /// Whether `name` is one of the needed names (or the unsuffixed form of a needed
    /// `_extracted` name).
    #[inline]
    fn has(&self, name: &[u8]) -> bool {
        if self.list.len() <= 8 {
            // A few names (the usual hint): comparing lengths first beats hashing.
            self.list.iter().any(|k| {
                let k = k.as_bytes();
                k.len() == name.len() && k.first() == name.first() && k == name
            })
        } else {
            std::str::from_utf8(name).is_ok_and(|n| self.names.contains(n))
        }
    }
}

/// True when a top-level key is its own sanitised form: not empty, no leading digit,
/// only `[a-zA-Z0-9_]` (see [`append_sanitized`]).
#[inline]
fn is_plain_key(key: &[u8]) -> bool {
    key.first().is_some_and(|c| !c.is_ascii_digit()) && key.iter().all(|&c| is_word_byte(c))
}

/// `[a-zA-Z0-9_]`, by table (one load per byte instead of three range tests).
#[inline(always)]
fn is_word_byte(c: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] = b.is_ascii_alphanumeric() || b == b'_';
            c += 1;
        }
        t
    };
    TABLE[c as usize]
}

impl Default for JsonParser {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonParser {
    /// `| json` without parameters: flattens every field.
    pub fn new() -> Self {
        JsonParser {
            mode: Mode::Flatten { needed: None },
            key: String::with_capacity(64),
            value: String::with_capacity(256),
        }
    }

    /// `| json` that extracts only the flattened labels named in `needed` (as they would
    /// be named after flattening, sanitising and `_extracted` renaming) and stops once
    /// all were found. Names ending in `_extracted` also match the unsuffixed key, as
    /// Loki's parser hints do. Labels outside `needed` are not produced.
    ///
    /// An **empty** set means the query needs no label at all (Loki's `NoLabels` hint,
    /// e.g. `sum(rate({app="api"} | json [5m]))`): lines are then not parsed and no
    /// `__error__` is ever set, as in Loki. Pass `["__error__"]` to parse fully for
    /// error detection without extracting anything.
    pub fn with_needed_keys<I, S>(needed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names = HashSet::new();
        for n in needed {
            let n: String = n.into();
            if let Some(stripped) = n.strip_suffix(DUPLICATE_SUFFIX) {
                names.insert(stripped.to_string());
            }
            names.insert(n);
        }
        let list: Vec<String> = names.iter().cloned().collect();
        let count = list.len();
        JsonParser {
            mode: Mode::Flatten {
                needed: Some(Needed {
                    names,
                    count,
                    list,
                    exact: false,
                }),
            },
            ..Self::new()
        }
    }

    /// `| json` that sets only the labels named in `needed` (named as for
    /// [`with_needed_keys`](Self::with_needed_keys)) but otherwise behaves exactly as
    /// [`new`](Self::new): it walks the whole line and every nested object, so each
    /// needed label gets the value the full flattening gives it (the last duplicate
    /// wins), and `__error__`/`__error_details__` are the full flattening's (keys of
    /// those names are always taken). An empty set still walks the line (only errors
    /// are reported).
    ///
    /// This is what a pipeline needs to decide early whether a label filter drops an
    /// entry, before paying for every label of the entries it keeps.
    ///
    /// ```
    /// use logjar_logql::eval::json::JsonParser;
    /// use logjar_logql::eval::labels::LabelsBuilder;
    ///
    /// let line = br#"{"status":200,"msg":"m","status":503,"tail":"x"#;
    /// let mut full = LabelsBuilder::new();
    /// JsonParser::new().parse(line, &mut full);
    /// let mut only = LabelsBuilder::new();
    /// JsonParser::with_needed_keys_exact(["status"]).parse(line, &mut only);
    /// assert_eq!(only.get("status"), Some("503"));
    /// assert_eq!(only.get("status"), full.get("status"));
    /// assert_eq!(only.get("msg"), None);
    /// assert_eq!(only.error_details(), full.error_details());
    /// assert!(only.has_error());
    /// ```
    pub fn with_needed_keys_exact<I, S>(needed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        // Keys that set the error fields are always taken, so that the error state is
        // the full flattening's whatever is needed.
        let names = needed
            .into_iter()
            .map(Into::into)
            .chain([ERROR_LABEL.to_string(), ERROR_DETAILS_LABEL.to_string()]);
        let mut p = Self::with_needed_keys(names);
        if let Mode::Flatten { needed: Some(n) } = &mut p.mode {
            n.exact = true;
            n.count = usize::MAX;
        }
        p
    }

    /// For a `| json` without parameters or hints ([`new`](Self::new)): the same
    /// parser narrowed to `needed` by [`with_needed_keys_exact`](Self::with_needed_keys_exact).
    /// `None` for other modes (parameters, hints), which are left as they are.
    pub fn exact_pruned<I, S>(&self, needed: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        matches!(self.mode, Mode::Flatten { needed: None })
            .then(|| Self::with_needed_keys_exact(needed))
    }

    /// `| json name="expr", ...`: extracts the value at each path into `name`.
    /// Names must be valid label names; paths are parsed with [`parse_path`].
    pub fn with_params<N: AsRef<str>, E: AsRef<str>>(
        params: &[(N, E)],
    ) -> Result<Self, StageError> {
        let mut out = Vec::with_capacity(params.len());
        for (name, expr) in params {
            let (name, expr) = (name.as_ref(), expr.as_ref());
            let path = parse_path(expr)?;
            if !super::labels::is_valid_label_name(name) {
                return Err(StageError::new(format!(
                    "invalid extracted label name '{name}'"
                )));
            }
            out.push((name.to_string(), path));
        }
        Ok(JsonParser {
            mode: Mode::Params(out),
            ..Self::new()
        })
    }

    /// Parses one line, adding labels (or `__error__`) to `labels`.
    pub fn parse(&mut self, line: &[u8], labels: &mut LabelsBuilder) {
        let mode = std::mem::replace(&mut self.mode, Mode::Params(Vec::new()));
        match &mode {
            Mode::Flatten { needed: Some(n) } if n.count == 0 => {}
            Mode::Flatten { needed } => {
                let mut st = FlattenState {
                    key: &mut self.key,
                    value: &mut self.value,
                    needed: needed.as_ref(),
                    found: 0,
                    depth: 0,
                    labels,
                };
                st.key.clear();
                if let Err(e) = st.object(line, 0) {
                    if e != Stop::Done {
                        if let Stop::Err(msg) = e {
                            st.labels.set_error(errors::JSON_PARSER);
                            st.labels.set_error_details(msg);
                        }
                    }
                }
            }
            Mode::Params(params) => self.parse_params(params, line, labels),
        }
        self.mode = mode;
    }

    fn parse_params(
        &mut self,
        params: &[(String, Vec<PathStep>)],
        line: &[u8],
        labels: &mut LabelsBuilder,
    ) {
        if line.is_empty() {
            return;
        }
        if !matches!(line[0], b'{' | b'[' | b'"') {
            labels.set_error(errors::JSON_PARSER);
            return;
        }
        for (name, path) in params {
            match find_path(line, path) {
                Ok(Some((kind, raw))) => {
                    self.value.clear();
                    match kind {
                        Kind::Null => {}
                        Kind::Object | Kind::Number | Kind::Bool => {
                            push_lossy(&mut self.value, raw)
                        }
                        Kind::String | Kind::Array => unescape_into(raw, &mut self.value),
                    }
                    let key = labels.parsed_name(name).into_owned();
                    labels.set_parsed(&key, &self.value);
                }
                Ok(None) => {
                    if !labels.has(name) {
                        labels.set_parsed(name, "");
                    }
                }
                Err(msg) => {
                    labels.set_error(errors::JSON_PARSER);
                    labels.set_error_details(msg);
                    if !labels.has(name) {
                        labels.set_parsed(name, "");
                    }
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// All needed labels were found: not an error.
    Done,
    Err(&'static str),
}

impl From<&'static str> for Stop {
    fn from(s: &'static str) -> Self {
        Stop::Err(s)
    }
}

struct FlattenState<'a> {
    key: &'a mut String,
    value: &'a mut String,
    needed: Option<&'a Needed>,
    found: usize,
    depth: usize,
    labels: &'a mut LabelsBuilder,
}

impl FlattenState<'_> {
    /// Walks the object starting at `data[pos..]` (white space allowed before it),
    /// as jsonparser's `ObjectEach` does.
    fn object(&mut self, data: &[u8], pos: usize) -> Result<(), Stop> {
        let mut p = next_token(data, pos).ok_or(MALFORMED_OBJECT)?;
        if data[p] != b'{' {
            return Err(MALFORMED_OBJECT.into());
        }
        p = next_token(data, p + 1).ok_or(MALFORMED_JSON)?;
        if data[p] == b'}' {
            return Ok(());
        }
        while p < data.len() {
            match data[p] {
                b'"' => p += 1,
                b'}' => return Ok(()),
                _ => return Err(MALFORMED_OBJECT.into()),
            }
            let (end, escaped) = string_end(data, p).ok_or(MALFORMED_JSON)?;
            let key_raw = &data[p..end - 1];
            p = end;
            let c = next_token(data, p).ok_or(MALFORMED_JSON)?;
            if data[c] != b':' {
                return Err(MALFORMED_JSON.into());
            }
            p = c + 1;
            let v = next_token(data, p).ok_or(MALFORMED_JSON)?;
            let (kind, vstart, vend) = value_at(data, v)?;
            if !self.skips(key_raw, escaped, kind) {
                self.field(data, key_raw, escaped, kind, vstart, vend)?;
            }
            p = vend;
            let n = next_token(data, p).ok_or(MALFORMED_ARRAY)?;
            match data[n] {
                b'}' => return Ok(()),
                b',' => p = n + 1,
                _ => return Err(MALFORMED_OBJECT.into()),
            }
            p = next_token(data, p).ok_or(MALFORMED_ARRAY)?;
        }
        Err(MALFORMED_OBJECT.into())
    }

    /// True when [`field`](Self::field) would do nothing for this field, told without
    /// building its name: arrays and nulls, and (pruned) a top-level key that is its own
    /// label name and not needed. Errors of escaped keys are left to `field`.
    #[inline(always)]
    fn skips(&self, key_raw: &[u8], escaped: bool, kind: Kind) -> bool {
        match kind {
            Kind::Array | Kind::Null => true,
            Kind::Object => false,
            Kind::String | Kind::Number | Kind::Bool => match self.needed {
                Some(n) => {
                    self.key.is_empty() && !escaped && !n.has(key_raw) && is_plain_key(key_raw)
                }
                None => false,
            },
        }
    }

    fn field(
        &mut self,
        data: &[u8],
        key_raw: &[u8],
        escaped: bool,
        kind: Kind,
        vstart: usize,
        vend: usize,
    ) -> Result<(), Stop> {
        match kind {
            Kind::Array | Kind::Null => Ok(()),
            Kind::Object => {
                let prefix_len = self.key.len();
                self.push_key(key_raw, escaped)?;
                let go = match self.needed {
                    None => true,
                    Some(n) => n.exact || n.list.iter().any(|k| k.starts_with(self.key.as_str())),
                };
                // Objects nested deeper than MAX_DEPTH are skipped (not flattened) so a
                // hostile line cannot exhaust the stack.
                let r = if go && self.depth < MAX_DEPTH {
                    self.depth += 1;
                    let r = self.object(&data[..vend], vstart);
                    self.depth -= 1;
                    r
                } else {
                    Ok(())
                };
                self.key.truncate(prefix_len);
                r
            }
            Kind::String | Kind::Number | Kind::Bool => {
                if let Some(n) = self.needed {
                    // A top-level key that sanitises to itself is its own label name (or
                    // that name + `_extracted`, whose unsuffixed form is in `list` too):
                    // reject it before building any name.
                    if self.key.is_empty() && !escaped && is_plain_key(key_raw) && !n.has(key_raw) {
                        return Ok(());
                    }
                }
                let prefix_len = self.key.len();
                self.push_key(key_raw, escaped)?;
                if let Some(n) = self.needed {
                    // Same test on the built name: `key_extracted` can only be needed
                    // when `key` is in the list.
                    if !n.has(self.key.as_bytes()) {
                        self.key.truncate(prefix_len);
                        return Ok(());
                    }
                }
                if self.labels.base_has(self.key) {
                    self.key.push_str(DUPLICATE_SUFFIX);
                }
                let wanted = match self.needed {
                    None => true,
                    Some(n) => n.has(self.key.as_bytes()),
                };
                if wanted {
                    self.value.clear();
                    let raw = &data[vstart..vend];
                    match kind {
                        Kind::String => unescape_into(&raw[1..raw.len() - 1], self.value),
                        Kind::Bool => {
                            self.value
                                .push_str(if raw[0] == b't' { "true" } else { "false" })
                        }
                        _ => push_lossy(self.value, raw),
                    }
                    let counting = self.needed.filter(|n| !n.exact);
                    let newly = counting.is_some()
                        && !self.labels.parsed().any(|(n, _)| n == self.key.as_str());
                    self.labels.set_parsed(self.key, self.value);
                    if let Some(n) = counting {
                        if newly {
                            self.found += 1;
                        }
                        if self.found >= n.count {
                            self.key.truncate(prefix_len);
                            return Err(Stop::Done);
                        }
                    }
                }
                self.key.truncate(prefix_len);
                Ok(())
            }
        }
    }

    /// Appends `_` + the sanitised key (or just the key at the top level).
    fn push_key(&mut self, key_raw: &[u8], escaped: bool) -> Result<(), Stop> {
        let at_root = self.key.is_empty();
        if escaped {
            let mut tmp = String::new();
            if !unescape_strict(key_raw, &mut tmp) {
                return Err(MALFORMED_ESCAPE.into());
            }
            self.push_key_bytes(tmp.as_bytes(), at_root);
        } else {
            self.push_key_bytes(key_raw, at_root);
        }
        Ok(())
    }

    fn push_key_bytes(&mut self, key: &[u8], at_root: bool) {
        if !at_root {
            // Loki appends the spacer even when the nested key sanitises to nothing.
            self.key.push('_');
        }
        append_sanitized(self.key, key, at_root);
    }
}

/// Skips JSON white space; `None` at the end of the data.
#[inline]
fn next_token(data: &[u8], mut p: usize) -> Option<usize> {
    while p < data.len() {
        match data[p] {
            b' ' | b'\n' | b'\r' | b'\t' => p += 1,
            _ => return Some(p),
        }
    }
    None
}

/// The first `"` or `\\` at or after `from`. Keys and most values are short: the first
/// 64 bytes are scanned a word at a time (SWAR), which beats setting up a vectorised
/// search; longer strings continue with `memchr2`.
#[inline]
fn find_quote_or_backslash(data: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = LO * b'"' as u64;
    const BACKSLASHES: u64 = LO * b'\\' as u64;
    let head = data.len().min(from.saturating_add(64));
    let mut i = from;
    while i + 8 <= head {
        let mut w = [0u8; 8];
        w.copy_from_slice(&data[i..i + 8]);
        let w = u64::from_le_bytes(w);
        let (q, b) = (w ^ QUOTES, w ^ BACKSLASHES);
        // The lowest flagged byte of `x - LO & !x & HI` is the first zero byte of `x`
        // (borrows only flag bytes above a real zero), so the lowest bit of the union
        // is the first quote or backslash.
        let m = ((q.wrapping_sub(LO) & !q) | (b.wrapping_sub(LO) & !b)) & HI;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if let Some(k) = data
        .get(i..head)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
    {
        return Some(i + k);
    }
    memchr::memchr2(b'"', b'\\', data.get(head..)?).map(|o| head + o)
}

/// Finds the end of a string whose content starts at `p` (after the opening quote).
/// Returns the index after the closing quote and whether a backslash was seen.
#[inline]
fn string_end(data: &[u8], p: usize) -> Option<(usize, bool)> {
    let mut i = p;
    let mut escaped = false;
    loop {
        i = find_quote_or_backslash(data, i)?;
        if data[i] == b'\\' {
            escaped = true;
            i += 2;
            if i > data.len() {
                return None;
            }
        } else {
            return Some((i + 1, escaped));
        }
    }
}

/// Finds the end of a `[...]`/`{...}` block starting at `p`, counting only `open` and
/// `close` outside strings (jsonparser's `blockEnd`: contents are not validated).
fn block_end(data: &[u8], p: usize, open: u8, close: u8) -> Option<usize> {
    let mut level = 0usize;
    let mut i = p;
    while i < data.len() {
        let c = data[i];
        if c == b'"' {
            let (end, _) = string_end(data, i + 1)?;
            i = end;
            continue;
        }
        if c == open {
            level += 1;
        } else if c == close {
            level = level.saturating_sub(1);
            if level == 0 {
                return Some(i + 1);
            }
        }
        i += 1;
    }
    None
}

/// Classifies the value at `p` (a non-white-space byte) and finds its end.
#[inline(always)]
fn value_at(data: &[u8], p: usize) -> Result<(Kind, usize, usize), Stop> {
    match data[p] {
        b'"' => {
            let (end, _) = string_end(data, p + 1).ok_or(MALFORMED_STRING)?;
            Ok((Kind::String, p, end))
        }
        b'[' => {
            let end = block_end(data, p, b'[', b']').ok_or(MALFORMED_ARRAY)?;
            Ok((Kind::Array, p, end))
        }
        b'{' => {
            let end = block_end(data, p, b'{', b'}').ok_or(MALFORMED_OBJECT)?;
            Ok((Kind::Object, p, end))
        }
        c => {
            let end = data[p..]
                .iter()
                .position(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b',' | b'}' | b']'))
                .map_or(data.len(), |o| p + o);
            let tok = &data[p..end];
            let kind = match c {
                b't' | b'f' if tok == b"true" || tok == b"false" => Kind::Bool,
                b'n' | b'u' if tok == b"null" => Kind::Null,
                b'0'..=b'9' | b'-' => Kind::Number,
                _ => return Err(UNKNOWN_TYPE.into()),
            };
            Ok((kind, p, end))
        }
    }
}

/// Follows `path` from the root value of `data`.
fn find_path<'a>(
    data: &'a [u8],
    path: &[PathStep],
) -> Result<Option<(Kind, &'a [u8])>, &'static str> {
    let mut p = match next_token(data, 0) {
        Some(p) => p,
        None => return Ok(None),
    };
    for step in path {
        match (step, data[p]) {
            (PathStep::Key(k), b'{') => match find_key(data, p, k.as_bytes())? {
                Some(v) => p = v,
                None => return Ok(None),
            },
            (PathStep::Index(n), b'[') => match find_index(data, p, *n)? {
                Some(v) => p = v,
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    let (kind, s, e) = value_at(data, p).map_err(|e| match e {
        Stop::Err(m) => m,
        Stop::Done => MALFORMED_JSON,
    })?;
    let raw = if kind == Kind::String {
        &data[s + 1..e - 1]
    } else {
        &data[s..e]
    };
    Ok(Some((kind, raw)))
}

fn stop_msg(e: Stop) -> &'static str {
    match e {
        Stop::Err(m) => m,
        Stop::Done => MALFORMED_JSON,
    }
}

/// In the object at `p`, finds `key` and returns the start of its value.
fn find_key(data: &[u8], p: usize, key: &[u8]) -> Result<Option<usize>, &'static str> {
    let mut p = next_token(data, p + 1).ok_or(MALFORMED_JSON)?;
    let mut tmp = String::new();
    loop {
        match data[p] {
            b'}' => return Ok(None),
            b'"' => p += 1,
            _ => return Err(MALFORMED_OBJECT),
        }
        let (end, escaped) = string_end(data, p).ok_or(MALFORMED_JSON)?;
        let raw = &data[p..end - 1];
        let matched = if escaped {
            tmp.clear();
            unescape_strict(raw, &mut tmp) && tmp.as_bytes() == key
        } else {
            raw == key
        };
        let c = next_token(data, end).ok_or(MALFORMED_JSON)?;
        if data[c] != b':' {
            return Err(MALFORMED_JSON);
        }
        let v = next_token(data, c + 1).ok_or(MALFORMED_JSON)?;
        if matched {
            return Ok(Some(v));
        }
        let (_, _, vend) = value_at(data, v).map_err(stop_msg)?;
        let n = next_token(data, vend).ok_or(MALFORMED_ARRAY)?;
        match data[n] {
            b'}' => return Ok(None),
            b',' => p = next_token(data, n + 1).ok_or(MALFORMED_ARRAY)?,
            _ => return Err(MALFORMED_OBJECT),
        }
    }
}

/// In the array at `p`, returns the start of element `idx`.
fn find_index(data: &[u8], p: usize, idx: usize) -> Result<Option<usize>, &'static str> {
    let mut p = next_token(data, p + 1).ok_or(MALFORMED_ARRAY)?;
    if data[p] == b']' {
        return Ok(None);
    }
    let mut i = 0;
    loop {
        if i == idx {
            return Ok(Some(p));
        }
        let (_, _, vend) = value_at(data, p).map_err(stop_msg)?;
        let n = next_token(data, vend).ok_or(MALFORMED_ARRAY)?;
        match data[n] {
            b']' => return Ok(None),
            b',' => p = next_token(data, n + 1).ok_or(MALFORMED_ARRAY)?,
            _ => return Err(MALFORMED_ARRAY),
        }
        i += 1;
    }
}

/// Appends bytes, turning invalid UTF-8 and U+FFFD into one space per bad byte/char.
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

/// Unescapes a JSON string body into `out` as Loki renders values: on an invalid escape
/// the value is empty; invalid UTF-8 and U+FFFD become spaces.
pub fn unescape_into(raw: &[u8], out: &mut String) {
    let start = out.len();
    if memchr::memchr(b'\\', raw).is_none() {
        push_lossy(out, raw);
        return;
    }
    if !unescape_strict(raw, out) {
        out.truncate(start);
    }
}

/// Unescapes a JSON string body; false on an invalid escape sequence.
fn unescape_strict(raw: &[u8], out: &mut String) -> bool {
    let mut i = 0;
    let mut seg = 0;
    while let Some(off) = memchr::memchr(b'\\', &raw[i..]) {
        let bs = i + off;
        push_lossy(out, &raw[seg..bs]);
        let Some(&c) = raw.get(bs + 1) else {
            return false;
        };
        i = bs + 2;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let Some(hi) = hex4(raw, i) else {
                    return false;
                };
                i += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    if raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                        if let Some(lo) = hex4(raw, i + 2) {
                            if (0xDC00..0xE000).contains(&lo) {
                                i += 6;
                                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                out.push(char::from_u32(cp).unwrap_or(' '));
                                seg = i;
                                continue;
                            }
                        }
                    }
                    out.push(' ');
                } else {
                    // Lone low surrogates and U+FFFD render as a space, like Loki.
                    match char::from_u32(hi) {
                        Some(ch) if ch != '\u{FFFD}' => out.push(ch),
                        _ => out.push(' '),
                    }
                }
            }
            _ => return false,
        }
        seg = i;
    }
    push_lossy(out, &raw[seg.min(raw.len())..]);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut JsonParser, stream: &[(&str, &str)], line: &str) -> Vec<(String, String)> {
        let s: Vec<(String, String)> = stream
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut b = LabelsBuilder::with_stream(&s);
        p.parse(line.as_bytes(), &mut b);
        b.to_vec()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn flatten_nested() {
        let mut p = JsonParser::new();
        let got = run(
            &mut p,
            &[],
            r#"{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}}"#,
        );
        assert_eq!(
            got,
            pairs(&[
                ("app", "foo"),
                ("namespace", "prod"),
                ("pod_deployment_ref", "foobar"),
                ("pod_uuid", "foo")
            ])
        );
    }

    #[test]
    fn numbers_bools_null_arrays() {
        let mut p = JsonParser::new();
        let got = run(
            &mut p,
            &[],
            r#"{"counter":1, "price": {"_net_":5.56909}, "ok":true, "no":false, "n":null, "arr":[1,{"a":"]"}], "e":1e3}"#,
        );
        assert_eq!(
            got,
            pairs(&[
                ("counter", "1"),
                ("e", "1e3"),
                ("no", "false"),
                ("ok", "true"),
                ("price__net_", "5.56909")
            ])
        );
    }

    #[test]
    fn escapes_and_unicode() {
        let mut p = JsonParser::new();
        let got = run(
            &mut p,
            &[],
            r#"{"foo":"foo\\\"bar","u":"caf\u00e9 \ud83d\ude00","bad":"\q","r":"\ufffd","k\u0041":"v"}"#,
        );
        assert_eq!(
            got,
            pairs(&[
                ("bad", ""),
                ("foo", "foo\\\"bar"),
                ("kA", "v"),
                ("r", " "),
                ("u", "café 😀")
            ])
        );
    }

    #[test]
    fn whitespace_keys_and_digits() {
        let mut p = JsonParser::new();
        assert_eq!(
            run(&mut p, &[], r#"{" ": {"foo":"bar"}}"#),
            pairs(&[("foo", "bar")])
        );
        assert_eq!(
            run(&mut p, &[], r#"{" ": {" ":"bar"}}"#),
            pairs(&[("", "bar")])
        );
        assert_eq!(
            run(&mut p, &[], r#"{"1a":{"2b":"x"},"a.b-c":"y"}"#),
            pairs(&[("_1a_2b", "x"), ("a_b_c", "y")])
        );
    }

    #[test]
    fn clash_with_stream_label() {
        let mut p = JsonParser::new();
        let got = run(
            &mut p,
            &[("app", "s"), ("pod_uuid", "s")],
            r#"{"app":"j","pod":{"uuid":"u"}}"#,
        );
        assert_eq!(
            got,
            pairs(&[
                ("app", "s"),
                ("app_extracted", "j"),
                ("pod_uuid", "s"),
                ("pod_uuid_extracted", "u")
            ])
        );
    }

    #[test]
    fn errors() {
        let mut p = JsonParser::new();
        let err = |line: &str| {
            let mut b = LabelsBuilder::new();
            JsonParser::new().parse(line.as_bytes(), &mut b);
            (
                b.error().map(str::to_string),
                b.error_details().map(str::to_string),
            )
        };
        assert_eq!(err("hello").0.as_deref(), Some("JSONParserErr"));
        assert_eq!(err("hello").1.as_deref(), Some(MALFORMED_OBJECT));
        assert_eq!(err("").1.as_deref(), Some(MALFORMED_OBJECT));
        assert_eq!(err("{").1.as_deref(), Some(MALFORMED_JSON));
        assert_eq!(err(r#"{"a":1"#).1.as_deref(), Some(MALFORMED_ARRAY));
        assert_eq!(err(r#"{"a" 1}"#).1.as_deref(), Some(MALFORMED_JSON));
        assert_eq!(err(r#"{a:1}"#).1.as_deref(), Some(MALFORMED_OBJECT));
        assert_eq!(err(r#"{"a":"x}"#).1.as_deref(), Some(MALFORMED_STRING));
        assert_eq!(err(r#"{"a":x}"#).1.as_deref(), Some(UNKNOWN_TYPE));
        // the nested object is complete; the outer one ends early
        assert_eq!(err(r#"{"a":{"b":1}"#).1.as_deref(), Some(MALFORMED_ARRAY));
        assert_eq!(err(r#"{"a":{"b":1"#).1.as_deref(), Some(MALFORMED_OBJECT));
        assert_eq!(err(r#"{"a":[1}"#).1.as_deref(), Some(MALFORMED_ARRAY));
        assert_eq!(err(r#"{"a":1 "b":2}"#).1.as_deref(), Some(MALFORMED_OBJECT));
        assert_eq!(err(r#"{"a\q":1}"#).1.as_deref(), Some(MALFORMED_ESCAPE));
        assert_eq!(err(r#"{"a":1}garbage"#), (None, None));
        assert_eq!(err(r#"  {"a":1,}"#), (None, None));
        // labels before the error stay
        let got = run(&mut p, &[], r#"{"a":1,"b":"#);
        assert!(got.contains(&("a".into(), "1".into())));
    }

    #[test]
    fn invalid_utf8_line() {
        let mut b = LabelsBuilder::new();
        JsonParser::new().parse(b"{\"a\":\"x\xffy\",\"\xfe\":\"z\"}", &mut b);
        assert_eq!(b.to_vec(), pairs(&[("_", "z"), ("a", "x y")]));
    }

    #[test]
    fn needed_keys_only() {
        let mut p = JsonParser::with_needed_keys(["status", "req_method", "app_extracted"]);
        let got = run(
            &mut p,
            &[("app", "x")],
            r#"{"msg":"m","req":{"method":"GET","path":"/"},"status":500,"app":"a","later":"z"}"#,
        );
        assert_eq!(
            got,
            pairs(&[
                ("app", "x"),
                ("app_extracted", "a"),
                ("req_method", "GET"),
                ("status", "500")
            ])
        );
        // stops early: malformed tail after all needed keys is not reported
        let mut p = JsonParser::with_needed_keys(["a"]);
        let mut b = LabelsBuilder::new();
        p.parse(br#"{"a":1, broken"#, &mut b);
        assert!(!b.has_error());
        assert_eq!(b.get("a"), Some("1"));
    }

    /// The pruned scan (`with_needed_keys`) gives exactly the needed part of the full
    /// flattening, `__error__` and `__error_details__` included, on tricky lines. Every
    /// needed set includes a name no line has, so the scan never stops early (early
    /// stop is covered by `needed_keys_only`).
    #[test]
    fn needed_keys_match_full_flatten() {
        let lines: &[&[u8]] = &[
            br#"{"level":"info","status":200,"latency_ms":15.0,"path":"/a"}"#,
            br#"{"level":"info","level":"warn","status":1,"status":2}"#,
            br#"{"http.status":503,"http":{"status":"nested","method":"GET"},"1st":"d"}"#,
            br#"{"\u006cevel":"escaped","lev\"el":"q","app":"clash","host":"h"}"#,
            br#"{"arr":[1,{"level":"in array"}],"n":null,"ok":true,"level":"x"}"#,
            br#"{"pod":{"uuid":"u","deployment":{"ref":"r"}},"pod_uuid":"top"}"#,
            br#"{"level":"info","status":5"#,
            br#"{"level":"info", "status" 5}"#,
            br#"{"status":"bad\q escape","level":"e"}"#,
            br#"{"a\qb":"bad key escape","level":"e"}"#,
            b"not json at all",
            br#"["level","array"]"#,
            b"",
            br#"  {"level" : "spaced" , "status" : 7 }  trailing"#,
            b"{\"level\":\"caf\xc3\xa9\",\"st\xffatus\":\"bad utf8 key\"}",
            br#"{" ":{"level":"blank parent"},"LEVEL":"upper"}"#,
        ];
        let needed: &[&[&str]] = &[
            &["level", "zz_absent"],
            &["status", "latency_ms", "zz_absent"],
            &["http_status", "http_method", "_1st", "zz_absent"],
            &["app_extracted", "host", "level", "zz_absent"],
            &["pod_uuid", "pod_deployment_ref", "zz_absent"],
            &["st_atus", "LEVEL", "a_b", "zz_absent"],
            &[
                "a1",
                "a2",
                "a3",
                "a4",
                "a5",
                "a6",
                "a7",
                "a8",
                "level",
                "status",
                "zz_absent",
            ],
        ];
        let stream = [("app", "api"), ("host", "node-1")];
        for line in lines {
            let full = {
                let mut p = JsonParser::new();
                run(&mut p, &stream, std::str::from_utf8(line).unwrap_or(""))
            };
            let full = if std::str::from_utf8(line).is_ok() {
                full
            } else {
                let s: Vec<(String, String)> = stream
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                let mut b = LabelsBuilder::with_stream(&s);
                JsonParser::new().parse(line, &mut b);
                b.to_vec()
            };
            for names in needed {
                let s: Vec<(String, String)> = stream
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                let mut b = LabelsBuilder::with_stream(&s);
                JsonParser::with_needed_keys(names.iter().copied()).parse(line, &mut b);
                let want: Vec<(String, String)> = full
                    .iter()
                    .filter(|(n, _)| {
                        stream.iter().any(|(s, _)| s == n)
                            || names.contains(&n.as_str())
                            || n.starts_with("__error")
                    })
                    .cloned()
                    .collect();
                assert_eq!(
                    b.to_vec(),
                    want,
                    "line {:?}, needed {names:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
    }

    /// The exact pruned walk (`with_needed_keys_exact`) gives exactly the needed part of
    /// the full flattening, errors included, even where the early-stopping pruned walk
    /// would not: duplicates after the first hit, a malformed nested object it would
    /// not enter, a malformed tail.
    #[test]
    fn exact_needed_keys_match_full_flatten() {
        let lines: &[&[u8]] = &[
            br#"{"status":500,"a":{"b" 1},"status":200}"#,
            br#"{"status":200,"a":{"b":{"c" 1}},"status":500}"#,
            br#"{"status":503,"msg":"m","status":200,"tail":"#,
            br#"{"level":"info","level":"warn","status":1,"status":2}"#,
            br#"{"http":{"status":"nested"},"http_status":"top","http":{"status":"again"}}"#,
            br#"{"a\qb":"bad key escape","status":5}"#,
            br#"{"status":5,"a\qb":"bad key escape"}"#,
            br#"{"status":"escaped key","app":"clash","host":"h"}"#,
            br#"{"pod":{"uuid":"u","deployment":{"ref":"r"}},"pod_uuid":"top"}"#,
            br#"{"status":"x","__error__":"from line","__error_details__":"d"}"#,
            br#"  {"status" : 7 , "level" : "spaced" }  trailing"#,
            b"not json at all",
            b"",
            b"{\"status\":\"caf\xc3\xa9\",\"st\xffatus\":\"bad utf8 key\"}",
        ];
        let needed: &[&[&str]] = &[
            &["status"],
            &["status", "level"],
            &["http_status", "pod_uuid"],
            &["app_extracted", "host", "status"],
            &["__error__", "status"],
            &["a_b"],
            &[],
        ];
        let stream: Vec<(String, String)> = [("app", "api"), ("host", "node-1")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        for line in lines {
            let mut full = LabelsBuilder::with_stream(&stream);
            JsonParser::new().parse(line, &mut full);
            let full = full.to_vec();
            for names in needed {
                let mut b = LabelsBuilder::with_stream(&stream);
                JsonParser::with_needed_keys_exact(names.iter().copied()).parse(line, &mut b);
                let want: Vec<(String, String)> = full
                    .iter()
                    .filter(|(n, _)| {
                        stream.iter().any(|(s, _)| s == n)
                            || names.contains(&n.as_str())
                            || n.starts_with("__error")
                    })
                    .cloned()
                    .collect();
                assert_eq!(
                    b.to_vec(),
                    want,
                    "line {:?}, needed {names:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
    }

    /// The word-at-a-time search finds exactly the first quote or backslash, at every
    /// offset and alignment, in strings shorter and longer than its 64-byte head.
    #[test]
    fn quote_search_matches_naive() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..150usize {
            for _ in 0..40 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        match seed % 23 {
                            0 => b'"',
                            1 => b'\\',
                            2 => 0x80 | (seed >> 8) as u8,
                            3 => 0,
                            _ => b'a' + (seed >> 16) as u8 % 26,
                        }
                    })
                    .collect();
                for from in 0..=len {
                    let naive = data[from..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\')
                        .map(|k| from + k);
                    assert_eq!(
                        find_quote_or_backslash(&data, from),
                        naive,
                        "{data:?} from {from}"
                    );
                }
            }
        }
        assert_eq!(find_quote_or_backslash(b"ab", 5), None);
    }

    #[test]
    fn params() {
        let mut p = JsonParser::with_params(&[
            ("first_server", "servers[0]"),
            ("ua", r#"request.headers["User-Agent"]"#),
            ("obj", "request.headers"),
            ("missing", "nope.x"),
            ("n", "nul"),
            ("app", "app"),
            ("esc", "esc"),
        ])
        .unwrap();
        let got = run(
            &mut p,
            &[("app", "s")],
            r#"{"servers":["a\"b","c"],"request":{"headers":{"User-Agent":"curl"}},"nul":null,"app":"j","esc":"x\ny"}"#,
        );
        assert_eq!(
            got,
            pairs(&[
                ("app", "s"),
                ("app_extracted", "j"),
                ("esc", "x\ny"),
                ("first_server", "a\"b"),
                ("missing", ""),
                ("n", ""),
                ("obj", r#"{"User-Agent":"curl"}"#),
                ("ua", "curl")
            ])
        );
        let mut b = LabelsBuilder::new();
        p.parse(b"not json", &mut b);
        assert_eq!(b.error(), Some("JSONParserErr"));
        assert_eq!(b.error_details(), None);
        assert!(JsonParser::with_params(&[("1x", "a")]).is_err());
        assert!(JsonParser::with_params(&[("x", "a[")]).is_err());
        assert!(JsonParser::with_params(&[("x", "")]).is_err());
        assert!(JsonParser::with_params(&[("x", "a.")]).is_err());
        assert!(JsonParser::with_params(&[("x", "a-b")]).is_err());
        assert!(JsonParser::with_params(&[("x", "a[1.5]")]).is_err());
        assert!(JsonParser::with_params(&[("x", "a.[0]")]).is_err());
        assert_eq!(
            parse_path(r#" a [ "k.e y" ] [2] "#).unwrap(),
            vec![
                PathStep::Key("a".into()),
                PathStep::Key("k.e y".into()),
                PathStep::Index(2)
            ]
        );
    }

    #[test]
    fn params_on_top_level_array() {
        let mut p = JsonParser::with_params(&[("x", "[1].a")]).unwrap();
        assert_eq!(
            run(&mut p, &[], r#"[{"a":1},{"a":2}]"#),
            pairs(&[("x", "2")])
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let line = "{\"a\":".repeat(100_000) + "1" + &"}".repeat(100_000);
        let mut b = LabelsBuilder::new();
        JsonParser::new().parse(line.as_bytes(), &mut b);
        assert!(!b.has_error());
        let line = "{\"a\":".repeat(10) + "1" + &"}".repeat(10);
        let mut b = LabelsBuilder::new();
        JsonParser::new().parse(line.as_bytes(), &mut b);
        assert_eq!(b.get("a_a_a_a_a_a_a_a_a_a"), Some("1"));
    }

    #[test]
    fn no_labels_hint_skips_parsing() {
        let mut b = LabelsBuilder::new();
        JsonParser::with_needed_keys(Vec::<String>::new()).parse(b"not json", &mut b);
        assert!(b.is_unchanged());
        let mut b = LabelsBuilder::new();
        JsonParser::with_needed_keys(["__error__"]).parse(b"not json", &mut b);
        assert_eq!(b.error(), Some("JSONParserErr"));
        let mut b = LabelsBuilder::new();
        JsonParser::with_needed_keys(["__error__"]).parse(br#"{"a":1}"#, &mut b);
        assert!(b.is_unchanged());
    }
}
