//! Golden tests of parser stages run through `Pipeline`: expected labels worked out by
//! hand from Loki v3's documented semantics (json flattening, `_extracted` collisions,
//! logfmt flags, regexp/pattern captures, unpack, decolorize, parser errors).

mod pipeline_util;
use pipeline_util::*;

const API: &[(&str, &str)] = &[("app", "api"), ("level", "info")];

#[test]
fn json_flattens_objects_skips_arrays_and_nulls_and_suffixes_collisions() {
    let line = r#"{"level":"error","app":"x","nested":{"a":1,"b":{"c":true}},"arr":[1,2],"n":null,"msg":"hi \"you\""}"#;
    assert_eq!(
        run(r#"{app="api"} | json"#, API, &[line]),
        vec![kept(
            line,
            r#"{app="api", app_extracted="x", level="info", level_extracted="error", msg="hi \"you\"", nested_a="1", nested_b_c="true"}"#
        )]
    );
}

#[test]
fn json_with_params_extracts_paths() {
    let line = r#"{"status":200,"req":{"path":"/a","h":{"k":"v"}},"items":["x","y"]}"#;
    assert_eq!(
        labels_of(
            r#"{app="api"} | json s="status", p="req.path", first="items[1]", obj="req.h", missing="nope""#,
            &[("app", "api")],
            &[line]
        ),
        // `missing` is set to "" (and empty labels do not show), `obj` is raw JSON text.
        vec![Some(
            r#"{app="api", first="y", obj="{\"k\":\"v\"}", p="/a", s="200"}"#.to_string()
        )]
    );
}

#[test]
fn json_error_sets_json_parser_err_and_error_filter_drops_it() {
    let q = r#"{app="api"} | json"#;
    let out = labels_of(q, &[("app", "api")], &["not json", r#"{"a":"b"}"#]);
    let first = out[0].as_deref().unwrap();
    assert!(
        first.starts_with(r#"{__error__="JSONParserErr", __error_details__=""#),
        "{first}"
    );
    assert_eq!(out[1].as_deref(), Some(r#"{a="b", app="api"}"#));

    let q = r#"{app="api"} | json | __error__="""#;
    assert_eq!(
        labels_of(q, &[("app", "api")], &["not json", r#"{"a":"b"}"#]),
        vec![None, Some(r#"{a="b", app="api"}"#.to_string())]
    );
    // `__error__ != ""` keeps only the failures.
    let q = r#"{app="api"} | json | __error__ != """#;
    let out = labels_of(q, &[("app", "api")], &["not json", r#"{"a":"b"}"#]);
    assert!(out[0].is_some() && out[1].is_none());
}

#[test]
fn logfmt_default_drops_empty_values_and_skips_bad_pairs() {
    let q = r#"{app="gw"} | logfmt"#;
    assert_eq!(
        labels_of(
            q,
            &[("app", "gw")],
            &[r#"level=info msg="hello world" empty= app=x"#]
        ),
        vec![Some(
            r#"{app="gw", app_extracted="x", level="info", msg="hello world"}"#.to_string()
        )]
    );
    // Without --strict a malformed pair is skipped and no error is set.
    assert_eq!(
        labels_of(q, &[("app", "gw")], &[r#"a=1 b="unterminated"#]),
        vec![Some(r#"{a="1", app="gw"}"#.to_string())]
    );
}

#[test]
fn logfmt_keep_empty_is_visible_to_templates() {
    let q = r#"{app="gw"} | logfmt --keep-empty | line_format "{{ . }}""#;
    assert_eq!(
        lines_of(q, &[("app", "gw")], &["a=1 b"]),
        vec![Some("map[a:1 app:gw b:]".to_string())]
    );
    let q = r#"{app="gw"} | logfmt | line_format "{{ . }}""#;
    assert_eq!(
        lines_of(q, &[("app", "gw")], &["a=1 b"]),
        vec![Some("map[a:1 app:gw]".to_string())]
    );
}

#[test]
fn logfmt_strict_sets_logfmt_parser_err() {
    let q = r#"{app="gw"} | logfmt --strict"#;
    let out = labels_of(q, &[("app", "gw")], &[r#"a=1 b="unterminated"#]);
    let got = out[0].as_deref().unwrap();
    assert!(
        got.starts_with(
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos "#
        ),
        "{got}"
    );
    assert!(got.ends_with(r#", a="1", app="gw"}"#), "{got}");
    let q = r#"{app="gw"} | logfmt --strict | __error__="""#;
    assert_eq!(labels_of(q, &[("app", "gw")], &[r#"a=1 b="x"#]), vec![None]);
}

#[test]
fn logfmt_params_rename_and_set_missing_to_empty() {
    let q = r#"{app="gw"} | logfmt lvl="level", msg | lvl="" "#;
    // `lvl` is set to "" when `level` is absent, so the filter keeps that line only.
    assert_eq!(
        labels_of(q, &[("app", "gw")], &["level=warn msg=a", "msg=b"]),
        vec![None, Some(r#"{app="gw", msg="b"}"#.to_string())]
    );
}

#[test]
fn regexp_named_groups_become_labels() {
    let q = r#"{app="web"} | regexp "(?P<method>\\w+) (?P<path>\\S+)(?: (?P<code>\\d+))?""#;
    assert_eq!(
        labels_of(
            q,
            &[("app", "web")],
            &["GET /index.html 200", "POST /x", "!!!"]
        ),
        vec![
            Some(r#"{app="web", code="200", method="GET", path="/index.html"}"#.to_string()),
            // an unmatched optional group is set to "" (not shown)
            Some(r#"{app="web", method="POST", path="/x"}"#.to_string()),
            // no match: nothing extracted, no error
            Some(r#"{app="web"}"#.to_string()),
        ]
    );
}

#[test]
fn pattern_captures() {
    let q = r#"{app="nginx"} | pattern "<ip> - - <_> \"<method> <path> <_>\" <status> <size>""#;
    let line = r#"10.1.2.3 - - [21/Nov/2026:10:00:00 +0000] "GET /api/v1 HTTP/1.1" 404 512"#;
    assert_eq!(
        labels_of(q, &[("app", "nginx")], &[line]),
        vec![Some(
            r#"{app="nginx", ip="10.1.2.3", method="GET", path="/api/v1", size="512", status="404"}"#
                .to_string()
        )]
    );
}

#[test]
fn unpack_replaces_the_line_with_entry() {
    let q = r#"{app="promtail"} | unpack"#;
    let out = run(
        q,
        &[("app", "promtail")],
        &[
            r#"{"_entry":"original line","pod":"p1","app":"inner","n":3}"#,
            r#"{"pod":"p2"}"#,
            "oops",
        ],
    );
    assert_eq!(
        out[0],
        kept(
            "original line",
            r#"{app="promtail", app_extracted="inner", pod="p1"}"#
        )
    );
    // not packed: labels are not added and the line stays
    assert_eq!(out[1], kept(r#"{"pod":"p2"}"#, r#"{app="promtail"}"#));
    let (line, labels) = out[2].clone().unwrap();
    assert_eq!(line, "oops");
    assert!(
        labels.starts_with(r#"{__error__="JSONParserErr""#),
        "{labels}"
    );
}

#[test]
fn decolorize_strips_ansi() {
    assert_eq!(
        lines_of(
            r#"{app="x"} | decolorize"#,
            &[("app", "x")],
            &["\x1b[31merror\x1b[0m plain", "plain"]
        ),
        vec![Some("error plain".to_string()), Some("plain".to_string())]
    );
}

#[test]
fn second_parser_overwrites_first() {
    // regexp sets a="first", then logfmt finds a=second: the later parser wins, no suffix.
    let q = r#"{app="x"} | regexp "(?P<a>\\w+)" | logfmt"#;
    assert_eq!(
        labels_of(q, &[("app", "x")], &["first a=second", "only"]),
        vec![
            Some(r#"{a="second", app="x"}"#.to_string()),
            Some(r#"{a="only", app="x"}"#.to_string())
        ]
    );
}
