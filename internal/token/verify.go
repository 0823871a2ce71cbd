package token

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/session"
)

// maxTokenLen bounds the input Verify looks at. The largest legitimate
// token (1024 characters of data and of layout, all 4-byte UTF-8
// percent-encoded, then base64) stays well below it.
const maxTokenLen = 64 << 10

// maxUnix is the last second of year 9999; later (or negative) times in a
// token are treated as malformed rather than overflowing time arithmetic.
const maxUnix = 253402300799

// SecretLookup returns the API secret of the project with that API key, or
// an error if unknown.
type SecretLookup func(apiKey string) (secret string, err error)

// Verify checks a client token, T1 or JWT (told apart by the "T1==" prefix),
// for joining sessionID at time now (zero means time.Now()), and returns its
// claims. If sessionID is "" the token's session is not compared, but it
// must still belong to the token's API key.
//
// Both forms are held to the same rules once decoded: the signature is made
// with the secret lookup returns for the token's API key; the token's
// session id decodes (session.ParseID) to that same key; the role, if any,
// is one of the four; the scope, if any, is "session.connect" (JWTs must
// carry one); connection data is at most MaxDataLen characters; the token
// has not expired and does not expire more than MaxLifetime (plus a
// minute) after it was minted or after now. Expiry and not-before allow
// Skew. A token without expiry lasts DefaultLifetime from its creation.
//
// Errors wrap one of the package's Err* values.
func Verify(tok, sessionID string, lookup SecretLookup, now time.Time) (*Claims, error) {
	if now.IsZero() {
		now = time.Now()
	}
	switch {
	case tok == "":
		return nil, fmt.Errorf("%w: empty token", ErrMalformed)
	case len(tok) > maxTokenLen:
		return nil, fmt.Errorf("%w: %d bytes long, the limit is %d", ErrMalformed, len(tok), maxTokenLen)
	case strings.HasPrefix(tok, t1Prefix):
		return verifyT1(tok[len(t1Prefix):], sessionID, lookup, now)
	case strings.Count(tok, ".") == 2:
		return verifyJWT(tok, sessionID, lookup, now)
	}
	return nil, fmt.Errorf("%w: neither a T1 token nor a JWT", ErrMalformed)
}

// secretFor asks lookup for the secret of apiKey. An empty secret counts as
// unknown: an HMAC keyed with nothing proves nothing.
func secretFor(lookup SecretLookup, apiKey string) ([]byte, error) {
	secret, err := lookup(apiKey)
	if err != nil {
		return nil, fmt.Errorf("%w: API key %q: %w", ErrUnknownProject, apiKey, err)
	}
	if secret == "" {
		return nil, fmt.Errorf("%w: API key %q has an empty secret", ErrUnknownProject, apiKey)
	}
	return []byte(secret), nil
}

