// Package opentok is a Go server SDK for the OpenTok REST API, as served by
// Parley (and by any OpenTok-compatible service): create sessions, mint
// client tokens, and, as the API grows, archives, broadcasts and
// moderation. It is to Go what the `opentok` package is to Node.
package opentok

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/token"
)

// Version is sent in the User-Agent header.
const Version = "0.1.0"

// Client talks to one project of an OpenTok-compatible server.
type Client struct {
	APIKey    string
	APISecret string
	// APIURL is the server's base URL, e.g. "http://localhost:8080".
	APIURL string
	// HTTPClient is used for requests; nil means one with a 30 s timeout.
	HTTPClient *http.Client
}

// New returns a Client for the project apiKey/apiSecret on apiURL.
func New(apiKey, apiSecret, apiURL string) *Client {
	return &Client{APIKey: apiKey, APISecret: apiSecret, APIURL: apiURL}
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// ErrAuth is matched (errors.Is) by a 401 or 403 answer: a wrong API key
// or secret.
var ErrAuth = errors.New("invalid API key or secret")

// ErrNotFound is matched by a 404 answer.
var ErrNotFound = errors.New("not found")

// Error is a non-2xx answer from the server.
type Error struct {
	Status  int    // HTTP status
	Code    int    // code in the error body
	Message string // message in the error body, or the raw body
}

func (e *Error) Error() string {
	return fmt.Sprintf("opentok: %d: %s", e.Status, e.Message)
}

// Is lets errors.Is(err, ErrAuth) and errors.Is(err, ErrNotFound) work.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	}
	return false
}

// do sends one request and decodes a JSON answer into out (if non-nil).
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	u := strings.TrimSuffix(c.APIURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	jwt, err := project.MintJWT(c.APIKey, c.APISecret, time.Now())
	if err != nil {
		return err
	}
	req.Header.Set("X-OPENTOK-AUTH", jwt)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Parley-Go-SDK/"+Version)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		var eb struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Message != "" {
			e.Code, e.Message = eb.Code, eb.Message
		}
		return e
	}
	if out == nil {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("opentok: %s %s: answer is %q, not JSON", method, path, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("opentok: %s %s: %w", method, path, err)
	}
	return nil
}

// MediaMode says whether a session's media goes through the server.
type MediaMode string

const (
	// Relayed sessions are peer to peer (the OpenTok default).
	Relayed MediaMode = "relayed"
	// Routed sessions go through the server's media router.
	Routed MediaMode = "routed"
)

// ArchiveMode says whether a session records by itself.
type ArchiveMode string

const (
	ArchiveManual ArchiveMode = "manual" // recorded when asked
	ArchiveAlways ArchiveMode = "always" // recorded whenever someone publishes
)

// SessionOptions are the options of CreateSession. The zero value makes a
// relayed, manually archived session, as the official SDKs do.
type SessionOptions struct {
	MediaMode   MediaMode
	ArchiveMode ArchiveMode
	// Location is an IPv4 address hinting where the session's clients are.
	Location string
	// E2EE turns on end-to-end encryption (routed sessions only).
	E2EE bool
	// ArchiveName and ArchiveResolution apply to automatic archives.
	ArchiveName       string
	ArchiveResolution string
}

// Session is a created session.
type Session struct {
	ID          string
	MediaMode   MediaMode
	ArchiveMode ArchiveMode
	Location    string
	E2EE        bool
}

// CreateSession creates a session (POST /session/create).
func (c *Client) CreateSession(ctx context.Context, o SessionOptions) (*Session, error) {
	if o.MediaMode == "" {
		o.MediaMode = Relayed
	}
	if o.ArchiveMode == "" {
		o.ArchiveMode = ArchiveManual
	}
	f := url.Values{}
	f.Set("archiveMode", string(o.ArchiveMode))
	if o.Location != "" {
		f.Set("location", o.Location)
	}
	if o.E2EE {
		f.Set("e2ee", "true")
	}
	if o.ArchiveName != "" {
		f.Set("archiveName", o.ArchiveName)
	}
	if o.ArchiveResolution != "" {
		f.Set("archiveResolution", o.ArchiveResolution)
	}
	switch o.MediaMode {
	case Routed:
		f.Set("p2p.preference", "disabled")
	case Relayed:
		f.Set("p2p.preference", "enabled")
	default:
		return nil, fmt.Errorf("opentok: media mode %q: want routed or relayed", o.MediaMode)
	}
	var out []struct {
		SessionID string `json:"session_id"`
	}
	if err := c.do(ctx, "POST", "/session/create", "application/x-www-form-urlencoded", []byte(f.Encode()), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 || out[0].SessionID == "" {
		return nil, errors.New("opentok: session creation answered no session id")
	}
	return &Session{ID: out[0].SessionID, MediaMode: o.MediaMode, ArchiveMode: o.ArchiveMode, Location: o.Location, E2EE: o.E2EE}, nil
}

// Role is what a client token lets its holder do.
type Role string

const (
	RoleSubscriber    Role = "subscriber"    // subscribe only
	RolePublisher     Role = "publisher"     // publish and subscribe (default)
	RolePublisherOnly Role = "publisheronly" // publish only
	RoleModerator     Role = "moderator"     // also force-disconnect, force-unpublish, force-mute
)

// TokenOptions are the options of GenerateToken.
type TokenOptions struct {
	Role Role // default publisher
	// ExpireTime is when the token stops admitting; zero means 24 hours,
	// at most 30 days.
	ExpireTime time.Time
	// Data is the connection data other clients see (≤ 1024 characters).
	Data string
	// InitialLayoutClassList are the layout classes of the client's streams.
	InitialLayoutClassList []string
	// T1 asks for the legacy T1 format instead of a JWT.
	T1 bool
}

// GenerateToken mints a client token for sessionID locally, without a
// request, exactly as the official SDKs do.
func (c *Client) GenerateToken(sessionID string, o TokenOptions) (string, error) {
	opts := token.Options{
		Role:                   token.Role(o.Role),
		ExpireTime:             o.ExpireTime,
		Data:                   o.Data,
		InitialLayoutClassList: o.InitialLayoutClassList,
	}
	if opts.Role == "" {
		opts.Role = token.RolePublisher
	}
	if o.T1 {
		return token.MintT1(c.APIKey, c.APISecret, sessionID, opts)
	}
	return token.MintJWT(c.APIKey, c.APISecret, sessionID, opts)
}
