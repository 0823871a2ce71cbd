// Package rtc tests real-time sessions end to end: pkg/rtcclient clients
// against a live `parley serve` over loopback.
package rtc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/signaling"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

type env struct {
	srv *live.Server
	ot  *opentok.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := live.Start(t)
	return &env{srv: srv, ot: opentok.New(srv.APIKey, srv.Secret(t), srv.URL)}
}

func (e *env) session(t *testing.T, mode opentok.MediaMode) string {
	t.Helper()
	s, err := e.ot.CreateSession(context.Background(), opentok.SessionOptions{MediaMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (e *env) connect(t *testing.T, sid string, role opentok.Role, data string) *rtcclient.Client {
	t.Helper()
	tok, err := e.ot.GenerateToken(sid, opentok.TokenOptions{Role: role, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtcclient.Connect(ctx, e.srv.URL, sid, tok, rtcclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitEvent reads c's events until one matches, failing after d.
func waitEvent(t *testing.T, c *rtcclient.Client, d time.Duration, match func(rtcclient.Event) bool) rtcclient.Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatal("connection closed while waiting for an event")
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no matching event within %v", d)
		}
	}
}

func isType(typ string) func(rtcclient.Event) bool {
	return func(ev rtcclient.Event) bool { return ev.Type == typ }
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTwoClientsSeeEachOther(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	a := e.connect(t, sid, opentok.RolePublisher, "name=A")
	b := e.connect(t, sid, opentok.RolePublisher, "name=B")
	ctx := ctx10(t)

	pa, err := a.Publish(ctx, rtcclient.PublishOptions{Name: "A", Audio: true, Video: true, FPS: 15, Bitrate: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Publish(ctx, rtcclient.PublishOptions{Name: "B", Audio: true, Video: true, FPS: 15, Bitrate: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	// Each learns of the other's stream and subscribes to it.
	evB := waitEvent(t, b, 5*time.Second, func(ev rtcclient.Event) bool {
		return ev.Type == "streamCreated" && ev.Stream.StreamID == pa.StreamID
	})
	if evB.Stream.Name != "A" || evB.Stream.Connection.Data != "name=A" || !evB.Stream.HasVideo || evB.Stream.VideoType != "camera" {
		t.Fatalf("stream as B sees it: %+v", evB.Stream)
	}
	sa, err := a.Subscribe(ctx, pb.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Subscribe(ctx, pa.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	for name, s := range map[string]*rtcclient.Subscription{"A receives B": sa, "B receives A": sb} {
		if s.Video.Frames() < 10 || s.Audio.Packets() < 40 || s.Video.Keyframes() < 1 {
			t.Errorf("%s: %d video frames, %d keyframes, %d audio packets", name, s.Video.Frames(), s.Video.Keyframes(), s.Audio.Packets())
		}
		if s.Video.Codec() != "video/VP8" {
			t.Errorf("%s: codec %q", name, s.Video.Codec())
		}
	}
}

// TestTenClients: ten clients each publish and receive the nine others.
func TestTenClients(t *testing.T) {
	const n = 10
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clients := make([]*rtcclient.Client, n)
	pubs := make([]*rtcclient.Publisher, n)
	for i := range clients {
		clients[i] = e.connect(t, sid, opentok.RolePublisher, fmt.Sprintf("n=%d", i))
		p, err := clients[i].Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, FPS: 15, Bitrate: 150_000})
		if err != nil {
			t.Fatal(err)
		}
		pubs[i] = p
	}
	var (
		mu   sync.Mutex
		subs []*rtcclient.Subscription
		wg   sync.WaitGroup
		errs = make(chan error, n*n)
	)
	for i, c := range clients {
		for j, p := range pubs {
			if i == j {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := c.Subscribe(ctx, p.StreamID, rtcclient.SubscribeOptions{})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				subs = append(subs, s)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	var got, expected uint64
	for _, s := range subs {
		for _, tr := range []*rtcclient.TrackStats{&s.Audio, &s.Video} {
			if tr.Packets() == 0 {
				t.Errorf("subscription %s received nothing on a track", s.ID)
			}
			got += tr.Packets()
			expected += tr.Expected()
		}
	}
	ratio := float64(got) / float64(expected)
	t.Logf("%d subscriptions: %d of %d packets delivered (%.3f%%)", len(subs), got, expected, 100*ratio)
	if len(subs) != n*(n-1) || ratio < 0.99 {
		t.Fatalf("%d subscriptions, %.3f%% delivered; want %d and ≥ 99%%", len(subs), 100*ratio, n*(n-1))
	}
	// Nine subscribers joining each asked for a keyframe; the throttle
	// passes at most one request per 300 ms to each publisher.
	for i, p := range pubs {
		if k := p.KeyframeRequests.Load(); k == 0 || k > 25 {
			t.Errorf("publisher %d got %d keyframe requests", i, k)
		}
	}
}

func TestLateJoinerGetsReplayAndKeyframe(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx := ctx10(t)
	a := e.connect(t, sid, opentok.RolePublisher, "first")
	pa, err := a.Publish(ctx, rtcclient.PublishOptions{Name: "cam", Audio: true, Video: true, GOP: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the publisher's only periodic keyframe is long gone

	b := e.connect(t, sid, opentok.RolePublisher, "late")
	var replay []rtcclient.Event
	for len(replay) < 3 {
		replay = append(replay, waitEvent(t, b, 5*time.Second, func(rtcclient.Event) bool { return true }))
	}
	if replay[0].Type != "connectionCreated" || replay[0].Connection.ConnectionID != a.Connection.ConnectionID || replay[0].Connection.Data != "first" ||
		replay[1].Type != "connectionCreated" || replay[1].Connection.ConnectionID != b.Connection.ConnectionID ||
		replay[2].Type != "streamCreated" || replay[2].Stream.StreamID != pa.StreamID || replay[2].Stream.Name != "cam" ||
		replay[2].Stream.Connection.ConnectionID != a.Connection.ConnectionID || replay[2].Stream.Connection.Data != "first" {
		t.Fatalf("replay: %+v", replay)
	}
	if replay[0].Connection.CreationTime == 0 || replay[0].Connection.CreationTime > replay[1].Connection.CreationTime {
		t.Fatalf("creation times %d, %d", replay[0].Connection.CreationTime, replay[1].Connection.CreationTime)
	}
	start := time.Now()
	s, err := b.Subscribe(ctx, pa.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for s.Video.FirstPacket().IsZero() && time.Since(start) < 3*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	first, key := s.Video.FirstPacket(), s.Video.FirstKeyframe()
	if first.IsZero() || !first.Equal(key) {
		t.Fatalf("first video packet %v, first keyframe %v: video must start on a keyframe", first, key)
	}
	if d := key.Sub(start); d > time.Second {
		t.Fatalf("first keyframe %v after subscribing; want ≤ 1 s", d)
	}
	t.Logf("first keyframe %v after subscribe; publisher got %d keyframe requests", key.Sub(start), pa.KeyframeRequests.Load())
}

func TestDeadClientsDisappear(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx := ctx10(t)
	watcher := e.connect(t, sid, opentok.RolePublisher, "watcher")

	for _, how := range []string{"killed", "frozen"} {
		t.Run(how, func(t *testing.T) {
			c := e.connect(t, sid, opentok.RolePublisher, how)
			p, err := c.Publish(ctx, rtcclient.PublishOptions{Audio: true})
			if err != nil {
				t.Fatal(err)
			}
			waitEvent(t, watcher, 5*time.Second, func(ev rtcclient.Event) bool {
				return ev.Type == "streamCreated" && ev.Stream.StreamID == p.StreamID
			})
			start := time.Now()
			if how == "killed" {
				c.Kill()
			} else {
				c.Freeze()
			}
			ev := waitEvent(t, watcher, 15*time.Second, isType("streamDestroyed"))
			if ev.Stream.StreamID != p.StreamID || ev.Reason != "networkDisconnected" {
				t.Fatalf("streamDestroyed %+v", ev)
			}
			ev = waitEvent(t, watcher, 10*time.Second, isType("connectionDestroyed"))
			if ev.Connection.ConnectionID != c.Connection.ConnectionID || ev.Reason != "networkDisconnected" {
				t.Fatalf("connectionDestroyed %+v", ev)
			}
			d := time.Since(start)
			t.Logf("%s client gone after %v", how, d)
			// The stated bounds (docs/protocol.md): a closed TCP connection
			// is noticed at once and the connection removed after the 5 s
			// resume window; a silent one needs up to 5 s of pings more.
			// The test allows for a loaded machine's scheduling on top.
			bound := map[string]time.Duration{"killed": 5 * time.Second, "frozen": 10 * time.Second}[how]
			if d > bound+3*time.Second {
				t.Fatalf("a %s client took %v to disappear; the stated bound is %v", how, d, bound)
			}
		})
	}
}

func TestSubscribeToOwnStream(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx := ctx10(t)
	a := e.connect(t, sid, opentok.RolePublisher, "")
	p, err := a.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.Subscribe(ctx, p.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if s.Video.Frames() < 10 || s.Audio.Packets() < 20 {
		t.Fatalf("loopback: %d frames, %d audio packets", s.Video.Frames(), s.Audio.Packets())
	}
	if d := s.Video.Delays(); len(d) == 0 || d[len(d)/2] > 50*time.Millisecond {
		t.Fatalf("loopback delays: %d samples, median %v", len(d), d[len(d)/2])
	}
}

func code(err error) int {
	var e *rtcclient.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// TestRolesAndRefusals drives every refusal over the wire and checks that
// the connection and the session stay usable after each.
func TestRolesAndRefusals(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx := ctx10(t)
	mod := e.connect(t, sid, opentok.RoleModerator, "mod")
	pub := e.connect(t, sid, opentok.RolePublisher, "pub")
	sub := e.connect(t, sid, opentok.RoleSubscriber, "sub")
	only := e.connect(t, sid, opentok.RolePublisherOnly, "only")

	if sub.Capabilities.Publish != 0 || sub.Capabilities.Subscribe != 1 || mod.Capabilities.ForceDisconnect != 1 || pub.Capabilities.ForceMute != 0 || only.Capabilities.Subscribe != 0 {
		t.Fatalf("capabilities: sub %+v mod %+v pub %+v only %+v", sub.Capabilities, mod.Capabilities, pub.Capabilities, only.Capabilities)
	}
	p, err := pub.Publish(ctx, rtcclient.PublishOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Publish(ctx, rtcclient.PublishOptions{Audio: true}); code(err) != signaling.CodeUnableToPub {
		t.Errorf("subscriber publishing: %v", err)
	}
	if _, err := only.Subscribe(ctx, p.StreamID, rtcclient.SubscribeOptions{}); code(err) != signaling.CodeSubscribe {
		t.Errorf("publisheronly subscribing: %v", err)
	}
	if _, err := sub.Subscribe(ctx, "no-such-stream", rtcclient.SubscribeOptions{}); code(err) != 404 {
		t.Errorf("unknown stream: %v", err)
	}
	if _, err := pub.Do(ctx, signaling.Request{Type: "forceDisconnect", ConnectionID: sub.Connection.ConnectionID}); code(err) != signaling.CodeForceDisc {
		t.Errorf("publisher forcing a disconnect: %v", err)
	}
	if _, err := pub.Do(ctx, signaling.Request{Type: "forceUnpublish", StreamID: p.StreamID}); code(err) != signaling.CodeForceUnpub {
		t.Errorf("publisher forcing an unpublish: %v", err)
	}
	if _, err := pub.Do(ctx, signaling.Request{Type: "forceMuteAll"}); code(err) != 403 {
		t.Errorf("publisher muting all: %v", err)
	}
	if _, err := pub.Do(ctx, signaling.Request{Type: "unpublish", StreamID: "not-mine"}); code(err) == 0 {
		t.Errorf("unpublishing an unknown stream succeeded")
	}

	// Signals: limits, and delivery to one and to all.
	long := string(make([]byte, 8193))
	for _, tc := range []struct {
		to, typ, data string
		code          int
	}{
		{"", string(make([]byte, 129)), "", 400},
		{"", "bad type!", "", 400},
		{"", "ok", long, 413},
		{"nobody", "ok", "", 404},
	} {
		if err := pub.Signal(ctx, tc.to, tc.typ, tc.data); code(err) != tc.code {
			t.Errorf("signal type %.10q data %d bytes to %q: %v, want %d", tc.typ, len(tc.data), tc.to, err, tc.code)
		}
	}
	if err := pub.Signal(ctx, sub.Connection.ConnectionID, "chat", "to you"); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, sub, 5*time.Second, isType("signal"))
	if *ev.SignalType != "chat" || *ev.Data != "to you" || ev.From == nil || ev.From.ConnectionID != pub.Connection.ConnectionID {
		t.Fatalf("signal: %+v", ev)
	}
	if err := pub.Signal(ctx, "", "all", string(make([]byte, 8192))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*rtcclient.Client{mod, pub, sub, only} {
		ev := waitEvent(t, c, 5*time.Second, isType("signal"))
		if *ev.SignalType != "all" || len(*ev.Data) != 8192 {
			t.Fatalf("broadcast signal: %+v", ev)
		}
	}

	// Malformed and out-of-order messages: an error, nothing else.
	for _, raw := range []string{`{"type":`, `{"type":"launch"}`, `{"type":"connect","id":9,"sessionId":"x","token":"y"}`, `{"type":"answer","id":10,"subscriberId":"none","sdp":"x"}`, `{"type":"ping","bogus":1}`} {
		if err := pub.SendRaw(ctx, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		ev := waitEvent(t, pub, 5*time.Second, isType("error"))
		if ev.Code == 0 || ev.Message == "" {
			t.Fatalf("%s: %+v", raw, ev)
		}
	}
	if _, err := pub.Do(ctx, signaling.Request{Type: "ping"}); err != nil {
		t.Fatalf("connection unusable after refusals: %v", err)
	}

	// The moderator's powers.
	if _, err := mod.Do(ctx, signaling.Request{Type: "forceMuteStream", StreamID: p.StreamID}); err != nil {
		t.Fatal(err)
	}
	ev = waitEvent(t, pub, 5*time.Second, isType("muteForced"))
	if ev.Active == nil || !*ev.Active {
		t.Fatalf("muteForced %+v", ev)
	}
	ev = waitEvent(t, sub, 5*time.Second, isType("streamPropertyChanged"))
	if ev.ChangedProperty != "hasAudio" || ev.OldValue.V != true || ev.NewValue.V != false {
		t.Fatalf("streamPropertyChanged %+v old %v new %v", ev, ev.OldValue, ev.NewValue)
	}
	if _, err := mod.Do(ctx, signaling.Request{Type: "forceDisconnect", ConnectionID: sub.Connection.ConnectionID}); err != nil {
		t.Fatal(err)
	}
	ev = waitEvent(t, sub, 5*time.Second, isType("sessionDisconnected"))
	if ev.Reason != "forceDisconnected" {
		t.Fatalf("sessionDisconnected %+v", ev)
	}
	ev = waitEvent(t, pub, 5*time.Second, isType("connectionDestroyed"))
	if ev.Connection.ConnectionID != sub.Connection.ConnectionID || ev.Reason != "forceDisconnected" {
		t.Fatalf("connectionDestroyed %+v", ev)
	}
}

func TestConnectRefused(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	other := e.session(t, opentok.Routed)
	ctx := ctx10(t)
	good, _ := e.ot.GenerateToken(other, opentok.TokenOptions{})
	foreign := opentok.New(e.srv.APIKey, "another-secret-another-secret", e.srv.URL)
	forged, _ := foreign.GenerateToken(sid, opentok.TokenOptions{})
	for _, tc := range []struct {
		name, sid, token string
		code             int
	}{
		{"garbage token", sid, "garbage", signaling.CodeAuthentication},
		{"token of another session", sid, good, signaling.CodeAuthentication},
		{"forged signature", sid, forged, signaling.CodeAuthentication},
		{"unknown session", "1_MX4xMjM0fn5-MTIzfnh4fn4", good, signaling.CodeInvalidSession},
	} {
		_, err := rtcclient.Connect(ctx, e.srv.URL, tc.sid, tc.token, rtcclient.Options{})
		if code(err) != tc.code {
			t.Errorf("%s: %v, want code %d", tc.name, err, tc.code)
		}
	}
}

// TestResumeAfterLostLink: a client whose signaling link drops comes back
// within the window as the same connection; nobody saw it leave, its media
// kept flowing, and a signal sent meanwhile reaches it.
func TestResumeAfterLostLink(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx := ctx10(t)
	a := e.connect(t, sid, opentok.RolePublisher, "a")
	b := e.connect(t, sid, opentok.RolePublisher, "b")
	pa, err := a.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Subscribe(ctx, pa.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cut := make(chan error, 1)
	go func() { cut <- a.CutAndResume(ctx, 2*time.Second) }()
	time.Sleep(500 * time.Millisecond)
	framesBefore := sb.Video.Frames()
	if err := b.Signal(ctx, a.Connection.ConnectionID, "while-away", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := <-cut; err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, a, 5*time.Second, isType("signal"))
	if *ev.SignalType != "while-away" || *ev.Data != "hello" {
		t.Fatalf("signal after resume: %+v", ev)
	}
	if sb.Video.Frames() <= framesBefore+10 {
		t.Fatalf("media stalled during the cut: %d frames before, %d after", framesBefore, sb.Video.Frames())
	}
	if _, err := a.Do(ctx, signaling.Request{Type: "ping"}); err != nil {
		t.Fatalf("resumed connection unusable: %v", err)
	}
	// Nobody saw the connection go: nothing b has received since the cut
	// says so.
	for drained := false; !drained; {
		select {
		case ev := <-b.Events():
			if ev.Type == "connectionDestroyed" || ev.Type == "streamDestroyed" {
				t.Fatalf("b saw %s during a resumable cut", ev.Type)
			}
		case <-time.After(200 * time.Millisecond):
			drained = true
		}
	}
	// The new token resumes it again.
	if err := a.CutAndResume(ctx, 0); err != nil {
		t.Fatalf("second resume: %v", err)
	}
}
