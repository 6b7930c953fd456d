package logjar_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	logjar "github.com/logjar/logjar/bindings/go"
)

const sec = int64(time.Second)

func ts(s int64) time.Time { return time.Unix(s, 0) }

// typedData pushes two streams (api: 3 entries, web: 2, one with metadata).
func typedData(t *testing.T, db *logjar.DB) {
	t.Helper()
	rep, err := db.Push(context.Background(), "", []logjar.Stream{
		{Labels: map[string]string{"app": "typed", "svc": "api"}, Entries: []logjar.Entry{
			{Time: ts(11), Line: "level=info msg=a"},
			{Time: ts(12), Line: "level=error msg=b"},
			{Time: ts(13), Line: "bin\x00x"},
		}},
		{Labels: map[string]string{"app": "typed", "svc": "web"}, Entries: []logjar.Entry{
			{Time: ts(11).Add(500 * time.Millisecond), Line: "GET / 200"},
			{Time: ts(12).Add(500 * time.Millisecond), Line: "GET /x 500", Metadata: map[string]string{"trace_id": "t-42"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 5 || rep.Duplicates != 0 || rep.Bytes != 16+17+5+9+10 {
		t.Fatalf("report %+v", rep)
	}
}

func TestPushQueryStreams(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	typedData(t, db)
	res, err := db.Query(ctx, "", logjar.QueryRequest{
		Query: `{app="typed"}`, Start: ts(10), End: ts(20), Direction: logjar.Forward,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != logjar.ResultStreams || len(res.Streams) != 3 {
		t.Fatalf("result %+v", res)
	}
	// Sorted by label string: `{app="typed", svc="api"}`, then
	// `{app="typed", svc="web", trace_id="t-42"}` (',' sorts before '}'), then the other web.
	api, traced, web := res.Streams[0], res.Streams[1], res.Streams[2]
	if api.Labels["svc"] != "api" || web.Labels["svc"] != "web" || traced.Labels["trace_id"] != "t-42" {
		t.Fatalf("labels %v %v %v", api.Labels, web.Labels, traced.Labels)
	}
	var lines []string
	for _, e := range api.Entries {
		lines = append(lines, e.Line)
	}
	if fmt.Sprintf("%q", lines) != `["level=info msg=a" "level=error msg=b" "bin\x00x"]` {
		t.Fatalf("lines %q", lines)
	}
	if !api.Entries[0].Time.Equal(ts(11)) || !web.Entries[0].Time.Equal(ts(11).Add(500*time.Millisecond)) {
		t.Fatalf("times %v %v", api.Entries[0].Time, web.Entries[0].Time)
	}
	if res.Stats.EntriesReturned != 5 || res.Stats.LinesProcessed < 5 || res.Stats.StreamsSelected != 2 {
		t.Fatalf("stats %+v", res.Stats)
	}
	// Backward, limit 2: the two newest.
	res, err = db.Query(ctx, "", logjar.QueryRequest{Query: `{app="typed"} != "GET /x"`, Start: ts(10), End: ts(20), Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range res.Streams {
		n += len(s.Entries)
	}
	if n != 2 || res.Streams[0].Entries[0].Line != "bin\x00x" {
		t.Fatalf("backward %+v", res.Streams)
	}
	// The same push again: all duplicates.
	rep, err := db.Push(ctx, "", []logjar.Stream{{Labels: map[string]string{"app": "typed", "svc": "api"}, Entries: []logjar.Entry{{Time: ts(11), Line: "level=info msg=a"}}}})
	if err != nil || rep.Duplicates != 1 || rep.Accepted != 0 {
		t.Fatalf("duplicate push %+v %v", rep, err)
	}
}

func TestQueryMatrixVectorScalar(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	typedData(t, db)
	res, err := db.Query(ctx, "", logjar.QueryRequest{
		Query: `sum by (svc) (count_over_time({app="typed"}[10s]))`, Start: ts(20), End: ts(30), Step: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != logjar.ResultMatrix || len(res.Matrix) != 2 {
		t.Fatalf("matrix %+v", res)
	}
	m := res.Matrix[0]
	// The window (20s, 30s] is empty, so only the point at 20s exists.
	if m.Labels["svc"] != "api" || len(m.Points) != 1 || !m.Points[0].Time.Equal(ts(20)) || m.Points[0].Value != 3 {
		t.Fatalf("series %+v", m)
	}
	if res.Matrix[1].Labels["svc"] != "web" || res.Matrix[1].Points[0].Value != 2 {
		t.Fatalf("series %+v", res.Matrix[1])
	}

	res, err = db.Query(ctx, "", logjar.QueryRequest{
		Query: `sum by (svc) (count_over_time({app="typed"}[1m]))`, Time: ts(30),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != logjar.ResultVector || len(res.Vector) != 2 {
		t.Fatalf("vector %+v", res)
	}
	v := res.Vector[1]
	if v.Labels["svc"] != "web" || v.Value != 2 || !v.Time.Equal(ts(30)) {
		t.Fatalf("sample %+v", v)
	}

	res, err = db.Query(ctx, "", logjar.QueryRequest{Query: `2 * 21`, Time: ts(5)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != logjar.ResultScalar || res.Scalar.Value != 42 || !res.Scalar.Time.Equal(ts(5)) {
		t.Fatalf("scalar %+v", res)
	}
	// Loki divides by zero to NaN; it crosses the boundary as NaN.
	res, err = db.Query(ctx, "", logjar.QueryRequest{Query: `1 / 0`, Time: ts(5)})
	if err != nil || !math.IsNaN(res.Scalar.Value) {
		t.Fatalf("NaN scalar %+v %v", res, err)
	}
}

func TestTypedErrors(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	push := func(s logjar.Stream) error {
		_, err := db.Push(ctx, "", []logjar.Stream{s})
		return err
	}
	e := []logjar.Entry{{Time: ts(1), Line: "x"}}
	cases := map[string]logjar.Stream{
		"no labels":          {Entries: e},
		"empty label value":  {Labels: map[string]string{"app": ""}, Entries: e},
		"bad label name":     {Labels: map[string]string{"0bad": "x"}, Entries: e},
		"bad utf-8 value":    {Labels: map[string]string{"app": "\xc3\x28"}, Entries: e},
		"NUL in label":       {Labels: map[string]string{"app": "a\x00b"}, Entries: e},
		"bad utf-8 metadata": {Labels: map[string]string{"app": "a"}, Entries: []logjar.Entry{{Time: ts(1), Line: "x", Metadata: map[string]string{"k": "\xff"}}}},
	}
	for name, s := range cases {
		if err := push(s); !errors.Is(err, logjar.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := db.Push(ctx, "bad/tenant", []logjar.Stream{{Labels: map[string]string{"app": "a"}, Entries: e}}); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Errorf("bad tenant: %v", err)
	}
	// Nothing of the failed pushes was written.
	res, err := db.Query(ctx, "", logjar.QueryRequest{Query: `{app=~".+"}`, Start: ts(0), End: ts(10)})
	if err != nil || len(res.Streams) != 0 {
		t.Fatalf("after failed pushes: %+v %v", res, err)
	}
	// An empty push is fine.
	if rep, err := db.Push(ctx, "", nil); err != nil || rep.Accepted != 0 {
		t.Fatalf("empty push: %v", err)
	}
	_, err = db.Query(ctx, "", logjar.QueryRequest{Query: `{app=`})
	var le *logjar.Error
	if !errors.Is(err, logjar.ErrBadQuery) || !errors.As(err, &le) || !strings.Contains(le.Message, "parse error") {
		t.Fatalf("bad query: %v", err)
	}
	if _, err := db.Query(ctx, "", logjar.QueryRequest{Query: `{a="b"}`, Limit: -1}); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Fatalf("negative limit: %v", err)
	}
	if _, err := db.Query(ctx, "", logjar.QueryRequest{Query: `{a="b"}`, Start: ts(10), End: ts(1)}); !errors.Is(err, logjar.ErrBadQuery) {
		t.Fatalf("end before start: %v", err)
	}
	if _, err := db.Query(ctx, "", logjar.QueryRequest{Query: `{a="b"}`, Limit: 1_000_000}); !errors.Is(err, logjar.ErrLimit) {
		t.Fatalf("limit: %v", err)
	}

	limited, err := logjar.Open(t.TempDir()+"/l", &logjar.Options{Extra: map[string]any{"limits": map[string]any{"max_line_size": 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	if _, err := limited.Push(ctx, "", []logjar.Stream{{Labels: map[string]string{"app": "a"}, Entries: []logjar.Entry{{Time: ts(1), Line: "far too long"}}}}); !errors.Is(err, logjar.ErrLimit) {
		t.Fatalf("line limit: %v", err)
	}
}

func TestTypedUseAfterClose(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Push(ctx, "", []logjar.Stream{{Labels: map[string]string{"a": "b"}, Entries: []logjar.Entry{{Line: "x"}}}}); !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("push: %v", err)
	}
	if _, err := db.Query(ctx, "", logjar.QueryRequest{Query: `{a="b"}`}); !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("query: %v", err)
	}
	entries, errc := db.Tail(ctx, "", `{a="b"}`, time.Time{})
	if err := <-errc; !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("tail: %v", err)
	}
	if _, ok := <-entries; ok {
		t.Fatal("tail channel not closed")
	}
}

// 8 goroutines push (typed) and query (typed and JSON) at once; every entry is counted.
func TestTypedConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				entries := make([]logjar.Entry, 10)
				for j := range entries {
					entries[j] = logjar.Entry{Time: time.Unix(0, int64(1000+i*10+j)), Line: fmt.Sprintf("g%d line %d", g, i*10+j)}
				}
				if _, err := db.Push(ctx, "", []logjar.Stream{{Labels: map[string]string{"worker": fmt.Sprint("w", g)}, Entries: entries}}); err != nil {
					errs <- err
					return
				}
				res, err := db.Query(ctx, "", logjar.QueryRequest{Query: fmt.Sprintf(`{worker="w%d"}`, g), Start: time.Unix(0, 0), End: time.Unix(0, 100000), Limit: 1000})
				if err != nil {
					errs <- err
					return
				}
				if len(res.Streams) != 1 || len(res.Streams[0].Entries) != (i+1)*10 {
					errs <- fmt.Errorf("worker %d round %d: read back %+v", g, i, res.Streams)
					return
				}
				if _, err := db.Query(ctx, "", logjar.QueryRequest{Query: `{`}); !errors.Is(err, logjar.ErrBadQuery) {
					errs <- fmt.Errorf("want bad query, got %v", err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res, err := db.Query(ctx, "", logjar.QueryRequest{Query: `sum(count_over_time({worker=~"w.*"}[1m]))`, Time: time.Unix(0, 100000)})
	if err != nil || len(res.Vector) != 1 || res.Vector[0].Value != 1600 {
		t.Fatalf("count: %+v %v", res, err)
	}
}

func TestTypedCancellation(t *testing.T) {
	db, _ := open(t)
	entries := make([]logjar.Entry, 20000)
	for i := range entries {
		entries[i] = logjar.Entry{Time: time.Unix(0, int64(1000+i)), Line: fmt.Sprintf("line %d with some text to filter", i)}
	}
	if _, err := db.Push(context.Background(), "", []logjar.Stream{{Labels: map[string]string{"app": "big"}, Entries: entries}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Query(ctx, "", logjar.QueryRequest{Query: `{app="big"}`}); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled query: %v", err)
	}
	if _, err := db.Push(ctx, "", []logjar.Stream{{Labels: map[string]string{"app": "big"}, Entries: entries[:1]}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled push: %v", err)
	}
	// One step at 1s: its window (0s, 1s] holds all 20,000 entries, and a capturing
	// regexp whose label is compared must run over every line (no literal lets it skip
	// any), which takes milliseconds, well past the first deadlines.
	cancelled := 0
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(50*(i+1))*time.Microsecond)
		_, err := db.Query(ctx, "", logjar.QueryRequest{
			Query: `sum(count_over_time({app="big"} | regexp "(?P<word>\\w+) (?P<n>\\d+) (?P<rest>.*)" | n > 1000000000 [1s]))`,
			Start: time.Unix(1, 0), End: time.Unix(1, 0), Step: time.Second,
		})
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled query: %v", err)
		}
		if err != nil {
			cancelled++
		}
	}
	t.Logf("%d of 20 queries cancelled by their deadline", cancelled)
	if cancelled < 10 {
		t.Fatalf("only %d of 20 queries were cancelled by their deadline", cancelled)
	}
}

func TestTail(t *testing.T) {
	db, _ := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	push := func(lines ...string) {
		t.Helper()
		es := make([]logjar.Entry, len(lines))
		for i, l := range lines {
			var s int
			var text string
			fmt.Sscanf(l, "%d %s", &s, &text)
			es[i] = logjar.Entry{Time: base.Add(time.Duration(s) * time.Second), Line: l}
		}
		if _, err := db.Push(context.Background(), "tails", []logjar.Stream{{Labels: map[string]string{"app": "tail"}, Entries: es}}); err != nil {
			t.Fatal(err)
		}
	}
	push("0 before-start") // older than start: never delivered
	entries, errc := db.Tail(ctx, "tails", `{app="tail"} != "skip"`, base.Add(time.Second))
	push("1 a", "1 b")
	push("1 c", "2 d", "3 skip")
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 4 {
		select {
		case e := <-entries:
			if e.Labels["app"] != "tail" {
				t.Fatalf("labels %v", e.Labels)
			}
			got = append(got, e.Line)
		case err := <-errc:
			t.Fatalf("tail failed: %v", err)
		case <-timeout:
			t.Fatalf("timed out with %q", got)
		}
	}
	// Equal timestamps may come in any order within a poll; times never go back.
	sort.Strings(got[:3])
	if fmt.Sprintf("%q", got) != `["1 a" "1 b" "1 c" "2 d"]` {
		t.Fatalf("tailed %q", got)
	}
	select {
	case e := <-entries:
		t.Fatalf("unexpected entry %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	for range entries {
	}
	if err, ok := <-errc; ok {
		t.Fatalf("error after cancel: %v", err)
	}

	// A metric query cannot be tailed.
	entries, errc = db.Tail(context.Background(), "", `rate({app="tail"}[1m])`, time.Time{})
	if err := <-errc; !errors.Is(err, logjar.ErrBadQuery) {
		t.Fatalf("metric tail: %v", err)
	}
	if _, ok := <-entries; ok {
		t.Fatal("entries not closed")
	}

	// Closing the DB ends a running tail with ErrClosed.
	entries, errc = db.Tail(context.Background(), "", `{app="tail"}`, time.Time{})
	time.Sleep(50 * time.Millisecond)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, logjar.ErrClosed) {
			t.Fatalf("tail after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail did not end after Close")
	}
	for range entries {
	}
}

func ExampleDB_Push() {
	dir, _ := filepathTemp()
	db, err := logjar.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	rep, err := db.Push(context.Background(), "", []logjar.Stream{{
		Labels: map[string]string{"app": "api", "env": "prod"},
		Entries: []logjar.Entry{
			{Time: time.Unix(1, 0), Line: "GET /a 200"},
			{Time: time.Unix(2, 0), Line: "GET /b 500", Metadata: map[string]string{"trace_id": "ab12"}},
		},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Println(rep.Accepted, rep.Bytes)
	// Output: 2 20
}

func ExampleDB_Query() {
	dir, _ := filepathTemp()
	db, _ := logjar.Open(dir, nil)
	defer db.Close()
	ctx := context.Background()
	_, _ = db.Push(ctx, "", []logjar.Stream{{
		Labels: map[string]string{"app": "api"},
		Entries: []logjar.Entry{
			{Time: time.Unix(1, 0), Line: "GET /a 200"},
			{Time: time.Unix(2, 0), Line: "GET /b 500"},
			{Time: time.Unix(3, 0), Line: "GET /c 500"},
		},
	}})
	// A log query: streams of entries.
	res, err := db.Query(ctx, "", logjar.QueryRequest{
		Query: `{app="api"} |= "500"`, Start: time.Unix(0, 0), End: time.Unix(10, 0),
	})
	if err != nil {
		panic(err)
	}
	for _, s := range res.Streams {
		for _, e := range s.Entries {
			fmt.Println(s.Labels["app"], e.Time.Unix(), e.Line)
		}
	}
	// An instant metric query: a vector.
	res, _ = db.Query(ctx, "", logjar.QueryRequest{
		Query: `count_over_time({app="api"}[1m])`, Time: time.Unix(10, 0),
	})
	fmt.Println(res.Type, res.Vector[0].Value)
	// Output:
	// api 3 GET /c 500
	// api 2 GET /b 500
	// vector 3
}

func ExampleDB_Tail() {
	dir, _ := filepathTemp()
	db, _ := logjar.Open(dir, nil)
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	entries, errc := db.Tail(ctx, "", `{app="api"} |= "error"`, start)
	_, _ = db.Push(ctx, "", []logjar.Stream{{
		Labels: map[string]string{"app": "api"},
		Entries: []logjar.Entry{
			{Time: start.Add(time.Millisecond), Line: "level=info msg=ok"},
			{Time: start.Add(2 * time.Millisecond), Line: "level=error msg=boom"},
		},
	}})
	select {
	case e := <-entries:
		fmt.Println(e.Labels["app"], e.Line)
	case err := <-errc:
		fmt.Println("tail failed:", err)
	}
	// Output: api level=error msg=boom
}
