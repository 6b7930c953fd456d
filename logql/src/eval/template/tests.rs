use super::*;

const LABELS: &[(&str, &str)] = &[
    ("app", "api"),
    ("level", "warn"),
    ("status", "503"),
    ("dur", "1.5s"),
    ("size", "10KiB"),
    ("msg", "hello world"),
    ("path", "/a%20b?x=1"),
    ("ts", "1673798889"),
    ("json", r#"{"a":{"b":[1,"two"]},"n":1.5}"#),
    ("empty", ""),
];

fn render(src: &str) -> Result<String, TemplateError> {
    let t = Template::parse(src)?;
    let ctx = TemplateContext {
        labels: &LABELS,
        line: b"the line",
        ts_ns: 1_673_798_889_902_000_000,
    };
    t.render_to_string(&ctx)
}

fn ok(src: &str) -> String {
    match render(src) {
        Ok(s) => s,
        Err(e) => panic!("{src}: {e}"),
    }
}

#[test]
fn fields_and_fast_path() {
    let t = Template::parse("{{.app}}-{{ .level }}:{{.missing}}").unwrap();
    assert!(t.simple.is_some());
    assert_eq!(ok("{{.app}}-{{ .level }}:{{.missing}}"), "api-warn:");
    assert_eq!(
        Template::parse("{{.msg}}").unwrap().simple_key(),
        Some("msg")
    );
    assert!(ok("{{ . }}").starts_with("map[app:api dur:1.5s"));
    assert_eq!(
        Template::parse("{{ if .a }}{{ .b | upper }}{{ end }}{{ (.c) }}")
            .unwrap()
            .referenced_labels(),
        vec!["a", "b", "c"]
    );
}

#[test]
fn control_flow() {
    assert_eq!(
        ok("{{ if eq .level \"warn\" }}W{{ else if eq .level \"error\" }}E{{ else }}O{{ end }}"),
        "W"
    );
    assert_eq!(ok("{{ if .missing }}yes{{ else }}no{{ end }}"), "no");
    assert_eq!(
        ok("{{ with .app }}[{{ . }}]{{ end }}{{ with .empty }}x{{ else }}none{{ end }}"),
        "[api]none"
    );
    assert_eq!(
        ok("{{ range $i, $v := (fromJson .json).a.b }}{{ $i }}={{ $v }};{{ end }}"),
        "0=1;1=two;"
    );
    assert_eq!(
        ok("{{ range 5 }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}"),
        "012"
    );
    assert_eq!(
        ok("{{ range 4 }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ . }}{{ end }}"),
        "023"
    );
    assert_eq!(
        ok("{{ range (fromJson \"[]\") }}x{{ else }}empty{{ end }}"),
        "empty"
    );
    assert_eq!(
        ok("{{ range $k, $v := . }}{{ if eq $k \"app\" }}{{ $k }}={{ $v }}{{ end }}{{ end }}"),
        "app=api"
    );
    assert_eq!(
        ok("{{ $x := .app }}{{ $x = upper $x }}{{ $x }}{{ $.level }}"),
        "APIwarn"
    );
    assert_eq!(
        ok("a  {{- .app -}}  b {{/* comment */}}c{{- /* c2 */ -}} d"),
        "aapib cd"
    );
    assert_eq!(
        ok("{{ and 1 0 }} {{ or 0 \"\" \"x\" }} {{ not true }}"),
        "0 x false"
    );
    assert_eq!(
        ok("{{ if and .app (gt (int .status) 499) }}5xx{{ end }}"),
        "5xx"
    );
}

#[test]
fn literals_and_printing() {
    assert_eq!(ok("{{ 3 }} {{ -2 }} {{ 1.5 }} {{ 1e6 }} {{ 0x10 }} {{ 'a' }} {{ true }} {{ \"q\\\"\" }} {{ `raw\\n` }}"), "3 -2 1.5 1e+06 16 97 true q\" raw\\n");
    assert_eq!(
        ok("{{ print 1 2 \"a\" 3 }}|{{ println \"x\" 1 }}|"),
        "1 2a3|x 1\n|"
    );
    assert_eq!(ok("{{ printf \"%s=%d %5.2f|%-4s|%q %v %x %t %%\" .app 42 3.14159 \"ab\" \"x\" 1.5 255 true }}"), "api=42  3.14|ab  |\"x\" 1.5 ff true %");
    assert_eq!(
        ok("{{ printf \"%d %s\" \"x\" }}"),
        "%!d(string=x) %!s(MISSING)"
    );
    assert_eq!(ok("{{ printf \"%d\" 1 2 }}"), "1%!(EXTRA int=2)");
    assert_eq!(
        ok("{{ printf \"%05d|%+d|%e|%g|%.3g\" 42 7 1234.5 0.000001 3.14159 }}"),
        "00042|+7|1.234500e+03|1e-06|3.14"
    );
    assert_eq!(
        ok("{{ len .app }} {{ index . \"level\" }} {{ slice .msg 0 5 }}"),
        "3 warn hello"
    );
    assert_eq!(
        ok("{{ html \"<a href='x'>&\" }} {{ js \"a'b<\" }} {{ urlquery \"a b\" }}"),
        "&lt;a href=&#39;x&#39;&gt;&amp; a\\'b\\u003C a+b"
    );
}

#[test]
fn comparisons() {
    assert_eq!(ok("{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}"), "true true true true true true false");
    let e = render("{{ eq 1 \"1\" }}").unwrap_err();
    assert!(
        matches!(e, TemplateError::Exec(ref m) if m.contains("incompatible types for comparison")),
        "{e}"
    );
    assert!(render("{{ lt true false }}").is_err());
}

#[test]
fn loki_functions() {
    assert_eq!(ok("{{ __line__ }}"), "the line");
    assert_eq!(
        ok("{{ __timestamp__ }}"),
        "2023-01-15 16:08:09.902 +0000 UTC"
    );
    assert_eq!(
        ok("{{ __timestamp__ | date \"2006-01-02T15:04:05Z07:00\" }}"),
        "2023-01-15T16:08:09Z"
    );
    assert_eq!(ok("{{ __timestamp__ | unixEpochMillis }} {{ __timestamp__ | unixEpochNanos }} {{ __timestamp__ | unixEpoch }}"), "1673798889902 1673798889902000000 1673798889");
    assert_eq!(
        ok("{{ regexReplaceAll \"(\\\\w+) (\\\\w+)\" .msg \"${2}_$1\" }}"),
        "world_hello"
    );
    assert_eq!(
        ok("{{ regexReplaceAllLiteral \"o\" .msg \"$1\" }}"),
        "hell$1 w$1rld"
    );
    assert_eq!(ok("{{ count \"l\" .msg }}"), "3");
    assert_eq!(
        ok("{{ urldecode .path }} {{ urlencode \"a b/c\" }}"),
        "/a b?x=1 a+b%2Fc"
    );
    assert_eq!(
        ok("{{ bytes .size }} {{ duration .dur }} {{ duration_seconds \"1m\" }}"),
        "10240 1.5 60"
    );
    assert_eq!(ok("{{ unixToTime .ts }}"), "2023-01-15 16:08:09 +0000 UTC");
    assert_eq!(
        ok("{{ unixToTime \"19373\" | date \"2006-01-02\" }}"),
        "2023-01-16"
    );
    assert_eq!(ok("{{ toDateInZone \"2006-01-02 15:04\" \"Etc/GMT-1\" \"2023-01-15 10:00\" | unixEpoch }}"), "1673773200");
    assert_eq!(
        ok("{{ toDate \"2006-01-02\" \"bad\" }}"),
        "0001-01-01 00:00:00 +0000 UTC"
    );
    assert_eq!(ok("[{{ alignLeft 5 .app }}][{{ alignRight 5 .app }}][{{ alignLeft 2 .app }}][{{ alignRight 2 .app }}]"), "[api  ][  api][ap][pi]");
    assert_eq!(ok("{{ ToLower \"AB\" }}{{ ToUpper \"c\" }}{{ Replace \"aaa\" \"a\" \"b\" 2 }}{{ Trim \"xxyxx\" \"x\" }}{{ TrimLeft \"xxy\" \"x\" }}{{ TrimRight \"yxx\" \"x\" }}{{ TrimPrefix \"pre-y\" \"pre-\" }}{{ TrimSuffix \"y.go\" \".go\" }}{{ TrimSpace \"  z \" }}"), "abCbbayyyyyz");
    assert!(matches!(
        render("{{ bytes \"12 parsecs\" }}"),
        Err(TemplateError::Exec(_))
    ));
    assert!(
        matches!(render("{{ duration \"x\" }}"), Err(TemplateError::Exec(m)) if m.contains("time: invalid duration \"x\""))
    );
    assert!(render("{{ unixToTime \"123\" }}").is_err());
    assert!(render("{{ regexReplaceAll \"(\" .msg \"\" }}").is_err());
}

#[test]
fn sprig_functions() {
    assert_eq!(
        ok("{{ b64enc .app }} {{ b64dec \"YXBp\" }} {{ b64dec \"!!\" }}"),
        "YXBp api illegal base64 data at input byte 0"
    );
    assert_eq!(
        ok("{{ lower \"AbC\" }} {{ upper .app }} {{ title .msg }}"),
        "abc API Hello World"
    );
    assert_eq!(
        ok("{{ trunc 3 .msg }} {{ trunc -3 .msg }} {{ substr 1 4 .msg }} {{ substr -1 2 .msg }}"),
        "hel rld ell he"
    );
    assert_eq!(
        ok("{{ contains \"lo w\" .msg }} {{ hasPrefix \"he\" .msg }} {{ hasSuffix \"x\" .msg }}"),
        "true true false"
    );
    assert_eq!(
        ok("{{ indent 2 \"a\\nb\" }}|{{ nindent 1 \"c\" }}"),
        "  a\n  b|\n c"
    );
    assert_eq!(ok("{{ replace \"o\" \"0\" .msg }} {{ repeat 3 \"ab\" }} {{ trim \"  x \" }} {{ trimAll \"$\" \"$5$\" }} {{ trimSuffix \"-\" \"a-\" }} {{ trimPrefix \"-\" \"-a\" }}"), "hell0 w0rld ababab x 5 a a");
    assert_eq!(ok("{{ int .status }} {{ int \"abc\" }} {{ float64 \"1.25\" }} {{ add 1 2 \"3\" }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }}"), "503 0 1.25 6 -2 24 3 1");
    assert_eq!(ok("{{ addf 0.1 0.2 }} {{ subf 1 0.9 }} {{ mulf 1.1 3 }} {{ divf 1 4 }} {{ max 1 7 3 }} {{ min 4 2 }} {{ maxf 1.5 2 }} {{ minf 1.5 2 }}"), "0.3 0.1 3.3 0.25 7 2 2 1.5");
    assert_eq!(
        ok("{{ ceil 1.2 }} {{ floor 1.8 }} {{ round 3.14159 2 }} {{ round 2.5 0 }}"),
        "2 1 3.14 3"
    );
    assert_eq!(
        ok("{{ (fromJson .json).n }} {{ (fromJson \"bad\") }}"),
        "1.5 <no value>"
    );
    assert_eq!(
        ok("{{ .missing | default \"none\" }} {{ .app | default \"none\" }} {{ default \"d\" 0 }}"),
        "none api d"
    );
    assert_eq!(
        ok("{{ toDate \"2006-01-02\" \"2023-01-15\" | unixEpoch }}"),
        "1673740800"
    );
    assert_eq!(ok("{{ date \"2006\" 0 }}"), "1970");
    assert!(ok("{{ now | date \"2006\" }}").len() == 4);
    assert!(render("{{ div 1 0 }}").is_err());
    assert!(render("{{ repeat -1 \"x\" }}").is_err());
    assert!(render("{{ divf 1 0 }}").is_err());
}

#[test]
fn parse_errors() {
    for (src, want) in [
        (
            "{{ nope }}",
            "template: line:1: function \"nope\" not defined",
        ),
        ("{{ if .a }}x", "template: line:1: unexpected EOF"),
        ("{{ end }}", "template: line:1: unexpected {{end}}"),
        ("{{ .a ", "template: line:1: unclosed action"),
        (
            "{{ break }}",
            "template: line:1: {{break}} outside {{range}}",
        ),
        (
            "{{ .a .b }}",
            "template: line:1: can't give argument to non-function .a",
        ),
        (
            "{{ \"abc }}",
            "template: line:1: unterminated quoted string",
        ),
        ("{{ ( .a }}", "template: line:1: unclosed left paren"),
        (
            "{{ define \"x\" }}{{ end }}",
            "template: line:1: {{define}} is not supported",
        ),
        ("{{/* x }}", "template: line:1: unclosed comment"),
    ] {
        match Template::parse(src) {
            Err(TemplateError::Parse(m)) => assert_eq!(m, want, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    assert_eq!(
        Template::parse_named("label", "{{ x }}")
            .unwrap_err()
            .to_string(),
        "template: label:1: function \"x\" not defined"
    );
}

#[test]
fn exec_errors() {
    let e = render("{{ upper 3 }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: line:1:3: executing \"line\" at <upper>: wrong type for value; expected string; got int"
    );
    assert!(render("{{ .app.x }}")
        .unwrap_err()
        .to_string()
        .contains("can't evaluate field x in type string"));
    assert!(render("{{ .app | .level }}").is_err());
    assert!(render("{{ $x = 1 }}").is_err());
    assert!(render("{{ upper }}").is_err());
    assert!(render("{{ call .app }}").is_err());
    assert!(render("{{ range .app }}{{ end }}").is_err());
    assert!(render("{{ index . 1 }}").is_err());
}

#[test]
fn renders_against_labels_builder() {
    let mut b = LabelsBuilder::with_stream(&[("app".into(), "api".into())]);
    b.set_parsed("status", "500");
    let t = Template::parse("{{ .app }} {{ .status }}{{ if .status }}!{{ end }}").unwrap();
    let ctx = TemplateContext {
        labels: &b,
        line: b"",
        ts_ns: 0,
    };
    assert_eq!(t.render_to_string(&ctx).unwrap(), "api 500!");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "{{ if 1 }}".repeat(5000) + &"{{ end }}".repeat(5000);
    assert!(Template::parse(&deep).is_err());
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    assert!(Template::parse(&parens).is_err());
    let ok_nest = "{{ if 1 }}".repeat(50) + "x" + &"{{ end }}".repeat(50);
    assert_eq!(render(&ok_nest).unwrap(), "x");
}

#[test]
fn edge_values_do_not_panic() {
    assert_eq!(ok("{{ range -3 }}x{{ else }}none{{ end }}"), "none");
    assert!(render("{{ range 100000000 }}{{ end }}").is_err());
    assert_eq!(
        ok("{{ toDate \"Jan 2006\" \"é 2020\" | unixEpoch }}"),
        "-62135596800"
    );
    assert!(!ok("{{ date \"2006-01-02\" 9223372036854775807 }}").is_empty());
    assert!(!ok("{{ date \"2006\" -9223372036854775807 }}").is_empty());
}
