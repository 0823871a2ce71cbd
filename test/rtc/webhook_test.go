package rtc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
)

// hookRequest is a webhook request as a receiver sees it.
type hookRequest struct {
	eventID string
	attempt int
	status  int // what the receiver answered
	p       struct {
		SessionID  string `json:"sessionId"`
		ProjectID  string `json:"projectId"`
		Event      string `json:"event"`
		Timestamp  int64  `json:"timestamp"`
		Reason     string `json:"reason"`
		Connection *struct {
			ID        string `json:"id"`
			CreatedAt int64  `json:"createdAt"`
			Data      string `json:"data"`
		} `json:"connection"`
		Stream *struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			VideoType  string `json:"videoType"`
			CreatedAt  int64  `json:"createdAt"`
			Connection struct {
				ID   string `json:"id"`
				Data string `json:"data"`
			} `json:"connection"`
		} `json:"stream"`
	}
}

// hookReceiver is a session monitoring endpoint on loopback: it checks
// every signature, refuses the first attempt at the first streamCreated
// with a 500, and accepts everything else.
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	secret string
	reqs   []hookRequest
	failed bool
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Error(err)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !validSignature(rc.secret, r.Header.Get("X-Parley-Signature"), body, time.Now()) {
		rc.t.Errorf("bad signature %q on %s", r.Header.Get("X-Parley-Signature"), body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	req := hookRequest{eventID: r.Header.Get("X-Parley-Event-Id"), status: http.StatusOK}
	req.attempt, _ = strconv.Atoi(r.Header.Get("X-Parley-Attempt"))
	if err := json.Unmarshal(body, &req.p); err != nil {
		rc.t.Errorf("body %s: %v", body, err)
	}
	if req.p.Event == "streamCreated" && !rc.failed {
		rc.failed = true
		req.status = http.StatusInternalServerError
	}
	rc.reqs = append(rc.reqs, req)
	w.WriteHeader(req.status)
}

// accepted returns every request and the ones answered 2xx.
func (rc *hookReceiver) accepted() (all, ok []hookRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, r := range rc.reqs {
		if r.status == http.StatusOK {
			ok = append(ok, r)
		}
	}
	return append([]hookRequest(nil), rc.reqs...), ok
}

// validSignature checks X-Parley-Signature as docs/operations.md tells
// receivers to: HMAC-SHA256 keyed with the secret over "<t>.<body>", and
// t within five minutes.
func validSignature(secret, header string, body []byte, now time.Time) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	return hmac.Equal([]byte(sig), []byte(hex.EncodeToString(m.Sum(nil))))
}

