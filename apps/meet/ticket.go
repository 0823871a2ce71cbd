package meet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ticket is what a joiner shows the app's API afterwards (chat, lock,
// recordings): who joined which room's session, as a moderator or not.
// It is signed by the app, so it needs no storage.
type ticket struct {
	Room      string `json:"r"`
	SessionID string `json:"s"`
	Name      string `json:"n"`
	Moderator bool   `json:"m"`
	Expires   int64  `json:"e"` // Unix seconds
}

var errTicket = errors.New("invalid or expired ticket; join the room again")

func (t ticket) sign(key []byte) string {
	b, _ := json.Marshal(t)
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(key, p))
}

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func parseTicket(key []byte, s string, now time.Time) (ticket, error) {
	var t ticket
	p, sig, ok := strings.Cut(s, ".")
	if !ok || len(s) > 2048 {
		return t, errTicket
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, p)) {
		return t, errTicket
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(b, &t) != nil || now.Unix() >= t.Expires {
		return ticket{}, errTicket
	}
	return t, nil
}
