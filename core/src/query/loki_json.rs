//! The JSON bodies of Loki's `/loki/api/v1/query_range` and `/loki/api/v1/query`,
//! shared by the CLI (`--output loki-json`) and every binding.
//!
//! ```text
//! {"status":"success","data":{"resultType":"streams","result":[
//!     {"stream":{"app":"api"},"values":[["1767225600000000000","GET /x 200"]]}],
//!  "stats":{"summary":{…},"querier":{…},"ingester":{…}}}}
//! ```
//!
//! - streams: timestamps are strings of nanoseconds, lines strings;
//! - matrix `{"metric":{…},"values":[[1767225660,"1"],…]}`, vector
//!   `{"metric":{…},"value":[1767225660.5,"1"]}`, scalar `[1767225660,"1"]`: times are JSON
//!   numbers of seconds with the milliseconds as a shortest fraction (Prometheus'
//!   `model.Time.String()`), values strings formatted as Go's
//!   `strconv.FormatFloat(v, 'f', -1, 64)` with `NaN`, `+Inf`, `-Inf`;
//! - `stats` follows Loki v3's `stats.Result` field names; logjar-specific counters sit
//!   under `stats.logjar`.
//!
//! ```
//! use logjar::query::{loki_json, QueryResponse, QueryResult, Stats};
//! use logjar::query::{Point, ResultLabels, Series};
//!
//! let resp = QueryResponse {
//!     result: QueryResult::Matrix(vec![Series {
//!         labels: ResultLabels::new([("app", "api")]),
//!         points: vec![Point { ts_ms: 1_767_225_660_500, value: 0.25 }],
//!     }]),
//!     time_ms: 0,
//!     stats: Stats::default(),
//! };
//! let body = loki_json::encode(&resp);
//! assert!(body.contains(r#""result":[{"metric":{"app":"api"},"values":[[1767225660.5,"0.25"]]}]"#));
//! assert_eq!(loki_json::format_value(f64::INFINITY), "+Inf");
//! ```

use std::fmt::Write;

use super::{QueryResponse, QueryResult, ResultLabels, Stats};

/// Encodes an answer as Loki's response body.
pub fn encode(resp: &QueryResponse) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"status":"success","data":{"resultType":""#);
    out.push_str(resp.result.result_type());
    out.push_str(r#"","result":"#);
    write_result(&mut out, &resp.result, resp.time_ms);
    out.push_str(r#","stats":"#);
    write_stats(&mut out, &resp.stats);
    out.push_str("}}");
    out
}

/// Encodes Loki's error body: `{"status":"error","errorType":"bad_data","error":"…"}`.
pub fn encode_error(error_type: &str, message: &str) -> String {
    let mut out = String::new();
    out.push_str(r#"{"status":"error","errorType":"#);
    push_str(&mut out, error_type);
    out.push_str(r#","error":"#);
    push_str(&mut out, message);
    out.push('}');
    out
}

fn write_result(out: &mut String, r: &QueryResult, time_ms: i64) {
    match r {
        QueryResult::Streams(streams) => {
            out.push('[');
            for (i, s) in streams.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"stream":"#);
                write_labels(out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, (ts, line)) in s.entries.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "[\"{ts}\",");
                    push_str(out, line);
                    out.push(']');
                }
                out.push_str("]}");
            }
            out.push(']');
        }
        QueryResult::Matrix(m) => {
            out.push('[');
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, p) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_pair(out, p.ts_ms, p.value);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
        QueryResult::Vector(v) => {
            out.push('[');
            for (i, s) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(out, &s.labels);
                out.push_str(r#","value":"#);
                write_pair(out, time_ms, s.value);
                out.push('}');
            }
            out.push(']');
        }
        QueryResult::Scalar(x) => write_pair(out, time_ms, *x),
    }
}

/// `[<seconds>,"<value>"]`.
fn write_pair(out: &mut String, ts_ms: i64, value: f64) {
    out.push('[');
    out.push_str(&format_time_seconds(ts_ms));
    out.push_str(",\"");
    out.push_str(&format_value(value));
    out.push_str("\"]");
}

/// Seconds with millisecond fraction, shortest form: `1767225660`, `1767225660.5`.
pub fn format_time_seconds(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let ms = ts_ms.rem_euclid(1000);
    if ms == 0 {
        return secs.to_string();
    }
    let frac = format!("{ms:03}");
    let frac = frac.trim_end_matches('0');
    if secs < 0 {
        // Go prints the float value: -1.5 for -1500 ms.
        let v = ts_ms as f64 / 1000.0;
        return format!("{v}");
    }
    format!("{secs}.{frac}")
}

/// A sample value as Go's `strconv.FormatFloat(v, 'f', -1, 64)`, with Prometheus'
/// spellings of the special values: `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's Display is the shortest round-trip form without exponent, as Go's 'f', -1.
        format!("{v}")
    }
}

