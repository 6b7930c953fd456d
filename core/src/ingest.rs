//! Decoders for the ingest formats of the outside contract: NDJSON entries, Loki push
//! bodies and plain lines, plus timestamp parsing.
//!
//! These turn bytes from a host (a file, a socket, an FFI buffer) into [`StreamEntries`]
//! ready for `Db::push`. They are shared by the `logjar` command and every binding so a
//! body means the same thing everywhere.
//!
//! - **NDJSON** (one object per line):
//!   `{"labels":{"app":"api"},"ts":1767225600000000000,"line":"GET /x 200","metadata":{"trace_id":"ab12"}}`;
//!   `ts` is integer Unix nanoseconds or an RFC 3339 string; `metadata` is optional.
//! - **Loki push** (the body of `POST /loki/api/v1/push`):
//!   `{"streams":[{"stream":{"app":"api"},"values":[["<ns>","line"],["<ns>","line",{"k":"v"}]]}]}`.
//!
//! Lines are kept as bytes: a JSON string holding invalid UTF-8 is stored as given.
//! Each decoding failure is an [`IngestError`] whose [`IngestError::reason`] names a
//! counter, so callers can count rejected input by reason instead of dropping it silently.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use xxhash_rust::xxh3::Xxh3Builder;

use crate::entry::{Entry, StreamEntries};
use crate::labels::Labels;

/// Why a piece of input could not be turned into entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Not valid JSON, or JSON of the wrong shape.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// The labels are not a valid stream label set.
    #[error("invalid labels: {0}")]
    Labels(String),
    /// The timestamp is neither integer nanoseconds nor RFC 3339.
    #[error("invalid timestamp: {0}")]
    Timestamp(String),
}

impl IngestError {
    /// A short, stable name for counting rejections by reason.
    ///
    /// ```
    /// use logjar::ingest::parse_ndjson_line;
    /// let err = parse_ndjson_line(b"{not json").unwrap_err();
    /// assert_eq!(err.reason(), "malformed");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Malformed(_) => "malformed",
            IngestError::Labels(_) => "invalid_labels",
            IngestError::Timestamp(_) => "invalid_timestamp",
        }
    }
}

/// Parses a time given as integer Unix nanoseconds or as RFC 3339 text
/// (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00.5+01:00`).
///
/// ```
/// use logjar::ingest::parse_time;
/// assert_eq!(parse_time("1767225600000000000").unwrap(), 1_767_225_600_000_000_000);
/// assert_eq!(parse_time("2026-01-01T00:00:00Z").unwrap(), 1_767_225_600_000_000_000);
/// assert_eq!(parse_time("2026-01-01T01:00:00.5+01:00").unwrap(), 1_767_225_600_500_000_000);
/// assert!(parse_time("yesterday").is_err());
/// ```
pub fn parse_time(s: &str) -> Result<i64, IngestError> {
    let t = s.trim();
    if !t.is_empty()
        && t.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return t
            .parse::<i64>()
            .map_err(|e| IngestError::Timestamp(format!("{t:?}: {e}")));
    }
    let dt = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
        IngestError::Timestamp(format!(
            "{t:?} is neither integer Unix nanoseconds nor RFC 3339 ({e})"
        ))
    })?;
    dt.timestamp_nanos_opt().ok_or_else(|| {
        IngestError::Timestamp(format!(
            "{t:?} is outside the range of nanosecond timestamps"
        ))
    })
}

/// An integer or a string timestamp.
#[derive(Deserialize)]
#[serde(untagged)]
enum TsField<'a> {
    Int(i64),
    Str(&'a str),
    Owned(String),
}

impl TsField<'_> {
    fn to_ns(&self) -> Result<i64, IngestError> {
        match self {
            TsField::Int(n) => Ok(*n),
            TsField::Str(s) => parse_time(s),
            TsField::Owned(s) => parse_time(s),
        }
    }
}

#[derive(Deserialize)]
struct NdjsonLine<'a> {
    #[serde(borrow)]
    labels: &'a RawValue,
    #[serde(borrow)]
    ts: TsField<'a>,
    /// Borrowed from the input when the JSON string has no escapes.
    #[serde(borrow, with = "serde_bytes")]
    line: Cow<'a, [u8]>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

fn labels_from_json(raw: &str) -> Result<Labels, IngestError> {
    let map: HashMap<String, String> = serde_json::from_str(raw)
        .map_err(|e| IngestError::Labels(format!("labels must be an object of strings: {e}")))?;
    Labels::new(map).map_err(|e| IngestError::Labels(e.to_string()))
}

fn metadata_vec(m: Option<HashMap<String, String>>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m.map(|m| m.into_iter().collect()).unwrap_or_default();
    v.sort();
    v
}

/// Parses one NDJSON entry line into its labels and entry.
///
/// ```
/// use logjar::ingest::parse_ndjson_line;
/// let (labels, entry) = parse_ndjson_line(
///     br#"{"labels":{"app":"api"},"ts":"2026-01-01T00:00:00Z","line":"hi","metadata":{"k":"v"}}"#,
/// ).unwrap();
/// assert_eq!(labels.get("app"), Some("api"));
/// assert_eq!(entry.ts, 1_767_225_600_000_000_000);
/// assert_eq!(entry.metadata, vec![("k".to_string(), "v".to_string())]);
/// ```
pub fn parse_ndjson_line(line: &[u8]) -> Result<(Labels, Entry), IngestError> {
    let mut cache = LabelCache::default();
    cache.parse_ndjson_line(line)
}

