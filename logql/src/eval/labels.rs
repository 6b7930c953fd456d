//! The per-entry label set that every pipeline stage reads and writes.
//!
//! # Semantics notes (Loki v3, `pkg/logql/log/labels.go`, verified by reading the source)
//!
//! Labels come in three categories: **stream** labels (the base set, from the stream
//! selector), **structured metadata** (per entry) and **parsed** labels (added by parsers
//! and formatters). When the same name exists in several categories the precedence is
//! parsed > structured metadata > stream:
//!
//! - setting a *parsed* label removes the same name from the structured-metadata and
//!   stream-modification sets, so the parsed value wins and no suffix is added;
//! - setting *structured metadata* is a no-op if a parsed label of that name exists;
//! - structured metadata whose name clashes with a **stream** label is stored as
//!   `<name>_extracted` ([`LabelsBuilder::add_structured_metadata`], Loki's `Add`);
//! - parsers rename an extracted key that clashes with a **stream** label to
//!   `<key>_extracted` ([`LabelsBuilder::parsed_name`]); a clash with structured metadata
//!   or with a label parsed by an earlier stage is *not* renamed: the later value
//!   overwrites it (last parser wins, e.g. `| json | logfmt`).
//! - `__error__` and `__error_details__` are held apart and appended last; [`keep`]
//!   never removes them.
//!
//! [`keep`]: LabelsBuilder::keep
//!
//! The builder is meant to be reused: [`LabelsBuilder::set_stream`] when the stream
//! changes, [`LabelsBuilder::reset`] before each entry. Added labels live in slots whose
//! `String` buffers are reused, so a steady state allocates nothing per entry.

use std::borrow::Cow;

/// Name of the label that failing stages set.
pub const ERROR_LABEL: &str = "__error__";
/// Name of the label holding the failing stage's message.
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";
/// Suffix added to an extracted key that clashes with a stream label.
pub const DUPLICATE_SUFFIX: &str = "_extracted";

/// `__error__` values, as Loki spells them.
pub mod errors {
    /// Set by `| json` and `| unpack` on malformed input.
    pub const JSON_PARSER: &str = "JSONParserErr";
    /// Set by `| logfmt --strict` on a malformed pair.
    pub const LOGFMT_PARSER: &str = "LogfmtParserErr";
    /// Set when `unwrap` cannot convert a value.
    pub const SAMPLE_EXTRACTION: &str = "SampleExtractionErr";
    /// Set when a numeric/duration/bytes label filter cannot convert a value.
    pub const LABEL_FILTER: &str = "LabelFilterErr";
    /// Set when a `line_format`/`label_format` template fails at run time.
    pub const TEMPLATE_FORMAT: &str = "TemplateFormatErr";
}

/// Where a label came from; decides precedence (parsed > structured metadata > stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelCategory {
    /// A stream label (or a modification of one).
    Stream,
    /// Per-entry structured metadata.
    StructuredMetadata,
    /// Extracted by a parser or set by a formatter.
    Parsed,
}

impl LabelCategory {
    fn index(self) -> usize {
        match self {
            LabelCategory::Stream => 0,
            LabelCategory::StructuredMetadata => 1,
            LabelCategory::Parsed => 2,
        }
    }
}

/// A small list of `(name, value)` pairs whose `String` buffers survive `clear`.
#[derive(Debug, Default, Clone)]
struct Slots {
    items: Vec<(String, String)>,
    len: usize,
}

impl Slots {
    fn live(&self) -> &[(String, String)] {
        &self.items[..self.len]
    }

    fn find(&self, name: &str) -> Option<usize> {
        let nb = name.as_bytes();
        // Cheap length and last-byte checks before the full comparison.
        self.live().iter().position(|(n, _)| {
            let b = n.as_bytes();
            b.len() == nb.len() && b.last() == nb.last() && b == nb
        })
    }

    fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.find(name).map(|i| self.items[i].1.as_str())
    }

    fn set(&mut self, name: &str, value: &str) {
        if let Some(i) = self.find(name) {
            let v = &mut self.items[i].1;
            v.clear();
            v.push_str(value);
            return;
        }
        if self.len < self.items.len() {
            let (n, v) = &mut self.items[self.len];
            n.clear();
            n.push_str(name);
            v.clear();
            v.push_str(value);
        } else {
            self.items.push((name.to_owned(), value.to_owned()));
        }
        self.len += 1;
    }

    fn remove(&mut self, name: &str) -> bool {
        match self.find(name) {
            Some(i) => {
                self.items.swap(i, self.len - 1);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// The bit of [`LabelsBuilder::base_lens`] for a name of `len` bytes.
#[inline]
fn len_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// The label set of one entry while a pipeline runs over it.
///
/// ```
/// use logjar_logql::eval::labels::{LabelsBuilder, LabelCategory};
///
/// let mut b = LabelsBuilder::new();
/// b.set_stream(&[("app".into(), "api".into()), ("level".into(), "info".into())]);
/// b.reset();
/// // a parser found `level` and `status` in the line: `level` clashes with a stream label
/// let key = b.parsed_name("level").into_owned();
/// b.set(LabelCategory::Parsed, &key, "error");
/// b.set(LabelCategory::Parsed, "status", "500");
/// assert_eq!(b.get("level_extracted"), Some("error"));
/// assert_eq!(
///     b.sorted(),
///     vec![("app", "api"), ("level", "info"), ("level_extracted", "error"), ("status", "500")]
/// );
/// ```
#[derive(Debug, Default, Clone)]
pub struct LabelsBuilder {
    /// Stream labels, sorted by name.
    base: Vec<(String, String)>,
    /// Bit `min(len, 63)` set for the length of every stream label name: most parsed
    /// keys are rejected by [`base_has`](Self::base_has) without a string comparison.
    base_lens: u64,
    add: [Slots; 3],
    del: Slots,
    err: String,
    err_details: String,
    /// Scratch names for [`keep`](Self::keep); its buffers are reused.
    scratch: Slots,
}

impl LabelsBuilder {
    /// An empty builder (no stream labels).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder over the given stream labels (any order; they are sorted).
    pub fn with_stream(stream: &[(String, String)]) -> Self {
        let mut b = Self::new();
        b.set_stream(stream);
        b
    }

    /// Replaces the stream labels (call when moving to another stream) and resets.
    pub fn set_stream(&mut self, stream: &[(String, String)]) {
        self.base.clear();
        self.base.extend(stream.iter().cloned());
        self.base.sort_by(|a, b| a.0.cmp(&b.0));
        self.base_lens = self.base.iter().fold(0, |m, (n, _)| m | len_bit(n.len()));
        self.reset();
    }

    /// Clears everything but the stream labels; call before each entry.
    pub fn reset(&mut self) {
        for s in &mut self.add {
            s.clear();
        }
        self.del.clear();
        self.err.clear();
        self.err_details.clear();
    }

    /// The stream labels, sorted.
    pub fn stream(&self) -> &[(String, String)] {
        &self.base
    }

    /// True if the stream labels contain `name` (Loki's `BaseHas`).
    #[inline]
    pub fn base_has(&self, name: &str) -> bool {
        if self.base_lens & len_bit(name.len()) == 0 {
            return false;
        }
        self.base
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .is_ok()
    }

    /// The label name a parser must use for an extracted key: `key_extracted` when a
    /// stream label called `key` exists, `key` otherwise.
    pub fn parsed_name<'a>(&self, key: &'a str) -> Cow<'a, str> {
        if self.base_has(key) {
            Cow::Owned(format!("{key}{DUPLICATE_SUFFIX}"))
        } else {
            Cow::Borrowed(key)
        }
    }

    /// Adds the entry's structured metadata, renaming names that clash with stream
    /// labels to `<name>_extracted` (Loki's `Add`). `__error__`/`__error_details__`
    /// entries set the error fields instead.
    pub fn add_structured_metadata<N: AsRef<str>, V: AsRef<str>>(&mut self, pairs: &[(N, V)]) {
        for (n, v) in pairs {
            let (n, v) = (n.as_ref(), v.as_ref());
            let name = self.parsed_name(n);
            if name == ERROR_LABEL {
                self.set_error(v);
            } else if name == ERROR_DETAILS_LABEL {
                self.set_error_details(v);
            } else {
                let name = name.into_owned();
                self.set(LabelCategory::StructuredMetadata, &name, v);
            }
        }
    }

    /// Sets a label with Loki's precedence rules (see the module notes).
    /// Setting `__error__` or `__error_details__` sets the error fields.
    pub fn set(&mut self, category: LabelCategory, name: &str, value: &str) {
        if name == ERROR_LABEL {
            self.set_error(value);
            return;
        }
        if name == ERROR_DETAILS_LABEL {
            self.set_error_details(value);
            return;
        }
        match category {
            LabelCategory::Parsed => {
                self.add[1].remove(name);
                self.add[0].remove(name);
            }
            LabelCategory::StructuredMetadata => {
                self.add[0].remove(name);
                if self.add[2].contains(name) {
                    return;
                }
            }
            LabelCategory::Stream => {
                if self.add[1].contains(name) || self.add[2].contains(name) {
                    return;
                }
            }
        }
        self.add[category.index()].set(name, value);
    }

    /// Shorthand for `set(LabelCategory::Parsed, ..)`, what parsers and formatters use.
    pub fn set_parsed(&mut self, name: &str, value: &str) {
        self.set(LabelCategory::Parsed, name, value);
    }

    /// The current value of a label: added labels (stream modifications, structured
    /// metadata, parsed), then stream labels unless deleted. `__error__` and
    /// `__error_details__` are answered from the error fields.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_with_category(name).map(|(v, _)| v)
    }

    /// Like [`get`](Self::get), also telling the category the value came from.
    pub fn get_with_category(&self, name: &str) -> Option<(&str, LabelCategory)> {
        if name == ERROR_LABEL {
            return (!self.err.is_empty()).then_some((self.err.as_str(), LabelCategory::Parsed));
        }
        if name == ERROR_DETAILS_LABEL {
            return (!self.err_details.is_empty())
                .then_some((self.err_details.as_str(), LabelCategory::Parsed));
        }
        const CATS: [LabelCategory; 3] = [
            LabelCategory::Stream,
            LabelCategory::StructuredMetadata,
            LabelCategory::Parsed,
        ];
        for (slots, cat) in self.add.iter().zip(CATS) {
            if let Some(v) = slots.get(name) {
                return Some((v, cat));
            }
        }
        if self.del.contains(name) {
            return None;
        }
        self.base
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| (self.base[i].1.as_str(), LabelCategory::Stream))
    }

    /// True if the label exists (empty values included).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Deletes a label from every category (`| drop name`, label_format renames).
    /// Deleting `__error__` / `__error_details__` clears the error fields.
    pub fn delete(&mut self, name: &str) {
        if name == ERROR_LABEL {
            self.err.clear();
            return;
        }
        if name == ERROR_DETAILS_LABEL {
            self.err_details.clear();
            return;
        }
        for s in &mut self.add {
            s.remove(name);
        }
        if !self.del.contains(name) {
            self.del.set(name, "");
        }
    }

    /// Keeps only the labels for which `keep(name, value)` is true (`| keep a, b="v"`).
    /// `__error__` and `__error_details__` are never removed.
    pub fn keep(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        // Like Loki: every visible label that is not kept is deleted from all categories.
        let mut doomed = std::mem::take(&mut self.scratch);
        doomed.clear();
        self.for_each(|n, v| {
            if n != ERROR_LABEL && n != ERROR_DETAILS_LABEL && !keep(n, v) {
                doomed.set(n, "");
            }
        });
        for (n, _) in doomed.live() {
            self.delete(n);
        }
        self.scratch = doomed;
    }

    /// Sets `__error__` (overwrites a previous error, as Loki does).
    pub fn set_error(&mut self, err: &str) {
        self.err.clear();
        self.err.push_str(err);
    }

    /// Sets `__error_details__`.
    pub fn set_error_details(&mut self, details: &str) {
        self.err_details.clear();
        self.err_details.push_str(details);
    }

    /// The current `__error__` value, if any.
    pub fn error(&self) -> Option<&str> {
        (!self.err.is_empty()).then_some(self.err.as_str())
    }

    /// The current `__error_details__` value, if any.
    pub fn error_details(&self) -> Option<&str> {
        (!self.err_details.is_empty()).then_some(self.err_details.as_str())
    }

    /// True if a stage set `__error__`.
    pub fn has_error(&self) -> bool {
        !self.err.is_empty()
    }

    /// Clears `__error__` and `__error_details__`.
    pub fn clear_error(&mut self) {
        self.err.clear();
        self.err_details.clear();
    }

    /// True if nothing was added, deleted or flagged since [`reset`](Self::reset): the
    /// result is exactly the stream labels, which callers may reuse as they are.
    pub fn is_unchanged(&self) -> bool {
        self.add.iter().all(|s| s.len == 0) && self.del.len == 0 && !self.has_error()
    }

    /// True when there is no error and no label named in `names` was set or deleted
    /// since [`reset`](Self::reset): each of them has its stream value, or is absent.
    ///
    /// ```
    /// use logjar_logql::eval::labels::{LabelsBuilder, LabelCategory};
    /// let mut b = LabelsBuilder::with_stream(&[("host".into(), "h1".into())]);
    /// b.set(LabelCategory::Parsed, "latency_ms", "12");
    /// assert!(b.unchanged_for(&["host".to_string()]));
    /// assert!(!b.unchanged_for(&["latency_ms".to_string()]));
    /// ```
    pub fn unchanged_for(&self, names: &[String]) -> bool {
        !self.has_error()
            && self.err_details.is_empty()
            && names
                .iter()
                .all(|n| !self.del.contains(n) && self.add.iter().all(|s| !s.contains(n)))
    }

    /// Visits every current label once, unsorted: stream labels not deleted or
    /// overridden, structured metadata not overridden, parsed labels, then the errors.
    pub fn for_each<'a>(&'a self, mut f: impl FnMut(&'a str, &'a str)) {
        let (stream_mod, meta, parsed) = (&self.add[0], &self.add[1], &self.add[2]);
        for (n, v) in &self.base {
            if self.del.contains(n) || meta.contains(n) || parsed.contains(n) {
                continue;
            }
            f(n.as_str(), stream_mod.get(n).unwrap_or(v.as_str()));
        }
        for (n, v) in meta.live() {
            if !parsed.contains(n) {
                f(n, v);
            }
        }
        for (n, v) in parsed.live() {
            f(n, v);
        }
        if !self.err.is_empty() {
            f(ERROR_LABEL, &self.err);
        }
        if !self.err_details.is_empty() {
            f(ERROR_DETAILS_LABEL, &self.err_details);
        }
    }

    /// The final label set sorted by name, borrowing from the builder.
    pub fn sorted(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::with_capacity(self.base.len() + self.add[2].len + 2);
        self.for_each(|n, v| out.push((n, v)));
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Writes the final sorted label set into `out`, reusing its `String` buffers, so a
    /// pipeline that keeps one `out` per query allocates nothing per entry.
    pub fn write_sorted(&self, out: &mut Vec<(String, String)>) {
        let mut used = 0;
        self.for_each(|n, v| {
            if used < out.len() {
                let (on, ov) = &mut out[used];
                on.clear();
                on.push_str(n);
                ov.clear();
                ov.push_str(v);
            } else {
                out.push((n.to_owned(), v.to_owned()));
            }
            used += 1;
        });
        out.truncate(used);
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }

    /// The final label set as owned pairs, sorted by name.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.write_sorted(&mut out);
        out
    }

    /// Only the parsed labels, unsorted (useful for tests and `label_format` renames).
    pub fn parsed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.add[2]
            .live()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// True if `name` is a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Loki's key sanitisation for json/logfmt/regexp keys: surrounding Unicode white space