// verifyT1 checks the part of a T1 token after "T1==".
//
// Field order, the presence of scope and expire_time, and the escaping of
// spaces all vary by SDK, and Java uses the URL-safe base64 alphabet, so
// nothing is assumed about them; the signature covers the exact bytes.
func verifyT1(b64, sessionID string, lookup SecretLookup, now time.Time) (*Claims, error) {
	raw, err := decodeBase64(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: T1 body is not base64: %v", ErrMalformed, err)
	}
	head, data, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, fmt.Errorf("%w: T1 body has no ':'", ErrMalformed)
	}

	var partnerID, sig formField
	err = parseForm(head, func(k, v string) error {
		switch k {
		case "partner_id":
			return partnerID.set(k, v)
		case "sig":
			return sig.set(k, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if partnerID.v == "" || sig.v == "" {
		return nil, fmt.Errorf("%w: T1 token lacks partner_id or sig", ErrMalformed)
	}

	secret, err := secretFor(lookup, partnerID.v)
	if err != nil {
		return nil, err
	}
	// Decoding the hex (rather than comparing text) accepts either case.
	got, err := hex.DecodeString(sig.v)
	if err != nil || len(got) != sha1.Size {
		return nil, fmt.Errorf("%w: sig is not a hex HMAC-SHA1", ErrSignature)
	}
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(data))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return nil, fmt.Errorf("%w: T1 signature does not match", ErrSignature)
	}

	// From here on the content is signed by the project.
	var f struct {
		sessionID, createTime, expireTime, nonce, role, data, layout, scope formField
	}
	err = parseForm(data, func(k, v string) error {
		switch k {
		case "session_id":
			return f.sessionID.set(k, v)
		case "create_time":
			return f.createTime.set(k, v)
		case "expire_time":
			return f.expireTime.set(k, v)
		case "nonce":
			return f.nonce.set(k, v)
		case "role":
			return f.role.set(k, v)
		case "connection_data":
			return f.data.set(k, v)
		case "initial_layout_class_list":
			return f.layout.set(k, v)
		case "scope":
			return f.scope.set(k, v)
		}
		return nil // other fields are signed too, so harmless
	})
	if err != nil {
		return nil, err
	}

	c := &Claims{
		APIKey:                 partnerID.v,
		SessionID:              f.sessionID.v,
		Role:                   RolePublisher,
		Nonce:                  f.nonce.v,
		Data:                   f.data.v,
		InitialLayoutClassList: classList(f.layout.v),
	}
	if f.role.ok {
		if c.Role, err = ParseRole(f.role.v); err != nil {
			return nil, err
		}
	}
	if f.scope.ok && f.scope.v != scopeConnect {
		return nil, fmt.Errorf("%w: %q", ErrScope, f.scope.v)
	}
	if f.nonce.v != "" {
		if _, err := strconv.ParseFloat(f.nonce.v, 64); err != nil {
			return nil, fmt.Errorf("%w: nonce %q is not a number", ErrMalformed, f.nonce.v)
		}
	}
	if f.createTime.ok {
		if c.CreateTime, err = parseUnix("create_time", f.createTime.v); err != nil {
			return nil, err
		}
	}
	if f.expireTime.ok {
		if c.ExpireTime, err = parseUnix("expire_time", f.expireTime.v); err != nil {
			return nil, err
		}
	}
	if err := check(c, sessionID, time.Time{}, now); err != nil {
		return nil, err
	}
	return c, nil
}

// formField is one field of a T1 form.
type formField struct {
	v  string
	ok bool // present, even if empty
}

// set stores v unless the field was seen before: a signed token with two
// values for one field is ambiguous, and readers could disagree on which
// one counts.
func (f *formField) set(key, v string) error {
	if f.ok {
		return fmt.Errorf("%w: %s given twice", ErrMalformed, key)
	}
	f.v, f.ok = v, true
	return nil
}

// parseForm calls fn with each key and value of an
// application/x-www-form-urlencoded string. '+' and %20 both read as a
// space and raw spaces pass through, as the various SDKs need; an invalid
// escape is an error.
func parseForm(s string, fn func(k, v string) error) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return fmt.Errorf("%w: form key: %v", ErrMalformed, err)
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return fmt.Errorf("%w: form value of %s: %v", ErrMalformed, k, err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// decodeBase64 decodes s in either base64 alphabet, padded or not.
// Line breaks are skipped, as old Java codecs wrapped their output.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=\r\n")
	switch {
	case !strings.ContainsAny(s, "-_"):
		return base64.RawStdEncoding.DecodeString(s)
	case !strings.ContainsAny(s, "+/"):
		return base64.RawURLEncoding.DecodeString(s)
	}
	return nil, errors.New("mixes the standard and URL-safe alphabets")
}

// parseUnix reads a time in seconds since the epoch, written as an integer
// or a decimal fraction.
func parseUnix(name, s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not a number", ErrMalformed, name, s)
	}
	return unixTime(name, f)
}

