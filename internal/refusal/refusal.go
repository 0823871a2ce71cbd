// Package refusal is how the archive and broadcast managers turn a
// request down: a kind, which the REST layer answers with a status code,
// and a message for the caller.
package refusal

import (
	"errors"
	"fmt"
)

// The kinds of refusal.
var (
	Invalid    = errors.New("invalid request")         // 400
	Forbidden  = errors.New("forbidden")               // 403
	NotFound   = errors.New("not found")               // 404
	StreamMode = errors.New("unsupported stream mode") // 405
	Conflict   = errors.New("conflict")                // 409
)

// Error is a refusal: Kind is one of the kinds above, Msg is for the
// caller.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is match Kind.
func (e *Error) Unwrap() error { return e.Kind }

// New is a refusal of that kind with a formatted message.
func New(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