/// is trimmed, a leading digit gets a `_` prefix (when `is_prefix`), and every character
/// outside `[a-zA-Z0-9_]` becomes `_` (one `_` per character; each byte of invalid UTF-8
/// counts as one character, as Go's `strings.Map` does).
///
/// ```
/// use logjar_logql::eval::labels::sanitize_label_key;
/// assert_eq!(sanitize_label_key(b"status", true), "status");
/// assert_eq!(sanitize_label_key(b"http.status-code", true), "http_status_code");
/// assert_eq!(sanitize_label_key(b"1st", true), "_1st");
/// assert_eq!(sanitize_label_key(b" caf\xc3\xa9 ", true), "caf_");
/// ```
pub fn sanitize_label_key(key: &[u8], is_prefix: bool) -> Cow<'_, str> {
    let trimmed = trim_space(key);
    let valid = !(trimmed.is_empty() || is_prefix && trimmed[0].is_ascii_digit())
        && trimmed
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if valid || trimmed.is_empty() {
        // All ASCII alphanumerics: valid UTF-8.
        return Cow::Borrowed(std::str::from_utf8(trimmed).unwrap_or(""));
    }
    let mut out = String::with_capacity(trimmed.len() + 1);
    append_sanitized(&mut out, key, is_prefix);
    Cow::Owned(out)
}

