// Package project makes project credentials and checks the REST
// authentication the OpenTok server SDKs send: the X-OPENTOK-AUTH project
// JWT and the legacy X-TB-PARTNER-AUTH header.
package project

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/store"
)

// NewAPIKey returns a random 8-digit API key, like the ones OpenTok hands
// out: numeric, so that the Java and .NET SDKs can hold it in an int.
func NewAPIKey() string {
	n, err := rand.Int(rand.Reader, big.NewInt(90_000_000))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return strconv.FormatInt(n.Int64()+10_000_000, 10)
}

// NewSecret returns a random 40-hex-digit API secret.
func NewSecret() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// JWTLifetime is how far ahead a project JWT's exp may lie: the REST
// reference allows at most five minutes.
const JWTLifetime = 5 * time.Minute

// ClockSkew is the tolerance for the caller's clock, both ways.
const ClockSkew = time.Minute

// ErrAuth is wrapped by every authentication failure.
var ErrAuth = errors.New("authentication failed")

// Lookup finds a project by API key; it returns an error wrapping
// store.ErrNotFound for an unknown key.
type Lookup func(ctx context.Context, apiKey string) (store.Project, error)

// Authenticator checks the credentials of REST requests.
type Authenticator struct {
	Lookup Lookup
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Authenticate returns the project whose credentials r carries. Every
// failure wraps ErrAuth and says what was wrong.
func (a *Authenticator) Authenticate(r *http.Request) (store.Project, error) {
	if tok := r.Header.Get("X-OPENTOK-AUTH"); tok != "" {
		return a.VerifyJWT(r.Context(), tok)
	}
	if cred := r.Header.Get("X-TB-PARTNER-AUTH"); cred != "" {
		return a.verifyPartner(r.Context(), cred)
	}
	return store.Project{}, fmt.Errorf("%w: no suitable authentication found", ErrAuth)
}

// VerifyJWT checks a project JWT the way the official SDKs mint it: HS256
// with the project secret, the project found by iss, ist "project" in the
// payload or the header (or absent), and an exp in the future but no more
// than five minutes ahead.
func (a *Authenticator) VerifyJWT(ctx context.Context, tok string) (store.Project, error) {
	var p store.Project
	now := a.now()
	var lookupErr error
	parsed, err := jwt.Parse(tok, func(t *jwt.Token) (any, error) {
		claims := t.Claims.(jwt.MapClaims)
		iss, err := issuer(claims["iss"])
		if err != nil {
			return nil, err
		}
		p, lookupErr = a.Lookup(ctx, iss)
		if lookupErr != nil {
			return nil, lookupErr
		}
		return []byte(p.Secret), nil
	},
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		if lookupErr != nil {
			if errors.Is(lookupErr, store.ErrNotFound) {
				return store.Project{}, fmt.Errorf("%w: issuer not found", ErrAuth)
			}
			// The store failing is not the caller's fault.
			return store.Project{}, lookupErr
		}
		return store.Project{}, fmt.Errorf("%w: %v", ErrAuth, err)
	}
	claims := parsed.Claims.(jwt.MapClaims)
	if err := checkIST(claims["ist"], parsed.Header["ist"]); err != nil {
		return store.Project{}, err
	}
	exp, _ := claims.GetExpirationTime()
	if exp.Sub(now) > JWTLifetime+ClockSkew {
		return store.Project{}, fmt.Errorf("%w: exp is more than %v ahead", ErrAuth, JWTLifetime)
	}
	return p, nil
}

// issuer normalises iss: a string, or a number from clients that hold the
// key as an int.
func issuer(v any) (string, error) {
	switch iss := v.(type) {
	case string:
		if iss != "" {
			return iss, nil
		}
	case float64:
		if iss > 0 && iss == float64(int64(iss)) {
			return strconv.FormatInt(int64(iss), 10), nil
		}
	}
	return "", fmt.Errorf("%w: missing or invalid iss", ErrAuth)
}

func checkIST(payload, header any) error {
	for _, v := range []any{payload, header} {
		if v == nil {
			continue
		}
		if s, _ := v.(string); s != "project" {
			return fmt.Errorf("%w: ist must be \"project\"", ErrAuth)
		}
	}
	return nil
}

// verifyPartner checks "apiKey:apiSecret", the header of very old SDKs.
func (a *Authenticator) verifyPartner(ctx context.Context, cred string) (store.Project, error) {
	key, secret, ok := strings.Cut(cred, ":")
	if !ok || key == "" || secret == "" {
		return store.Project{}, fmt.Errorf("%w: X-TB-PARTNER-AUTH must be apiKey:apiSecret", ErrAuth)
	}
	p, err := a.Lookup(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return store.Project{}, fmt.Errorf("%w: issuer not found", ErrAuth)
	}
	if err != nil {
		return store.Project{}, err
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(p.Secret)) != 1 {
		return store.Project{}, fmt.Errorf("%w: invalid API key or secret", ErrAuth)
	}
	return p, nil
}

// MintJWT returns the X-OPENTOK-AUTH token the Node SDK sends: HS256,
// claims iss, ist, iat and exp five minutes later.
func MintJWT(apiKey, secret string, now time.Time) (string, error) {
	iat := now.Unix()
	// jwt.MapClaims marshals in key order; the SDKs' order carries no meaning.
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": apiKey,
		"ist": "project",
		"iat": iat,
		"exp": iat + int64(JWTLifetime/time.Second),
	})
	return t.SignedString([]byte(secret))
}
