package token

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
)

// signJWT builds a JWT from literal JSON, so that tests control claim
// order and types exactly as each SDK writes them.
func signJWT(header, payload, secret string, h func() hash.Hash) string {
	b := base64.RawURLEncoding
	s := b.EncodeToString([]byte(header)) + "." + b.EncodeToString([]byte(payload))
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(s))
	return s + "." + b.EncodeToString(mac.Sum(nil))
}

// hs256 signs payload with the header most SDKs send.
func hs256(payload, secret string) string {
	return signJWT(`{"alg":"HS256","typ":"JWT"}`, payload, secret, sha256.New)
}

// signT1 builds a T1 token around a literal data string.
func signT1(apiKey, secret, data string, enc *base64.Encoding) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(data))
	inner := "partner_id=" + apiKey + "&sig=" + hex.EncodeToString(mac.Sum(nil)) + ":" + data
	return "T1==" + enc.EncodeToString([]byte(inner))
}

// Unix times around t0 as JSON / form text.
func at(d time.Duration) string { return fmt.Sprint(t0.Add(d).Unix()) }

func TestVerifyAccepts(t *testing.T) {
	now := t0.Add(10 * time.Second)
	tests := []struct {
		name      string
		tok       string
		sessionID string
		now       time.Time
		want      Claims
	}{
		{
			name: "Python T1",
			tok: signT1(keyA, secretA, "session_id="+sidA+"&create_time="+at(0)+"&expire_time="+at(time.Hour)+
				"&role=publisher&nonce=482913&initial_layout_class_list=focus+big&connection_data=name%3DAl+B", base64.StdEncoding),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(time.Hour), Nonce: "482913",
				Data: "name=Al B", InitialLayoutClassList: []string{"focus", "big"}},
		},
		{
			name: "Ruby T1 without expire_time",
			tok: signT1(keyA, secretA, "role=subscriber&session_id="+sidA+"&create_time="+at(0)+
				"&nonce=0.5178&connection_data=ruby", base64.StdEncoding),
			want: Claims{Role: RoleSubscriber, ExpireTime: t0.Add(DefaultLifetime), Nonce: "0.5178", Data: "ruby"},
		},
		{
			name: "Java T1, URL-safe base64, raw spaces",
			tok:  javaT1(),
			want: Claims{Role: RoleModerator, ExpireTime: t0.Add(2 * time.Hour), Nonce: "-1234567890",
				Data: "name=Al B&x???", InitialLayoutClassList: []string{"focus", "big", "top~"}},
		},
		{
			name: "older Java T1 order",
			tok: signT1(keyA, secretA, "session_id="+sidA+"&create_time="+at(0)+"&nonce=-5&role=publisheronly"+
				"&initial_layout_class_list=a b c&expire_time="+at(time.Hour)+"&connection_data=%7B%22k%22%3A1%7D", base64.URLEncoding),
			want: Claims{Role: RolePublisherOnly, ExpireTime: t0.Add(time.Hour), Nonce: "-5",
				Data: `{"k":1}`, InitialLayoutClassList: []string{"a", "b", "c"}},
		},
		{
			name: "T1 without padding, no role",
			tok: strings.TrimRight(signT1(keyA, secretA, "session_id="+sidA+"&create_time="+at(0)+
				"&expire_time="+at(time.Hour)+"&nonce=0.25", base64.StdEncoding), "="),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(time.Hour), Nonce: "0.25"},
		},
		{
			name: "Python JWT",
			tok: hs256(`{"session_id":"`+sidA+`","role":"publisher","iat":`+at(0)+`,"exp":`+at(time.Hour)+
				`,"scope":"session.connect","initial_layout_class_list":"focus big","connection_data":"name=Al",`+
				`"iss":"123456","ist":"project","nonce":482913}`, secretA),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(time.Hour), Nonce: "482913",
				Data: "name=Al", InitialLayoutClassList: []string{"focus", "big"}},
		},
		{
			name: "Ruby JWT without exp",
			tok: signJWT(`{"typ":"JWT","alg":"HS256"}`, `{"iss":"123456","ist":"project","iat":`+at(0)+
				`,"nonce":0.4217,"role":"moderator","scope":"session.connect","session_id":"`+sidA+`"}`, secretA, sha256.New),
			want: Claims{Role: RoleModerator, ExpireTime: t0.Add(DefaultLifetime), Nonce: "0.4217"},
		},
		{
			name: "ist in the JOSE header",
			tok: signJWT(`{"ist":"project","alg":"HS256"}`, `{"iss":"123456","iat":`+at(0)+`,"exp":`+at(time.Hour)+
				`,"role":"subscriber","scope":"session.connect","session_id":"`+sidA+`"}`, secretA, sha256.New),
			want: Claims{Role: RoleSubscriber, ExpireTime: t0.Add(time.Hour)},
		},
		{
			name: "Java JWT, numeric iss",
			tok: hs256(`{"session_id":"`+sidA+`","nonce":-77,"role":"subscriber","scope":"session.connect",`+
				`"initial_layout_class_list":"a b","connection_data":"d","ist":"project","iss":123456,`+
				`"jti":"0f2c8e4a","exp":`+at(time.Hour)+`,"iat":`+at(0)+`}`, secretA),
			want: Claims{Role: RoleSubscriber, ExpireTime: t0.Add(time.Hour), Nonce: "-77",
				Data: "d", InitialLayoutClassList: []string{"a", "b"}},
		},
		{
			name: ".NET JWT: initial_layout_list, null data, nbf",
			tok: hs256(`{"iss":"123456","ist":"project","role":"publisher","session_id":"`+sidA+
				`","scope":"session.connect","iat":`+at(0)+`,"jti":"q83vEjRWeJA=","initial_layout_list":"focus big",`+
				`"nonce":123456,"connection_data":null,"exp":`+at(300*time.Second)+`,"nbf":`+at(0)+`}`, secretA),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(300 * time.Second), Nonce: "123456",
				InitialLayoutClassList: []string{"focus", "big"}},
		},
		{
			name: "layout as an array, no role",
			tok: hs256(`{"iss":"123456","iat":`+at(0)+`,"exp":`+at(time.Hour)+`,"scope":"session.connect","session_id":"`+
				sidA+`","initial_layout_class_list":["focus","big"]}`, secretA),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(time.Hour), InitialLayoutClassList: []string{"focus", "big"}},
		},
		{
			name: "expired within the skew",
			tok: hs256(`{"iss":"123456","iat":`+at(-time.Hour)+`,"exp":`+at(-30*time.Second)+
				`,"scope":"session.connect","session_id":"`+sidA+`"}`, secretA),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(-30 * time.Second), CreateTime: t0.Add(-time.Hour)},
		},
		{
			name: "nbf within the skew",
			tok: hs256(`{"iss":"123456","iat":`+at(0)+`,"nbf":`+at(time.Minute)+`,"exp":`+at(time.Hour)+
				`,"scope":"session.connect","session_id":"`+sidA+`"}`, secretA),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(time.Hour)},
		},
		{
			name: "exactly the longest lifetime",
			tok: hs256(`{"iss":"123456","iat":`+at(0)+`,"exp":`+at(MaxLifetime)+
				`,"scope":"session.connect","session_id":"`+sidA+`"}`, secretA),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(MaxLifetime)},
		},
		{
			name:      "any session",
			sessionID: "-",
			tok: hs256(`{"iss":"123456","iat":`+at(0)+`,"exp":`+at(time.Hour)+
				`,"scope":"session.connect","session_id":"`+sidA+`"}`, secretA),
			want: Claims{Role: RolePublisher, ExpireTime: t0.Add(time.Hour)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid := tt.sessionID
			switch sid {
			case "":
				sid = sidA
			case "-":
				sid = ""
			}
			n := tt.now
			if n.IsZero() {
				n = now
			}
			c, err := Verify(tt.tok, sid, lookup, n)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := tt.want
			want.APIKey, want.SessionID = keyA, sidA
			if want.CreateTime.IsZero() {
				want.CreateTime = t0
			}
			want.CreateTime, want.ExpireTime = want.CreateTime.UTC(), want.ExpireTime.UTC()
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("claims\n got %+v\nwant %+v", *c, want)
			}
		})
	}
}