/// Appends the sanitised form of `key` to `out` (see [`sanitize_label_key`]); the `_`
/// prefix for a leading digit is added only when `is_prefix` and `out` is empty, as in
/// Loki's nested-json key building. Returns the number of bytes appended.
pub fn append_sanitized(out: &mut String, key: &[u8], is_prefix: bool) -> usize {
    let start = out.len();
    // Fast path: an already valid key is copied as is.
    if let Some(&first) = key.first() {
        if !(is_prefix && out.is_empty() && first.is_ascii_digit())
            && key.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            out.push_str(std::str::from_utf8(key).unwrap_or_default());
            return key.len();
        }
    }
    let key = trim_space(key);
    if key.is_empty() {
        return 0;
    }
    if is_prefix && out.is_empty() && key[0].is_ascii_digit() {
        out.push('_');
    }
    for chunk in key.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                out.push(c);
            } else {
                out.push('_');
            }
        }
        for _ in chunk.invalid() {
            out.push('_');
        }
    }
    out.len() - start
}

/// Go's `bytes.TrimSpace`: trims Unicode white space at both ends.
pub(crate) fn trim_space(b: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut end = b.len();
    while start < end {
        match leading_space_len(&b[start..end]) {
            0 => break,
            n => start += n,
        }
    }
    while end > start {
        match trailing_space_len(&b[start..end]) {
            0 => break,
            n => end -= n,
        }
    }
    &b[start..end]
}

