package token

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
)

// The observed Node T1 example from the reference, with its elided
// session id filled in.
func TestMintT1MatchesNode(t *testing.T) {
	tok, err := MintT1(keyA, secretA, sidA, Options{
		Role:                   RoleModerator,
		Now:                    t0,
		ExpireTime:             time.Unix(1795439483, 0),
		Data:                   "name=Bob&x=1",
		InitialLayoutClassList: []string{"focus", "big"},
		Nonce:                  0.7115612315173532,
	})
	if err != nil {
		t.Fatal(err)
	}
	body, ok := strings.CutPrefix(tok, "T1==")
	if !ok {
		t.Fatalf("token %q lacks the T1== prefix", tok)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("body is not padded standard base64: %v", err)
	}
	head, data, _ := strings.Cut(string(raw), ":")

	wantData := "session_id=" + sidA + "&create_time=1795435882&nonce=0.7115612315173532&role=moderator" +
		"&expire_time=1795439483&connection_data=name%3DBob%26x%3D1&initial_layout_class_list=focus%20big" +
		"&scope=session.connect"
	if data != wantData {
		t.Errorf("data string\n got %s\nwant %s", data, wantData)
	}
	mac := hmac.New(sha1.New, []byte(secretA))
	mac.Write([]byte(wantData))
	if wantHead := "partner_id=" + keyA + "&sig=" + hex.EncodeToString(mac.Sum(nil)); head != wantHead {
		t.Errorf("head\n got %s\nwant %s", head, wantHead)
	}
}

// The observed Node JWT example from the reference, with its elided
// session id filled in.
func TestMintJWTMatchesNode(t *testing.T) {
	tok, err := MintJWT(keyA, secretA, sidA, Options{
		Role:                   RoleModerator,
		Now:                    t0,
		Data:                   "name=Bob",
		InitialLayoutClassList: []string{"focus", "big"},
		Nonce:                  0.8009305054244109,
	})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q does not have 3 parts", tok)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if got, want := string(header), `{"alg":"HS256","typ":"JWT"}`; got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	want := `{"iss":"123456","ist":"project","iat":1795435882,"exp":1795522282,"session_id":"` + sidA +
		`","create_time":1795435882,"nonce":0.8009305054244109,"role":"moderator","expire_time":1795522282,` +
		`"connection_data":"name=Bob","initial_layout_class_list":"focus big","scope":"session.connect"}`
	if string(payload) != want {
		t.Errorf("payload\n got %s\nwant %s", payload, want)
	}

	// Without data and layout: connection_data is left out, the layout
	// list is always there.
	tok, err = MintJWT(keyA, secretA, sidA, Options{Now: t0, Nonce: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ = base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	want = `{"iss":"123456","ist":"project","iat":1795435882,"exp":1795522282,"session_id":"` + sidA +
		`","create_time":1795435882,"nonce":0.5,"role":"publisher","expire_time":1795522282,` +
		`"initial_layout_class_list":"","scope":"session.connect"}`
	if string(payload) != want {
		t.Errorf("payload\n got %s\nwant %s", payload, want)
	}
}

func TestMintRoundTrip(t *testing.T) {
	mints := []struct {
		name string
		fn   func(apiKey, apiSecret, sessionID string, o Options) (string, error)
	}{
		{"JWT", MintJWT},
		{"T1", MintT1},
	}
	tests := []struct {
		name string
		o    Options
		want Claims
	}{
		{
			name: "defaults",
			o:    Options{Now: t0},
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(DefaultLifetime)},
		},
		{
			name: "everything",
			o: Options{
				Role: RoleSubscriber, Now: t0, ExpireTime: t0.Add(MaxLifetime),
				Data:                   `{"name":"Zoë <admin> & co","x":"a+b c%20d~"}`,
				InitialLayoutClassList: []string{"full", "focus"},
			},
			want: Claims{
				Role: RoleSubscriber, ExpireTime: t0.Add(MaxLifetime),
				Data:                   `{"name":"Zoë <admin> & co","x":"a+b c%20d~"}`,
				InitialLayoutClassList: []string{"full", "focus"},
			},
		},
		{
			name: "publisher only, data at the limit",
			o: Options{
				Role: RolePublisherOnly, Now: t0, ExpireTime: t0.Add(time.Minute),
				Data: strings.Repeat("é", MaxDataLen),
			},
			want: Claims{Role: RolePublisherOnly, ExpireTime: t0.Add(time.Minute), Data: strings.Repeat("é", MaxDataLen)},
		},
		{
			name: "moderator, expiry truncated to seconds",
			o:    Options{Role: RoleModerator, Now: t0, ExpireTime: t0.Add(time.Hour + 999*time.Millisecond)},
			want: Claims{Role: RoleModerator, ExpireTime: t0.Add(time.Hour)},
		},
	}
	for _, m := range mints {
		for _, tt := range tests {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				tok, err := m.fn(keyA, secretA, sidA, tt.o)
				if err != nil {
					t.Fatal(err)
				}
				c, err := Verify(tok, sidA, lookup, t0.Add(time.Second))
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				want := tt.want
				want.APIKey, want.SessionID, want.CreateTime = keyA, sidA, t0.UTC()
				want.ExpireTime = want.ExpireTime.UTC()
				want.Nonce = c.Nonce
				if !reflect.DeepEqual(*c, want) {
					t.Errorf("claims\n got %+v\nwant %+v", *c, want)
				}
				if c.Nonce == "" {
					t.Error("no nonce")
				}
			})
		}
	}
}

