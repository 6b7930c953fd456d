// Package logjar embeds logjar, a log storage engine that speaks LogQL ("SQLite for
// logs"), in a Go program through its C ABI (cgo over the static library built by
// `cargo build -p logjar-c`; run `go generate` in this directory first).
//
// The typed API: Open, DB.Push (streams of entries, through the C ABI's typed push,
// no JSON), DB.Query (Streams, Matrix, Vector or Scalar results read through the C
// result accessors), DB.Tail (entries on a channel), DB.Labels, DB.LabelValues,
// DB.Series, DB.Compact and DB.Delete. Beside it, the bindings' common surface:
// DB.PushLokiJSON and DB.QueryLokiJSON take and give Loki's JSON bodies. Errors are
// *Error values whose kind is matched with errors.Is (ErrBadQuery, ErrLimit, …).
// docs/go.md in the repository is the guide.
//
// A DB is safe for concurrent use by many goroutines. Close it when done; a finalizer
// closes a DB that was dropped without Close.
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
	"sync"
	"unsafe"
)

// Options are the database options; nil or the zero value means the defaults.
type Options struct {
	// Sync is "always", "interval" or "never" (empty: the default).
	Sync string
	// Extra holds further fields of the Rust Options struct by their JSON names.
	Extra map[string]any
}

func (o *Options) json() (string, bool, error) {
	if o == nil {
		return "", false, nil
	}
	m := map[string]any{}
	for k, v := range o.Extra {
		m[k] = v
	}
	if o.Sync != "" {
		m["sync"] = o.Sync
	}
	b, err := json.Marshal(m)
	return string(b), true, err
}

// DB is an open logjar database.
type DB struct {
	mu  sync.RWMutex // read: a call in flight; write: Close
	ptr *C.logjar_db
}

// call runs f on a locked OS thread so that logjar's thread-local last error belongs
// to f's call, and turns a non-zero status into an *Error.
func call(f func() C.int32_t) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	code := int32(f())
	if code == 0 {
		return nil
	}
	msg := ""
	if p := C.logjar_last_error(); p != nil {
		msg = C.GoString(p)
	}
	return &Error{Kind: kindOf(code), Code: code, Message: msg}
}

// Version returns logjar's version, e.g. "0.1.0".
func Version() string { return C.GoString(C.logjar_version()) }

// Open opens (creating if needed) the database in directory path. opts nil means the
// defaults. A directory already open, here or in another process, gives ErrLocked.
func Open(path string, opts *Options) (*DB, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	text, has, err := opts.json()
	if err != nil {
		return nil, &Error{Kind: ErrInvalidArgument, Code: 1, Message: err.Error()}
	}
	var copts *C.char
	if has {
		copts = C.CString(text)
		defer C.free(unsafe.Pointer(copts))
	}
	var ptr *C.logjar_db
	if err := call(func() C.int32_t { return C.logjar_open(cpath, copts, &ptr) }); err != nil {
		return nil, err
	}
	db := &DB{ptr: ptr}
	runtime.SetFinalizer(db, func(d *DB) { _ = d.Close() })
	return db, nil
}

// Close closes the database, waiting for calls in flight. Calls after Close return
// ErrClosed; a second Close returns nil.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.ptr == nil {
		return nil
	}
	p := db.ptr
	db.ptr = nil
	runtime.SetFinalizer(db, nil)
	return call(func() C.int32_t { return C.logjar_close(p) })
}

// with runs f with the handle, or returns ErrClosed.
func (db *DB) with(f func(p *C.logjar_db) error) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.ptr == nil {
		return &Error{Kind: ErrClosed, Code: 8, Message: "database is closed"}
	}
	err := f(db.ptr)
	runtime.KeepAlive(db)
	return err
}

func cTenant(tenant string) *C.char {
	if tenant == "" {
		return nil
	}
	return C.CString(tenant)
}