fn leading_space_len(b: &[u8]) -> usize {
    match b.first() {
        Some(c) if c.is_ascii() => {
            usize::from(matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        }
        Some(_) => {
            let n = b.len().min(4);
            for len in 2..=n {
                if let Ok(s) = std::str::from_utf8(&b[..len]) {
                    return if s.chars().all(char::is_whitespace) {
                        len
                    } else {
                        0
                    };
                }
            }
            0
        }
        None => 0,
    }
}

fn trailing_space_len(b: &[u8]) -> usize {
    match b.last() {
        Some(c) if c.is_ascii() => {
            usize::from(matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        }
        Some(_) => {
            let n = b.len().min(4);
            for len in 2..=n {
                if let Ok(s) = std::str::from_utf8(&b[b.len() - len..]) {
                    return if s.chars().all(char::is_whitespace) {
                        len
                    } else {
                        0
                    };
                }
            }
            0
        }
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(stream: &[(&str, &str)]) -> LabelsBuilder {
        let s: Vec<(String, String)> = stream
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        LabelsBuilder::with_stream(&s)
    }

    #[test]
    fn unchanged_builder_yields_stream() {
        let b = builder(&[("b", "2"), ("a", "1")]);
        assert!(b.is_unchanged());
        assert_eq!(b.sorted(), vec![("a", "1"), ("b", "2")]);
    }

    #[test]
    fn parsed_overrides_structured_metadata_without_suffix() {
        let mut b = builder(&[("app", "x")]);
        b.add_structured_metadata(&[("trace_id", "t1"), ("app", "meta")]);
        assert_eq!(b.get("app_extracted"), Some("meta"));
        b.set_parsed("trace_id", "t2");
        assert_eq!(b.get("trace_id"), Some("t2"));
        assert_eq!(
            b.sorted(),
            vec![("app", "x"), ("app_extracted", "meta"), ("trace_id", "t2")]
        );
        // structured metadata cannot override a parsed label
        b.set(LabelCategory::StructuredMetadata, "trace_id", "t3");
        assert_eq!(b.get("trace_id"), Some("t2"));
    }

    #[test]
    fn later_parser_overwrites() {
        let mut b = builder(&[]);
        b.set_parsed("k", "json");
        b.set_parsed("k", "logfmt");
        assert_eq!(b.to_vec(), vec![("k".to_string(), "logfmt".to_string())]);
    }

    #[test]
    fn delete_and_keep() {
        let mut b = builder(&[("app", "a"), ("env", "prod"), ("host", "h")]);
        b.set_parsed("status", "500");
        b.set_error("JSONParserErr");
        b.set_error_details("bad");
        b.delete("env");
        assert_eq!(b.get("env"), None);
        b.keep(|n, _| n == "app" || n == "status");
        assert_eq!(
            b.sorted(),
            vec![
                ("__error__", "JSONParserErr"),
                ("__error_details__", "bad"),
                ("app", "a"),
                ("status", "500")
            ]
        );
        // a deleted stream label can come back as a parsed label
        b.set_parsed("env", "dev");
        assert_eq!(b.get("env"), Some("dev"));
        b.delete(ERROR_LABEL);
        assert!(!b.has_error());
        assert_eq!(b.get(ERROR_DETAILS_LABEL), Some("bad"));
    }

    #[test]
    fn keep_deletes_shadowed_stream_labels_too() {
        let mut b = builder(&[("app", "x"), ("env", "prod")]);
        b.set(LabelCategory::StructuredMetadata, "app", "y");
        b.set_parsed("env", "dev");
        b.keep(|n, v| n == "env" && v == "prod");
        assert_eq!(b.sorted(), Vec::<(&str, &str)>::new());
    }

    #[test]
    fn reset_reuses_and_clears() {
        let mut b = builder(&[("a", "1")]);
        let mut out = Vec::new();
        for i in 0..3 {
            b.reset();
            b.set_parsed("x", &i.to_string());
            b.set_parsed("y", "v");
            b.delete("y");
            b.write_sorted(&mut out);
            assert_eq!(
                out,
                vec![("a".into(), "1".into()), ("x".into(), i.to_string())]
            );
        }
        b.reset();
        assert!(b.is_unchanged());
    }

    #[test]
    fn stream_category_modifies_only_existing() {
        let mut b = builder(&[("a", "1")]);
        b.set(LabelCategory::Stream, "a", "2");
        assert_eq!(b.get("a"), Some("2"));
        assert_eq!(b.sorted(), vec![("a", "2")]);
        b.set_parsed("a", "3");
        b.set(LabelCategory::Stream, "a", "4");
        assert_eq!(b.sorted(), vec![("a", "3")]);
    }

    #[test]
    fn sanitisation() {
        assert_eq!(sanitize_label_key(b"", true), "");
        assert_eq!(sanitize_label_key(b"   ", true), "");
        assert_eq!(sanitize_label_key(b"a b", true), "a_b");
        assert_eq!(sanitize_label_key(b"1a", false), "1a");
        assert_eq!(sanitize_label_key(b"\xffk", true), "_k");
        assert_eq!(sanitize_label_key("\u{a0}x\u{a0}".as_bytes(), true), "x");
        assert_eq!(sanitize_label_key("日本".as_bytes(), true), "__");
        assert!(is_valid_label_name("_a1"));
        assert!(!is_valid_label_name("1a"));
        assert!(!is_valid_label_name(""));
        assert!(!is_valid_label_name("a-b"));
        let mut s = String::from("pod");
        s.push('_');
        append_sanitized(&mut s, b"1", true);
        assert_eq!(s, "pod_1");
    }
}
