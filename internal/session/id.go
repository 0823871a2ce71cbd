// Package session holds the live state of sessions: connections, streams,
// roles and signals. It does no I/O.
package session

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxIDLen is the longest session id accepted. The OpenTok documentation
// promises ids of at most 255 characters, and clients size buffers by it.
const MaxIDLen = 255

// ErrInvalidID is wrapped by every error ParseID returns.
var ErrInvalidID = errors.New("session: invalid session id")

// NewID returns a new session id for apiKey in the OpenTok format:
//
//	"1_" + base64url_nopad("1~{apiKey}~{location}~{epochMillis}~{24 random base64url chars}~~")
//
// Every server SDK decodes this locally before minting a token and checks
// that the API key is field 1 (Node), one of the fields (Python, Java) or a
// substring (Ruby), so the key must sit exactly at index 1. The URL-safe
// alphabet keeps '+' and '/' out of the id, which ends up in URLs and forms.
//
// location is only a hint: if it holds '~' or non-ASCII bytes it is left
// out rather than corrupting the id. NewID panics if apiKey is empty or
// holds '~' or non-ASCII bytes, because such a key could never be read back
// from the id; keys are made by the server, so that is a programming error.
func NewID(apiKey, location string, now time.Time) string {
	if !validField(apiKey) || apiKey == "" {
		panic(fmt.Sprintf("session.NewID: invalid API key %q", apiKey))
	}
	if !validField(location) {
		location = ""
	}
	// 18 bytes encode to exactly 24 base64 characters, the length of the
	// random part of real ids. crypto/rand.Read never fails (it aborts the
	// program instead), so there is no error to handle.
	var rnd [18]byte
	_, _ = rand.Read(rnd[:])

	var b strings.Builder
	b.Grow(64 + len(apiKey) + len(location))
	b.WriteString("1~")
	b.WriteString(apiKey)
	b.WriteByte('~')
	b.WriteString(location)
	b.WriteByte('~')
	b.WriteString(strconv.FormatInt(now.UnixMilli(), 10))
	b.WriteByte('~')
	b.WriteString(base64.RawURLEncoding.EncodeToString(rnd[:]))
	b.WriteString("~~")
	return "1_" + base64.RawURLEncoding.EncodeToString([]byte(b.String()))
}

// validField reports whether s can be stored in a '~'-separated field of
// an id and read back unchanged.
func validField(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '~' || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// ParsedID is what a session id carries.
type ParsedID struct {
	// APIKey is the key of the project that owns the session (for ids made
	// by Vonage, an application UUID).
	APIKey string
	// Location is the location hint given at creation, often empty.
	Location string
	// Created is when the session was made, in UTC, or the zero time when
	// the id's timestamp cannot be read.
	Created time.Time
}

// ParseID decodes id the way the server SDKs do: it drops the 2-character
// prefix ("1_" and "2_" are seen; neither means anything documented),
// base64-decodes the rest with either alphabet and with or without padding,
// and splits the text at '~'.
//
// It fails if the id is longer than MaxIDLen, has nothing after the prefix,
// is not base64, does not decode to ASCII, has fewer than 5 fields, does
// not start with the format version "1" or has an empty API key. The
// creation time is read best effort and never causes an error: epoch
// milliseconds in newer ids, Java Date text ("Mon Mar 17 00:41:31 PDT 2014")
// in older ones, otherwise the zero time.
func ParseID(id string) (ParsedID, error) {
	if len(id) > MaxIDLen {
		return ParsedID{}, fmt.Errorf("%w: %d bytes long, the limit is %d", ErrInvalidID, len(id), MaxIDLen)
	}
	if len(id) <= 2 {
		return ParsedID{}, fmt.Errorf("%w: too short", ErrInvalidID)
	}
	raw, err := decodeBase64(id[2:])
	if err != nil {
		return ParsedID{}, fmt.Errorf("%w: %v", ErrInvalidID, err)
	}
	// Node reads the bytes as ASCII and Python insists on UTF-8; accepting
	// only ASCII satisfies both.
	for i, c := range raw {
		if c >= 0x80 {
			return ParsedID{}, fmt.Errorf("%w: non-ASCII byte at offset %d of the decoded id", ErrInvalidID, i)
		}
	}
	fields := strings.Split(string(raw), "~")
	if len(fields) < 5 {
		return ParsedID{}, fmt.Errorf("%w: %d '~'-separated fields, want at least 5", ErrInvalidID, len(fields))
	}
	if fields[0] != "1" {
		return ParsedID{}, fmt.Errorf("%w: format version %q, want \"1\"", ErrInvalidID, fields[0])
	}
	if fields[1] == "" {
		return ParsedID{}, fmt.Errorf("%w: empty API key", ErrInvalidID)
	}
	return ParsedID{
		APIKey:   fields[1],
		Location: fields[2],
		Created:  parseCreated(fields[3]),
	}, nil
}

// decodeBase64 decodes s in either base64 alphabet, padded or not, because
// ids and tokens reach us from SDKs that disagree on both.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	switch {
	case !strings.ContainsAny(s, "+/"):
		return base64.RawURLEncoding.DecodeString(s)
	case !strings.ContainsAny(s, "-_"):
		return base64.RawStdEncoding.DecodeString(s)
	}
	// Both alphabets at once: decode the way Node does after its
	// '-'→'+', '_'→'/' replacement.
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, s)
	return base64.RawStdEncoding.DecodeString(s)
}

