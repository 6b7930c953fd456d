package logjar_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	logjar "github.com/logjar/logjar/bindings/go"
)

// pushBody is a 1,000-entry Loki push body over 10 streams starting at ns `base`.
func pushBody(base int) []byte {
	var b strings.Builder
	b.WriteString(`{"streams":[`)
	for s := 0; s < 10; s++ {
		if s > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"stream":{"app":"api","host":"node-%d"},"values":[`, s)
		for i := 0; i < 100; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `["%d","GET /api/v1/items/%d 200 %dms"]`, base+i, i, i%50)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkPush1000 pushes 1,000-entry Loki bodies (sync "never"), as the Rust
// `ffi_compare` bench does without cgo. Use -tags logjar_release.
func BenchmarkPush1000(b *testing.B) {
	db, err := logjar.Open(filepath.Join(b.TempDir(), "db"), &logjar.Options{Sync: "never"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = pushBody(1_000_000 + i*1000)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each round's timestamps are new, so nothing is dropped as a duplicate.
		body := bodies[i%len(bodies)]
		if i >= len(bodies) {
			b.StopTimer()
			body = pushBody(1_000_000 + i*1000)
			b.StartTimer()
		}
		if err := db.PushLokiJSON(ctx, "", body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery runs a filtered log query (limit 100) over 10,000 entries.
func BenchmarkQuery(b *testing.B) {
	db, err := logjar.Open(filepath.Join(b.TempDir(), "db"), &logjar.Options{Sync: "never"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := db.PushLokiJSON(ctx, "", pushBody(1_000_000+i*1000)); err != nil {
			b.Fatal(err)
		}
	}
	req := []byte(`{"query":"{app=\"api\"} |= \"200\"","start":0,"end":100000000,"limit":100}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.QueryLokiJSON(ctx, "", req); err != nil {
			b.Fatal(err)
		}
	}
}
