package logjar

/*
#include <stdlib.h>
#include <string.h>
#include "logjar.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Entry is one log entry: its time, its line and optional structured metadata
// (key/value pairs stored beside the line, queryable like labels but not indexed).
type Entry struct {
	// Time of the entry, kept to the nanosecond. A zero Time in a push means now.
	Time time.Time
	// Line is the log line; any bytes.
	Line string
	// Metadata is the entry's structured metadata; nil for none. In query results it
	// is always nil: Loki merges metadata into the stream's labels.
	Metadata map[string]string
}

// Stream is a set of entries sharing one label set: the unit of a push, and of a log
// query's result.
type Stream struct {
	// Labels identify the stream, e.g. {"app": "api", "env": "prod"}. A push needs at
	// least one label with a non-empty value; names are Prometheus label names.
	Labels map[string]string
	// Entries in any order for a push; in the query direction in a result.
	Entries []Entry
}

// PushReport says what a push wrote.
type PushReport struct {
	// Accepted is the number of entries written.
	Accepted uint64
	// Duplicates is the number of exact duplicates (same stream, time and line as a
	// stored entry), stored once. Not an error.
	Duplicates uint64
	// Bytes is the number of line bytes written.
	Bytes uint64
}

// Push writes streams to tenant ("" means the default tenant "fake") as one batch, all
// or nothing: bad labels give ErrInvalidArgument, an entry over a limit ErrLimit, and
// then nothing is written. It returns once the batch is as durable as the Sync option
// says. ctx is checked before the push starts; a push is not interrupted. The data goes
// to logjar through the typed C push (no JSON): labels, times and lines are copied into
// one C buffer per call, and the streams stay the caller's.
func (db *DB) Push(ctx context.Context, tenant string, streams []Stream) (PushReport, error) {
	if err := ctx.Err(); err != nil {
		return PushReport{}, err
	}
	b, err := buildBatch(streams)
	if err != nil {
		return PushReport{}, err
	}
	defer b.free()
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	var rep C.logjar_push_report
	err = db.with(func(p *C.logjar_db) error {
		return call(func() C.int32_t {
			return C.logjar_push(p, ct, b.streams, C.size_t(len(streams)), &rep)
		})
	})
	if err != nil {
		return PushReport{}, err
	}
	return PushReport{Accepted: uint64(rep.accepted), Duplicates: uint64(rep.duplicates), Bytes: uint64(rep.bytes)}, nil
}

// batch is a push laid out in one C allocation, as logjar_push reads it.
type batch struct {
	mem     unsafe.Pointer
	streams *C.logjar_stream
}

// free releases the batch's C memory.
func (b batch) free() { C.free(b.mem) }

func invalidArg(msg string) error {
	return &Error{Kind: ErrInvalidArgument, Code: 1, Message: msg}
}

// sortedKeys returns m's keys in order (metadata order is kept by logjar; sorting makes
// a push deterministic).
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func checkNUL(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return invalidArg(what + " " + strconvQuote(s) + " holds a NUL byte")
	}
	return nil
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// buildBatch copies streams into one C buffer: the logjar_stream array, the label and
// metadata pair arrays, timestamps, line pointers and lengths (8-byte aligned), then
// every string's bytes (labels NUL-terminated, lines not).
func buildBatch(streams []Stream) (batch, error) {
	var nLabels, nEntries, nMeta, nMetaCounts, strBytes int
	for _, s := range streams {
		nLabels += len(s.Labels)
		for k, v := range s.Labels {
			if err := checkNUL("label name", k); err != nil {
				return batch{}, err
			}
			if err := checkNUL("label value", v); err != nil {
				return batch{}, err
			}
			strBytes += len(k) + len(v) + 2
		}
		nEntries += len(s.Entries)
		hasMeta := false
		for i := range s.Entries {
			e := &s.Entries[i]
			strBytes += len(e.Line)
			if len(e.Metadata) > 0 {
				hasMeta = true
				nMeta += len(e.Metadata)
				for k, v := range e.Metadata {
					if err := checkNUL("metadata name", k); err != nil {
						return batch{}, err
					}
					if err := checkNUL("metadata value", v); err != nil {
						return batch{}, err
					}
					strBytes += len(k) + len(v) + 2
				}
			}
		}
		if hasMeta {
			nMetaCounts += len(s.Entries)
		}
	}
	const word = 8
	szStream := int(unsafe.Sizeof(C.logjar_stream{}))
	szLabel := int(unsafe.Sizeof(C.logjar_label{}))
	fixed := len(streams)*szStream + (nLabels+nMeta)*szLabel + (3*nEntries+nMetaCounts)*word
	total := fixed + strBytes
	if total == 0 {
		total = 1
	}
	mem := C.malloc(C.size_t(total))
	if mem == nil {
		return batch{}, &Error{Kind: ErrOther, Code: 99, Message: "out of memory"}
	}
	off := 0
	take := func(n int) unsafe.Pointer {
		p := unsafe.Add(mem, off)
		off += n
		return p
	}
	cStreams := unsafe.Slice((*C.logjar_stream)(take(len(streams)*szStream)), len(streams))
	labels := unsafe.Slice((*C.logjar_label)(take((nLabels+nMeta)*szLabel)), nLabels+nMeta)
	ts := unsafe.Slice((*C.int64_t)(take(nEntries*word)), nEntries)
	linePtrs := unsafe.Slice((**C.uint8_t)(take(nEntries*word)), nEntries)
	lineLens := unsafe.Slice((*C.size_t)(take(nEntries*word)), nEntries)
	metaCounts := unsafe.Slice((*C.size_t)(take(nMetaCounts*word)), nMetaCounts)
	strs := unsafe.Slice((*byte)(take(strBytes)), strBytes)
	so := 0
	cstr := func(s string) *C.char {
		p := (*C.char)(unsafe.Pointer(&strs[so]))
		so += copy(strs[so:], s)
		strs[so] = 0
		so++
		return p
	}
	var li, ei, mci int
	now := int64(0)
	for si := range streams {
		s := &streams[si]
		cs := &cStreams[si]
		*cs = C.logjar_stream{}
		if len(s.Labels) > 0 {
			cs.labels = &labels[li]
		}
		cs.n_labels = C.size_t(len(s.Labels))
		for k, v := range s.Labels {
			labels[li] = C.logjar_label{name: cstr(k), value: cstr(v)}
			li++
		}
		n := len(s.Entries)
		cs.n_entries = C.size_t(n)
		if n == 0 {
			continue
		}
		cs.timestamps = &ts[ei]
		cs.lines = &linePtrs[ei]
		cs.line_lens = &lineLens[ei]
		hasMeta := false
		for i := range s.Entries {
			if len(s.Entries[i].Metadata) > 0 {
				hasMeta = true
				break
			}
		}
		if hasMeta {
			cs.metadata_counts = &metaCounts[mci]
			if li < len(labels) {
				cs.metadata = &labels[li]
			}
		}
		es := s.Entries
		tsS, ptrS, lenS := ts[ei:ei+n], linePtrs[ei:ei+n], lineLens[ei:ei+n]
		ei += n
		for i := range es {
			e := &es[i]
			var t int64
			if e.Time.IsZero() {
				if now == 0 {
					now = time.Now().UnixNano()
				}
				t = now
			} else {
				t = e.Time.UnixNano()
			}
			tsS[i] = C.int64_t(t)
			l := len(e.Line)
			lenS[i] = C.size_t(l)
			if l > 0 {
				ptrS[i] = (*C.uint8_t)(unsafe.Pointer(&strs[so]))
				so += copy(strs[so:so+l], e.Line)
			} else {
				ptrS[i] = nil
			}
			if hasMeta {
				metaCounts[mci] = C.size_t(len(e.Metadata))
				mci++
				for _, k := range sortedKeys(e.Metadata) {
					labels[li] = C.logjar_label{name: cstr(k), value: cstr(e.Metadata[k])}
					li++
				}
			}
		}
	}
	var first *C.logjar_stream
	if len(streams) > 0 {
		first = &cStreams[0]
	}
	return batch{mem: mem, streams: first}, nil
}

// Direction is the entry order of a log query.
type Direction int

const (
	// Backward returns the newest entries first (Loki's default).
	Backward Direction = iota
	// Forward returns the oldest entries first.
	Forward
)

// QueryRequest is a LogQL query. With Time set it is an instant query (metric
// queries only, as in Loki); otherwise a range query over [Start, End).
type QueryRequest struct {
	// Query is the LogQL text, e.g. `{app="api"} |= "error"` or
	// `sum by (app) (rate({env="prod"}[1m]))`.
	Query string
	// Start of the range (inclusive). Zero: End minus one hour.
	Start time.Time
	// End of the range. Zero: now.
	End time.Time
	// Step between evaluation times of a range metric query. Zero: chosen from the
	// range, as Loki does.
	Step time.Duration
	// Time makes an instant query at this time.
	Time time.Time
	// Limit is the most entries a log query returns. Zero: 100.
	Limit int
	// Direction is the entry order of a log query. Zero: Backward.
	Direction Direction
}

func (r *QueryRequest) json() ([]byte, error) {
	m := map[string]any{"query": r.Query}
	if !r.Time.IsZero() {
		m["time"] = r.Time.UnixNano()
	} else {
		if !r.Start.IsZero() {
			m["start"] = r.Start.UnixNano()
		}
		if !r.End.IsZero() {
			m["end"] = r.End.UnixNano()
		}
	}
	if r.Step > 0 {
		m["step"] = r.Step.Seconds()
	}
	if r.Limit < 0 {
		return nil, invalidArg("Limit must not be negative")
	}
	if r.Limit > 0 {
		m["limit"] = r.Limit
	}
	switch r.Direction {
	case Backward:
	case Forward:
		m["direction"] = "forward"
	default:
		return nil, invalidArg("Direction must be Backward or Forward")
	}
	return json.Marshal(m)
}

// ResultType is the kind of a query result, named as Loki's resultType.
type ResultType string

const (
	// ResultStreams is a log query's result: Result.Streams.
	ResultStreams ResultType = "streams"
	// ResultMatrix is a range metric query's result: Result.Matrix.
	ResultMatrix ResultType = "matrix"
	// ResultVector is an instant metric query's result: Result.Vector.
	ResultVector ResultType = "vector"
	// ResultScalar is a scalar result: Result.Scalar.
	ResultScalar ResultType = "scalar"
)

// Point is a value at an evaluation time.
type Point struct {
	// Time of the evaluation (whole milliseconds, as in Loki).
	Time time.Time
	// Value, possibly NaN or ±Inf.
	Value float64
}

// Series is one series of a matrix: its labels and its points in time order.
type Series struct {
	// Labels of the series.
	Labels map[string]string
	// Points in time order.
	Points []Point
}

// Sample is one element of a vector: labels and one value at the query time.
type Sample struct {
	// Labels of the sample.
	Labels map[string]string
	// Point is the time and value.
	Point
}

// QueryStats says what a query cost.
type QueryStats struct {
	// ExecTime is the wall time of the query.
	ExecTime time.Duration
	// LinesProcessed is the number of entries read before any filter.
	LinesProcessed uint64
	// BytesProcessed is their line bytes.
	BytesProcessed uint64
	// PostFilterLines is the number of entries the line filters kept.
	PostFilterLines uint64
	// StreamsSelected is the number of streams the selectors matched.
	StreamsSelected uint64
	// EntriesReturned is the number of entries, series, samples (or 1 for a scalar)
	// returned.
	EntriesReturned uint64
}

// Result is a query's answer. Exactly one of Streams, Matrix, Vector and Scalar is
// meaningful, as Type says.
type Result struct {
	// Type is the kind of result.
	Type ResultType
	// Streams of a log query, sorted by labels; entries in the query direction.
	Streams []Stream
	// Matrix of a range metric query: series sorted by labels.
	Matrix []Series
	// Vector of an instant metric query: samples sorted by labels.
	Vector []Sample
	// Scalar of a scalar query, at the query time.
	Scalar Point
	// Stats says what the query cost.
	Stats QueryStats
}

// withCancel runs f with a cancellation token triggered when ctx is done; when ctx
// caused the failure, the error is ctx.Err().
func withCancel(ctx context.Context, f func(tok *C.logjar_cancel) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var tok *C.logjar_cancel
	if err := call(func() C.int32_t { return C.logjar_cancel_new(&tok) }); err != nil {
		return err
	}
	defer C.logjar_cancel_free(tok)
	done := make(chan struct{})
	var watcher sync.WaitGroup
	if ctx.Done() != nil {
		watcher.Add(1)
		go func() {
			defer watcher.Done()
			select {
			case <-ctx.Done():
				C.logjar_cancel_trigger(tok)
			case <-done:
			}
		}()
	}
	err := f(tok)
	close(done)
	watcher.Wait() // the token is freed only after the watcher is gone
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Query runs a LogQL query against tenant ("" means "fake") and returns its typed
// result, read from logjar's result handle without JSON. Cancelling ctx stops the
// query; the error is then ctx.Err(). A query that does not parse gives ErrBadQuery.
func (db *DB) Query(ctx context.Context, tenant string, req QueryRequest) (*Result, error) {
	body, err := req.json()
	if err != nil {
		return nil, err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	creq := C.CString(string(body))
	defer C.free(unsafe.Pointer(creq))
	var res *Result
	err = withCancel(ctx, func(tok *C.logjar_cancel) error {
		return db.with(func(p *C.logjar_db) error {
			// The accessors' errors are read on this thread (status).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var r *C.logjar_result
			if err := call(func() C.int32_t { return C.logjar_query(p, ct, creq, tok, &r) }); err != nil {
				return err
			}
			defer C.logjar_result_free(r)
			var err error
			res, err = readResult(r)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// status turns an accessor's status code into an error (accessors fail only on misuse,
// which would be a bug here).
func status(code C.int32_t) error {
	if code == 0 {
		return nil
	}
	msg := ""
	if p := C.logjar_last_error(); p != nil {
		msg = C.GoString(p)
	}
	return &Error{Kind: kindOf(int32(code)), Code: int32(code), Message: msg}
}

func nsTime(ns C.int64_t) time.Time { return time.Unix(0, int64(ns)) }

// readLabels reads the labels of item i.
func readLabels(r *C.logjar_result, i C.size_t) (map[string]string, error) {
	var ls *C.logjar_label
	var n C.size_t
	if err := status(C.logjar_result_labels(r, i, &ls, &n)); err != nil {
		return nil, err
	}
	m := make(map[string]string, int(n))
	for _, l := range unsafe.Slice(ls, int(n)) {
		m[C.GoString(l.name)] = C.GoString(l.value)
	}
	return m, nil
}

// readEntries reads the entries of stream i; the lines are copied into one Go string.
func readEntries(r *C.logjar_result, i C.size_t) ([]Entry, error) {
	var es *C.logjar_entry
	var n C.size_t
	if err := status(C.logjar_result_entries(r, i, &es, &n)); err != nil {
		return nil, err
	}
	cs := unsafe.Slice(es, int(n))
	total := 0
	for _, e := range cs {
		total += int(e.line_len)
	}
	buf := make([]byte, 0, total)
	for _, e := range cs {
		if e.line_len > 0 {
			buf = append(buf, unsafe.Slice((*byte)(unsafe.Pointer(e.line)), int(e.line_len))...)
		}
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	out := make([]Entry, len(cs))
	at := 0
	for j, e := range cs {
		l := int(e.line_len)
		out[j] = Entry{Time: nsTime(e.ts), Line: all[at : at+l]}
		at += l
	}
	return out, nil
}

func readPoints(r *C.logjar_result, i C.size_t) ([]Point, error) {
	var ps *C.logjar_point
	var n C.size_t
	if err := status(C.logjar_result_points(r, i, &ps, &n)); err != nil {
		return nil, err
	}
	cs := unsafe.Slice(ps, int(n))
	out := make([]Point, len(cs))
	for j, p := range cs {
		out[j] = Point{Time: nsTime(p.ts), Value: float64(p.value)}
	}
	return out, nil
}

// readResult copies a result handle into Go values. The caller has locked the OS
// thread, so status reads each accessor's error on the thread that set it.
func readResult(r *C.logjar_result) (*Result, error) {
	var typ C.int32_t
	if err := status(C.logjar_result_type(r, &typ)); err != nil {
		return nil, err
	}
	var n C.size_t
	if err := status(C.logjar_result_len(r, &n)); err != nil {
		return nil, err
	}
	res := &Result{}
	var st C.logjar_query_stats
	if err := status(C.logjar_result_stats(r, &st)); err != nil {
		return nil, err
	}
	res.Stats = QueryStats{
		ExecTime:        time.Duration(st.exec_time_ns),
		LinesProcessed:  uint64(st.lines_processed),
		BytesProcessed:  uint64(st.bytes_processed),
		PostFilterLines: uint64(st.post_filter_lines),
		StreamsSelected: uint64(st.streams_selected),
		EntriesReturned: uint64(st.entries_returned),
	}
	var err error
	switch typ {
	case C.LOGJAR_RESULT_STREAMS:
		res.Type = ResultStreams
		res.Streams, err = readSeries(r, n, func(i C.size_t, labels map[string]string) (Stream, error) {
			entries, err := readEntries(r, i)
			return Stream{Labels: labels, Entries: entries}, err
		})
	case C.LOGJAR_RESULT_MATRIX:
		res.Type = ResultMatrix
		res.Matrix, err = readSeries(r, n, func(i C.size_t, labels map[string]string) (Series, error) {
			points, err := readPoints(r, i)
			return Series{Labels: labels, Points: points}, err
		})
	case C.LOGJAR_RESULT_VECTOR:
		res.Type = ResultVector
		res.Vector, err = readSeries(r, n, func(i C.size_t, labels map[string]string) (Sample, error) {
			points, err := readPoints(r, i)
			if err != nil {
				return Sample{}, err
			}
			if len(points) != 1 {
				return Sample{}, &Error{Kind: ErrOther, Code: 99, Message: "vector sample without exactly one point"}
			}
			return Sample{Labels: labels, Point: points[0]}, nil
		})
	case C.LOGJAR_RESULT_SCALAR:
		res.Type = ResultScalar
		var p C.logjar_point
		if err := status(C.logjar_result_scalar(r, &p)); err != nil {
			return nil, err
		}
		res.Scalar = Point{Time: nsTime(p.ts), Value: float64(p.value)}
	default:
		return nil, &Error{Kind: ErrOther, Code: 99, Message: "unknown result type"}
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// readSeries reads the n labelled items of a streams, matrix or vector result: the
// labels of item i, then whatever else build reads for it.
func readSeries[T any](r *C.logjar_result, n C.size_t, build func(i C.size_t, labels map[string]string) (T, error)) ([]T, error) {
	out := make([]T, int(n))
	for i := range out {
		labels, err := readLabels(r, C.size_t(i))
		if err != nil {
			return nil, err
		}
		if out[i], err = build(C.size_t(i), labels); err != nil {
			return nil, err
		}
	}
	return out, nil
}
