//! Property tests for the pipeline pieces: no input makes them panic, and the json
//! flattener agrees with a reference flattening built on serde_json.

use std::collections::BTreeMap;

use logjar_logql::eval::decolorize::decolorize;
use logjar_logql::eval::json::JsonParser;
use logjar_logql::eval::labels::sanitize_label_key;
use logjar_logql::eval::linefilter::LineFilter;
use logjar_logql::eval::logfmt::LogfmtParser;
use logjar_logql::eval::pattern::{Pattern, PatternFilter};
use logjar_logql::eval::template::{Template, TemplateContext};
use logjar_logql::eval::LabelsBuilder;
use proptest::prelude::*;

/// Flattens like Loki: nested objects joined with `_`, arrays and nulls skipped.
fn reference_flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    let serde_json::Value::Object(map) = v else {
        return;
    };
    for (k, v) in map {
        let mut key = prefix.to_string();
        if prefix.is_empty() {
            key.push_str(&sanitize_label_key(k.as_bytes(), true));
        } else {
            key.push('_');
            key.push_str(&sanitize_label_key(k.as_bytes(), false));
        }
        match v {
            serde_json::Value::Object(_) => reference_flatten(&key, v, out),
            serde_json::Value::String(s) => {
                out.insert(key, s.replace('\u{FFFD}', " "));
            }
            serde_json::Value::Number(n) => {
                out.insert(key, n.to_string());
            }
            serde_json::Value::Bool(b) => {
                out.insert(key, b.to_string());
            }
            serde_json::Value::Null | serde_json::Value::Array(_) => {}
        }
    }
}

fn count_leaves(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => m
            .values()
            .map(|x| match x {
                serde_json::Value::Object(_) => count_leaves(x),
                serde_json::Value::Null | serde_json::Value::Array(_) => 0,
                _ => 1,
            })
            .sum(),
        _ => 0,
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|i| serde_json::json!(i)),
        "[a-zA-Z0-9 _.\\-\"\\\\/\n\t\u{e9}\u{1F600}]{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z][a-z0-9_]{0,5}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = serde_json::Value> {
    prop::collection::btree_map("[a-z][a-z0-9_.\\- ]{0,6}", json_value(), 0..6)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_flatten_agrees_with_serde(obj in json_object()) {
        let line = serde_json::to_string(&obj).unwrap();
        let mut want = BTreeMap::new();
        reference_flatten("", &obj, &mut want);
        let mut b = LabelsBuilder::new();
        JsonParser::new().parse(line.as_bytes(), &mut b);
        prop_assert!(!b.has_error(), "{line}: {:?}", b.error_details());
        let got: BTreeMap<String, String> = b.to_vec().into_iter().collect();
        // Sanitised keys may collide (`a.b` and `a_b`); compare when they do not.
        if want.len() == count_leaves(&obj) {
            prop_assert_eq!(got, want, "{}", line);
        }
    }

    #[test]
    fn json_never_panics(line in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut b = LabelsBuilder::new();
        JsonParser::new().parse(&line, &mut b);
        let mut p = JsonParser::with_params(&[("a", "a.b[0]"), ("c", "[1]")]).unwrap();
        p.parse(&line, &mut b);
        let mut n = JsonParser::with_needed_keys(["a", "b_c"]);
        n.parse(&line, &mut b);
    }

    #[test]
    fn json_never_panics_on_jsonish(line in "[{}\\[\\]\":,a-c0-9 \\\\tnulfrue.-]{0,80}") {
        let mut b = LabelsBuilder::new();
        JsonParser::new().parse(line.as_bytes(), &mut b);
        let mut p = JsonParser::with_params(&[("a", "a"), ("b", "b[0].c")]).unwrap();
        p.parse(line.as_bytes(), &mut b);
    }

    #[test]
    fn logfmt_never_panics(line in prop::collection::vec(any::<u8>(), 0..200)) {
        for (strict, keep) in [(false, false), (true, true)] {
            let mut b = LabelsBuilder::new();
            LogfmtParser::new(strict, keep).parse(&line, &mut b);
        }
    }

    #[test]
    fn logfmt_never_panics_on_logfmtish(line in "[a-c= \"\\\\nu0-9\u{e9}]{0,60}") {
        for (strict, keep) in [(false, false), (true, false), (false, true)] {
            let mut b = LabelsBuilder::new();
            LogfmtParser::new(strict, keep).parse(line.as_bytes(), &mut b);
            if !strict {
                prop_assert!(!b.has_error());
            }
        }
    }

    #[test]
    fn logfmt_round_trips_quoted_pairs(
        pairs in prop::collection::btree_map("[a-z][a-z0-9_]{0,6}", "[a-zA-Z0-9 =\"\\\\]{1,10}", 1..6)
    ) {
        let line: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
            .collect();
        let mut b = LabelsBuilder::new();
        LogfmtParser::new(true, false).parse(line.join(" ").as_bytes(), &mut b);
        prop_assert!(!b.has_error(), "{:?}", b.error_details());
        let got: BTreeMap<String, String> = b.to_vec().into_iter().collect();
        prop_assert_eq!(got, pairs);
    }

    #[test]
    fn pattern_and_filters_never_panic(pat in "[<>_a-c ]{0,16}", line in prop::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = Pattern::new(&pat) {
            let mut b = LabelsBuilder::new();
            p.parse(&line, &mut b);
        }
        if let Ok(f) = PatternFilter::new(&pat) {
            let _ = f.matches(&line);
        }
        let _ = LineFilter::contains(&[pat.as_bytes()]).matches(&line);
        if let Ok(f) = LineFilter::ip(&["10.0.0.0/8", "::1"]) {
            let _ = f.matches(&line);
        }
        let _ = decolorize(&line);
    }

    #[test]
    fn template_never_panics(src in "[{}. a-z|()$:=\"0-9-]{0,40}") {
        if let Ok(t) = Template::parse(&src) {
            let labels = [("a", "1"), ("b", "x")];
            let ctx = TemplateContext { labels: &labels, line: b"line", ts_ns: 0 };
            let mut out = String::new();
            let _ = t.render(&ctx, &mut out);
        }
    }

    #[test]
    fn template_functions_never_panic(
        f in prop::sample::select(vec![
            "upper", "lower", "title", "trunc", "substr", "int", "float64", "add", "sub", "mul",
            "div", "mod", "addf", "divf", "max", "minf", "round", "ceil", "b64dec", "urldecode",
            "bytes", "duration", "unixToTime", "alignLeft", "repeat", "indent", "printf", "index",
            "slice", "len", "eq", "lt", "default", "fromJson", "regexReplaceAll", "count",
            "toDate", "toDateInZone", "date", "Replace", "trimAll",
        ]),
        args in prop::collection::vec(prop_oneof![
            "-?[0-9]{1,3}",
            "\"[a-z0-9%=.:{}\\[\\] -]{0,8}\"",
            Just(".a".to_string()),
            Just("1.5".to_string()),
            Just("__timestamp__".to_string()),
        ], 0..4),
    ) {
        let src = format!("{{{{ {f} {} }}}}", args.join(" "));
        if let Ok(t) = Template::parse(&src) {
            let labels = [("a", "12")];
            let ctx = TemplateContext { labels: &labels, line: b"", ts_ns: 1 };
            let mut out = String::new();
            let _ = t.render(&ctx, &mut out);
        }
    }
}
