package logjar_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

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

// cpuTime is the process's CPU time (user+sys, all threads).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ns/op metric: process CPU time per operation since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkPush1000 pushes 1,000-entry Loki bodies (sync "never"), as the `json` mode
// of the Rust bench `push_compare` (bindings/c/benches) does without cgo. Use
// -tags logjar_release.
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
	cpu0 := cpuTime()
	defer reportCPU(b, cpu0)
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
	cpu0 := cpuTime()
	defer reportCPU(b, cpu0)
	for i := 0; i < b.N; i++ {
		if _, err := db.QueryLokiJSON(ctx, "", req); err != nil {
			b.Fatal(err)
		}
	}
}

// typedBatch is the batch of BenchmarkPush1000 as typed streams: 10 streams of 100
// entries, timestamps from ns `base`.
func typedBatch(base int64) []logjar.Stream {
	streams := make([]logjar.Stream, 10)
	for s := range streams {
		entries := make([]logjar.Entry, 100)
		for i := range entries {
			entries[i] = logjar.Entry{Time: time.Unix(0, base+int64(i)), Line: fmt.Sprintf("GET /api/v1/items/%d 200 %dms", i, i%50)}
		}
		streams[s] = logjar.Stream{Labels: map[string]string{"app": "api", "host": fmt.Sprintf("node-%d", s)}, Entries: entries}
	}
	return streams
}

// threadCPU is the calling OS thread's CPU time, from
// clock_gettime(CLOCK_THREAD_CPUTIME_ID), which is exact at any moment (getrusage's
// per-thread figure lags by up to a scheduler tick).
func threadCPU() time.Duration {
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID on Linux
	var ts syscall.Timespec
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkPushTyped1000 pushes the same 1,000-entry batches through the typed Push
// (the C ABI's logjar_push), as the `typed` and `c-abi` modes of the Rust bench
// `push_compare`. Between pushes, with the timer stopped, the batch's timestamps move
// on (so nothing is a duplicate), which also leaves the batch warm in cache as in a
// program that has just built it. Besides wall time it reports thread-cpu-ns/op: the
// CPU time of the calling OS thread (locked for the loop) during Push only, i.e. Go's
// copy into C memory, the cgo call and logjar's push; steadier than wall time on a
// loaded machine. Use -tags logjar_release.
func BenchmarkPushTyped1000(b *testing.B) {
	db, err := logjar.Open(filepath.Join(b.TempDir(), "db"), &logjar.Options{Sync: "never"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batch := typedBatch(1_000_000)
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var inPush time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			for s := range batch {
				for j := range batch[s].Entries {
					batch[s].Entries[j].Time = batch[s].Entries[j].Time.Add(1000)
				}
			}
			b.StartTimer()
		}
		t0 := threadCPU()
		rep, err := db.Push(ctx, "", batch)
		inPush += threadCPU() - t0
		if err != nil {
			b.Fatal(err)
		}
		if rep.Accepted != 1000 {
			b.Fatalf("accepted %d", rep.Accepted)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(inPush)/float64(b.N), "thread-cpu-ns/op")
}

// BenchmarkQueryTyped runs the query of BenchmarkQuery through the typed Query (result
// handle and accessors, no JSON).
func BenchmarkQueryTyped(b *testing.B) {
	db, err := logjar.Open(filepath.Join(b.TempDir(), "db"), &logjar.Options{Sync: "never"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := db.Push(ctx, "", typedBatch(1_000_000+int64(i)*1000)); err != nil {
			b.Fatal(err)
		}
	}
	req := logjar.QueryRequest{Query: `{app="api"} |= "200"`, Start: time.Unix(0, 0), End: time.Unix(0, 100000000), Limit: 100}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer reportCPU(b, cpu0)
	for i := 0; i < b.N; i++ {
		res, err := db.Query(ctx, "", req)
		if err != nil {
			b.Fatal(err)
		}
		if res.Stats.EntriesReturned != 100 {
			b.Fatalf("returned %d", res.Stats.EntriesReturned)
		}
	}
}
