//! Helpers shared by the `pipeline_*` tests: parse a query, run its pipeline (or its
//! sample extractor) over literal lines, and print results compactly.
#![allow(dead_code)]

use logjar_logql::eval::pipeline::{Pipeline, SampleExtractor};
use logjar_logql::metric::Labels;
use logjar_logql::syntax::ast::{Grouping, MetricExpr, RangeAggregation};

/// Stream labels from pairs.
pub fn stream(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied())
}

/// Structured metadata from pairs.
pub fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The pipeline of a log query.
pub fn pipeline(query: &str) -> Pipeline {
    let q = logjar_logql::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let log = q
        .as_log()
        .unwrap_or_else(|| panic!("not a log query: {query}"));
    Pipeline::compile(&log.pipeline).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Runs a log query over `entries` (line, metadata) of one stream: for each entry,
/// `None` when dropped, else `(line, labels as Prometheus prints them)`.
pub fn run_meta(
    query: &str,
    labels: &[(&str, &str)],
    entries: &[(&str, Vec<(String, String)>)],
) -> Vec<Option<(String, String)>> {
    let p = pipeline(query);
    let mut s = p.for_stream(&stream(labels));
    entries
        .iter()
        .enumerate()
        .map(|(i, (line, md))| {
            s.process(i as i64, line.as_bytes(), md).map(|e| {
                assert_eq!(
                    e.labels_hash,
                    logjar_logql::eval::pipeline::labels_hash(e.labels),
                    "hash of {}",
                    e.labels
                );
                (
                    String::from_utf8_lossy(e.line).into_owned(),
                    e.labels.to_string(),
                )
            })
        })
        .collect()
}

/// [`run_meta`] without metadata.
pub fn run(query: &str, labels: &[(&str, &str)], lines: &[&str]) -> Vec<Option<(String, String)>> {
    let entries: Vec<(&str, Vec<(String, String)>)> =
        lines.iter().map(|l| (*l, Vec::new())).collect();
    run_meta(query, labels, &entries)
}

/// Only the label sets of [`run`] (`None` for dropped entries).
pub fn labels_of(query: &str, labels: &[(&str, &str)], lines: &[&str]) -> Vec<Option<String>> {
    run(query, labels, lines)
        .into_iter()
        .map(|r| r.map(|(_, l)| l))
        .collect()
}

/// Only the lines of [`run`].
pub fn lines_of(query: &str, labels: &[(&str, &str)], lines: &[&str]) -> Vec<Option<String>> {
    run(query, labels, lines)
        .into_iter()
        .map(|r| r.map(|(l, _)| l))
        .collect()
}

/// Expected output helper: `Some((line, labels))`.
pub fn kept(line: &str, labels: &str) -> Option<(String, String)> {
    Some((line.to_string(), labels.to_string()))
}

/// The first range aggregation of a metric query.
pub fn range_agg(query: &str) -> RangeAggregation {
    let q = logjar_logql::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let m = q
        .as_metric()
        .unwrap_or_else(|| panic!("not a metric query: {query}"));
    let mut found = None;
    m.walk(&mut |e| {
        if let (None, MetricExpr::RangeAggregation(r)) = (&found, e) {
            found = Some(r.clone());
        }
    });
    found.unwrap_or_else(|| panic!("no range aggregation in {query}"))
}

/// The sample extractor of a metric query's first range aggregation, with an optional
/// grouping pushed down from an enclosing `sum`.
pub fn extractor(query: &str, pushdown: Option<Grouping>) -> SampleExtractor {
    let agg = range_agg(query);
    let res = match &pushdown {
        None => SampleExtractor::from_range_aggregation(&agg),
        Some(g) => SampleExtractor::compile(&agg.range, agg.op, Some(g)),
    };
    res.unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Runs the extractor over lines of one stream: `(value, labels)` per kept entry.
pub fn samples(
    ex: &SampleExtractor,
    labels: &[(&str, &str)],
    lines: &[&str],
) -> Vec<Option<(f64, String)>> {
    let mut s = ex.for_stream(&stream(labels));
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            s.process(i as i64, l.as_bytes(), &[])
                .map(|(v, lb)| (v, lb.to_string()))
        })
        .collect()
}

/// `Some((value, labels))`.
pub fn sample(v: f64, labels: &str) -> Option<(f64, String)> {
    Some((v, labels.to_string()))
}