// TestWebhookSessionMonitoring registers a receiver through the REST API;
// two clients join, one publishes, unpublishes and leaves, then the other
// leaves. The receiver gets each event once, in order, signed, and the
// event it refused once comes again.
func TestWebhookSessionMonitoring(t *testing.T) {
	e := newEnv(t)
	rc := newHookReceiver(t)
	ctx := ctx10(t)
	rc.mu.Lock() // the secret is known before any event can come
	cb, err := e.ot.RegisterCallback(ctx, opentok.GroupSessionMonitoring, rc.srv.URL+"/parley")
	if err == nil {
		rc.secret = cb.Secret
	}
	rc.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}

	sid := e.session(t, opentok.Routed)
	a := e.connect(t, sid, opentok.RolePublisher, "name=A")
	b := e.connect(t, sid, opentok.RolePublisher, "name=B")
	pub, err := a.Publish(ctx, rtcclient.PublishOptions{Name: "A-cam", Audio: true, Video: true, FPS: 15, Bitrate: 150_000})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, b, 5*time.Second, isType("streamCreated"))
	if err := pub.Unpublish(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, b, 5*time.Second, isType("streamDestroyed"))
	a.Disconnect()
	// B leaves only once A is gone, so that the order is known.
	waitEvent(t, b, 5*time.Second, isType("connectionDestroyed"))
	b.Disconnect()

	type want struct{ event, id, data, reason string }
	wants := []want{
		{"connectionCreated", a.Connection.ConnectionID, "name=A", ""},
		{"connectionCreated", b.Connection.ConnectionID, "name=B", ""},
		{"streamCreated", pub.StreamID, "name=A", ""},
		{"streamDestroyed", pub.StreamID, "name=A", "clientDisconnected"},
		{"connectionDestroyed", a.Connection.ConnectionID, "name=A", "clientDisconnected"},
		{"connectionDestroyed", b.Connection.ConnectionID, "name=B", "clientDisconnected"},
	}
	var all, ok []hookRequest
	deadline := time.Now().Add(15 * time.Second)
	for {
		all, ok = rc.accepted()
		if len(ok) >= len(wants) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would come now
	all, ok = rc.accepted()
	if len(ok) != len(wants) || len(all) != len(wants)+1 {
		t.Fatalf("%d requests, %d accepted; want %d and %d", len(all), len(ok), len(wants)+1, len(wants))
	}
	seen := map[string]bool{}
	for i, r := range ok {
		got := want{event: r.p.Event, reason: r.p.Reason}
		switch {
		case r.p.Connection != nil:
			got.id, got.data = r.p.Connection.ID, r.p.Connection.Data
		case r.p.Stream != nil:
			got.id, got.data = r.p.Stream.ID, r.p.Stream.Connection.Data
			if r.p.Stream.Name != "A-cam" || r.p.Stream.VideoType != "camera" || r.p.Stream.Connection.ID != a.Connection.ConnectionID {
				t.Errorf("stream %+v", *r.p.Stream)
			}
		}
		if got != wants[i] {
			t.Errorf("event %d: got %+v, want %+v", i, got, wants[i])
		}
		if r.p.SessionID != sid || r.p.ProjectID != e.srv.APIKey || time.Since(time.UnixMilli(r.p.Timestamp)).Abs() > time.Minute {
			t.Errorf("event %d: session %q project %q timestamp %d", i, r.p.SessionID, r.p.ProjectID, r.p.Timestamp)
		}
		if seen[r.eventID] {
			t.Errorf("event %d: id %s accepted twice", i, r.eventID)
		}
		seen[r.eventID] = true
	}
	// The refused streamCreated came again, with the same id, before
	// anything later.
	if all[2].status != 500 || all[2].attempt != 1 || all[3].eventID != all[2].eventID || all[3].attempt != 2 || all[3].status != 200 {
		t.Errorf("the refused event: first %+v, then %+v", all[2], all[3])
	}

	// The delivery log, through the REST API, holds every attempt.
	var log []struct {
		CallbackID string `json:"callbackId"`
		Event      string `json:"event"`
		SessionID  string `json:"sessionId"`
		Attempt    int    `json:"attempt"`
		Status     int    `json:"status"`
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(log) < len(all) && time.Now().Before(deadline) {
		jwt, err := project.MintJWT(e.srv.APIKey, e.srv.Secret(t), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v2/project/"+e.srv.APIKey+"/callback/"+cb.ID+"/deliveries", nil)
		req.Header.Set("X-OPENTOK-AUTH", jwt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(resp.Body).Decode(&log); err != nil || resp.StatusCode != 200 {
			t.Fatalf("deliveries: %d %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if len(log) != len(all) {
		t.Fatalf("%d attempts logged, want %d: %+v", len(log), len(all), log)
	}
	for i, d := range log {
		r := all[len(all)-1-i] // the log is newest first
		if d.CallbackID != cb.ID || d.Event != r.p.Event || d.SessionID != sid || d.Attempt != r.attempt || d.Status != r.status {
			t.Errorf("log entry %d: %+v, receiver saw %s attempt %d answered %d", i, d, r.p.Event, r.attempt, r.status)
		}
	}
}