func unixTime(name string, f float64) (time.Time, error) {
	if !(f >= 0 && f <= maxUnix) {
		return time.Time{}, fmt.Errorf("%w: %s %v is out of range", ErrMalformed, name, f)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// check applies the rules both token forms share. c.ExpireTime may be zero
// (no expiry in the token); notBefore may be zero.
func check(c *Claims, sessionID string, notBefore, now time.Time) error {
	if c.SessionID == "" {
		return fmt.Errorf("%w: no session_id", ErrMalformed)
	}
	if sessionID != "" && c.SessionID != sessionID {
		return fmt.Errorf("%w: token is for session %q", ErrWrongSession, c.SessionID)
	}
	p, err := session.ParseID(c.SessionID)
	if err != nil {
		return fmt.Errorf("%w: session_id: %w", ErrMalformed, err)
	}
	if p.APIKey != c.APIKey {
		return fmt.Errorf("%w: session belongs to %q, token to %q", ErrKeyMismatch, p.APIKey, c.APIKey)
	}
	if n := utf8.RuneCountInString(c.Data); n > MaxDataLen {
		return fmt.Errorf("%w: connection data is %d characters, the limit is %d", ErrTooLong, n, MaxDataLen)
	}

	if c.ExpireTime.IsZero() {
		// Ruby leaves the expiry out unless asked; the platform's
		// default then applies.
		if c.CreateTime.IsZero() {
			return fmt.Errorf("%w: neither an expiry nor a creation time", ErrMalformed)
		}
		c.ExpireTime = c.CreateTime.Add(DefaultLifetime)
	}
	if now.After(c.ExpireTime.Add(Skew)) {
		return fmt.Errorf("%w: at %s", ErrExpired, c.ExpireTime.Format(time.RFC3339))
	}
	if !notBefore.IsZero() && now.Add(Skew).Before(notBefore) {
		return fmt.Errorf("%w: not before %s", ErrNotYetValid, notBefore.Format(time.RFC3339))
	}
	// A far-future expiry means a token minted outside the rules every
	// SDK but Node applies, or a leaked secret; it is refused either way.
	limit := MaxLifetime + time.Minute
	if c.ExpireTime.Sub(now) > limit {
		return fmt.Errorf("%w: expires %s, more than %v from now", ErrLifetime, c.ExpireTime.Format(time.RFC3339), MaxLifetime)
	}
	if !c.CreateTime.IsZero() && c.ExpireTime.Sub(c.CreateTime) > limit {
		return fmt.Errorf("%w: expires %s, more than %v after its creation", ErrLifetime, c.ExpireTime.Format(time.RFC3339), MaxLifetime)
	}
	return nil
}

// jwtParser accepts HS256 only: the secret is shared, so any other
// algorithm is either unverifiable (none) or an attempt to confuse key
// types (RS256 with the secret as a "public key").
var jwtParser = jwt.NewParser(
	jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
	jwt.WithJSONNumber(),
	// Time claims are checked by check, identically for T1 and JWT, and
	// with the fallbacks the SDKs need (no exp from Ruby).
	jwt.WithoutClaimsValidation(),
)

// verifyJWT checks a JWT client token.
func verifyJWT(tok, sessionID string, lookup SecretLookup, now time.Time) (*Claims, error) {
	var (
		apiKey    string
		lookupErr error
	)
	parsed, err := jwtParser.Parse(tok, func(t *jwt.Token) (any, error) {
		var err error
		apiKey, err = textClaim(t.Claims.(jwt.MapClaims), "iss")
		if err == nil && apiKey == "" {
			err = fmt.Errorf("%w: no iss", ErrMalformed)
		}
		if err != nil {
			lookupErr = err
			return nil, err
		}
		secret, err := secretFor(lookup, apiKey)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		return secret, nil
	})
	if lookupErr != nil {
		return nil, lookupErr
	}
	if err != nil {
		return nil, jwtError(parsed, err)
	}

	// From here on the content is signed by the project.
	m := parsed.Claims.(jwt.MapClaims)
	if ist, ok := parsed.Header["ist"]; ok && ist != "project" {
		return nil, fmt.Errorf("%w: header ist %q, want \"project\"", ErrMalformed, fmt.Sprint(ist))
	}
	if ist, ok := m["ist"]; ok && ist != "project" {
		return nil, fmt.Errorf("%w: ist %q, want \"project\"", ErrMalformed, fmt.Sprint(ist))
	}
	scope, err := textClaim(m, "scope")
	if err != nil {
		return nil, err
	}
	if scope != scopeConnect {
		return nil, fmt.Errorf("%w: %q", ErrScope, scope)
	}

	c := &Claims{APIKey: apiKey, Role: RolePublisher}
	if c.SessionID, err = textClaim(m, "session_id"); err != nil {
		return nil, err
	}
	if m["role"] != nil {
		role, err := textClaim(m, "role")
		if err != nil {
			return nil, err
		}
		if c.Role, err = ParseRole(role); err != nil {
			return nil, err
		}
	}
	if c.Nonce, err = textClaim(m, "nonce"); err != nil {
		return nil, err
	}
	if c.Data, err = textClaim(m, "connection_data"); err != nil {
		return nil, err
	}
	// .NET names the list initial_layout_list.
	layoutKey := "initial_layout_class_list"
	if _, ok := m[layoutKey]; !ok {
		layoutKey = "initial_layout_list"
	}
	if c.InitialLayoutClassList, err = listClaim(m, layoutKey); err != nil {
		return nil, err
	}

	// Node sends both the registered and its own time claims; the others
	// send only iat and exp. The registered ones win.
	var nbf time.Time
	for _, tc := range []struct {
		dst   *time.Time
		names []string
	}{
		{&c.CreateTime, []string{"iat", "create_time"}},
		{&c.ExpireTime, []string{"exp", "expire_time"}},
		{&nbf, []string{"nbf"}},
	} {
		for _, name := range tc.names {
			t, ok, err := timeClaim(m, name)
			if err != nil {
				return nil, err
			}
			if ok {
				*tc.dst = t
				break
			}
		}
	}
	if err := check(c, sessionID, nbf, now); err != nil {
		return nil, err
	}
	return c, nil
}

// jwtError turns an error from the jwt library into one of ours.
func jwtError(t *jwt.Token, err error) error {
	if errors.Is(err, jwt.ErrTokenMalformed) {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if t != nil && t.Header != nil {
		switch alg, ok := t.Header["alg"].(string); {
		case !ok:
			return fmt.Errorf("%w: no alg in the header, want HS256", ErrAlgorithm)
		case alg != jwt.SigningMethodHS256.Alg():
			return fmt.Errorf("%w: alg %q, want HS256", ErrAlgorithm, alg)
		}
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return fmt.Errorf("%w: JWT signature does not match", ErrSignature)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// classList splits a space-separated list of layout classes; nil if empty.
func classList(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	return f
}

// textClaim returns a claim as text: strings as they are, numbers as
// written (iss and nonce arrive as either), "" if absent or null.
func textClaim(m jwt.MapClaims, name string) (string, error) {
	switch v := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	default:
		return "", fmt.Errorf("%w: %s is a %T, want a string", ErrMalformed, name, v)
	}
}

// listClaim reads a layout class list: a space-separated string (most
// SDKs) or an array of strings.
func listClaim(m jwt.MapClaims, name string) ([]string, error) {
	switch v := m[name].(type) {
	case nil:
		return nil, nil
	case string:
		return classList(v), nil
	case []any:
		var out []string
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s holds a %T, want strings", ErrMalformed, name, e)
			}
			out = append(out, strings.Fields(s)...)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: %s is a %T, want a string", ErrMalformed, name, v)
	}
}

// timeClaim reads a time in seconds since the epoch, given as a number or
// a numeric string.
func timeClaim(m jwt.MapClaims, name string) (time.Time, bool, error) {
	var s string
	switch v := m[name].(type) {
	case nil:
		return time.Time{}, false, nil
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return time.Time{}, false, fmt.Errorf("%w: %s is a %T, want a number", ErrMalformed, name, v)
	}
	t, err := parseUnix(name, s)
	return t, err == nil, err
}