// javaT1 is a T1 token shaped as the Java SDK mints it: its own field
// order, a negative int nonce, the layout list raw with spaces, data
// URL-encoded with '+' for spaces, and URL-safe base64 with padding.
func javaT1() string {
	return signT1(keyA, secretA, "create_time="+at(0)+"&expire_time="+at(2*time.Hour)+"&session_id="+sidA+
		"&nonce=-1234567890&role=moderator&scope=session.connect&initial_layout_class_list=focus big top~"+
		"&connection_data=name%3DAl+B%26x%3F%3F%3F", base64.URLEncoding)
}

// The Java case must exercise the URL-safe alphabet; the '~' in the layout
// list sits where base64 turns it into '-'.
func TestJavaT1UsesURLAlphabet(t *testing.T) {
	if tok := javaT1(); !strings.ContainsAny(tok, "-_") {
		t.Fatalf("token %q has no URL-safe characters; change the fixture", tok)
	}
}

func TestVerifyRejects(t *testing.T) {
	now := t0.Add(10 * time.Second)
	sidC := session.NewID("999999", "", t0)
	okJWT := func(extra string) string {
		return `{"iss":"123456","ist":"project","iat":` + at(0) + `,"exp":` + at(time.Hour) +
			`,"session_id":"` + sidA + `","role":"publisher","scope":"session.connect"` + extra + `}`
	}
	goodJWT := hs256(okJWT(""), secretA)
	goodT1, err := MintT1(keyA, secretA, sidA, Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	t1Data := func(extra string) string {
		return "session_id=" + sidA + "&create_time=" + at(0) + "&expire_time=" + at(time.Hour) + "&nonce=1&role=publisher" + extra
	}

	tamperSig := func(tok string) string {
		i := strings.LastIndexByte(tok, '.') + 10
		c := byte('A')
		if tok[i] == 'A' {
			c = 'B'
		}
		return tok[:i] + string(c) + tok[i+1:]
	}
	tamperPayload := func(tok string) string {
		parts := strings.Split(tok, ".")
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		p = []byte(strings.Replace(string(p), `"publisher"`, `"moderator"`, 1))
		parts[1] = base64.RawURLEncoding.EncodeToString(p)
		return strings.Join(parts, ".")
	}
	t1Body := func(tok string) string {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(tok, "T1=="))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	flipSigDigit := func(body string) string {
		i := strings.Index(body, "&sig=") + len("&sig=")
		c := byte('0')
		if body[i] == '0' {
			c = '1'
		}
		return body[:i] + string(c) + body[i+1:]
	}
	rewrapT1 := func(inner string) string { return "T1==" + base64.StdEncoding.EncodeToString([]byte(inner)) }

	tests := []struct {
		name      string
		tok       string
		sessionID string
		now       time.Time
		want      error
		wantText  string
	}{
		{name: "empty", tok: "", want: ErrMalformed},
		{name: "garbage", tok: "hello, world", want: ErrMalformed},
		{name: "too long", tok: "T1==" + strings.Repeat("A", maxTokenLen), want: ErrMalformed},
		{name: "T1 prefix only", tok: "T1==", want: ErrMalformed},
		{name: "T1 not base64", tok: "T1==!!!!", want: ErrMalformed},
		{name: "T1 mixed alphabets", tok: "T1==ab+c-d", want: ErrMalformed},
		{name: "T1 without colon", tok: rewrapT1("partner_id=123456&sig=00"), want: ErrMalformed},
		{name: "T1 without sig", tok: rewrapT1("partner_id=123456:" + t1Data("")), want: ErrMalformed},
		{name: "T1 bad escape", tok: rewrapT1("partner_id=%zz&sig=00:" + t1Data("")), want: ErrMalformed},
		{name: "JWT garbage", tok: "a.b.c", want: ErrMalformed},
		{name: "JWT bad JSON", tok: hs256(`{"iss":`, secretA), want: ErrMalformed},
		{
			name: "alg none",
			tok: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
				base64.RawURLEncoding.EncodeToString([]byte(okJWT(""))) + ".",
			want: ErrAlgorithm, wantText: `"none"`,
		},
		{name: "HS384", tok: signJWT(`{"alg":"HS384","typ":"JWT"}`, okJWT(""), secretA, sha512.New384), want: ErrAlgorithm, wantText: "HS384"},
		{name: "HS512", tok: signJWT(`{"alg":"HS512","typ":"JWT"}`, okJWT(""), secretA, sha512.New), want: ErrAlgorithm},
		{name: "RS256", tok: signJWT(`{"alg":"RS256","typ":"JWT"}`, okJWT(""), secretA, sha256.New), want: ErrAlgorithm, wantText: "RS256"},
		{name: "unknown alg", tok: signJWT(`{"alg":"XS1","typ":"JWT"}`, okJWT(""), secretA, sha256.New), want: ErrAlgorithm},
		{name: "no alg", tok: signJWT(`{"typ":"JWT"}`, okJWT(""), secretA, sha256.New), want: ErrAlgorithm},
		{name: "JWT tampered signature", tok: tamperSig(goodJWT), want: ErrSignature},
		{name: "JWT tampered claims", tok: tamperPayload(goodJWT), want: ErrSignature},
		{name: "JWT signed with another secret", tok: hs256(okJWT(""), secretB), want: ErrSignature},
		{
			name: "T1 tampered signature",
			tok:  rewrapT1(flipSigDigit(t1Body(goodT1))),
			want: ErrSignature,
		},
		{
			name: "T1 tampered data",
			tok:  rewrapT1(strings.Replace(t1Body(goodT1), "role=publisher", "role=moderator", 1)),
			want: ErrSignature,
		},
		{name: "T1 sig not hex", tok: rewrapT1("partner_id=123456&sig=xyz:" + t1Data("")), want: ErrSignature},
		{name: "JWT expired", tok: hs256(strings.Replace(okJWT(""), `"exp":`+at(time.Hour), `"exp":`+at(-2*time.Minute), 1), secretA), want: ErrExpired},
		{name: "T1 expired", tok: signT1(keyA, secretA, t1Data(""), base64.StdEncoding), now: t0.Add(time.Hour + 2*time.Minute), want: ErrExpired},
		{name: "Ruby T1 past default expiry", tok: signT1(keyA, secretA, "role=publisher&session_id="+sidA+"&create_time="+at(0)+"&nonce=0.5", base64.StdEncoding), now: t0.Add(DefaultLifetime + 2*time.Minute), want: ErrExpired},
		{name: "JWT far-future exp", tok: hs256(strings.Replace(okJWT(""), `"exp":`+at(time.Hour), `"exp":`+at(31*24*time.Hour), 1), secretA), want: ErrLifetime},
		{name: "T1 far-future expire_time", tok: signT1(keyA, secretA, "session_id="+sidA+"&create_time="+at(0)+"&expire_time="+at(31*24*time.Hour), base64.StdEncoding), want: ErrLifetime},
		{
			name: "lifetime counted from creation",
			tok: hs256(`{"iss":"123456","iat":`+at(-20*24*time.Hour)+`,"exp":`+at(15*24*time.Hour)+
				`,"scope":"session.connect","session_id":"`+sidA+`"}`, secretA),
			want: ErrLifetime,
		},
		{name: "nbf ahead", tok: hs256(okJWT(`,"nbf":`+at(5*time.Minute)), secretA), want: ErrNotYetValid},
		{name: "JWT for another session", tok: hs256(strings.Replace(okJWT(""), sidA, sidA2, 1), secretA), want: ErrWrongSession},
		{name: "T1 for another session", tok: signT1(keyA, secretA, strings.Replace(t1Data(""), sidA, sidA2, 1), base64.StdEncoding), want: ErrWrongSession},
		{name: "JWT key differs from session's", tok: hs256(strings.Replace(okJWT(""), `"iss":"123456"`, `"iss":"654321"`, 1), secretB), want: ErrKeyMismatch},
		{name: "T1 key differs from session's", tok: signT1(keyB, secretB, t1Data(""), base64.StdEncoding), want: ErrKeyMismatch},
		{name: "JWT key differs, any session", sessionID: "-", tok: hs256(strings.Replace(okJWT(""), `"iss":"123456"`, `"iss":"654321"`, 1), secretB), want: ErrKeyMismatch},
		{name: "JWT session id not parsable", sessionID: "-", tok: hs256(strings.Replace(okJWT(""), sidA, "SESSIONID", 1), secretA), want: ErrMalformed},
		{name: "JWT unknown project", tok: hs256(strings.Replace(okJWT(""), `"iss":"123456"`, `"iss":"999999"`, 1), secretA), sessionID: sidC, want: ErrUnknownProject},
		{name: "T1 unknown project", tok: signT1("999999", secretA, t1Data(""), base64.StdEncoding), sessionID: sidC, want: ErrUnknownProject},
		{name: "JWT without iss", tok: hs256(strings.Replace(okJWT(""), `"iss":"123456",`, ``, 1), secretA), want: ErrMalformed},
		{name: "JWT data too long", tok: hs256(okJWT(`,"connection_data":"`+strings.Repeat("x", MaxDataLen+1)+`"`), secretA), want: ErrTooLong},
		{name: "T1 data too long", tok: signT1(keyA, secretA, t1Data("&connection_data="+strings.Repeat("%C3%A9", MaxDataLen+1)), base64.StdEncoding), want: ErrTooLong},
		{name: "JWT without scope", tok: hs256(strings.Replace(okJWT(""), `,"scope":"session.connect"`, ``, 1), secretA), want: ErrScope},
		{name: "JWT other scope", tok: hs256(strings.Replace(okJWT(""), `session.connect`, `session.archive`, 1), secretA), want: ErrScope},
		{name: "T1 other scope", tok: signT1(keyA, secretA, t1Data("&scope=archive"), base64.StdEncoding), want: ErrScope},
		{name: "JWT bad role", tok: hs256(strings.Replace(okJWT(""), `"publisher"`, `"admin"`, 1), secretA), want: ErrInvalidRole},
		{name: "T1 bad role", tok: signT1(keyA, secretA, strings.Replace(t1Data(""), "role=publisher", "role=Publisher", 1), base64.StdEncoding), want: ErrInvalidRole},
		{name: "JWT account ist", tok: hs256(strings.Replace(okJWT(""), `"ist":"project"`, `"ist":"account"`, 1), secretA), want: ErrMalformed},
		{name: "JWT account ist in header", tok: signJWT(`{"alg":"HS256","ist":"account"}`, okJWT(""), secretA, sha256.New), want: ErrMalformed},
		{name: "JWT data not a string", tok: hs256(okJWT(`,"connection_data":{"a":1}`), secretA), want: ErrMalformed},
		{name: "JWT exp not a number", tok: hs256(strings.Replace(okJWT(""), `"exp":`+at(time.Hour), `"exp":true`, 1), secretA), want: ErrMalformed},
		{name: "JWT exp out of range", tok: hs256(strings.Replace(okJWT(""), `"exp":`+at(time.Hour), `"exp":1e300`, 1), secretA), want: ErrMalformed},
		{name: "JWT no times", tok: hs256(`{"iss":"123456","scope":"session.connect","session_id":"`+sidA+`"}`, secretA), want: ErrMalformed},
		{name: "T1 no times", tok: signT1(keyA, secretA, "session_id="+sidA+"&role=publisher", base64.StdEncoding), want: ErrMalformed},
		{name: "T1 no session", tok: signT1(keyA, secretA, "create_time="+at(0), base64.StdEncoding), want: ErrMalformed},
		{name: "T1 duplicate field", tok: signT1(keyA, secretA, t1Data("&role=moderator"), base64.StdEncoding), want: ErrMalformed},
		{name: "T1 bad nonce", tok: signT1(keyA, secretA, strings.Replace(t1Data(""), "nonce=1", "nonce=abc", 1), base64.StdEncoding), want: ErrMalformed},
		{name: "T1 negative create_time", tok: signT1(keyA, secretA, "session_id="+sidA+"&create_time=-1&expire_time="+at(time.Hour), base64.StdEncoding), want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid := tt.sessionID
			switch sid {
			case "":
				sid = sidA
			case "-":
				sid = ""
			}
			n := tt.now
			if n.IsZero() {
				n = now
			}
			c, err := Verify(tt.tok, sid, lookup, n)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", *c)
			}
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

func TestVerifyUnknownProjectWrapsLookupError(t *testing.T) {
	tok := signT1("999999", "x", "session_id="+session.NewID("999999", "", t0)+"&create_time="+at(0), base64.StdEncoding)
	_, err := Verify(tok, "", lookup, t0)
	if !errors.Is(err, ErrUnknownProject) || !errors.Is(err, errNoProject) {
		t.Errorf("error %v: want both ErrUnknownProject and the lookup's error", err)
	}

	empty := func(string) (string, error) { return "", nil }
	tok, _ = MintJWT(keyA, secretA, sidA, Options{Now: t0})
	if _, err := Verify(tok, sidA, empty, t0); !errors.Is(err, ErrUnknownProject) {
		t.Errorf("empty secret: error %v, want ErrUnknownProject", err)
	}
}

// The lookup must not be consulted for tokens that fail before a key is
// known, and must see the token's key otherwise.
func TestVerifyLookupKey(t *testing.T) {
	var asked []string
	spy := func(k string) (string, error) {
		asked = append(asked, k)
		return lookup(k)
	}
	jwtTok, _ := MintJWT(keyA, secretA, sidA, Options{Now: t0})
	t1Tok, _ := MintT1(keyA, secretA, sidA, Options{Now: t0})
	for _, tok := range []string{jwtTok, t1Tok} {
		if _, err := Verify(tok, sidA, spy, t0); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = Verify("garbage", sidA, spy, t0)
	if want := []string{keyA, keyA}; !reflect.DeepEqual(asked, want) {
		t.Errorf("lookup asked for %q, want %q", asked, want)
	}
}

func TestVerifyZeroNowMeansNow(t *testing.T) {
	tok, err := MintJWT(keyA, secretA, sidA, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(tok, sidA, lookup, time.Time{}); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// Verify shares one jwt.Parser between goroutines.
func TestVerifyConcurrent(t *testing.T) {
	jwtTok, _ := MintJWT(keyA, secretA, sidA, Options{Now: t0})
	t1Tok, _ := MintT1(keyA, secretA, sidA, Options{Now: t0})
	var wg sync.WaitGroup
	for i := range 8 {
		tok := jwtTok
		if i%2 == 1 {
			tok = t1Tok
		}
		wg.Go(func() {
			for range 50 {
				if _, err := Verify(tok, sidA, lookup, t0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
