package logjar_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	logjar "github.com/logjar/logjar/bindings/go"
)

func lines(t *testing.T, db *logjar.DB, tenant, query string) []string {
	t.Helper()
	res, err := db.Query(context.Background(), tenant, logjar.QueryRequest{Query: query, Start: time.Unix(0, 0), End: time.Unix(0, 1000), Direction: logjar.Forward})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range res.Streams {
		for _, e := range s.Entries {
			out = append(out, e.Line)
		}
	}
	return out
}

func TestDeleteAndCompact(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	if _, err := db.Push(ctx, "del", []logjar.Stream{{Labels: map[string]string{"app": "del"}, Entries: []logjar.Entry{
		{Time: time.Unix(0, 100), Line: "token=secret"}, {Time: time.Unix(0, 200), Line: "hello"}, {Time: time.Unix(0, 300), Line: "token=other"},
	}}}); err != nil {
		t.Fatal(err)
	}
	id, err := db.Delete(ctx, "del", `{app="del"} |= "secret"`, time.Unix(0, 0), time.Unix(0, 1000))
	if err != nil || id == 0 {
		t.Fatalf("delete: %d %v", id, err)
	}
	id2, err := db.Delete(ctx, "del", `{app="del"} |= "other"`, time.Unix(0, 0), time.Unix(0, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(lines(t, db, "del", `{app="del"}`)); got != "[hello]" {
		t.Fatalf("after deletes: %s", got)
	}
	if err := db.CancelDelete(ctx, "del", id2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(lines(t, db, "del", `{app="del"}`)); got != "[hello token=other]" {
		t.Fatalf("after cancel: %s", got)
	}
	reqs, err := db.DeleteRequests(ctx, "del")
	if err != nil || len(reqs) != 2 || reqs[0].ID != id || reqs[0].Status != "pending" || reqs[1].Status != "cancelled" || reqs[0].Query != `{app="del"} |= "secret"` {
		t.Fatalf("requests %+v %v", reqs, err)
	}
	rep, err := db.Compact(ctx)
	if err != nil || rep.EntriesDeleted != 1 || rep.DeletesApplied != 1 || rep.SegmentsAfter == 0 {
		t.Fatalf("compact %+v %v", rep, err)
	}
	if reqs, _ := db.DeleteRequests(ctx, "del"); reqs[0].Status != "applied" {
		t.Fatalf("after compact %+v", reqs)
	}
	if err := db.CancelDelete(ctx, "del", id); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Fatalf("cancel applied: %v", err)
	}
	if _, err := db.Delete(ctx, "del", `{app=`, time.Unix(0, 0), time.Unix(0, 1)); !errors.Is(err, logjar.ErrInvalidArgument) {
		t.Fatalf("bad delete query: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Compact(ctx); !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("compact after close: %v", err)
	}
	if _, err := db.Delete(ctx, "", `{a="b"}`, time.Unix(0, 0), time.Unix(0, 1)); !errors.Is(err, logjar.ErrClosed) {
		t.Fatalf("delete after close: %v", err)
	}
}

func ExampleDB_Delete() {
	dir, _ := filepathTemp()
	db, _ := logjar.Open(dir, nil)
	defer db.Close()
	ctx := context.Background()
	_, _ = db.Push(ctx, "", []logjar.Stream{{
		Labels:  map[string]string{"app": "api"},
		Entries: []logjar.Entry{{Time: time.Unix(1, 0), Line: "password=hunter2"}, {Time: time.Unix(2, 0), Line: "hello"}},
	}})
	// Hidden from queries at once, removed from disk by the next compaction.
	if _, err := db.Delete(ctx, "", `{app="api"} |= "password"`, time.Unix(0, 0), time.Unix(10, 0)); err != nil {
		panic(err)
	}
	rep, _ := db.Compact(ctx)
	fmt.Println(rep.EntriesDeleted)
	// Output: 1
}
