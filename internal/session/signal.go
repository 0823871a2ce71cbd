package session

import "unicode/utf8"

// Limits of a signal, as OpenTok.js and the OpenTok REST API document them.
const (
	// MaxSignalTypeLen is the longest signal type, in characters (the
	// allowed characters are all ASCII, so also in bytes).
	MaxSignalTypeLen = 128
	// MaxSignalDataLen is the most signal data, in bytes.
	MaxSignalDataLen = 8192
)

// Signal sends a signal of type typ carrying data from connection
// fromConnID, or from the server when fromConnID is "", to connection
// toConnID, or to every connection when toConnID is "" (the sender
// included, as in OpenTok).
//
// typ may be empty; otherwise it is at most MaxSignalTypeLen characters
// from [A-Za-z0-9-_~]. data is valid UTF-8 of at most MaxSignalDataLen
// bytes; it may be empty.
//
// Signal fails with CodeNotFound for an unknown sender or recipient,
// CodeBadRequest for an invalid type or data that is not UTF-8, and
// CodeTooLarge for too much data; the type and data are checked first. Any
// role may signal.
func (s *Session) Signal(fromConnID, toConnID, typ, data string) error {
	if err := validSignal(typ, data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var from *member
	if fromConnID != "" {
		var ok bool
		if from, ok = s.conns[fromConnID]; !ok {
			return errorf(CodeNotFound, "sender connection %q not found", fromConnID)
		}
	}
	var to *member
	if toConnID != "" {
		var ok bool
		if to, ok = s.conns[toConnID]; !ok {
			return errorf(CodeNotFound, "recipient connection %q not found", toConnID)
		}
	}

	ev := Event{Kind: EventSignal, SignalType: typ, SignalData: data}
	if from != nil {
		ev.Connection = from.clone()
	}
	if to != nil {
		s.sendTo(to, ev)
	} else {
		s.broadcast(ev)
	}
	return nil
}

func validSignal(typ, data string) error {
	if len(typ) > MaxSignalTypeLen {
		return errorf(CodeBadRequest, "signal type is %d characters long, the limit is %d", len(typ), MaxSignalTypeLen)
	}
	for i := 0; i < len(typ); i++ {
		if !signalTypeChar(typ[i]) {
			return errorf(CodeBadRequest, "signal type %q: character %q is not one of A-Z a-z 0-9 - _ ~", typ, typ[i])
		}
	}
	if len(data) > MaxSignalDataLen {
		return errorf(CodeTooLarge, "signal data is %d bytes long, the limit is %d", len(data), MaxSignalDataLen)
	}
	if !utf8.ValidString(data) {
		return errorf(CodeBadRequest, "signal data is not valid UTF-8")
	}
	return nil
}

func signalTypeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '~'
}