/// Remembers the label sets already seen, keyed by their JSON text, so that decoding a
/// large NDJSON file validates and sorts each distinct label set once.
///
/// Lines are copied into a shared arena (one allocation per `LabelCache::ARENA`
/// bytes, each entry's `Bytes` a slice of it) rather than one allocation per line.
#[derive(Debug, Default)]
pub struct LabelCache {
    by_text: HashMap<Box<str>, Labels, Xxh3Builder>,
    arena: BytesMut,
}

impl LabelCache {
    /// Maximum number of distinct label texts remembered before the cache is reset.
    const MAX: usize = 100_000;
    /// Bytes allocated at a time for the line arena.
    const ARENA: usize = 64 << 10;

    /// Like [`parse_ndjson_line`], reusing label sets seen before.
    pub fn parse_ndjson_line(&mut self, line: &[u8]) -> Result<(Labels, Entry), IngestError> {
        let (labels, entry) = self.parse_ndjson_line_ref(line)?;
        Ok((labels.clone(), entry))
    }

    /// Like [`LabelCache::parse_ndjson_line`], but lends the cached label set instead of
    /// cloning it (a clone allocates every name and value): pair it with
    /// [`BatchBuilder::add_ref`], which clones only the first time a batch sees a stream.
    pub fn parse_ndjson_line_ref(&mut self, line: &[u8]) -> Result<(&Labels, Entry), IngestError> {
        let rec: NdjsonLine<'_> = serde_json::from_slice(line)
            .map_err(|e| IngestError::Malformed(format!("not an NDJSON entry: {e}")))?;
        let text = rec.labels.get();
        if !self.by_text.contains_key(text) {
            self.labels(text)?;
        }
        let ts = rec.ts.to_ns()?;
        let line = self.copy_line(&rec.line);
        let metadata = metadata_vec(rec.metadata);
        let labels = self
            .by_text
            .get(text)
            .ok_or_else(|| IngestError::Labels("label cache lost an entry".into()))?;
        Ok((labels, Entry { ts, line, metadata }))
    }

    fn labels(&mut self, text: &str) -> Result<Labels, IngestError> {
        if let Some(l) = self.by_text.get(text) {
            return Ok(l.clone());
        }
        let labels = labels_from_json(text)?;
        if self.by_text.len() >= Self::MAX {
            self.by_text.clear();
        }
        self.by_text.insert(text.into(), labels.clone());
        Ok(labels)
    }

    /// Copies a line into the arena and returns it as a slice of the arena.
    fn copy_line(&mut self, line: &[u8]) -> Bytes {
        if line.len() > Self::ARENA / 4 {
            return Bytes::copy_from_slice(line);
        }
        if self.arena.capacity() < line.len() {
            // The old buffer stays alive as long as entries point into it.
            self.arena = BytesMut::with_capacity(Self::ARENA);
        }
        self.arena.extend_from_slice(line);
        self.arena.split().freeze()
    }
}

#[derive(Deserialize)]
struct PushBody<'a> {
    #[serde(borrow)]
    streams: Vec<PushStream<'a>>,
}

#[derive(Deserialize)]
struct PushStream<'a> {
    #[serde(borrow)]
    stream: &'a RawValue,
    values: Vec<PushValue>,
}

/// `["<ns>", "line"]` or `["<ns>", "line", {"k":"v"}]`.
#[derive(Deserialize)]
struct PushValue(
    String,
    #[serde(with = "serde_bytes")] Vec<u8>,
    #[serde(default)] Option<HashMap<String, String>>,
);

/// Parses a Loki push body (`{"streams":[{"stream":{…},"values":[["<ns>","line"],…]}]}`).
///
/// The whole body is refused if any part of it is malformed, as Loki refuses a bad
/// request; an empty `streams` list is valid and yields nothing.
///
/// ```
/// use logjar::ingest::parse_loki_push;
/// let body = br#"{"streams":[{"stream":{"app":"api"},"values":[["1","a"],["2","b",{"trace_id":"x"}]]}]}"#;
/// let streams = parse_loki_push(body).unwrap();
/// assert_eq!(streams.len(), 1);
/// assert_eq!(streams[0].entries.len(), 2);
/// assert_eq!(streams[0].entries[1].metadata[0].1, "x");
/// ```
pub fn parse_loki_push(body: &[u8]) -> Result<Vec<StreamEntries>, IngestError> {
    let body: PushBody<'_> = serde_json::from_slice(body)
        .map_err(|e| IngestError::Malformed(format!("not a Loki push body: {e}")))?;
    let mut cache = LabelCache::default();
    body.streams
        .into_iter()
        .map(|s| {
            let labels = cache.labels(s.stream.get())?;
            let entries = s
                .values
                .into_iter()
                .map(|PushValue(ts, line, md)| {
                    Ok(Entry {
                        ts: parse_time(&ts)?,
                        line: Bytes::from(line),
                        metadata: metadata_vec(md),
                    })
                })
                .collect::<Result<Vec<_>, IngestError>>()?;
            Ok(StreamEntries { labels, entries })
        })
        .collect()
}

