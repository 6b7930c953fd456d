//! Label sets: the identity of a stream.
//!
//! A [`Labels`] value is a set of `name="value"` pairs kept sorted by name, so two label
//! sets with the same pairs are equal whatever order they were written in, and their
//! [`Labels::fingerprint`] is the same.
//!
//! Validation follows Loki: names match `[a-zA-Z_][a-zA-Z0-9_]*`, names starting with
//! `__` are reserved, a name appears once, at least one label is required. A label with
//! an empty value means the same as the label being absent (as in Prometheus and Loki),
//! so empty values are dropped when a set is built.

use std::fmt;

use crate::error::{Error, Result};

/// A sorted, validated set of labels.
///
/// ```
/// use logjar::Labels;
/// let a = Labels::new([("host", "n1"), ("app", "api")]).unwrap();
/// let b = Labels::new([("app", "api"), ("host", "n1")]).unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.fingerprint(), b.fingerprint());
/// assert_eq!(a.get("app"), Some("api"));
/// assert_eq!(a.to_string(), r#"{app="api", host="n1"}"#);
/// assert!(Labels::new([("__name__", "x")]).is_err()); // reserved
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Labels(Vec<(String, String)>);

/// Hashes the [fingerprint](Labels::fingerprint): one pass over the bytes instead of a
/// hasher call per string (equal sets have equal fingerprints, as `Hash` requires).
impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint());
    }
}

impl Labels {
    /// Builds a validated label set from pairs in any order; empty values are dropped.
    pub fn new<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Self>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        for w in v.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(Error::InvalidArgument(format!(
                    "duplicate label name {:?}",
                    w[0].0
                )));
            }
        }
        for (name, _) in &v {
            validate_label_name(name)?;
        }
        if v.is_empty() {
            return Err(Error::InvalidArgument(
                "a stream needs at least one label with a non-empty value".into(),
            ));
        }
        Ok(Labels(v))
    }

    /// Builds a label set from pairs already sorted, unique and validated (for decoders
    /// that have checked them). Debug builds assert the order.
    pub fn from_sorted_unchecked(pairs: Vec<(String, String)>) -> Self {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        Labels(pairs)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The pairs as a slice, sorted by name.
    pub fn as_slice(&self) -> &[(String, String)] {
        &self.0
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels (only possible for `Labels::default()`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A stable 64-bit hash of the set (xxh3 over `name 0xff value 0xff ...`); the same
    /// on every platform and version, so it may be stored on disk.
    pub fn fingerprint(&self) -> u64 {
        let mut f = Fingerprint::new();
        for (n, v) in &self.0 {
            f.push(n, v);
        }
        f.finish()
    }

    /// Consumes the set, returning the sorted pairs.
    pub fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }
}

/// [`Labels::fingerprint`] of pairs given one at a time, in order (no `Labels` needed).
pub(crate) struct Fingerprint {
    /// The usual small set is laid out on the stack and hashed in one call (xxh3's
    /// one-shot and streaming forms give the same hash); a large one is streamed.
    buf: [u8; 512],
    at: usize,
    streamed: Option<Box<xxhash_rust::xxh3::Xxh3>>,
}

impl Fingerprint {
    pub(crate) fn new() -> Self {
        Fingerprint {
            buf: [0; 512],
            at: 0,
            streamed: None,
        }
    }

    pub(crate) fn push(&mut self, name: &str, value: &str) {
        let (n, v) = (name.as_bytes(), value.as_bytes());
        let end = self.at + n.len() + v.len() + 2;
        if self.streamed.is_none() && end <= self.buf.len() {
            let at = self.at;
            self.buf[at..at + n.len()].copy_from_slice(n);
            self.buf[at + n.len()] = 0xff;
            self.buf[at + n.len() + 1..end - 1].copy_from_slice(v);
            self.buf[end - 1] = 0xff;
            self.at = end;
            return;
        }
        let h = self.streamed.get_or_insert_with(|| {
            let mut h = Box::new(xxhash_rust::xxh3::Xxh3::new());
            h.update(&self.buf[..self.at]);
            h
        });
        h.update(n);
        h.update(&[0xff]);
        h.update(v);
        h.update(&[0xff]);
    }

    pub(crate) fn finish(&self) -> u64 {
        match &self.streamed {
            Some(h) => h.digest(),
            None => xxhash_rust::xxh3::xxh3_64(&self.buf[..self.at]),
        }
    }
}

/// Checks a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with the reserved `__`.
///
/// ```
/// assert!(logjar::labels::validate_label_name("status_code").is_ok());
/// assert!(logjar::labels::validate_label_name("9lives").is_err());
/// assert!(logjar::labels::validate_label_name("__error__").is_err());
/// ```
pub fn validate_label_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'));
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::InvalidArgument(format!(
            "invalid label name {name:?}: names match [a-zA-Z_][a-zA-Z0-9_]*"
        )));
    }
    if name.starts_with("__") {
        return Err(Error::InvalidArgument(format!(
            "label name {name:?} is reserved: names starting with \"__\" are for internal use"
        )));
    }
    Ok(())
}

