//! Throughput of the LogQL pipeline pieces (`logjar_logql::eval`) on realistic lines.
//!
//! Lines come from NDJSON files written by `shared/tools/gen_logs.py` when the
//! environment names them, else from built-in samples (so the bench runs anywhere):
//!
//! ```text
//! python3 gen_logs.py --lines 100000 --seed 1 --mix json=1 --out /tmp/json.ndjson
//! python3 gen_logs.py --lines 100000 --seed 1 --mix logfmt=1 --out /tmp/logfmt.ndjson
//! LOGJAR_BENCH_JSON=/tmp/json.ndjson LOGJAR_BENCH_LOGFMT=/tmp/logfmt.ndjson \
//!     cargo bench -p logjar-benches --bench pipeline_pieces
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logjar_logql::eval::json::JsonParser;
use logjar_logql::eval::linefilter::LineFilter;
use logjar_logql::eval::logfmt::LogfmtParser;
use logjar_logql::eval::pattern::Pattern;
use logjar_logql::eval::template::{Template, TemplateContext};
use logjar_logql::eval::LabelsBuilder;

use logjar_benches::{load, total_bytes, JSON_SAMPLES, LOGFMT_SAMPLES};

fn stream() -> Vec<(String, String)> {
    vec![
        ("app".into(), "api".into()),
        ("env".into(), "prod".into()),
        ("host".into(), "node-1".into()),
    ]
}

fn bench_json(c: &mut Criterion) {
    let lines = load("LOGJAR_BENCH_JSON", JSON_SAMPLES);
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(total_bytes(&lines)));
    let mut labels = LabelsBuilder::with_stream(&stream());
    let mut flatten = JsonParser::new();
    g.bench_function("flatten", |b| {
        b.iter(|| {
            for l in &lines {
                labels.reset();
                flatten.parse(l, &mut labels);
            }
        })
    });
    let mut needed = JsonParser::with_needed_keys(["status"]);
    g.bench_function("needed_keys_status", |b| {
        b.iter(|| {
            for l in &lines {
                labels.reset();
                needed.parse(l, &mut labels);
            }
        })
    });
    let mut params = JsonParser::with_params(&[("status", "status"), ("kind", "error.kind")])
        .expect("valid params");
    g.bench_function("two_params", |b| {
        b.iter(|| {
            for l in &lines {
                labels.reset();
                params.parse(l, &mut labels);
            }
        })
    });
    g.finish();
}

fn bench_logfmt(c: &mut Criterion) {
    let lines = load("LOGJAR_BENCH_LOGFMT", LOGFMT_SAMPLES);
    let mut g = c.benchmark_group("logfmt");
    g.throughput(Throughput::Bytes(total_bytes(&lines)));
    let mut labels = LabelsBuilder::with_stream(&stream());
    let mut p = LogfmtParser::new(false, false);
    g.bench_function("all_keys", |b| {
        b.iter(|| {
            for l in &lines {
                labels.reset();
                p.parse(l, &mut labels);
            }
        })
    });
    g.finish();
}

fn bench_line_filters(c: &mut Criterion) {
    let lines = load("LOGJAR_BENCH_LOGFMT", LOGFMT_SAMPLES);
    let mut g = c.benchmark_group("line_filter");
    g.throughput(Throughput::Bytes(total_bytes(&lines)));
    let filters = [
        ("contains_error", LineFilter::contains(&["error"])),
        (
            "regex_status_5xx",
            LineFilter::regex(&["status=5[0-9]{2}"]).expect("valid"),
        ),
        (
            "regex_ci_alternation",
            LineFilter::regex(&["(?i)timeout|refused"]).expect("valid"),
        ),
        (
            "pattern",
            LineFilter::pattern(&["<_> msg=\"<_>timeout<_>"]).expect("valid"),
        ),
        ("ip_cidr", LineFilter::ip(&["10.0.0.0/8"]).expect("valid")),
    ];
    for (name, f) in &filters {
        g.bench_function(*name, |b| {
            b.iter(|| lines.iter().filter(|l| f.matches(l)).count())
        });
    }
    g.finish();
}

fn bench_pattern(c: &mut Criterion) {
    let lines = load("LOGJAR_BENCH_LOGFMT", LOGFMT_SAMPLES);
    let mut g = c.benchmark_group("pattern");
    g.throughput(Throughput::Bytes(total_bytes(&lines)));
    let p = Pattern::new("level=<level> ts=<ts> caller=<caller> msg=<_> method=<method> path=<path> status=<status> <_>")
        .expect("valid pattern");
    let mut labels = LabelsBuilder::with_stream(&stream());
    g.bench_function("parse", |b| {
        b.iter(|| {
            for l in &lines {
                labels.reset();
                p.parse(l, &mut labels);
            }
        })
    });
    g.finish();
}

fn bench_template(c: &mut Criterion) {
    let lines = load("LOGJAR_BENCH_JSON", JSON_SAMPLES);
    let mut labels = LabelsBuilder::with_stream(&stream());
    let mut json = JsonParser::new();
    // Pre-parse labels so the bench measures rendering only.
    let parsed: Vec<LabelsBuilder> = lines
        .iter()
        .map(|l| {
            labels.reset();
            json.parse(l, &mut labels);
            labels.clone()
        })
        .collect();
    let mut g = c.benchmark_group("template");
    g.throughput(Throughput::Elements(parsed.len() as u64));
    let simple = Template::parse("{{.level}} {{.msg}}").expect("valid");
    let complex = Template::parse(
        r#"{{ .level | upper }} {{ if ge (int .status) 500 }}FAIL{{ else }}ok{{ end }} {{ printf "%-6s" .method }} {{ .path | trunc 20 }}"#,
    )
    .expect("valid");
    let mut out = String::with_capacity(256);
    for (name, t) in [("simple_fields", &simple), ("functions_and_if", &complex)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for (lb, line) in parsed.iter().zip(&lines) {
                    out.clear();
                    let ctx = TemplateContext {
                        labels: lb,
                        line,
                        ts_ns: 0,
                    };
                    t.render(&ctx, &mut out).expect("renders");
                }
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_json,
    bench_logfmt,
    bench_line_filters,
    bench_pattern,
    bench_template
);
criterion_main!(benches);