func TestMintNonceRandom(t *testing.T) {
	a, _ := MintJWT(keyA, secretA, sidA, Options{Now: t0})
	b, _ := MintJWT(keyA, secretA, sidA, Options{Now: t0})
	if a == b {
		t.Error("two tokens minted in the same second are identical")
	}
}

func TestMintErrors(t *testing.T) {
	tests := []struct {
		name           string
		apiKey, secret string
		sessionID      string
		o              Options
		want           error
		wantText       string
		alsoSessionErr bool
	}{
		{name: "session of another key", apiKey: keyB, secret: secretB, sessionID: sidA, want: ErrKeyMismatch,
			wantText: "token cannot be generated unless the session belongs to the API key"},
		{name: "unparsable session", apiKey: keyA, secret: secretA, sessionID: "SESSIONID", want: ErrKeyMismatch,
			wantText: "token cannot be generated unless the session belongs to the API key", alsoSessionErr: true},
		{name: "invalid role", o: Options{Role: "admin"}, want: ErrInvalidRole},
		{name: "expiry in the past", o: Options{ExpireTime: t0.Add(-time.Second)}, want: ErrExpired},
		{name: "expiry beyond 30 days", o: Options{ExpireTime: t0.Add(MaxLifetime + time.Second)}, want: ErrLifetime},
		{name: "data too long", o: Options{Data: strings.Repeat("x", MaxDataLen+1)}, want: ErrTooLong},
		{name: "layout too long", o: Options{InitialLayoutClassList: []string{strings.Repeat("x", 600), strings.Repeat("y", 424)}}, want: ErrTooLong},
		{name: "empty secret", secret: "-", wantText: "empty API secret"},
		{name: "data not UTF-8", o: Options{Data: "\xff"}, wantText: "not valid UTF-8"},
		{name: "nonce out of range", o: Options{Nonce: 1}, wantText: "nonce"},
	}
	for _, tt := range tests {
		for _, mint := range []func(string, string, string, Options) (string, error){MintJWT, MintT1} {
			key, secret, sid := tt.apiKey, tt.secret, tt.sessionID
			if key == "" {
				key = keyA
			}
			switch secret {
			case "":
				secret = secretA
			case "-":
				secret = ""
			}
			if sid == "" {
				sid = sidA
			}
			o := tt.o
			o.Now = t0
			tok, err := mint(key, secret, sid, o)
			if err == nil {
				t.Errorf("%s: minted %q, want an error", tt.name, tok)
				continue
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("%s: error %q does not contain %q", tt.name, err, tt.wantText)
			}
			if tt.alsoSessionErr && !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("%s: error %v does not wrap session.ErrInvalidID", tt.name, err)
			}
		}
	}
}

func TestNodeEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abcXYZ019", "abcXYZ019"},
		{"-_.!~*'()", "-_.!~*'()"},
		{"focus big", "focus%20big"},
		{"name=Bob&x=1", "name%3DBob%26x%3D1"},
		{"a+b/c?d#e%f:g;h,i@j$k", "a%2Bb%2Fc%3Fd%23e%25f%3Ag%3Bh%2Ci%40j%24k"},
		{"é€😀", "%C3%A9%E2%82%AC%F0%9F%98%80"},
		{"\x00\n\x7f", "%00%0A%7F"},
	}
	for _, tt := range tests {
		if got := nodeEscape(tt.in); got != tt.want {
			t.Errorf("nodeEscape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJSNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{0.5, "0.5"},
		{0.7115612315173532, "0.7115612315173532"},
		{0.1, "0.1"},
		{1e-6, "0.000001"},
		{1e-7, "1e-7"},
		{1.5e-7, "1.5e-7"},
		{123456789, "123456789"},
		{1e21, "1e+21"},
		{-2.5e-10, "-2.5e-10"},
	}
	for _, tt := range tests {
		if got := jsNumber(tt.in); got != tt.want {
			t.Errorf("jsNumber(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
