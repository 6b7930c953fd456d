//! Golden tests of `line_format`, `label_format`, `drop` and `keep`, with the
//! `TemplateFormatErr` cases. Expected results worked out by hand from Loki v3's
//! `fmt.go`, `drop_labels.go` and `keep_labels.go` semantics.

mod pipeline_util;
use pipeline_util::*;

const GW: &[(&str, &str)] = &[("app", "gw")];

#[test]
fn line_format_with_labels_and_functions() {
    let q = r#"{app="gw"} | logfmt | line_format "{{ .level | upper }}: {{ .msg | trunc 5 }} [{{ __line__ | len }}] {{ regexReplaceAll \"[0-9]+\" .msg \"N\" }}""#;
    let line = r#"level=warn msg="disk 93 full""#;
    assert_eq!(
        run(q, GW, &[line]),
        vec![kept(
            "WARN: disk  [29] disk N full",
            r#"{app="gw", level="warn", msg="disk 93 full"}"#
        )]
    );
}

#[test]
fn line_format_sees_timestamp_and_changes_later_stages_input() {
    // ts is the entry index in the helper; 0 ns = 1970-01-01.
    let q = r#"{app="gw"} | line_format "{{ __timestamp__ | date \"2006-01-02\" }} x=1" | logfmt"#;
    assert_eq!(
        run(q, GW, &["ignored"]),
        vec![kept("1970-01-01 x=1", r#"{app="gw", x="1"}"#)]
    );
}

#[test]
fn line_format_runtime_error_keeps_the_line() {
    let q = r#"{app="gw"} | logfmt | line_format "{{ duration .took }}""#;
    let out = run(q, GW, &["took=5s", "took=soon"]);
    assert_eq!(out[0], kept("5", r#"{app="gw", took="5s"}"#));
    let (line, labels) = out[1].clone().unwrap();
    assert_eq!(line, "took=soon");
    assert!(
        labels.starts_with(r#"{__error__="TemplateFormatErr", __error_details__=""#)
            && labels.contains(r#"time: invalid duration \"soon\""#),
        "{labels}"
    );
    let q = r#"{app="gw"} | logfmt | line_format "{{ duration .took }}" | __error__="""#;
    assert_eq!(run(q, GW, &["took=soon"]), vec![None]);
}

#[test]
fn label_format_rename_drops_the_source() {
    let q = r#"{app="gw"} | logfmt | label_format lvl=level"#;
    assert_eq!(
        labels_of(q, GW, &["level=info x=1", "x=2"]),
        vec![
            Some(r#"{app="gw", lvl="info", x="1"}"#.to_string()),
            // a missing source does nothing
            Some(r#"{app="gw", x="2"}"#.to_string()),
        ]
    );
    // renaming a stream label
    let q = r#"{app="gw"} | label_format application=app"#;
    assert_eq!(
        labels_of(q, GW, &["l"]),
        vec![Some(r#"{application="gw"}"#.to_string())]
    );
}

#[test]
fn label_format_template_and_several_assignments() {
    let q = r#"{app="gw"} | logfmt | label_format combo="{{.a}}-{{.b}}", app="{{ .app | upper }}""#;
    assert_eq!(
        labels_of(q, GW, &["a=1 b=2"]),
        vec![Some(r#"{a="1", app="GW", b="2", combo="1-2"}"#.to_string())]
    );
    // Templates read a snapshot taken at the stage's first template: a rename before it is
    // visible, one after it is not.
    let q = r#"{app="gw"} | logfmt | label_format x=a, t1="{{.x}}/{{.a}}", a=b, t2="{{.a}}""#;
    assert_eq!(
        labels_of(q, GW, &["a=1 b=2"]),
        vec![Some(r#"{a="2", app="gw", t1="1/", x="1"}"#.to_string())]
    );
}

#[test]
fn label_format_runtime_error() {
    let q = r#"{app="gw"} | logfmt | label_format d="{{ duration .took }}", ok="yes""#;
    let out = labels_of(q, GW, &["took=never"]);
    let got = out[0].as_deref().unwrap();
    assert!(
        got.starts_with(r#"{__error__="TemplateFormatErr""#),
        "{got}"
    );
    // the failing assignment is skipped, the next one runs
    assert!(
        got.ends_with(r#"app="gw", ok="yes", took="never"}"#),
        "{got}"
    );
}

#[test]
fn drop_names_and_matchers() {
    let q = r#"{app="gw", env="prod"} | logfmt | drop level, b="2", env"#;
    assert_eq!(
        labels_of(
            q,
            &[("app", "gw"), ("env", "prod")],
            &["level=info a=1 b=2", "b=3"]
        ),
        vec![
            Some(r#"{a="1", app="gw"}"#.to_string()),
            Some(r#"{app="gw", b="3"}"#.to_string()),
        ]
    );
    // dropping the error labels clears the error
    let q = r#"{app="gw"} | logfmt --strict | drop __error__, __error_details__"#;
    assert_eq!(
        labels_of(q, GW, &[r#"a=1 b="x"#]),
        vec![Some(r#"{a="1", app="gw"}"#.to_string())]
    );
    let q = r#"{app="gw"} | logfmt --strict | drop __error__="LogfmtParserErr""#;
    let out = labels_of(q, GW, &[r#"a=1 b="x"#]);
    assert!(
        out[0]
            .as_deref()
            .unwrap()
            .starts_with(r#"{__error_details__="#),
        "{out:?}"
    );
}

#[test]
fn keep_names_and_matchers_never_removes_errors() {
    let q = r#"{app="gw", env="prod"} | logfmt | keep app, level"#;
    assert_eq!(
        labels_of(q, &[("app", "gw"), ("env", "prod")], &["level=info a=1"]),
        vec![Some(r#"{app="gw", level="info"}"#.to_string())]
    );
    let q = r#"{app="gw"} | logfmt | keep level="error""#;
    assert_eq!(
        labels_of(q, GW, &["level=error a=1", "level=info"]),
        vec![
            Some(r#"{level="error"}"#.to_string()),
            Some("{}".to_string())
        ]
    );
    let q = r#"{app="gw"} | logfmt --strict | keep a"#;
    let out = labels_of(q, GW, &[r#"a=1 b="x"#]);
    let got = out[0].as_deref().unwrap();
    assert!(
        got.starts_with(r#"{__error__="LogfmtParserErr", __error_details__="#)
            && got.ends_with(r#", a="1"}"#),
        "{got}"
    );
}

#[test]
fn compile_errors_name_the_stage() {
    use logjar_logql::eval::pipeline::Pipeline;
    let cases = [
        (
            r#"{a="b"} | line_format "{{ .x | nosuchfn }}""#,
            "stage 1 (line_format)",
        ),
        (
            r#"{a="b"} |= "x" | label_format y="{{ if }}""#,
            "stage 2 (label_format)",
        ),
        (r#"{a="b"} | json x="a[" "#, "stage 1 (json)"),
    ];
    let mut compiled = 0;
    for (q, stage) in cases {
        let parsed = match logjar_logql::parse(q) {
            Ok(p) => p,
            // The parser may already reject it; then there is nothing to compile.
            Err(_) => continue,
        };
        compiled += 1;
        let err = Pipeline::compile(&parsed.as_log().unwrap().pipeline).unwrap_err();
        assert_eq!(err.stage, stage, "{q}: {err}");
        assert!(!err.message.is_empty());
    }
    assert!(compiled >= 2, "only {compiled} cases reached the compiler");
}
