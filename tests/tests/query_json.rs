//! The Loki JSON bodies: decoded into the documented shape of
//! `/loki/api/v1/query_range` and `/loki/api/v1/query`, checking every JSON type
//! (stream timestamps and all values are strings, matrix/vector times are numbers).

mod query_support;

use logjar::query::QueryRequest;
use query_support::*;
use serde_json::Value;

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// A typed view of a Loki response: `resultType`, the result, and the summary stats.
#[derive(Debug)]
struct Body {
    result_type: String,
    result: Value,
    summary: serde_json::Map<String, Value>,
}

fn decode(text: &str) -> Body {
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    assert_eq!(v["status"], "success");
    let data = v["data"].as_object().expect("data object");
    assert_eq!(
        data.len(),
        3,
        "data has resultType, result, stats: {data:?}"
    );
    let stats = data["stats"].as_object().expect("stats object");
    let summary = stats["summary"]
        .as_object()
        .expect("summary object")
        .clone();
    for key in [
        "bytesProcessedPerSecond",
        "linesProcessedPerSecond",
        "totalBytesProcessed",
        "totalLinesProcessed",
        "execTime",
        "queueTime",
        "totalEntriesReturned",
    ] {
        assert!(summary[key].is_number(), "summary.{key} is a number");
    }
    let chunk = &stats["querier"]["store"]["chunk"];
    for key in ["decompressedBytes", "decompressedLines", "postFilterLines"] {
        assert!(chunk[key].is_u64(), "querier.store.chunk.{key}");
    }
    assert!(stats["querier"]["store"]["totalChunksRef"].is_u64());
    Body {
        result_type: data["resultType"]
            .as_str()
            .expect("resultType string")
            .to_string(),
        result: data["result"].clone(),
        summary,
    }
}

/// `{"stream":{…},"values":[["<ns>","line"],…]}` → (labels, [(ns, line)]).
/// A decoded result stream: its labels and `(ns, line)` values.
type DecodedStream = (Vec<(String, String)>, Vec<(i64, String)>);

fn decode_streams(result: &Value) -> Vec<DecodedStream> {
    result
        .as_array()
        .expect("result array")
        .iter()
        .map(|s| {
            let labels = s["stream"]
                .as_object()
                .expect("stream object")
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().expect("label values are strings").to_string(),
                    )
                })
                .collect();
            let values = s["values"]
                .as_array()
                .expect("values array")
                .iter()
                .map(|p| {
                    let p = p.as_array().expect("[ts, line]");
                    assert_eq!(p.len(), 2);
                    let ts = p[0]
                        .as_str()
                        .expect("timestamps are strings")
                        .parse()
                        .expect("ns");
                    (ts, p[1].as_str().expect("lines are strings").to_string())
                })
                .collect();
            (labels, values)
        })
        .collect()
}

/// `[<seconds number>, "<value>"]` → (seconds, value text).
fn decode_pair(p: &Value) -> (f64, String) {
    let p = p.as_array().expect("[time, value]");
    assert_eq!(p.len(), 2);
    let t = p[0].as_f64().expect("times are numbers");
    (t, p[1].as_str().expect("values are strings").to_string())
}

fn data() -> (tempfile::TempDir, logjar::Db) {
    let (d, db) = db_with(
        &[
            (
                &[("app", "api")],
                vec![
                    (T0 * S + 5, "GET /a".into()),
                    ((T0 + 30) * S, "GET \"b\"\n".into()),
                ],
            ),
            (&[("app", "db")], vec![((T0 + 10) * S, "slow".into())]),
        ],
        false,
    );
    // A line that is not UTF-8.
    db.push(
        "fake",
        &[logjar::entry::StreamEntries {
            labels: logjar::Labels::new([("app", "bin")]).unwrap(),
            entries: vec![logjar::Entry::new((T0 + 20) * S, &b"f\xffo"[..])],
        }],
    )
    .unwrap();
    (d, db)
}