fn write_labels(out: &mut String, l: &ResultLabels) {
    out.push('{');
    for (i, (k, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, k);
        out.push(':');
        push_str(out, v);
    }
    out.push('}');
}

fn push_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

fn write_stats(out: &mut String, s: &Stats) {
    let exec = s.exec_time.as_secs_f64();
    let _ = write!(
        out,
        concat!(
            r#"{{"summary":{{"bytesProcessedPerSecond":{},"linesProcessedPerSecond":{},"#,
            r#""totalBytesProcessed":{},"totalLinesProcessed":{},"execTime":{},"queueTime":0,"#,
            r#""subqueries":0,"totalEntriesReturned":{},"splits":0,"shards":0,"#,
            r#""totalPostFilterLines":{},"totalStructuredMetadataBytesProcessed":{}}},"#
        ),
        s.bytes_per_second(),
        s.lines_per_second(),
        s.total_bytes_processed + s.structured_metadata_bytes,
        s.total_lines_processed,
        exec,
        s.entries_returned,
        s.post_filter_lines,
        s.structured_metadata_bytes,
    );
    // logjar runs the querier's part in-process over its own storage: everything read
    // is counted under querier.store; there is no ingester.
    out.push_str(r#""querier":{"store":"#);
    write_store(out, s);
    out.push_str(
        r#"},"ingester":{"totalReached":0,"totalChunksMatched":0,"totalBatches":0,"totalLinesSent":0,"store":"#,
    );
    write_store(out, &Stats::default());
    let _ = write!(
        out,
        concat!(
            r#"}},"logjar":{{"streamsSelected":{},"linesCountedWithoutDecompression":{},"#,
            r#""bytesCountedWithoutDecompression":{},"blocksDecoded":{},"blocksSizesOnly":{},"#,
            r#""blocksFromMetadata":{},"blockLineBytesDecompressed":{},"headEntries":{}}}}}"#
        ),
        s.streams_selected,
        s.lines_counted_without_decompression,
        s.bytes_counted_without_decompression,
        s.store.blocks_decoded,
        s.store.blocks_sizes_only,
        s.store.blocks_from_metadata,
        s.store.decompressed_bytes,
        s.store.head_entries,
    );
}

fn write_store(out: &mut String, s: &Stats) {
    let decompressed = s.total_lines_processed
        - s.lines_counted_without_decompression
            .min(s.total_lines_processed);
    let _ = write!(
        out,
        concat!(
            r#"{{"totalChunksRef":{},"totalChunksDownloaded":{},"chunksDownloadTime":0,"#,
            r#""queryReferencedStructuredMetadata":false,"chunk":{{"headChunkBytes":0,"headChunkLines":0,"#,
            r#""decompressedBytes":{},"decompressedLines":{},"compressedBytes":{},"totalDuplicates":0,"#,
            r#""postFilterLines":{},"headChunkStructuredMetadataBytes":0,"#,
            r#""decompressedStructuredMetadataBytes":{}}},"chunkRefsFetchTime":0,"#,
            r#""congestionControlLatency":0,"pipelineWrapperFilteredLines":0}}"#
        ),
        s.store.chunks_referenced,
        s.store.chunks_opened,
        s.total_bytes_processed,
        decompressed,
        s.store.compressed_bytes,
        s.post_filter_lines,
        s.structured_metadata_bytes,
    );
}
