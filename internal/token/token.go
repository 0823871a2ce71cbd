// Package token mints and verifies OpenTok client tokens, the credentials a
// client presents to join a session: the legacy "T1==" form and the JWT
// form. It accepts the tokens every official OpenTok server SDK (Node,
// Python, Ruby, Java, .NET) mints, with their differences in claim names,
// field order, types and encodings.
package token

import (
	"errors"
	"fmt"
	"time"
)

// Role is what a connection may do in a session.
type Role string

// The roles OpenTok defines.
const (
	// RoleSubscriber may only subscribe and signal.
	RoleSubscriber Role = "subscriber"
	// RolePublisher may publish, subscribe and signal; it is the default.
	RolePublisher Role = "publisher"
	// RolePublisherOnly may publish and signal but not subscribe.
	RolePublisherOnly Role = "publisheronly"
	// RoleModerator may also force other clients to disconnect, unpublish
	// or mute.
	RoleModerator Role = "moderator"
)

// ParseRole accepts the four role names exactly as the SDKs send them (lower
// case). The empty string is an error; callers that want the default use
// RolePublisher.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleSubscriber, RolePublisher, RolePublisherOnly, RoleModerator:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q", ErrInvalidRole, s)
}

// CanPublish reports whether r may publish streams.
func (r Role) CanPublish() bool {
	return r == RolePublisher || r == RolePublisherOnly || r == RoleModerator
}

// CanSubscribe reports whether r may subscribe to streams.
func (r Role) CanSubscribe() bool {
	return r == RoleSubscriber || r == RolePublisher || r == RoleModerator
}

// CanForce reports whether r may force other connections to disconnect,
// unpublish or mute.
func (r Role) CanForce() bool {
	return r == RoleModerator
}

// Limits shared by minting and verification.
const (
	// MaxLifetime is the longest a token may be valid. Python, Ruby, Java
	// and .NET refuse to mint longer ones (Node does not check).
	MaxLifetime = 30 * 24 * time.Hour
	// DefaultLifetime applies when a token carries no expiry.
	DefaultLifetime = 24 * time.Hour
	// MaxDataLen is the most connection data a token may carry, in
	// characters. The docs say 1000, Node enforces 1024; the larger wins so
	// that no SDK's tokens are refused.
	MaxDataLen = 1024
	// MaxLayoutLen is the longest space-joined initial layout class list
	// accepted when minting, in characters.
	MaxLayoutLen = 1024
)

// Skew is how far the clocks of the minting and the verifying hosts may
// disagree: expiry and not-before are stretched by it.
const Skew = 60 * time.Second

// Errors wrapped by Mint* and Verify, so that callers can tell causes apart
// with errors.Is.
var (
	// ErrMalformed: the token cannot be decoded or lacks a required claim.
	ErrMalformed = errors.New("token: malformed")
	// ErrAlgorithm: a JWT not signed with HS256 (alg none, RS256, HS384, ...).
	ErrAlgorithm = errors.New("token: unsupported signing algorithm")
	// ErrSignature: the signature does not match the project's secret.
	ErrSignature = errors.New("token: bad signature")
	// ErrUnknownProject: the lookup knows no project with the token's API
	// key. The lookup's own error is wrapped as well.
	ErrUnknownProject = errors.New("token: unknown project")
	// ErrWrongSession: the token is for another session.
	ErrWrongSession = errors.New("token: wrong session")
	// ErrKeyMismatch: the session in the token does not belong to the
	// token's API key.
	ErrKeyMismatch = errors.New("token: session does not belong to the API key")
	// ErrInvalidRole: not one of the four roles.
	ErrInvalidRole = errors.New("token: invalid role")
	// ErrScope: a scope other than "session.connect".
	ErrScope = errors.New("token: wrong scope")
	// ErrExpired: the token has expired (or, when minting, the expiry is
	// in the past).
	ErrExpired = errors.New("token: expired")
	// ErrNotYetValid: the JWT's nbf is still in the future.
	ErrNotYetValid = errors.New("token: not valid yet")
	// ErrLifetime: the expiry is more than MaxLifetime ahead.
	ErrLifetime = errors.New("token: far-future expiry")
	// ErrTooLong: connection data or layout class list over its limit.
	ErrTooLong = errors.New("token: too long")
)

// Claims is what a client token grants.
type Claims struct {
	// APIKey is the project key the token was signed for (T1 partner_id,
	// JWT iss).
	APIKey string
	// SessionID is the session the token admits to.
	SessionID string
	// Role is the connection's role; RolePublisher if the token names none.
	Role Role
	// CreateTime is when the token was minted, in UTC; zero if the token
	// does not say.
	CreateTime time.Time
	// ExpireTime is when the token stops being valid, in UTC.
	ExpireTime time.Time
	// Nonce is the token's nonce as text; SDKs send floats, ints (Java's
	// may be negative) or strings.
	Nonce string
	// Data is the connection data, handed to other clients as is.
	Data string
	// InitialLayoutClassList holds the layout classes for the connection's
	// streams; nil if none.
	InitialLayoutClassList []string
}

// Options for minting.
type Options struct {
	// Role defaults to RolePublisher.
	Role Role
	// ExpireTime defaults to Now plus DefaultLifetime. It is truncated to
	// whole seconds.
	ExpireTime time.Time
	// Data is the connection data; at most MaxDataLen characters of valid
	// UTF-8.
	Data string
	// InitialLayoutClassList is sent joined with spaces; the joined text
	// may be at most MaxLayoutLen characters of valid UTF-8.
	InitialLayoutClassList []string
	// Now is the minting time; zero means time.Now().
	Now time.Time
	// Nonce, if not zero, replaces the random nonce, so that output can be
	// reproduced byte for byte (in tests). Like JavaScript's Math.random(),
	// which Node uses, it must be in [0, 1).
	Nonce float64
}
