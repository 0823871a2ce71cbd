package session

import (
	"errors"
	"fmt"
)

// Codes of the errors a session refuses with. They are the HTTP statuses
// the OpenTok REST API answers with for the same causes, so the REST layer
// passes them through and the signaling layer maps them to OpenTok.js
// error codes.
const (
	// CodeBadRequest: malformed input (a bad signal type, stream spec,
	// property or reason).
	CodeBadRequest = 400
	// CodeForbidden: the connection's role does not allow the call, or
	// the connection does not own the stream.
	CodeForbidden = 403
	// CodeNotFound: no such connection or stream in the session.
	CodeNotFound = 404
	// CodeConflict: a limit of the session is reached (connections, or
	// streams of one connection); the same call can succeed later.
	CodeConflict = 409
	// CodeGone: the session was removed from its Registry; see ErrClosed.
	CodeGone = 410
	// CodeTooLarge: signal data over MaxSignalDataLen.
	CodeTooLarge = 413
)

// Error is what a session refuses a call with. A refused call changes
// nothing and emits no event.
type Error struct {
	// Code is one of the Code* constants.
	Code int
	// Message says what was wrong, for people; it may be shown to the
	// client that made the call.
	Message string
}

func (e *Error) Error() string { return "session: " + e.Message }

// Code returns the code of the *Error in err's chain, or 0 when there is
// none (err is nil or did not come from this package).
func Code(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// ErrClosed is returned by Join on a session that its Registry has removed.
// The caller should get the live session again (Registry.Join does so by
// itself), because a new one may have taken the id.
var ErrClosed = &Error{Code: CodeGone, Message: "session closed"}

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func connectionNotFound(id string) *Error {
	return errorf(CodeNotFound, "connection %q not found", id)
}

func streamNotFound(id string) *Error {
	return errorf(CodeNotFound, "stream %q not found", id)
}
