package logjar

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

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

// BenchmarkBuildBatch1000 is the Go side of Push alone: laying a 1,000-entry batch
// (10 streams × 100 entries) out in C memory, without the cgo call and logjar's push.
// thread-cpu-ns/op is the CPU time of the (locked) OS thread, steadier than wall time
// on a loaded machine.
func BenchmarkBuildBatch1000(b *testing.B) {
	streams := make([]Stream, 10)
	for s := range streams {
		entries := make([]Entry, 100)
		for i := range entries {
			entries[i] = Entry{Time: time.Unix(0, int64(i)), Line: fmt.Sprintf("GET /api/v1/items/%d 200 %dms", i, i%50)}
		}
		streams[s] = Stream{Labels: map[string]string{"app": "api", "host": fmt.Sprint("node-", s)}, Entries: entries}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	thread0 := threadCPU()
	for i := 0; i < b.N; i++ {
		bt, err := buildBatch(streams)
		if err != nil {
			b.Fatal(err)
		}
		bt.free()
	}
	b.ReportMetric(float64(threadCPU()-thread0)/float64(b.N), "thread-cpu-ns/op")
}

// A label or metadata string with a NUL byte is refused before anything reaches C.
func TestBuildBatchRefusesNUL(t *testing.T) {
	for _, s := range []Stream{
		{Labels: map[string]string{"a\x00": "b"}},
		{Labels: map[string]string{"a": "b\x00"}},
		{Labels: map[string]string{"a": "b"}, Entries: []Entry{{Line: "x", Metadata: map[string]string{"k": "\x00"}}}},
	} {
		if _, err := buildBatch([]Stream{s}); err == nil {
			t.Errorf("accepted %q", s.Labels)
		}
	}
}
