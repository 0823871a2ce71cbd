package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/session"
)

// Prefix of legacy tokens; the name Node gives it is TOKEN_SENTINEL.
const t1Prefix = "T1=="

// The connect scope, the only one a client token may carry.
const scopeConnect = "session.connect"

// mint holds validated minting input.
type mint struct {
	sessionID string
	role      Role
	now       int64 // seconds
	expire    int64 // seconds
	nonce     float64
	data      string
	layout    string
}

// prepare applies the defaults and checks Node applies (plus the 30-day
// limit the other SDKs apply), so that a token minted here is one every
// verifier accepts.
func prepare(apiKey, apiSecret, sessionID string, o Options) (mint, error) {
	if apiSecret == "" {
		return mint{}, errors.New("token: empty API secret")
	}
	p, err := session.ParseID(sessionID)
	if err != nil {
		return mint{}, fmt.Errorf("%w: token cannot be generated unless the session belongs to the API key: %w", ErrKeyMismatch, err)
	}
	if p.APIKey != apiKey {
		return mint{}, fmt.Errorf("%w: token cannot be generated unless the session belongs to the API key (session key %q, API key %q)", ErrKeyMismatch, p.APIKey, apiKey)
	}

	m := mint{sessionID: sessionID, role: o.Role, data: o.Data}
	if m.role == "" {
		m.role = RolePublisher
	} else if _, err := ParseRole(string(m.role)); err != nil {
		return mint{}, err
	}

	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	m.now = now.Unix()
	if o.ExpireTime.IsZero() {
		m.expire = m.now + int64(DefaultLifetime/time.Second)
	} else {
		m.expire = o.ExpireTime.Unix()
	}
	if m.expire < m.now {
		return mint{}, fmt.Errorf("%w: expire time %d is before now (%d)", ErrExpired, m.expire, m.now)
	}
	if m.expire-m.now > int64(MaxLifetime/time.Second) {
		return mint{}, fmt.Errorf("%w: expire time %d is more than %v after now (%d)", ErrLifetime, m.expire, MaxLifetime, m.now)
	}

	// Verifiers count characters; invalid UTF-8 would also be altered by
	// JSON encoding, so the JWT would carry other data than asked for.
	if !utf8.ValidString(m.data) {
		return mint{}, errors.New("token: connection data is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(m.data); n > MaxDataLen {
		return mint{}, fmt.Errorf("%w: connection data is %d characters, the limit is %d", ErrTooLong, n, MaxDataLen)
	}
	m.layout = strings.Join(o.InitialLayoutClassList, " ")
	if !utf8.ValidString(m.layout) {
		return mint{}, errors.New("token: initial layout class list is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(m.layout); n > MaxLayoutLen {
		return mint{}, fmt.Errorf("%w: initial layout class list is %d characters, the limit is %d", ErrTooLong, n, MaxLayoutLen)
	}

	m.nonce = o.Nonce
	if m.nonce == 0 {
		// The nonce only makes tokens minted in the same second differ;
		// it protects nothing, so a fast non-cryptographic source will do.
		m.nonce = rand.Float64()
	} else if !(m.nonce > 0 && m.nonce < 1) {
		return mint{}, fmt.Errorf("token: nonce %v is outside [0, 1)", o.Nonce)
	}
	return m, nil
}

// jwtHeader is the JOSE header Node sends, {"alg":"HS256","typ":"JWT"},
// already base64url-encoded.
const jwtHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// jwtPayload lists the claims of a Node 2.21+ client token in Node's order
// and with Node's types, so minted tokens match Node's byte for byte.
type jwtPayload struct {
	Iss            string  `json:"iss"`
	Ist            string  `json:"ist"`
	Iat            int64   `json:"iat"`
	Exp            int64   `json:"exp"`
	SessionID      string  `json:"session_id"`
	CreateTime     int64   `json:"create_time"`
	Nonce          float64 `json:"nonce"`
	Role           Role    `json:"role"`
	ExpireTime     int64   `json:"expire_time"`
	ConnectionData string  `json:"connection_data,omitempty"`
	Layout         string  `json:"initial_layout_class_list"`
	Scope          string  `json:"scope"`
}

// MintJWT mints the token Node SDK 2.21+ mints by default: an HS256 JWT
// signed with apiSecret whose claims are, in this order, iss, ist
// ("project"), iat, exp, session_id, create_time, nonce (a float),
// role, expire_time, connection_data (only if not empty),
// initial_layout_class_list (always, "" by default) and scope
// ("session.connect").
//
// sessionID must decode to apiKey (see session.ParseID).
func MintJWT(apiKey, apiSecret, sessionID string, o Options) (string, error) {
	m, err := prepare(apiKey, apiSecret, sessionID, o)
	if err != nil {
		return "", err
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	// JSON.stringify leaves <, > and & alone; so do we.
	enc.SetEscapeHTML(false)
	err = enc.Encode(jwtPayload{
		Iss:            apiKey,
		Ist:            "project",
		Iat:            m.now,
		Exp:            m.expire,
		SessionID:      m.sessionID,
		CreateTime:     m.now,
		Nonce:          m.nonce,
		Role:           m.role,
		ExpireTime:     m.expire,
		ConnectionData: m.data,
		Layout:         m.layout,
		Scope:          scopeConnect,
	})
	if err != nil {
		return "", fmt.Errorf("token: encode claims: %w", err)
	}
	payload := bytes.TrimSuffix(body.Bytes(), []byte("\n"))

	// The header and claims are built here rather than by the jwt library
	// because their exact bytes (claim order, number formats) are part of
	// what is being reproduced.
	b64 := base64.RawURLEncoding
	tok := make([]byte, 0, len(jwtHeader)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(sha256.Size))
	tok = append(tok, jwtHeader...)
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, payload)
	mac := hmac.New(sha256.New, []byte(apiSecret))
	mac.Write(tok)
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, mac.Sum(nil))
	return string(tok), nil
}

// MintT1 mints the legacy token exactly as Node does with its third
// generateToken argument set:
//
//	"T1==" + base64("partner_id={apiKey}&sig={hex HMAC-SHA1 of data}:" + data)
//
// where data is Node's querystring.stringify of session_id, create_time,
// nonce, role, expire_time, connection_data (only if not empty),
// initial_layout_class_list and scope, in that order.
//
// sessionID must decode to apiKey (see session.ParseID).
func MintT1(apiKey, apiSecret, sessionID string, o Options) (string, error) {
	m, err := prepare(apiKey, apiSecret, sessionID, o)
	if err != nil {
		return "", err
	}
	data := t1Data(m)
	mac := hmac.New(sha1.New, []byte(apiSecret))
	mac.Write([]byte(data))
	inner := "partner_id=" + apiKey + "&sig=" + hex.EncodeToString(mac.Sum(nil)) + ":" + data
	return t1Prefix + base64.StdEncoding.EncodeToString([]byte(inner)), nil
}

// t1Data builds the signed part of a T1 token the way Node's
// querystring.stringify does.
func t1Data(m mint) string {
	var b strings.Builder
	field := func(key, value string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(nodeEscape(value))
	}
	field("session_id", m.sessionID)
	field("create_time", strconv.FormatInt(m.now, 10))
	field("nonce", jsNumber(m.nonce))
	field("role", string(m.role))
	field("expire_time", strconv.FormatInt(m.expire, 10))
	if m.data != "" {
		field("connection_data", m.data)
	}
	field("initial_layout_class_list", m.layout)
	field("scope", scopeConnect)
	return b.String()
}

// nodeEscape escapes s like Node's querystring.escape: everything but
// A-Z a-z 0-9 and -_.!~*'() is percent-encoded as UTF-8 with upper-case
// hex, so a space becomes %20 (not '+').
func nodeEscape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !nodeUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if nodeUnreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

func nodeUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
}

// jsNumber formats f as JavaScript's Number.prototype.toString does for
// finite numbers: the shortest text that reads back as f, in exponent form
// (with no zero padding of the exponent) below 1e-6 and from 1e21 on.
func jsNumber(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // like 1.5e-07
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	return mant + "e" + string(sign) + exp
}
