package token

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/session"
)

var sentinels = []error{
	ErrMalformed, ErrAlgorithm, ErrSignature, ErrUnknownProject, ErrWrongSession, ErrKeyMismatch,
	ErrInvalidRole, ErrScope, ErrExpired, ErrNotYetValid, ErrLifetime, ErrTooLong,
}

func FuzzVerify(f *testing.F) {
	now := t0.Add(10 * time.Second)
	for _, o := range []Options{
		{Now: t0},
		{Now: t0, Role: RoleModerator, Data: "name=Bob&x=1", InitialLayoutClassList: []string{"focus", "big"}},
		{Now: t0, Role: RoleSubscriber, ExpireTime: t0.Add(time.Minute), Data: "Zoë 😀 <&>"},
	} {
		for _, mint := range []func(string, string, string, Options) (string, error){MintJWT, MintT1} {
			tok, err := mint(keyA, secretA, sidA, o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(tok)
		}
	}
	f.Add(javaT1())
	f.Add(hs256(`{"iss":"123456","ist":"project","role":"publisher","session_id":"`+sidA+
		`","scope":"session.connect","iat":`+at(0)+`,"initial_layout_list":"focus big",`+
		`"nonce":123456,"connection_data":null,"exp":`+at(300*time.Second)+`,"nbf":`+at(0)+`}`, secretA))
	f.Add("")
	f.Add("T1==")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(tok, "", lookup, now)
		if err != nil {
			if c != nil {
				t.Fatalf("Verify returned claims and error %v", err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps none of the package's errors", err)
		}

		// Whatever got through must satisfy every rule.
		if c.APIKey != keyA && c.APIKey != keyB {
			t.Fatalf("accepted a token for key %q", c.APIKey)
		}
		p, err := session.ParseID(c.SessionID)
		if err != nil || p.APIKey != c.APIKey {
			t.Fatalf("accepted session %q for key %q (%v)", c.SessionID, c.APIKey, err)
		}
		if _, err := ParseRole(string(c.Role)); err != nil {
			t.Fatalf("accepted role %q", c.Role)
		}
		if now.After(c.ExpireTime.Add(Skew)) || c.ExpireTime.Sub(now) > MaxLifetime+time.Minute {
			t.Fatalf("accepted expiry %v at %v", c.ExpireTime, now)
		}
		if utf8.RuneCountInString(c.Data) > MaxDataLen {
			t.Fatalf("accepted %d characters of data", utf8.RuneCountInString(c.Data))
		}
	})
}
