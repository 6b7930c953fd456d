//! Helpers shared by the `query_*` integration tests: small databases built from
//! hand-written entries, and plain views of query results.
#![allow(dead_code)]

use logjar::entry::StreamEntries;
use logjar::query::{QueryRequest, QueryResponse, QueryResult};
use logjar::{Db, Entry, Labels, Options};

pub const S: i64 = 1_000_000_000;

/// A stream: its labels and `(ts ns, line)` entries.
pub type StreamSpec<'a> = (&'a [(&'a str, &'a str)], Vec<(i64, String)>);

/// Opens a database in a temporary directory and pushes the streams; with `flush`,
/// writes them to segments (so both the in-memory and the on-disk read paths are used).
pub fn db_with(streams: &[StreamSpec<'_>], flush: bool) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let batch: Vec<StreamEntries> = streams
        .iter()
        .map(|(labels, entries)| StreamEntries {
            labels: Labels::new(labels.iter().copied()).unwrap(),
            entries: entries
                .iter()
                .map(|(ts, line)| Entry::new(*ts, line.clone()))
                .collect(),
        })
        .collect();
    db.push("fake", &batch).unwrap();
    if flush {
        db.flush().unwrap();
    }
    (dir, db)
}

/// Entries `(seconds, line)` as `(ns, String)`.
pub fn at(entries: &[(i64, &str)]) -> Vec<(i64, String)> {
    entries
        .iter()
        .map(|(s, l)| (s * S, l.to_string()))
        .collect()
}

pub fn query(db: &Db, req: &QueryRequest) -> QueryResponse {
    db.query("fake", req)
        .unwrap_or_else(|e| panic!("{}: {e}", req.query))
}

/// Streams as `(label string, [(seconds, line)])`.
pub fn streams(resp: &QueryResponse) -> Vec<(String, Vec<(i64, String)>)> {
    let QueryResult::Streams(s) = &resp.result else {
        panic!("expected streams, got {:?}", resp.result)
    };
    s.iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.entries.iter().map(|(t, l)| (t / S, l.clone())).collect(),
            )
        })
        .collect()
}

/// A matrix as `(label string, [(seconds, value)])`.
pub fn matrix(resp: &QueryResponse) -> Vec<(String, Vec<(i64, f64)>)> {
    let QueryResult::Matrix(m) = &resp.result else {
        panic!("expected a matrix, got {:?}", resp.result)
    };
    m.iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.points.iter().map(|p| (p.ts_ms / 1000, p.value)).collect(),
            )
        })
        .collect()
}

/// A vector as `(label string, value)`.
pub fn vector(resp: &QueryResponse) -> Vec<(String, f64)> {
    let QueryResult::Vector(v) = &resp.result else {
        panic!("expected a vector, got {:?}", resp.result)
    };
    v.iter().map(|s| (s.labels.to_string(), s.value)).collect()
}

/// Owned expected streams from borrowed literals.
pub fn expect_streams(e: &[(&str, &[(i64, &str)])]) -> Vec<(String, Vec<(i64, String)>)> {
    e.iter()
        .map(|(l, entries)| {
            (
                l.to_string(),
                entries.iter().map(|(t, x)| (*t, x.to_string())).collect(),
            )
        })
        .collect()
}

/// Owned expected series from borrowed literals.
pub fn expect_matrix(e: &[(&str, &[(i64, f64)])]) -> Vec<(String, Vec<(i64, f64)>)> {
    e.iter().map(|(l, p)| (l.to_string(), p.to_vec())).collect()
}
