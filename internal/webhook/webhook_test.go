package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/token"
)

const testKey = "42"

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// received is one request as the receiver saw it.
type received struct {
	body    []byte
	sig     string
	eventID string
	attempt int
	p       payload
}

// receiver is an HTTP endpoint that keeps what it gets; answer, when set,
// decides the status of each request (it may block).
type receiver struct {
	srv    *httptest.Server
	answer func(r received) int

	mu   sync.Mutex
	got  []received
	seen chan struct{} // one value per request, for waiting
}

func newReceiver(t *testing.T, answer func(received) int) *receiver {
	t.Helper()
	rc := &receiver{answer: answer, seen: make(chan struct{}, 10000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		rec := received{body: b, sig: r.Header.Get(SignatureHeader), eventID: r.Header.Get(EventIDHeader)}
		rec.attempt, _ = strconv.Atoi(r.Header.Get(AttemptHeader))
		if err := json.Unmarshal(b, &rec.p); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		// Kept before answering, so that a request the answer holds
		// up is seen too.
		rc.mu.Lock()
		rc.got = append(rc.got, rec)
		rc.mu.Unlock()
		rc.seen <- struct{}{}
		status := http.StatusOK
		if rc.answer != nil {
			status = rc.answer(rec)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// wait returns the requests once n have come, failing after 5 s.
func (rc *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]received(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-rc.seen:
		case <-timeout:
			t.Fatalf("%d requests within 5 s, want %d", len(got), n)
		}
	}
}

type fixture struct {
	st   *sqlite.Store
	d    *Dispatcher
	hook store.Webhook
	rc   *receiver
}

// newFixture makes a store with project 42, a receiver registered as its
// webhook and a Dispatcher with fast retries; o may override options.
func newFixture(t *testing.T, answer func(received) int, o Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateProject(ctx, store.Project{APIKey: testKey, Secret: "x", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, answer)
	h, err := Create(ctx, st, testKey, GroupSessionMonitoring, rc.srv.URL+"/hook", t0)
	if err != nil {
		t.Fatal(err)
	}
	if o.Retries == nil {
		o.Retries = []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	d := New(st, o)
	t.Cleanup(func() { d.Close() })
	return &fixture{st: st, d: d, hook: h, rc: rc}
}

func (f *fixture) session(t *testing.T) *session.Session {
	t.Helper()
	return session.New(session.NewID(testKey, "", t0), session.Routed, session.Options{OnCreate: f.d.Observe})
}

func join(t *testing.T, s *session.Session, data string) *session.Connection {
	t.Helper()
	c, err := s.Join(token.RolePublisher, data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func publish(t *testing.T, s *session.Session, c *session.Connection, name string) *session.Stream {
	t.Helper()
	st, err := s.Publish(c.ID, session.StreamSpec{Name: name, HasAudio: true, HasVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// receiverVerify checks a signature with nothing but the standard library,
// as the documentation tells receivers to.
func receiverVerify(secret, header string, body []byte) bool {
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
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	return ts != "" && hmac.Equal([]byte(sig), []byte(want))
}

func TestSignature(t *testing.T) {
	body := []byte(`{"event":"connectionCreated"}`)
	now := time.Unix(1_700_000_000, 0)
	h := Sign("s3cret", now, body)
	if !strings.HasPrefix(h, "t=1700000000,v1=") {
		t.Fatalf("header %q", h)
	}
	if !receiverVerify("s3cret", h, body) {
		t.Fatalf("a receiver cannot verify %q", h)
	}
	other := Sign("0ther", now, body)
	tests := []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		ok                   bool
	}{
		{"valid", "s3cret", h, body, now, true},
		{"valid within tolerance", "s3cret", h, body, now.Add(4 * time.Minute), true},
		{"too old", "s3cret", h, body, now.Add(6 * time.Minute), false},
		{"from the future", "s3cret", h, body, now.Add(-6 * time.Minute), false},
		{"wrong secret", "other", h, body, now, false},
		{"altered body", "s3cret", h, []byte(`{"event":"connectionDestroyed"}`), now, false},
		{"altered time", "s3cret", strings.Replace(h, "t=1700000000", "t=1700000001", 1), body, now, false},
		{"second of two signatures", "s3cret", other + ",v1=" + strings.SplitN(h, "v1=", 2)[1], body, now, true},
		{"no signature", "s3cret", "t=1700000000", body, now, false},
		{"no time", "s3cret", "v1=" + strings.SplitN(h, "v1=", 2)[1], body, now, false},
		{"garbage", "s3cret", "garbage", body, now, false},
		{"empty", "s3cret", "", body, now, false},
	}
	for _, tt := range tests {
		err := Verify(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Verify = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://example.com/hooks/opentok", true},
		{"http://127.0.0.1:9000/x?y=1", true},
		{"https://user:pw@example.com/", true},
		{"https://" + strings.Repeat("a", MaxURLLen-len("https://")), true},
		{"https://" + strings.Repeat("a", MaxURLLen), false},
		{"ftp://example.com/", false},
		{"javascript:alert(1)", false},
		{"/relative", false},
		{"https://", false},
		{"https://:80/", false},
		{"", false},
		{"http://exa mple.com/", false},
	}
	for _, tt := range tests {
		if err := CheckURL(tt.url); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidURL)) {
			t.Errorf("CheckURL(%.40q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func TestPayloads(t *testing.T) {
	conn := &session.Connection{ID: "c1", Data: "name=A", CreationTime: t0}
	video := &session.Stream{ID: "s1", ConnectionID: "c1", Name: "cam", HasVideo: true, VideoType: "screen", CreationTime: t0.Add(time.Second)}
	audio := &session.Stream{ID: "s2", ConnectionID: "c1", HasAudio: true, VideoType: "camera", CreationTime: t0.Add(time.Second)}
	at := t0.Add(2 * time.Second)
	const common = `"sessionId":"1_x","projectId":"42",`
	const c1 = `{"id":"c1","createdAt":1740830400000,"data":"name=A"}`
	tests := []struct {
		ev   session.Event
		want string
	}{
		{session.Event{Kind: session.EventConnectionCreated, Connection: conn},
			`{` + common + `"event":"connectionCreated","timestamp":1740830402000,"connection":` + c1 + `}`},
		{session.Event{Kind: session.EventConnectionDestroyed, Connection: conn, Reason: session.ReasonForceDisconnected},
			`{` + common + `"event":"connectionDestroyed","timestamp":1740830402000,"connection":` + c1 + `,"reason":"forceDisconnected"}`},
		{session.Event{Kind: session.EventStreamCreated, Connection: conn, Stream: video},
			`{` + common + `"event":"streamCreated","timestamp":1740830402000,"stream":{"id":"s1","connection":` + c1 + `,"createdAt":1740830401000,"name":"cam","videoType":"screen"}}`},
		{session.Event{Kind: session.EventStreamDestroyed, Connection: conn, Stream: audio, Reason: session.ReasonMediaStopped},
			`{` + common + `"event":"streamDestroyed","timestamp":1740830402000,"stream":{"id":"s2","connection":` + c1 + `,"createdAt":1740830401000,"name":""},"reason":"mediaStopped"}`},
	}
	for _, tt := range tests {
		b, err := encode("1_x", "42", tt.ev, at)
		if err != nil || string(b) != tt.want {
			t.Errorf("%s:\n got %s, %v\nwant %s", tt.ev.Kind, b, err, tt.want)
		}
	}
}

// TestEventsInOrder follows two sessions through their lives: each
// receives its events once, in order, signed, and the replays joiners get
// are not sent.
func TestEventsInOrder(t *testing.T) {
	var delay atomic.Int64
	f := newFixture(t, func(received) int {
		// A slow receiver must not reorder anything.
		time.Sleep(time.Duration(delay.Add(1)%3) * time.Millisecond)
		return http.StatusNoContent
	}, Options{})
	type want struct{ event, id, reason string }
	var wants [2][]want
	var sids [2]string
	for i := range 2 {
		s := f.session(t)
		sids[i] = s.ID()
		a := join(t, s, "A")
		st := publish(t, s, a, "A")
		b := join(t, s, "B") // replayed A and A's stream: not sent again
		if err := s.Unpublish(a.ID, st.ID, session.ReasonClientDisconnected); err != nil {
			t.Fatal(err)
		}
		st2 := publish(t, s, b, "B")
		if err := s.Signal(b.ID, "", "chat", "hi"); err != nil { // not monitored
			t.Fatal(err)
		}
		if err := s.Leave(b.ID, session.ReasonNetworkDisconnected); err != nil {
			t.Fatal(err)
		}
		if err := s.Leave(a.ID, session.ReasonClientDisconnected); err != nil {
			t.Fatal(err)
		}
		wants[i] = []want{
			{"connectionCreated", a.ID, ""},
			{"streamCreated", st.ID, ""},
			{"connectionCreated", b.ID, ""},
			{"streamDestroyed", st.ID, "clientDisconnected"},
			{"streamCreated", st2.ID, ""},
			{"streamDestroyed", st2.ID, "networkDisconnected"},
			{"connectionDestroyed", b.ID, "networkDisconnected"},
			{"connectionDestroyed", a.ID, "clientDisconnected"},
		}
	}
	got := f.rc.wait(t, 16)
	time.Sleep(50 * time.Millisecond) // nothing more may come
	if n := len(f.rc.wait(t, 0)); n != 16 {
		t.Fatalf("%d requests, want 16", n)
	}
	var per [2][]want
	ids := map[string]bool{}
	for _, r := range got {
		if !receiverVerify(f.hook.Secret, r.sig, r.body) {
			t.Errorf("bad signature %q on %s", r.sig, r.body)
		}
		if r.attempt != 1 || ids[r.eventID] || r.eventID == "" {
			t.Errorf("attempt %d, event id %q (seen: %v)", r.attempt, r.eventID, ids[r.eventID])
		}
		ids[r.eventID] = true
		if r.p.ProjectID != testKey {
			t.Errorf("projectId %q", r.p.ProjectID)
		}
		i := 0
		if r.p.SessionID == sids[1] {
			i = 1
		}
		w := want{event: r.p.Event, reason: r.p.Reason}
		if r.p.Connection != nil {
			w.id = r.p.Connection.ID
		} else if r.p.Stream != nil {
			w.id = r.p.Stream.ID
		}
		per[i] = append(per[i], w)
	}
	for i := range 2 {
		if len(per[i]) != len(wants[i]) {
			t.Fatalf("session %d: got %v, want %v", i, per[i], wants[i])
		}
		for j := range per[i] {
			if per[i][j] != wants[i][j] {
				t.Errorf("session %d event %d: got %v, want %v", i, j, per[i][j], wants[i][j])
			}
		}
	}
	if s := f.d.Stats(); s.Delivered != 16 || s.FailedAttempts != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestRetry: failures are retried after the configured waits, with the
// same event id and body, and the session's next event waits for them.
func TestRetry(t *testing.T) {
	tests := []struct {
		name     string
		fails    int // attempts at the first event that fail
		statuses []int
		gaveUp   bool
	}{
		{"first try", 0, []int{200}, false},
		{"one 500", 1, []int{500, 200}, false},
		{"three failures", 3, []int{500, 500, 500, 200}, false},
		{"every attempt fails", 4, []int{500, 500, 500, 500}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first atomic.Value
			var mu sync.Mutex
			var times []time.Time
			f := newFixture(t, func(r received) int {
				if r.p.Event == "connectionCreated" && r.attempt == 1 {
					first.Store(r.eventID)
				}
				if r.eventID == first.Load() {
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
					if r.attempt <= tt.fails {
						return http.StatusInternalServerError
					}
				}
				return http.StatusOK
			}, Options{Retries: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}})
			s := f.session(t)
			c := join(t, s, "A")
			if err := s.Leave(c.ID, session.ReasonClientDisconnected); err != nil {
				t.Fatal(err)
			}
			got := f.rc.wait(t, len(tt.statuses)+1)
			for i, r := range got[:len(tt.statuses)] {
				if r.p.Event != "connectionCreated" || r.attempt != i+1 || r.eventID != got[0].eventID || string(r.body) != string(got[0].body) {
					t.Errorf("request %d: %s attempt %d id %s", i, r.p.Event, r.attempt, r.eventID)
				}
				if !receiverVerify(f.hook.Secret, r.sig, r.body) {
					t.Errorf("request %d: bad signature", i)
				}
			}
			if last := got[len(tt.statuses)]; last.p.Event != "connectionDestroyed" || last.attempt != 1 {
				t.Errorf("after the retries: %s attempt %d", last.p.Event, last.attempt)
			}
			// The waits grow as configured (10, 20, 40 ms).
			for i := 1; i < len(times); i++ {
				want := 10 * time.Millisecond << (i - 1)
				if gap := times[i].Sub(times[i-1]); gap < want {
					t.Errorf("retry %d came %v after the previous attempt, want ≥ %v", i, gap, want)
				}
			}
			waitFor(t, func() bool { return f.d.Stats().Delivered+f.d.Stats().GaveUp == 2 })
			log, err := f.st.Deliveries(context.Background(), testKey, f.hook.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != len(tt.statuses)+1 {
				t.Fatalf("%d attempts logged, want %d", len(log), len(tt.statuses)+1)
			}
			for i, st := range tt.statuses {
				d := log[len(log)-1-i] // oldest first
				if d.Status != st || d.Attempt != i+1 || d.Event != "connectionCreated" || d.SessionID != s.ID() || d.EventID != got[0].eventID {
					t.Errorf("log entry %d: %+v", i, d)
				}
			}
			s2 := f.d.Stats()
			if tt.gaveUp != (s2.GaveUp == 1) || s2.FailedAttempts != uint64(tt.fails) {
				t.Errorf("stats %+v", s2)
			}
		})
	}
}

// TestTimeoutAndErrors: an attempt that takes too long, or finds nobody
// listening, is logged with why and retried.
func TestTimeoutAndErrors(t *testing.T) {
	var n atomic.Int32
	var release <-chan struct{}
	f := newFixture(t, func(r received) int {
		if n.Add(1) == 1 {
			<-release
		}
		return http.StatusOK
	}, Options{Timeout: 50 * time.Millisecond})
	release, open := gate(t)
	s := f.session(t)
	join(t, s, "A")
	waitFor(t, func() bool { return f.d.Stats().Delivered == 1 })
	log, err := f.st.Deliveries(context.Background(), testKey, "", 0)
	if err != nil || len(log) != 2 {
		t.Fatalf("log %+v, %v", log, err)
	}
	if d := log[1]; d.Status != 0 || !strings.Contains(d.Error, "timeout") || d.Duration < 50*time.Millisecond {
		t.Errorf("timed out attempt: %+v", d)
	}
	if d := log[0]; d.Status != 200 || d.Error != "" || d.Attempt != 2 {
		t.Errorf("second attempt: %+v", d)
	}

	// Nobody listening: every attempt fails.
	open()
	f.rc.srv.Close()
	s2 := f.session(t)
	join(t, s2, "B")
	waitFor(t, func() bool { return f.d.Stats().GaveUp == 1 })
	log, err = f.st.Deliveries(context.Background(), testKey, "", 4)
	if err != nil || len(log) != 4 {
		t.Fatalf("log %+v, %v", log, err)
	}
	for _, d := range log {
		if d.Status != 0 || d.Error == "" || d.SessionID != s2.ID() {
			t.Errorf("refused attempt: %+v", d)
		}
	}
}

// TestQueueBound: while the receiver hangs, a session's events pile up to
// the bound, the oldest waiting ones are dropped, and the session never
// waits.
func TestQueueBound(t *testing.T) {
	const queueLen = 5
	var release <-chan struct{}
	f := newFixture(t, func(r received) int {
		if r.p.Event == "connectionCreated" && r.p.Connection.Data == "0" {
			<-release
		}
		return http.StatusOK
	}, Options{QueueLen: queueLen, Timeout: 5 * time.Second})
	release, open := gate(t)
	s := f.session(t)
	join(t, s, "0")
	f.rc.wait(t, 1)
	waitFor(t, func() bool {
		f.d.mu.Lock()
		defer f.d.mu.Unlock()
		q := f.d.queues[s.ID()]
		return q != nil && len(q.jobs) == 0 // the first event is in flight
	})
	start := time.Now()
	for i := 1; i <= 20; i++ {
		join(t, s, strconv.Itoa(i))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("20 joins took %v with a hanging receiver", d)
	}
	if got := f.d.Stats().QueueFull; got != 20-queueLen {
		t.Errorf("%d dropped, want %d", got, 20-queueLen)
	}
	open()
	got := f.rc.wait(t, 1+queueLen)
	time.Sleep(50 * time.Millisecond)
	got = f.rc.wait(t, 0)
	var data []string
	for _, r := range got {
		data = append(data, r.p.Connection.Data)
	}
	if strings.Join(data, ",") != "0,16,17,18,19,20" {
		t.Errorf("delivered %v, want the first and the last %d", data, queueLen)
	}
}

// TestConcurrencyLimit: however many sessions have events, at most
// MaxConcurrent requests are out at once.
func TestConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	f := newFixture(t, func(received) int {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
		inFlight.Add(-1)
		return http.StatusOK
	}, Options{MaxConcurrent: 2})
	for range 6 {
		s := f.session(t)
		join(t, s, "A")
		join(t, s, "B")
	}
	f.rc.wait(t, 12)
	if p := peak.Load(); p != 2 {
		t.Errorf("peak of %d requests in flight, want 2", p)
	}
}

// TestClose: Close ends a hanging attempt and the waits between attempts
// at once, logs them, drops the queue and waits for its goroutines.
func TestClose(t *testing.T) {
	var hang <-chan struct{}
	f := newFixture(t, func(r received) int {
		if r.p.Connection.Data == "hang" {
			<-hang
		}
		return http.StatusServiceUnavailable
	}, Options{Retries: []time.Duration{time.Hour}, Timeout: time.Hour})
	hang, _ = gate(t)
	s1, s2 := f.session(t), f.session(t)
	join(t, s1, "hang")
	join(t, s1, "queued")
	join(t, s2, "waits")
	// s1's first event in flight, s2's failed once and waiting an hour.
	f.rc.wait(t, 2)
	waitFor(t, func() bool { return f.d.Stats().FailedAttempts == 1 })
	start := time.Now()
	f.d.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	f.d.mu.Lock()
	left := len(f.d.queues)
	f.d.mu.Unlock()
	if left != 0 {
		t.Errorf("%d queues left after Close", left)
	}
	join(t, s2, "after") // must not start anything
	if s := f.d.Stats(); s.Abandoned != 4 {
		t.Errorf("stats %+v, want 4 abandoned (in flight, queued, waiting, after)", s)
	}
	log, err := f.st.Deliveries(context.Background(), testKey, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var abandoned int
	for _, d := range log {
		if strings.Contains(d.Error, "shutting down") {
			abandoned++
		}
	}
	if len(log) != 2 || abandoned != 1 {
		t.Errorf("log after Close: %+v", log)
	}
}

// TestLogPruned: the delivery log keeps the last KeepDeliveries attempts.
func TestLogPruned(t *testing.T) {
	f := newFixture(t, nil, Options{KeepDeliveries: 3})
	s := f.session(t)
	for i := range 5 {
		join(t, s, strconv.Itoa(i))
	}
	waitFor(t, func() bool { return f.d.Stats().Delivered == 5 })
	log, err := f.st.Deliveries(context.Background(), testKey, "", 0)
	if err != nil || len(log) != 3 {
		t.Fatalf("log %+v, %v", log, err)
	}
}

// TestNoWebhook: the events of a project without a webhook go nowhere;
// a webhook removed between attempts gets no more.
func TestNoWebhook(t *testing.T) {
	var n atomic.Int32
	f := newFixture(t, func(received) int {
		n.Add(1)
		return http.StatusBadGateway
	}, Options{Retries: []time.Duration{50 * time.Millisecond}})
	s := f.session(t)
	join(t, s, "A")
	f.rc.wait(t, 1)
	if err := f.st.DeleteWebhook(context.Background(), testKey, f.hook.ID); err != nil {
		t.Fatal(err)
	}
	join(t, s, "B")
	// Unparseable ids belong to no project and are not followed.
	odd := session.New("not-an-id", session.Routed, session.Options{OnCreate: f.d.Observe})
	join(t, odd, "C")
	time.Sleep(100 * time.Millisecond)
	if got := n.Load(); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
	f.d.mu.Lock()
	left := len(f.d.queues)
	f.d.mu.Unlock()
	if left != 0 {
		t.Errorf("%d queues left", left)
	}
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateProject(ctx, store.Project{APIKey: testKey, Secret: "x", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, apiKey, group, url string
		want                     error
	}{
		{"bad URL", testKey, "", "ftp://x", ErrInvalidURL},
		{"unknown group", testKey, "archive", "https://x", ErrUnknownGroup},
		{"unknown project", "7", "", "https://x", store.ErrNotFound},
		{"default group", testKey, "", "https://x", nil},
		{"second one", testKey, GroupSessionMonitoring, "https://y", store.ErrExists},
	}
	for _, tt := range tests {
		w, err := Create(ctx, st, tt.apiKey, tt.group, tt.url, t0)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			continue
		}
		if err == nil && (w.Group != GroupSessionMonitoring || len(w.Secret) != 64 || w.ID == "" || w.URL != tt.url) {
			t.Errorf("%s: %+v", tt.name, w)
		}
	}
}

// gate returns a channel that blocks receivers until open is called or
// the test ends (before the receiver's server closes, which waits for
// its handlers).
func gate(t *testing.T) (wait <-chan struct{}, open func()) {
	ch := make(chan struct{})
	var once sync.Once
	open = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(open)
	return ch, open
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestArchiveStatus: archive status changes go to the project's
// archiveStatus webhook only, in order, with the archive object as body
// and a valid signature; the session monitoring webhook does not get them.
func TestArchiveStatus(t *testing.T) {
	f := newFixture(t, nil, Options{})
	ctx := context.Background()
	archiveRC := newReceiver(t, nil)
	h, err := Create(ctx, f.st, testKey, GroupArchiveStatus, archiveRC.srv.URL+"/archives", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, f.st, testKey, GroupArchiveStatus, archiveRC.srv.URL+"/again", t0); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second archiveStatus webhook: %v", err)
	}
	sid := session.NewID(testKey, "", t0)
	for _, status := range []string{"started", "stopped", "available"} {
		f.d.NotifyArchive(testKey, sid, "0b7e6a4e-0000-4000-8000-000000000001",
			[]byte(`{"id":"0b7e6a4e-0000-4000-8000-000000000001","status":"`+status+`","event":"archive"}`))
	}
	got := archiveRC.wait(t, 3)
	for i, status := range []string{"started", "stopped", "available"} {
		var body struct{ Status, Event string }
		if err := json.Unmarshal(got[i].body, &body); err != nil || body.Status != status || body.Event != "archive" {
			t.Errorf("delivery %d: %s (%v), want status %s", i, got[i].body, err, status)
		}
		if !receiverVerify(h.Secret, got[i].sig, got[i].body) {
			t.Errorf("delivery %d: bad signature", i)
		}
	}
	time.Sleep(50 * time.Millisecond)
	f.rc.mu.Lock()
	n := len(f.rc.got)
	f.rc.mu.Unlock()
	if n != 0 {
		t.Fatalf("the session monitoring webhook got %d archive changes", n)
	}
}
