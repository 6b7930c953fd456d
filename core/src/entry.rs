//! Log entries and push batches.

use bytes::Bytes;

use crate::labels::Labels;

/// One log entry: a timestamp in Unix nanoseconds, the line, and optional structured
/// metadata (key/value pairs stored beside the line, queryable like labels, not indexed).
///
/// ```
/// use logjar::Entry;
/// let e = Entry::new(1_767_225_600_000_000_000, "GET /x 200")
///     .with_metadata([("trace_id", "ab12")]);
/// assert_eq!(e.line.as_ref(), b"GET /x 200");
/// assert_eq!(e.metadata[0].0, "trace_id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Unix time in nanoseconds.
    pub ts: i64,
    /// The line. Usually UTF-8, but any bytes are stored as given.
    pub line: Bytes,
    /// Structured metadata, in the order given.
    pub metadata: Vec<(String, String)>,
}

impl Entry {
    /// An entry without metadata.
    pub fn new(ts: i64, line: impl Into<Bytes>) -> Self {
        Entry {
            ts,
            line: line.into(),
            metadata: Vec::new(),
        }
    }

    /// Adds structured metadata.
    pub fn with_metadata<K: Into<String>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.metadata
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }
}

/// Entries for one stream, the unit of a push batch.
///
/// ```
/// use logjar::{entry::StreamEntries, Entry, Labels};
/// let s = StreamEntries {
///     labels: Labels::new([("app", "api")]).unwrap(),
///     entries: vec![Entry::new(1, "hello")],
/// };
/// assert_eq!(s.entries.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntries {
    /// The stream's labels.
    pub labels: Labels,
    /// Its entries, in any order.
    pub entries: Vec<Entry>,
}