/// Groups entries by stream into push batches.
///
/// ```
/// use logjar::{ingest::BatchBuilder, Entry, Labels};
/// let mut b = BatchBuilder::default();
/// let l = Labels::new([("app", "api")]).unwrap();
/// b.add(l.clone(), Entry::new(1, "a"));
/// b.add(l, Entry::new(2, "b"));
/// assert_eq!(b.len(), 2);
/// let batch = b.take();
/// assert_eq!(batch.len(), 1);
/// assert_eq!(batch[0].entries.len(), 2);
/// assert!(b.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct BatchBuilder {
    index: HashMap<Labels, usize, Xxh3Builder>,
    streams: Vec<StreamEntries>,
    entries: usize,
    bytes: usize,
}

impl BatchBuilder {
    /// Adds one entry to its stream's group.
    pub fn add(&mut self, labels: Labels, entry: Entry) {
        self.entries += 1;
        self.bytes += entry.line.len();
        match self.index.get(&labels) {
            Some(&i) => self.streams[i].entries.push(entry),
            None => {
                self.index.insert(labels.clone(), self.streams.len());
                self.streams.push(StreamEntries {
                    labels,
                    entries: vec![entry],
                });
            }
        }
    }

    /// Like [`BatchBuilder::add`], cloning `labels` only for a stream new to the batch.
    pub fn add_ref(&mut self, labels: &Labels, entry: Entry) {
        self.entries += 1;
        self.bytes += entry.line.len();
        match self.index.get(labels) {
            Some(&i) => self.streams[i].entries.push(entry),
            None => {
                self.index.insert(labels.clone(), self.streams.len());
                self.streams.push(StreamEntries {
                    labels: labels.clone(),
                    entries: vec![entry],
                });
            }
        }
    }

    /// Entries added since the last [`BatchBuilder::take`].
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Line bytes added since the last [`BatchBuilder::take`].
    pub fn line_bytes(&self) -> usize {
        self.bytes
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Returns the pending batch and starts a new one.
    pub fn take(&mut self) -> Vec<StreamEntries> {
        self.index.clear();
        self.entries = 0;
        self.bytes = 0;
        std::mem::take(&mut self.streams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_accepts_int_and_string_times_and_optional_metadata() {
        let (l, e) =
            parse_ndjson_line(br#"{"labels":{"host":"n1","app":"x"},"ts":5,"line":"a"}"#).unwrap();
        assert_eq!(l.to_string(), r#"{app="x", host="n1"}"#);
        assert_eq!(e.ts, 5);
        assert!(e.metadata.is_empty());
        let (_, e) =
            parse_ndjson_line(br#"{"labels":{"a":"b"},"ts":"1970-01-01T00:00:01Z","line":""}"#)
                .unwrap();
        assert_eq!(e.ts, 1_000_000_000);
    }

    #[test]
    fn ndjson_keeps_invalid_utf8_bytes() {
        let mut raw = br#"{"labels":{"a":"b"},"ts":1,"line":"x"#.to_vec();
        raw.push(0xff);
        raw.extend_from_slice(br#"y"}"#);
        let (_, e) = parse_ndjson_line(&raw).unwrap();
        assert_eq!(e.line.as_ref(), b"x\xffy");
    }

    #[test]
    fn ndjson_errors_name_their_reason() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "malformed"),
            (br#"{"labels":{"a":"b"},"line":"x"}"#, "malformed"),
            (
                br#"{"labels":{"a":"b"},"ts":"soon","line":"x"}"#,
                "invalid_timestamp",
            ),
            (
                br#"{"labels":{"__a":"b"},"ts":1,"line":"x"}"#,
                "invalid_labels",
            ),
            (br#"{"labels":{"a":1},"ts":1,"line":"x"}"#, "invalid_labels"),
            (br#"{"labels":{},"ts":1,"line":"x"}"#, "invalid_labels"),
        ];
        for (input, reason) in cases {
            let err = parse_ndjson_line(input).unwrap_err();
            assert_eq!(
                err.reason(),
                reason,
                "{}: {err}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn loki_push_rejects_bad_values() {
        assert!(parse_loki_push(br#"{"streams":[]}"#).unwrap().is_empty());
        for bad in [
            &br#"{"streams":[{"stream":{"a":"b"},"values":[["x","l"]]}]}"#[..],
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}"#,
            br#"{"streams":[{"stream":{"a-b":"c"},"values":[["1","l"]]}]}"#,
            br#"{"streams":"nope"}"#,
        ] {
            assert!(
                parse_loki_push(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn times_parse_with_offsets_and_reject_garbage() {
        assert_eq!(parse_time("-5").unwrap(), -5);
        assert!(parse_time("").is_err());
        assert!(parse_time("2026-13-01T00:00:00Z").is_err());
    }
}
