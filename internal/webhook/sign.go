package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of every webhook request besides Content-Type.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>", the
	// HMAC keyed with the webhook's secret over "<t>.<body>". Binding the
	// time into the MAC lets a receiver refuse replays of old requests.
	SignatureHeader = "X-Parley-Signature"
	// EventIDHeader is the same for every attempt at one event, so that a
	// receiver can tell a retry of an event it already handled (its answer
	// may have been lost) from a new event.
	EventIDHeader = "X-Parley-Event-Id"
	// AttemptHeader counts the attempts at the event, from 1.
	AttemptHeader = "X-Parley-Attempt"
)

// ErrBadSignature is returned by Verify for a request that was not signed
// with the secret, was altered, or is too old.
var ErrBadSignature = errors.New("webhook: bad signature")

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a SignatureHeader value against the exact body received,
// as a receiver written in Go would. A tolerance above zero also refuses a
// signature time further than that from now. Several v1 entries are
// accepted, any of which may match: that leaves room to sign with two
// secrets while one replaces the other.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrBadSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
			return ErrBadSignature
		}
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
