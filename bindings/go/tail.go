package logjar

/*
#include <stdlib.h>
#include "logjar.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sort"
	"time"
	"unsafe"
)

// TailEntry is an entry delivered by Tail, with the labels of its stream (stream
// labels and structured metadata, merged as in query results).
type TailEntry struct {
	// Labels of the entry's stream. Entries of one stream share the map: treat it as
	// read-only.
	Labels map[string]string
	// Entry is the time and line (Metadata is nil).
	Entry
}

// tailPoll is how long one poll waits inside logjar; it bounds how late Tail notices
// a cancelled context or a closed DB.
const tailPoll = 100 * time.Millisecond

// Tail follows the log query `query` on tenant ("" means "fake"), delivering every
// entry with a time at or after start on the first channel, oldest first, as soon as
// it is written (new writes are noticed within a few milliseconds). A zero start means
// now. Entries are followed by time, as Loki's tail does: an entry written later with
// a time older than the newest one delivered is skipped.
//
// Both channels are closed when ctx is done (the error channel then stays empty) or
// when tailing fails: a query that does not parse or is a metric query (ErrBadQuery),
// or the DB closed (ErrClosed); the error is sent on the error channel, which has room
// for it, before both close. Read the entries promptly: Tail waits for the reader.
func (db *DB) Tail(ctx context.Context, tenant, query string, start time.Time) (<-chan TailEntry, <-chan error) {
	entries := make(chan TailEntry, 256)
	errc := make(chan error, 1)
	if start.IsZero() {
		start = time.Now()
	}
	go func() {
		defer close(entries)
		defer close(errc)
		if err := ctx.Err(); err != nil {
			return
		}
		sub, err := db.tailOpen(tenant, query, start.UnixNano())
		if err != nil {
			errc <- err
			return
		}
		defer C.logjar_tail_close(sub)
		for ctx.Err() == nil {
			batch, err := db.tailPoll(sub)
			if err != nil {
				errc <- err
				return
			}
			for _, e := range batch {
				select {
				case entries <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return entries, errc
}

func (db *DB) tailOpen(tenant, query string, start int64) (*C.logjar_tail, error) {
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	cq := C.CString(query)
	defer C.free(unsafe.Pointer(cq))
	var sub *C.logjar_tail
	err := db.with(func(p *C.logjar_db) error {
		return call(func() C.int32_t { return C.logjar_tail_open(p, ct, cq, C.int64_t(start), &sub) })
	})
	return sub, err
}

// tailPoll waits up to tailPoll for new entries and returns them merged by time.
func (db *DB) tailPoll(sub *C.logjar_tail) ([]TailEntry, error) {
	var out []TailEntry
	err := db.with(func(_ *C.logjar_db) error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r *C.logjar_result
		if err := call(func() C.int32_t { return C.logjar_tail_poll(sub, C.uint32_t(tailPoll/time.Millisecond), &r) }); err != nil {
			return err
		}
		defer C.logjar_result_free(r)
		res, err := readResult(r)
		if err != nil {
			return err
		}
		for _, s := range res.Streams {
			for _, e := range s.Entries {
				out = append(out, TailEntry{Labels: s.Labels, Entry: e})
			}
		}
		return nil
	})
	// Streams are sorted by labels: a stable sort by time keeps that order for ties.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, err
}
