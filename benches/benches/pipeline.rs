//! Throughput of compiled LogQL pipelines (`logjar_logql::eval::pipeline`) on the
//! "common queries" of `shared/LOGQL.md` that have a pipeline: 2–6, 10 and 11.
//!
//! Lines come from NDJSON files written by `shared/tools/gen_logs.py` when the
//! environment names them, else from built-in samples (so the bench runs anywhere):
//!
//! ```text
//! python3 gen_logs.py --lines 100000 --seed 1 --mix json=1 --out /tmp/json.ndjson
//! python3 gen_logs.py --lines 100000 --seed 1 --mix logfmt=1 --out /tmp/logfmt.ndjson
//! LOGJAR_BENCH_JSON=/tmp/json.ndjson LOGJAR_BENCH_LOGFMT=/tmp/logfmt.ndjson \
//!     cargo bench -p logjar-benches --bench pipeline
//! ```
//!
//! Each iteration runs every line through one stream's pipeline (or sample extractor)
//! and consumes the result; throughput is in bytes of input lines.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logjar_logql::eval::pipeline::{Pipeline, SampleExtractor};
use logjar_logql::metric::Labels;
use logjar_logql::syntax::ast::{Grouping, MetricExpr};

use logjar_benches::{load, total_bytes, JSON_SAMPLES, LOGFMT_SAMPLES};

fn stream(app: &str) -> Labels {
    Labels::new([
        ("app", app),
        ("env", "prod"),
        ("host", "node-34"),
        ("namespace", "shop"),
    ])
}

fn log_pipeline(query: &str) -> Pipeline {
    let q = logjar_logql::parse(query).expect("query parses");
    Pipeline::compile(&q.as_log().expect("log query").pipeline).expect("pipeline compiles")
}

/// The extractor of the query's range aggregation; `pushdown` is the grouping of an
/// enclosing `sum`, pushed down as Loki does.
fn extractor(query: &str, pushdown: Option<Grouping>) -> SampleExtractor {
    let q = logjar_logql::parse(query).expect("query parses");
    let mut agg = None;
    q.as_metric().expect("metric query").walk(&mut |e| {
        if let MetricExpr::RangeAggregation(r) = e {
            agg.get_or_insert_with(|| r.clone());
        }
    });
    let agg = agg.expect("a range aggregation");
    match pushdown {
        None => SampleExtractor::from_range_aggregation(&agg),
        Some(g) => SampleExtractor::compile(&agg.range, agg.op, Some(&g)),
    }
    .expect("extractor compiles")
}

fn bench_log(c: &mut Criterion, name: &str, query: &str, app: &str, lines: &[Vec<u8>]) {
    let p = log_pipeline(query);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(total_bytes(lines)));
    g.bench_function(name, |b| {
        let mut s = p.for_stream(&stream(app));
        b.iter(|| {
            let mut kept = 0usize;
            for (i, l) in lines.iter().enumerate() {
                if let Some(e) = s.process(i as i64, l, &[]) {
                    kept += e.line.len() + e.labels.len();
                    black_box(e.labels_hash);
                }
            }
            black_box(kept)
        })
    });
    g.finish();
}

fn bench_metric(
    c: &mut Criterion,
    name: &str,
    query: &str,
    pushdown: Option<Grouping>,
    app: &str,
    lines: &[Vec<u8>],
) {
    let ex = extractor(query, pushdown);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(total_bytes(lines)));
    g.bench_function(name, |b| {
        let mut s = ex.for_stream(&stream(app));
        b.iter(|| {
            let mut sum = 0f64;
            for (i, l) in lines.iter().enumerate() {
                if let Some((v, labels, h)) = s.process_with_hash(i as i64, l, &[]) {
                    sum += v;
                    black_box((labels.len(), h));
                }
            }
            black_box(sum)
        })
    });
    g.finish();
}

fn pipelines(c: &mut Criterion) {
    let json = load("LOGJAR_BENCH_JSON", JSON_SAMPLES);
    let logfmt = load("LOGJAR_BENCH_LOGFMT", LOGFMT_SAMPLES);
    bench_log(c, "q2_contains", r#"{env="prod"} |= "error""#, "api", &json);
    bench_log(
        c,
        "q3_regex_ci",
        r#"{env="prod"} |~ "(?i)timeout|refused""#,
        "api",
        &json,
    );
    bench_log(
        c,
        "q4_json_status",
        r#"{app="api"} | json | status >= 500"#,
        "api",
        &json,
    );
    bench_log(
        c,
        "q5_json_line_format",
        r#"{app="api"} | json | line_format "{{.msg}}""#,
        "api",
        &json,
    );
    bench_metric(
        c,
        "q6_sum_by_level_count_json",
        r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#,
        Some(Grouping::By(vec!["level".to_string()])),
        "api",
        &json,
    );
    bench_log(
        c,
        "q10_logfmt_duration",
        r#"{app="gateway"} | logfmt | duration > 100ms"#,
        "gateway",
        &logfmt,
    );
    bench_metric(
        c,
        "q11_quantile_unwrap_json",
        r#"quantile_over_time(0.99, {app="api"} | json | unwrap latency_ms [5m]) by (host)"#,
        None,
        "api",
        &json,
    );
}

criterion_group!(benches, pipelines);
criterion_main!(benches);
