package logjar

import (
	"errors"
	"fmt"
)

// Error kinds, one per status code of the C ABI. Test with errors.Is:
//
//	if errors.Is(err, logjar.ErrBadQuery) { … }
var (
	// ErrInvalidArgument: a bad argument, option, tenant, label or push body.
	ErrInvalidArgument = errors.New("logjar: invalid argument")
	// ErrBadQuery: the query or request does not parse, or evaluation failed as in Loki.
	ErrBadQuery = errors.New("logjar: bad query")
	// ErrLimit: a configured limit rejected the push or the query.
	ErrLimit = errors.New("logjar: limit exceeded")
	// ErrIO: an I/O error on a file of the database.
	ErrIO = errors.New("logjar: I/O error")
	// ErrCorrupt: a file of the database is corrupt or of an unsupported version.
	ErrCorrupt = errors.New("logjar: corrupt data")
	// ErrLocked: the directory is held open by another process or DB.
	ErrLocked = errors.New("logjar: database is locked")
	// ErrPanic: a bug in logjar, caught at the boundary.
	ErrPanic = errors.New("logjar: internal error")
	// ErrClosed: the DB was closed (or poisoned by a failed fsync).
	ErrClosed = errors.New("logjar: database is closed")
	// ErrCancelled: the query was cancelled (the context's error is returned instead
	// when the context caused it).
	ErrCancelled = errors.New("logjar: query cancelled")
	// ErrTimeout: the query ran past its deadline.
	ErrTimeout = errors.New("logjar: query timed out")
	// ErrOther: an error of a kind this version does not name.
	ErrOther = errors.New("logjar: error")
)

// Error is a failure reported by logjar: its kind (one of the Err* values, matched by
// errors.Is), the C status code and logjar's message.
type Error struct {
	Kind    error
	Code    int32
	Message string
}

// Error returns logjar's message.
func (e *Error) Error() string { return fmt.Sprintf("%v: %s", e.Kind, e.Message) }

// Unwrap returns the kind, so errors.Is(err, ErrBadQuery) works.
func (e *Error) Unwrap() error { return e.Kind }

func kindOf(code int32) error {
	switch code {
	case 1:
		return ErrInvalidArgument
	case 2:
		return ErrBadQuery
	case 3:
		return ErrLimit
	case 4:
		return ErrIO
	case 5:
		return ErrCorrupt
	case 6:
		return ErrLocked
	case 7:
		return ErrPanic
	case 8:
		return ErrClosed
	case 9:
		return ErrCancelled
	case 10:
		return ErrTimeout
	}
	return ErrOther
}
