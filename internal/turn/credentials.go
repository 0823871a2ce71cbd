package turn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the TURN REST API scheme is defined with HMAC-SHA1
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// Credentials returns short-lived TURN credentials for user in the "TURN
// REST API" scheme (draft-uberti-behave-turn-rest) that coturn, Pion and
// most TURN deployments share: the username is "<expiry unix>:<user>" and
// the password is base64(HMAC-SHA1(secret, username)). A server holding
// the same secret checks them without any state.
func Credentials(secret, user string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + user
	return username, sign(secret, username)
}

func sign(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Errors of CheckUsername.
var (
	ErrMalformed = errors.New("turn: username is not <expiry>:<user>")
	ErrExpired   = errors.New("turn: credentials expired")
)

// CheckUsername returns the user part of a TURN REST API username that is
// well formed and not expired at now. It does not check the password:
// the TURN server does that with the key the auth handler derives.
func CheckUsername(username string, now time.Time) (user string, err error) {
	ts, user, ok := strings.Cut(username, ":")
	if !ok || user == "" {
		return "", ErrMalformed
	}
	exp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || exp <= 0 {
		return "", ErrMalformed
	}
	if now.Unix() >= exp {
		return "", ErrExpired
	}
	return user, nil
}

// authHandler returns Pion's auth callback for secret: it refuses
// malformed and expired usernames, and for the others returns the
// long-term key that the client's MESSAGE-INTEGRITY must match, so a
// wrong password fails the integrity check. The user id it returns, the
// connection id, is what quotas count and what later requests on the
// allocation must present again; it stays the same when a client comes
// back with fresh credentials.
func authHandler(secret string, refused func(username string, err error)) pionturn.AuthHandler {
	return func(ra *pionturn.RequestAttributes) (string, []byte, bool) {
		user, err := CheckUsername(ra.Username, time.Now())
		if err != nil {
			if refused != nil {
				refused(ra.Username, err)
			}
			return "", nil, false
		}
		return user, pionturn.GenerateAuthKey(ra.Username, ra.Realm, sign(secret, ra.Username)), true
	}
}

// LoadOrCreateSecret returns the shared secret kept in file, creating the
// file (mode 0600) with a random secret when it does not exist, so that
// credentials handed out before a restart stay valid after it.
func LoadOrCreateSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 16 {
			return "", fmt.Errorf("turn secret in %s: want at least 16 characters", file)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("turn secret: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	s := hex.EncodeToString(raw)
	// Written whole under another name, then linked into place: a second
	// process starting on the same data folder either wins the link or
	// reads the complete file, never a half-written one.
	tmp, err := os.CreateTemp(filepath.Dir(file), ".turn-secret-*")
	if err != nil {
		return "", fmt.Errorf("turn secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(s + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), file)
	}
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateSecret(file)
	}
	if err != nil {
		return "", fmt.Errorf("turn secret: %w", err)
	}
	return s, nil
}
