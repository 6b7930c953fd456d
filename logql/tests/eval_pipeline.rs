//! The pieces chained the way the evaluator will chain them, on the benchmark queries'
//! shapes, with expected results worked out from Loki's semantics.

use logjar_logql::eval::decolorize::decolorize;
use logjar_logql::eval::json::JsonParser;
use logjar_logql::eval::linefilter::LineFilter;
use logjar_logql::eval::logfmt::LogfmtParser;
use logjar_logql::eval::pattern::Pattern;
use logjar_logql::eval::regexp::RegexpParser;
use logjar_logql::eval::template::{Template, TemplateContext};
use logjar_logql::eval::LabelsBuilder;

fn stream(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// `{app="api"} | json | status >= 500 | line_format "{{.msg}}"`
#[test]
fn json_then_numeric_filter_then_line_format() {
    let lines = [
        r#"{"level":"info","msg":"ok","status":200}"#,
        r#"{"level":"error","msg":"upstream failed","status":503}"#,
        r#"not json at all"#,
    ];
    let mut json = JsonParser::with_needed_keys(["status", "msg"]);
    let tmpl = Template::parse("{{.msg}}").unwrap();
    let mut labels = LabelsBuilder::with_stream(&stream(&[("app", "api")]));
    let mut out = Vec::new();
    for line in lines {
        labels.reset();
        json.parse(line.as_bytes(), &mut labels);
        // A numeric label filter keeps entries whose conversion fails, flagged.
        let keep = match labels.get("status").map(str::parse::<f64>) {
            Some(Ok(v)) => v >= 500.0,
            _ => labels.has_error(),
        };
        if !keep {
            continue;
        }
        let ctx = TemplateContext {
            labels: &labels,
            line: line.as_bytes(),
            ts_ns: 0,
        };
        let mut s = String::new();
        tmpl.render(&ctx, &mut s).unwrap();
        out.push((s, labels.error().map(str::to_string)));
    }
    assert_eq!(
        out,
        vec![
            ("upstream failed".to_string(), None),
            (String::new(), Some("JSONParserErr".to_string())),
        ]
    );
}

/// `| json | logfmt`: the second parser overwrites keys the first one extracted.
#[test]
fn json_then_logfmt_last_wins() {
    let mut labels = LabelsBuilder::with_stream(&stream(&[("app", "gw")]));
    let line = br#"{"level":"info","msg":"level=warn app=x"}"#;
    JsonParser::new().parse(line, &mut labels);
    let msg = labels.get("msg").unwrap().to_string();
    LogfmtParser::new(false, false).parse(msg.as_bytes(), &mut labels);
    assert_eq!(labels.get("level"), Some("warn"));
    assert_eq!(labels.get("app"), Some("gw"));
    assert_eq!(labels.get("app_extracted"), Some("x"));
}

/// `{app="gateway"} | logfmt | duration > 100ms` and `| label_format` / `| keep`.
#[test]
fn logfmt_label_format_keep() {
    let mut labels = LabelsBuilder::with_stream(&stream(&[("app", "gateway"), ("env", "prod")]));
    LogfmtParser::new(false, false).parse(
        br#"level=error msg="upstream timeout" duration=1.5s status=504"#,
        &mut labels,
    );
    let dur = logjar_logql::units::parse_go_duration(labels.get("duration").unwrap()).unwrap();
    assert!(dur > 100_000_000);
    // label_format sev="{{ .level | upper }}", dst=status (rename)
    let t = Template::parse_named("label", "{{ .level | upper }}").unwrap();
    let ctx = TemplateContext {
        labels: &labels,
        line: b"",
        ts_ns: 0,
    };
    let sev = t.render_to_string(&ctx).unwrap();
    labels.set_parsed("sev", &sev);
    let status = labels.get("status").unwrap().to_string();
    labels.set_parsed("code", &status);
    labels.delete("status");
    labels.set_error("LabelFilterErr");
    labels.keep(|n, _| matches!(n, "app" | "sev" | "code"));
    assert_eq!(
        labels.sorted(),
        vec![
            ("__error__", "LabelFilterErr"),
            ("app", "gateway"),
            ("code", "504"),
            ("sev", "ERROR")
        ]
    );
}

/// `|= "error" |~ "(?i)timeout|refused" | pattern ... | regexp ...` on one line.
#[test]
fn filters_pattern_regexp_decolorize() {
    let raw = b"\x1b[31m10.0.0.7 - - [21/Nov/2026:10:00:00 +0000] \"GET /api HTTP/1.1\" 504 error: upstream TIMEOUT\x1b[0m";
    let line = decolorize(raw);
    let chain = [
        LineFilter::contains(&["error"]),
        LineFilter::regex(&["(?i)timeout|refused"]).unwrap(),
        LineFilter::ip(&["10.0.0.0/8"]).unwrap(),
        LineFilter::not_contains(&["debug"]),
    ];
    assert!(chain.iter().all(|f| f.matches(&line)));
    let mut labels = LabelsBuilder::new();
    Pattern::new(r#"<ip> - <_> [<ts>] "<method> <path> <_>" <status> <_>"#)
        .unwrap()
        .parse(&line, &mut labels);
    RegexpParser::new(r"error: (?P<reason>.*)$")
        .unwrap()
        .parse(&line, &mut labels);
    assert_eq!(
        labels.sorted(),
        vec![
            ("ip", "10.0.0.7"),
            ("method", "GET"),
            ("path", "/api"),
            ("reason", "upstream TIMEOUT"),
            ("status", "504"),
            ("ts", "21/Nov/2026:10:00:00 +0000"),
        ]
    );
}

/// A json key named `__error__` sets the error field rather than a second label.
#[test]
fn error_named_keys_do_not_duplicate() {
    let mut labels = LabelsBuilder::new();
    JsonParser::new().parse(br#"{"__error__":"x"}"#, &mut labels);
    assert_eq!(labels.sorted(), vec![("__error__", "x")]);
}
