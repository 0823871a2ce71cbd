package project

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/store"
)

const (
	key    = "12345678"
	secret = "0123456789abcdef0123456789abcdef01234567"
)

var now = time.Unix(1795435882, 0)

func testAuth() *Authenticator {
	return &Authenticator{
		Lookup: func(_ context.Context, k string) (store.Project, error) {
			if k == key {
				return store.Project{APIKey: key, Secret: secret}, nil
			}
			return store.Project{}, fmt.Errorf("project %s: %w", k, store.ErrNotFound)
		},
		Now: func() time.Time { return now },
	}
}

func sign(t *testing.T, m jwt.SigningMethod, header map[string]any, claims jwt.MapClaims, k any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for h, v := range header {
		tok.Header[h] = v
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyJWT(t *testing.T) {
	iat := now.Unix()
	ok := func(c jwt.MapClaims) jwt.MapClaims {
		base := jwt.MapClaims{"iss": key, "ist": "project", "iat": iat, "exp": iat + 300}
		for k, v := range c {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		return base
	}
	b64 := base64.RawURLEncoding.EncodeToString
	noneTok := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(fmt.Sprintf(`{"iss":"%s","ist":"project","iat":%d,"exp":%d}`, key, iat, iat+300))) + "."
	good := sign(t, jwt.SigningMethodHS256, nil, ok(nil), []byte(secret))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, parts[2])

	tests := []struct {
		name  string
		tok   string
		valid bool
	}{
		{"node", good, true},
		{"python with jti and 180s", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"exp": iat + 180, "jti": "0.123"}), []byte(secret)), true},
		{"ruby ist in header", sign(t, jwt.SigningMethodHS256, map[string]any{"ist": "project"}, ok(jwt.MapClaims{"ist": nil}), []byte(secret)), true},
		{"numeric iss", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"iss": 12345678}), []byte(secret)), true},
		{"exp 300s plus skew", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"exp": iat + 330}), []byte(secret)), true},
		{"alg none", noneTok, false},
		{"HS384", sign(t, jwt.SigningMethodHS384, nil, ok(nil), []byte(secret)), false},
		{"HS512", sign(t, jwt.SigningMethodHS512, nil, ok(nil), []byte(secret)), false},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, nil, ok(nil), []byte("not-the-secret")), false},
		{"tampered signature", tampered, false},
		{"unknown iss", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"iss": "999"}), []byte(secret)), false},
		{"no iss", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"iss": nil}), []byte(secret)), false},
		{"expired", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"iat": iat - 900, "exp": iat - 300}), []byte(secret)), false},
		{"far future exp", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"exp": iat + 3600}), []byte(secret)), false},
		{"no exp", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"exp": nil}), []byte(secret)), false},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"iat": iat + 600, "exp": iat + 700}), []byte(secret)), false},
		{"account ist", sign(t, jwt.SigningMethodHS256, nil, ok(jwt.MapClaims{"ist": "account"}), []byte(secret)), false},
		{"garbage", "not.a.jwt", false},
		{"empty parts", "..", false},
	}
	a := testAuth()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.VerifyJWT(context.Background(), tt.tok)
			if tt.valid {
				if err != nil || p.APIKey != key {
					t.Fatalf("got %+v, %v; want the project", p, err)
				}
				return
			}
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("got %v, want ErrAuth", err)
			}
		})
	}
}

func TestMintJWTVerifies(t *testing.T) {
	tok, err := MintJWT(key, secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testAuth().VerifyJWT(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticateHeaders(t *testing.T) {
	a := testAuth()
	tok, _ := MintJWT(key, secret, now)
	tests := []struct {
		header, value string
		valid         bool
	}{
		{"X-OPENTOK-AUTH", tok, true},
		{"X-TB-PARTNER-AUTH", key + ":" + secret, true},
		{"X-TB-PARTNER-AUTH", key + ":wrong", false},
		{"X-TB-PARTNER-AUTH", "999:" + secret, false},
		{"X-TB-PARTNER-AUTH", key, false},
		{"Authorization", "Bearer " + tok, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/session/create", nil)
		r.Header.Set(tt.header, tt.value)
		_, err := a.Authenticate(r)
		if (err == nil) != tt.valid {
			t.Errorf("%s: %q: err %v, want valid=%v", tt.header, tt.value, err, tt.valid)
		}
	}
}

func TestStoreErrorIsNotAuthError(t *testing.T) {
	boom := errors.New("disk on fire")
	a := &Authenticator{Lookup: func(context.Context, string) (store.Project, error) { return store.Project{}, boom }, Now: func() time.Time { return now }}
	tok, _ := MintJWT(key, secret, now)
	if _, err := a.VerifyJWT(context.Background(), tok); !errors.Is(err, boom) || errors.Is(err, ErrAuth) {
		t.Fatalf("got %v; want the store's error, not ErrAuth", err)
	}
}

func TestNewCredentials(t *testing.T) {
	for range 100 {
		if err := config.ValidAPIKey(NewAPIKey()); err != nil {
			t.Fatal(err)
		}
	}
	if s := NewSecret(); len(s) != 40 {
		t.Fatalf("secret %q", s)
	}
}

func FuzzVerifyJWT(f *testing.F) {
	tok, _ := MintJWT(key, secret, now)
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("")
	a := testAuth()
	f.Fuzz(func(t *testing.T, s string) {
		p, err := a.VerifyJWT(context.Background(), s)
		if err == nil && p.APIKey != key {
			t.Fatalf("accepted %q for %+v", s, p)
		}
	})
}
