package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	logjar "github.com/logjar/logjar/bindings/go"
)

// lokiBody is the part of Loki's query answer the test reads.
type lokiBody struct {
	Status string
	Data   struct {
		ResultType string
		Result     []struct {
			Stream map[string]string
			Metric map[string]string
			Values [][2]string
			Value  [2]any
		}
	}
}

func get(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestService(t *testing.T) {
	db, err := logjar.Open(filepath.Join(t.TempDir(), "db"), &logjar.Options{Sync: "never"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := NewService(db)
	defer svc.Close()
	srv := httptest.NewServer(svc) // loopback only
	defer srv.Close()

	for _, name := range []string{"ann", "bob", "cy"} {
		code, body := get(t, srv.URL, "/hello?name="+name)
		if code != 200 || body != "hello, "+name+"\n" {
			t.Fatalf("hello: %d %q", code, body)
		}
	}
	if code, _ := get(t, srv.URL, "/missing"); code != 404 {
		t.Fatalf("missing: %d", code)
	}

	// Its own request logs, through LogQL: the three /hello requests, newest first.
	q := url.Values{"query": {`{service="logsvc"} | logfmt | path="/hello" and status=200`}, "start": {"0"}, "end": {"now"}, "limit": {"10"}}
	code, body := get(t, srv.URL, "/logs?"+q.Encode())
	if code != 200 {
		t.Fatalf("logs: %d %s", code, body)
	}
	var lb lokiBody
	if err := json.Unmarshal([]byte(body), &lb); err != nil {
		t.Fatal(err)
	}
	if lb.Status != "success" || lb.Data.ResultType != "streams" {
		t.Fatalf("body %s", body)
	}
	n := 0
	for _, s := range lb.Data.Result {
		if s.Stream["service"] != "logsvc" || s.Stream["method"] != "GET" {
			t.Fatalf("stream labels %v", s.Stream)
		}
		for _, v := range s.Values {
			if !strings.Contains(v[1], `path="/hello" status=200`) || !strings.HasPrefix(v[1], "level=info method=GET") {
				t.Fatalf("line %q", v[1])
			}
			n++
		}
	}
	if n != 3 {
		t.Fatalf("want 3 /hello lines, got %d: %s", n, body)
	}

	// A metric query over the logs: requests per status (the /logs call above is
	// logged too, and this one is not yet).
	q = url.Values{"query": {`sum by (status) (count_over_time({service="logsvc"} | logfmt [1h]))`}, "time": {"now"}}
	code, body = get(t, srv.URL, "/logs?"+q.Encode())
	if code != 200 {
		t.Fatalf("metric: %d %s", code, body)
	}
	lb = lokiBody{}
	if err := json.Unmarshal([]byte(body), &lb); err != nil {
		t.Fatal(err)
	}
	counts := map[string]any{}
	for _, r := range lb.Data.Result {
		counts[r.Metric["status"]] = r.Value[1]
	}
	if lb.Data.ResultType != "vector" || counts["200"] != "4" || counts["404"] != "1" {
		t.Fatalf("counts %v from %s", counts, body)
	}

	// A bad query is a 400 with logjar's message; the error is logged as a warning.
	code, body = get(t, srv.URL, "/logs?query="+url.QueryEscape(`{service=`))
	if code != 400 || !strings.Contains(body, "parse error") {
		t.Fatalf("bad query: %d %s", code, body)
	}
	if code, _ := get(t, srv.URL, "/logs"); code != 400 {
		t.Fatalf("no query: %d", code)
	}
	q = url.Values{"query": {`{service="logsvc"} |= "status=400"`}, "start": {"0"}, "end": {"now"}}
	_, body = get(t, srv.URL, "/logs?"+q.Encode())
	if !strings.Contains(body, "level=warn") || strings.Count(body, "status=400") != 2 {
		t.Fatalf("logged bad requests: %s", body)
	}
}