// PushLokiJSON writes a Loki push body ({"streams":[{"stream":{…},"values":[…]}]}) to
// tenant ("" means the default tenant "fake"), all or nothing.
func (db *DB) PushLokiJSON(ctx context.Context, tenant string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	return db.with(func(p *C.logjar_db) error {
		var ptr *C.uint8_t
		if len(body) > 0 {
			ptr = (*C.uint8_t)(unsafe.Pointer(&body[0]))
		}
		err := call(func() C.int32_t {
			return C.logjar_push_loki_json(p, ct, ptr, C.size_t(len(body)))
		})
		runtime.KeepAlive(body)
		return err
	})
}

// QueryLokiJSON runs a request {"query":"…","start":<ns>,"end":<ns>,…} against tenant
// and returns the body Loki's HTTP API returns. Cancelling ctx stops the query; the
// error is then ctx.Err().
func (db *DB) QueryLokiJSON(ctx context.Context, tenant string, requestJSON []byte) ([]byte, error) {
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	creq := C.CString(string(requestJSON))
	defer C.free(unsafe.Pointer(creq))
	var out []byte
	err := withCancel(ctx, func(tok *C.logjar_cancel) error {
		return db.with(func(p *C.logjar_db) error {
			var cout *C.char
			err := call(func() C.int32_t {
				return C.logjar_query_loki_json_cancellable(p, ct, creq, tok, &cout)
			})
			if err == nil {
				out = C.GoBytes(unsafe.Pointer(cout), C.int(C.strlen(cout)))
				C.logjar_string_free(cout)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Flush writes everything buffered in memory to segment files and returns once durable.
func (db *DB) Flush() error {
	return db.with(func(p *C.logjar_db) error {
		return call(func() C.int32_t { return C.logjar_flush(p) })
	})
}

// takeJSON runs f, which writes a logjar string to *out, and decodes Loki's
// {"status":"success","data":…} body into data.
func takeJSON(f func(out **C.char) C.int32_t, data any) error {
	var cout *C.char
	if err := call(func() C.int32_t { return f(&cout) }); err != nil {
		return err
	}
	defer C.logjar_string_free(cout)
	var body struct{ Data json.RawMessage }
	if err := json.Unmarshal([]byte(C.GoString(cout)), &body); err != nil {
		return err
	}
	return json.Unmarshal(body.Data, data)
}

// Labels returns the sorted label names of tenant's streams with data in [start, end)
// (Unix nanoseconds).
func (db *DB) Labels(ctx context.Context, tenant string, start, end int64) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	var names []string
	err := db.with(func(p *C.logjar_db) error {
		return takeJSON(func(out **C.char) C.int32_t {
			return C.logjar_label_names_json(p, ct, C.int64_t(start), C.int64_t(end), out)
		}, &names)
	})
	return names, err
}

// LabelValues returns the sorted values of label name in [start, end).
func (db *DB) LabelValues(ctx context.Context, tenant, name string, start, end int64) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var values []string
	err := db.with(func(p *C.logjar_db) error {
		return takeJSON(func(out **C.char) C.int32_t {
			return C.logjar_label_values_json(p, ct, cn, C.int64_t(start), C.int64_t(end), out)
		}, &values)
	})
	return values, err
}

// Series returns the label sets of the streams matching selector ({app="api"}) with
// data in [start, end).
func (db *DB) Series(ctx context.Context, tenant, selector string, start, end int64) ([]map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ct := cTenant(tenant)
	defer C.free(unsafe.Pointer(ct))
	cs := C.CString(selector)
	defer C.free(unsafe.Pointer(cs))
	var series []map[string]string
	err := db.with(func(p *C.logjar_db) error {
		return takeJSON(func(out **C.char) C.int32_t {
			return C.logjar_series_json(p, ct, cs, C.int64_t(start), C.int64_t(end), out)
		}, &series)
	})
	return series, err
}
