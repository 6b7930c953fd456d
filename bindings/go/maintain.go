package logjar

/*
#include <stdlib.h>
#include "logjar.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"time"
	"unsafe"
)

// CompactionReport says what one compaction did.
type CompactionReport struct {
	// SegmentsBefore and SegmentsAfter count segment files (all tenants).
	SegmentsBefore uint64 `json:"segments_before"`
	SegmentsAfter  uint64 `json:"segments_after"`
	// BytesBefore and BytesAfter are the bytes of segment files.
	BytesBefore uint64 `json:"bytes_before"`
	BytesAfter  uint64 `json:"bytes_after"`
	// EntriesExpired is the number of entries removed because their retention passed.
	EntriesExpired uint64 `json:"entries_expired"`
	// EntriesDeleted is the number of entries removed by delete requests.
	EntriesDeleted uint64 `json:"entries_deleted"`
	// DeletesApplied is the number of delete requests marked applied.
	DeletesApplied uint64 `json:"deletes_applied"`
	// DurationMS is the wall-clock time of the compaction in milliseconds.
	DurationMS uint64 `json:"duration_ms"`
	// SegmentsDropped counts segments dropped whole (everything in them had expired).
	SegmentsDropped uint64 `json:"segments_dropped"`
	// SegmentsRewritten counts segments read and rewritten.
	SegmentsRewritten uint64 `json:"segments_rewritten"`
	// SegmentsWritten counts new segment files written.
	SegmentsWritten uint64 `json:"segments_written"`
	// EntriesDeduplicated counts exact duplicates removed while merging.
	EntriesDeduplicated uint64 `json:"entries_deduplicated"`
}

// Compact runs one compaction now (waiting for a running one first): it flushes what
// is in memory, drops expired segments, rewrites segments holding expired or deleted
// entries, and merges small segments. Reads and writes go on meanwhile. ctx is checked
// before it starts; a running compaction is not interrupted.
func (db *DB) Compact(ctx context.Context) (CompactionReport, error) {
	var rep CompactionReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	err := db.with(func(p *C.logjar_db) error {
		var out *C.char
		if err := call(func() C.int32_t { return C.logjar_compact(p, &out) }); err != nil {
			return err
		}
		defer C.logjar_string_free(out)
		return json.Unmarshal([]byte(C.GoString(out)), &rep)
	})
	return rep, err
}

// DeleteRequest is a logged request to delete entries.
type DeleteRequest struct {
	// ID is the request's id (from 1), for CancelDelete.
	ID uint64 `json:"id"`
	// Tenant whose entries it deletes.
	Tenant string `json:"tenant"`
	// Query is the log selector with optional line filters.
	Query string `json:"query"`
	// Start and End are the first and last timestamps deleted (Unix ns, inclusive).
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// Created is when the request was made (Unix ns).
	Created int64 `json:"created"`
	// Status is "pending", "applied" or "cancelled".
	Status string `json:"status"`
}

// Delete logs a request to delete tenant's entries that match query (a log selector
// with optional line filters, as Loki's delete API: `{app="api"} |= "secret"`) with
// times in [start, end], both inclusive, and returns its id. The request is durable
// when Delete returns; queries stop returning those entries at once, and compaction
// removes them from disk. A query that does not parse is ErrInvalidArgument.
func (db *DB) Delete(ctx context.Context, tenant, query string, start, end time.Time) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	cq := C.CString(query)
	defer C.free(unsafe.Pointer(cq))
	var id C.uint64_t
	err := db.with(func(p *C.logjar_db) error {
		return call(func() C.int32_t {
			return C.logjar_delete(p, ct, cq, C.int64_t(start.UnixNano()), C.int64_t(end.UnixNano()), &id)
		})
	})
	return uint64(id), err
}

// DeleteRequests lists every delete request of tenant (pending, applied and
// cancelled), by id.
func (db *DB) DeleteRequests(ctx context.Context, tenant string) ([]DeleteRequest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	var reqs []DeleteRequest
	err := db.with(func(p *C.logjar_db) error {
		var out *C.char
		if err := call(func() C.int32_t { return C.logjar_delete_requests_json(p, ct, &out) }); err != nil {
			return err
		}
		defer C.logjar_string_free(out)
		return json.Unmarshal([]byte(C.GoString(out)), &reqs)
	})
	return reqs, err
}

// CancelDelete cancels pending delete request id of tenant: its entries are returned
// by queries again. An unknown id, or a request compaction has applied already, is
// ErrInvalidArgument.
func (db *DB) CancelDelete(ctx context.Context, tenant string, id uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	return db.with(func(p *C.logjar_db) error {
		return call(func() C.int32_t { return C.logjar_cancel_delete(p, ct, C.uint64_t(id)) })
	})
}