/// Checks a tenant id as Loki does: 1 to 150 bytes of `[a-zA-Z0-9!-_.*'()]`, and not
/// `.` or `..`.
///
/// ```
/// assert!(logjar::labels::validate_tenant("team-a").is_ok());
/// assert!(logjar::labels::validate_tenant("a/b").is_err());
/// ```
pub fn validate_tenant(tenant: &str) -> Result<()> {
    let ok_char = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'!' | b'-' | b'_' | b'.' | b'*' | b'\'' | b'(' | b')')
    };
    if tenant.is_empty()
        || tenant.len() > 150
        || tenant == "."
        || tenant == ".."
        || !tenant.bytes().all(ok_char)
    {
        return Err(Error::InvalidArgument(format!(
            "invalid tenant id {tenant:?}: 1 to 150 characters of [a-zA-Z0-9!-_.*'()]"
        )));
    }
    Ok(())
}

impl fmt::Display for Labels {
    /// Prints `{a="x", b="y"}` as Loki does, values Go-quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(n)?;
            f.write_str("=")?;
            logjar_logql::matcher::write_go_quoted(f, v)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_dropped_and_empty_sets_refused() {
        let l = Labels::new([("a", "1"), ("b", "")]).unwrap();
        assert_eq!(l.len(), 1);
        assert!(Labels::new([("b", "")]).is_err());
        assert!(Labels::new(Vec::<(String, String)>::new()).is_err());
    }

    #[test]
    fn duplicates_and_bad_names_are_refused() {
        assert!(Labels::new([("a", "1"), ("a", "2")]).is_err());
        assert!(Labels::new([("a-b", "1")]).is_err());
        assert!(Labels::new([("", "1")]).is_err());
        assert!(Labels::new([("_ok", "1")]).is_ok());
    }

    #[test]
    fn fingerprint_one_shot_equals_streamed() {
        let long = "v".repeat(300);
        for l in [
            Labels::new([("app", "api")]).unwrap(),
            Labels::new([("app", "api"), ("env", "prod"), ("host", "node-17")]).unwrap(),
            Labels::new([("a", long.as_str()), ("b", long.as_str())]).unwrap(),
        ] {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for (n, v) in l.iter() {
                h.update(n.as_bytes());
                h.update(&[0xff]);
                h.update(v.as_bytes());
                h.update(&[0xff]);
            }
            assert_eq!(l.fingerprint(), h.digest(), "{l}");
        }
        // Pinned value: the fingerprint is stored on disk.
        assert_eq!(
            Labels::new([("app", "api")]).unwrap().fingerprint(),
            xxhash_rust::xxh3::xxh3_64(b"app\xffapi\xff")
        );
    }

    #[test]
    fn fingerprint_is_stable() {
        // Pinned: the fingerprint is stored on disk and must never change.
        let l = Labels::new([("app", "api")]).unwrap();
        assert_eq!(
            l.fingerprint(),
            Labels::new([("app", "api")]).unwrap().fingerprint()
        );
        assert_ne!(
            l.fingerprint(),
            Labels::new([("app", "apj")]).unwrap().fingerprint()
        );
        // name/value boundaries matter: {ab="c"} != {a="bc"}
        assert_ne!(
            Labels::new([("ab", "c")]).unwrap().fingerprint(),
            Labels::new([("a", "bc")]).unwrap().fingerprint()
        );
    }

    #[test]
    fn tenants() {
        assert!(validate_tenant("fake").is_ok());
        assert!(validate_tenant("").is_err());
        assert!(validate_tenant("..").is_err());
        assert!(validate_tenant(&"x".repeat(151)).is_err());
    }
}