// parseCreated reads the creation field of a decoded id.
func parseCreated(s string) time.Time {
	if isDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.UnixMilli(ms).UTC()
	}
	return parseJavaDate(s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// javaZones holds the offsets of zone abbreviations Java's Date.toString
// prints for the zones old OpenTok servers ran in. Go's time.Parse cannot
// be trusted with them: it only knows the abbreviations of the local zone
// and silently reads any other as UTC.
var javaZones = map[string]time.Duration{
	"UTC": 0, "GMT": 0, "UT": 0,
	"EST": -5 * time.Hour, "EDT": -4 * time.Hour,
	"CST": -6 * time.Hour, "CDT": -5 * time.Hour,
	"MST": -7 * time.Hour, "MDT": -6 * time.Hour,
	"PST": -8 * time.Hour, "PDT": -7 * time.Hour,
	"AKST": -9 * time.Hour, "AKDT": -8 * time.Hour,
	"HST": -10 * time.Hour,
	"WET": 0, "WEST": time.Hour,
	"CET": time.Hour, "CEST": 2 * time.Hour,
	"EET": 2 * time.Hour, "EEST": 3 * time.Hour,
	"BST": time.Hour,
	"JST": 9 * time.Hour,
}

// parseJavaDate reads Java's Date.toString format,
// "EEE MMM dd HH:mm:ss zzz yyyy", as in "Mon Mar 17 00:41:31 PDT 2014".
// Unknown zones are read as UTC, which is off by hours at most; the result
// is informational only.
func parseJavaDate(s string) time.Time {
	f := strings.Fields(s)
	if len(f) != 6 {
		return time.Time{}
	}
	t, err := time.Parse("Mon Jan 2 15:04:05 2006", f[0]+" "+f[1]+" "+f[2]+" "+f[3]+" "+f[5])
	if err != nil {
		return time.Time{}
	}
	return t.Add(-zoneOffset(f[4])).UTC()
}

// zoneOffset returns the offset of a Java zone name: an abbreviation from
// javaZones or a custom "GMT+hh:mm" / "GMT-hh:mm" id; anything else is 0.
func zoneOffset(zone string) time.Duration {
	if off, ok := javaZones[zone]; ok {
		return off
	}
	rest, ok := strings.CutPrefix(zone, "GMT")
	if !ok || len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return 0
	}
	if !isDigits(rest[1:3]) || !isDigits(rest[4:6]) {
		return 0
	}
	h, _ := strconv.Atoi(rest[1:3])
	m, _ := strconv.Atoi(rest[4:6])
	if h > 23 || m > 59 {
		return 0
	}
	off := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if rest[0] == '-' {
		off = -off
	}
	return off
}
