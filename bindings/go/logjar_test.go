package logjar_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	logjar "github.com/logjar/logjar/bindings/go"
)

const body = `{"streams":[{"stream":{"app":"api","env":"prod"},"values":[["1000000000","GET /a 200"],["2000000000","GET /b 500"]]}]}`

func open(t *testing.T) (*logjar.DB, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := logjar.Open(dir, &logjar.Options{Sync: "never"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dir
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	if err := db.PushLokiJSON(ctx, "", []byte(body)); err != nil {
		t.Fatal(err)
	}
	out, err := db.QueryLokiJSON(ctx, "fake", []byte(`{"query":"{app=\"api\"} |= \"500\"","start":0,"end":10000000000}`))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, `"resultType":"streams"`) || !strings.Contains(s, "GET /b 500") || strings.Contains(s, "GET /a") {
		t.Fatalf("unexpected answer %s", s)
	}
	out, err = db.QueryLokiJSON(ctx, "", []byte(`{"query":"sum(count_over_time({app=\"api\"}[10s]))","time":5000000000}`))
	if err != nil || !strings.Contains(string(out), `"resultType":"vector"`) || !strings.Contains(string(out), `"2"`) {
		t.Fatalf("vector: %v %s", err, out)
	}
	out, err = db.QueryLokiJSON(ctx, "", []byte(`{"query":"count_over_time({app=\"api\"}[1s])","start":0,"end":3000000000,"step":"1s"}`))
	if err != nil || !strings.Contains(string(out), `"resultType":"matrix"`) {
		t.Fatalf("matrix: %v %s", err, out)
	}
	out, err = db.QueryLokiJSON(ctx, "other", []byte(`{"query":"{app=\"api\"}","start":0,"end":10000000000}`))
	if err != nil || strings.Contains(string(out), "GET") {
		t.Fatalf("tenants must not see each other: %v %s", err, out)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	names, err := db.Labels(ctx, "", 0, 10_000_000_000)
	if err != nil || fmt.Sprint(names) != "[app env]" {
		t.Fatalf("labels: %v %v", names, err)
	}
	values, err := db.LabelValues(ctx, "", "app", 0, 10_000_000_000)
	if err != nil || fmt.Sprint(values) != "[api]" {
		t.Fatalf("values: %v %v", values, err)
	}
	series, err := db.Series(ctx, "", `{env="prod"}`, 0, 10_000_000_000)
	if err != nil || len(series) != 1 || series[0]["app"] != "api" {
		t.Fatalf("series: %v %v", series, err)
	}
}

func TestErrorKinds(t *testing.T) {
	ctx := context.Background()
	db, dir := open(t)
	_, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"{app="}`))
	var le *logjar.Error
	if !errors.Is(err, logjar.ErrBadQuery) || !errors.As(err, &le) || !strings.Contains(le.Message, "parse error") {
		t.Fatalf("bad query: %v", err)
	}
	if _, err := db.Series(ctx, "", "{", 0, 1); !errors.Is(err, logjar.ErrBadQuery) {
		t.Fatalf("bad selector: %v", err)
	}
	if err := db.PushLokiJSON(ctx, "", []byte(`{"streams":`)); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Fatalf("bad body: %v", err)
	}
	if err := db.PushLokiJSON(ctx, "", nil); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Fatalf("empty body: %v", err)
	}
	if _, err := logjar.Open(dir, nil); !errors.Is(err, logjar.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if _, err := logjar.Open(dir+"x", &logjar.Options{Extra: map[string]any{"no_such_option": 1}}); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Fatalf("bad option: %v", err)
	}
	limited, err := logjar.Open(filepath.Join(t.TempDir(), "l"), &logjar.Options{Extra: map[string]any{"limits": map[string]any{"max_line_size": 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	if err := limited.PushLokiJSON(ctx, "", []byte(body)); !errors.Is(err, logjar.ErrLimit) {
		t.Fatalf("limit: %v", err)
	}
}

func TestUseAfterClose(t *testing.T) {
	ctx := context.Background()
	db, dir := open(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := db.PushLokiJSON(ctx, "", []byte(body)); !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("push after close: %v", err)
	}
	if _, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"{a=\"b\"}"}`)); !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("query after close: %v", err)
	}
	if err := db.Flush(); !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("flush after close: %v", err)
	}
	again, err := logjar.Open(dir, nil) // the lock was released
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	db, dir := open(t)
	if err := db.PushLokiJSON(ctx, "", []byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := logjar.Open(dir, &logjar.Options{Extra: map[string]any{"read_only": true}})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	out, err := ro.QueryLokiJSON(ctx, "", []byte(`{"query":"{app=\"api\"}","start":0,"end":3000000000}`))
	if err != nil || !strings.Contains(string(out), "GET /b 500") {
		t.Fatalf("unflushed entries not read: %v %s", err, out)
	}
	if err := ro.PushLokiJSON(ctx, "", []byte(body)); !errors.Is(err, logjar.ErrInvalidArgument) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("push on a read-only handle: %v", err)
	}
	if err := ro.Flush(); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Fatalf("flush on a read-only handle: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				b := fmt.Sprintf(`{"streams":[{"stream":{"worker":"w%d"},"values":[["%d","line %d"]]}]}`, g, 1000+i, i)
				if err := db.PushLokiJSON(ctx, "", []byte(b)); err != nil {
					errs <- err
					return
				}
				if _, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"{worker=~\"w.*\"}","start":0,"end":100000,"limit":5}`)); err != nil {
					errs <- err
					return
				}
				if _, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"{"}`)); !errors.Is(err, logjar.ErrBadQuery) {
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
	out, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"sum(count_over_time({worker=~\"w.*\"}[1m]))","time":100000}`))
	if err != nil || !strings.Contains(string(out), `"160"`) {
		t.Fatalf("count: %v %s", err, out)
	}
}

func TestCancellation(t *testing.T) {
	db, _ := open(t)
	var b strings.Builder
	b.WriteString(`{"streams":[{"stream":{"app":"big"},"values":[`)
	for i := 0; i < 20000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["%d","line %d with some text to filter"]`, 1000+i, i)
	}
	b.WriteString(`]}]}`)
	if err := db.PushLokiJSON(context.Background(), "", []byte(b.String())); err != nil {
		t.Fatal(err)
	}
	// Already cancelled: refused before any work.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"{app=\"big\"}"}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled: %v", err)
	}
	// Cancelled while running: the query stops with the context's error.
	// One step at 1s, whose window (0s, 1s] holds every entry.
	cancelled := 0
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Microsecond)
		_, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"sum(count_over_time({app=\"big\"} | regexp \"(?P<word>\\\\w+) (?P<n>\\\\d+) (?P<rest>.*)\" | n > 1000000000 [1s]))","start":1000000000,"end":1000000000,"step":"1s"}`))
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled query: %v", err)
		}
		if err != nil {
			cancelled++
		}
	}
	t.Logf("%d of 5 queries cancelled by their deadline", cancelled)
	if cancelled == 0 {
		t.Fatal("no query was cancelled by its deadline")
	}
}

// Example shows the common surface: open, push a Loki body, query, close.
func Example() {
	dir, _ := filepathTemp()
	db, err := logjar.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	push := `{"streams":[{"stream":{"app":"api"},"values":[["1000000000","hello"]]}]}`
	if err := db.PushLokiJSON(ctx, "", []byte(push)); err != nil {
		panic(err)
	}
	out, err := db.QueryLokiJSON(ctx, "", []byte(`{"query":"{app=\"api\"}","start":0,"end":2000000000}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Contains(string(out), `"hello"`))
	// Output: true
}
