package session

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Role is what a connection may do in a session. token.Role is the
// implementation in use: this package names its methods rather than the
// type because package token imports package session (for ParseID), and Go
// does not allow the cycle. A token.Role stored here compares equal to the
// token constants (c.Role == token.RoleModerator) and prints as its name.
type Role interface {
	CanPublish() bool
	CanSubscribe() bool
	CanForce() bool
}

// Connection is one client joined to a session.
type Connection struct {
	// ID is random, unique and URL-safe: a lower-case UUID, as OpenTok's
	// connection ids are.
	ID string
	// Role comes from the client's token.
	Role Role
	// Data is the token's connection data, handed to other clients as is.
	Data string
	// CreationTime has millisecond precision, the precision OpenTok.js
	// exposes, so that every view of the connection agrees on it.
	CreationTime time.Time
	// LayoutClassList is the token's initial layout class list; each stream
	// the connection publishes starts with it. Never nil.
	LayoutClassList []string
}

// Capabilities are what a connection may do, as OpenTok.js exposes them in
// session.capabilities (where each is 0 or 1).
type Capabilities struct {
	Publish         bool
	Subscribe       bool
	ForceDisconnect bool
	ForceUnpublish  bool
	ForceMute       bool
}

// Capabilities derives c's capabilities from its role. A connection
// without a role may do nothing.
func (c *Connection) Capabilities() Capabilities {
	if c.Role == nil {
		return Capabilities{}
	}
	force := c.Role.CanForce()
	return Capabilities{
		Publish:         c.Role.CanPublish(),
		Subscribe:       c.Role.CanSubscribe(),
		ForceDisconnect: force,
		ForceUnpublish:  force,
		ForceMute:       force,
	}
}

// clone returns a copy of c that shares no memory with it.
func (c *Connection) clone() *Connection {
	cp := *c
	cp.LayoutClassList = cloneList(c.LayoutClassList)
	return &cp
}

// cloneList copies l, returning an empty list rather than nil so that the
// JSON form of a layout class list is always an array.
func cloneList(l []string) []string {
	return append(make([]string, 0, len(l)), l...)
}

// newUUID returns a random (version 4) UUID in lower case. OpenTok
// connection and stream ids have this form, and some client code relies on
// it, so it is kept rather than a shorter encoding.
func newUUID() string {
	var b [16]byte
	// crypto/rand.Read never fails: it aborts the program instead.
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80

	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