#[test]
fn streams_body() {
    let (_d, db) = data();
    let resp = query(
        &db,
        &QueryRequest::range(r#"{app=~".+"}"#, T0 * S, (T0 + 60) * S),
    );
    let body = decode(&resp.to_loki_json());
    assert_eq!(body.result_type, "streams");
    let streams = decode_streams(&body.result);
    let l = |v: &str| vec![("app".to_string(), v.to_string())];
    assert_eq!(
        streams,
        vec![
            (
                l("api"),
                vec![
                    ((T0 + 30) * S, "GET \"b\"\n".to_string()),
                    (T0 * S + 5, "GET /a".to_string())
                ]
            ),
            (l("bin"), vec![((T0 + 20) * S, "f\u{fffd}o".to_string())]),
            (l("db"), vec![((T0 + 10) * S, "slow".to_string())]),
        ]
    );
    assert_eq!(body.summary["totalEntriesReturned"], 4);
    assert_eq!(body.summary["totalLinesProcessed"], 4);
}

#[test]
fn matrix_body_has_numeric_times_and_string_values() {
    let (_d, db) = data();
    let req = QueryRequest::range(
        r#"count_over_time({app="api"}[1m])"#,
        (T0 + 60) * S,
        (T0 + 120) * S,
    )
    .with_step(60 * S);
    let text = query(&db, &req).to_loki_json();
    assert!(text.contains(r#""values":[[1767225660,"2"]]"#), "{text}");
    let body = decode(&text);
    assert_eq!(body.result_type, "matrix");
    let series = body.result.as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["metric"], serde_json::json!({"app": "api"}));
    let points: Vec<(f64, String)> = series[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(decode_pair)
        .collect();
    assert_eq!(points, vec![((T0 + 60) as f64, "2".to_string())]);
}

#[test]
fn vector_and_scalar_bodies_with_millisecond_times() {
    let (_d, db) = data();
    let t = (T0 + 60) * S + 500_000_000; // …660.5 s
    let text = query(
        &db,
        &QueryRequest::instant(r#"sum(count_over_time({app=~".+"}[1m]))"#, t),
    )
    .to_loki_json();
    assert!(text.contains(r#""value":[1767225660.5,"3"]"#), "{text}");
    let body = decode(&text);
    assert_eq!(body.result_type, "vector");
    assert_eq!(body.result[0]["metric"], serde_json::json!({}));
    assert_eq!(
        decode_pair(&body.result[0]["value"]),
        (1_767_225_660.5, "3".to_string())
    );

    let body = decode(&query(&db, &QueryRequest::instant("1 / 3", t)).to_loki_json());
    assert_eq!(body.result_type, "scalar");
    assert_eq!(
        decode_pair(&body.result),
        (1_767_225_660.5, "0.3333333333333333".to_string())
    );
}

#[test]
fn values_are_formatted_like_go() {
    let (_d, db) = data();
    let at = |q: &str| {
        let body = decode(&query(&db, &QueryRequest::instant(q, T0 * S)).to_loki_json());
        decode_pair(&body.result[0]["value"]).1
    };
    assert_eq!(at("vector(0.1) + vector(0.2)"), "0.30000000000000004");
    assert_eq!(at("vector(1e21)"), "1000000000000000000000");
    assert_eq!(at("vector(1e-7)"), "0.0000001");
    assert_eq!(at("vector(1) / vector(0)"), "NaN");
    assert_eq!(at("vector(1e308) * 10"), "+Inf");
    assert_eq!(at("vector(-1e308) * 10"), "-Inf");
    assert_eq!(at("vector(-2.5)"), "-2.5");
}

#[test]
fn request_json_of_the_bindings() {
    let (_d, db) = data();
    let req = QueryRequest::from_json(&format!(
        r#"{{"query":"{{app=\"api\"}}","start":{},"end":{},"limit":1,"direction":"forward"}}"#,
        T0 * S,
        (T0 + 60) * S
    ))
    .unwrap();
    let streams = decode_streams(&decode(&query(&db, &req).to_loki_json()).result);
    assert_eq!(streams[0].1, vec![(T0 * S + 5, "GET /a".to_string())]);
    let req = QueryRequest::from_json(
        r#"{"query":"count_over_time({app=\"api\"}[1m])","start":"2026-01-01T00:01:00Z","end":"2026-01-01T00:02:00Z","step":"60s"}"#,
    )
    .unwrap();
    assert_eq!(
        (req.start, req.end, req.step),
        ((T0 + 60) * S, (T0 + 120) * S, Some(60 * S))
    );
    let req = QueryRequest::from_json(r#"{"query":"x","step":30}"#).unwrap();
    assert_eq!(req.step, Some(30 * S));
    for bad in [
        "[]",
        "{}",
        r#"{"query":1}"#,
        r#"{"query":"x","limit":-1}"#,
        r#"{"query":"x","step":"soon"}"#,
        r#"{"query":"x","start":"yesterday"}"#,
        r#"{"query":"x","colour":"red"}"#,
        "{",
    ] {
        let err = QueryRequest::from_json(bad).unwrap_err();
        assert!(
            matches!(err, logjar::query::QueryError::BadRequest(_)),
            "{bad}: {err:?}"
        );
    }
}
