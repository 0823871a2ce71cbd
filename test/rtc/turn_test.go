package rtc

import (
	"context"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/signaling"
	"github.com/parleyhq/parley/internal/turn/turntest"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
)

// turnServers returns the STUN and TURN entries a client was given.
func turnServers(t *testing.T, c *rtcclient.Client) (stun, turn signaling.ICEServer) {
	t.Helper()
	for _, s := range c.ICEServers {
		if s.Username != "" {
			turn = s
		} else {
			stun = s
		}
	}
	if len(stun.URLs) == 0 || len(turn.URLs) == 0 {
		t.Fatalf("iceServers %+v: want a STUN and a TURN entry", c.ICEServers)
	}
	return stun, turn
}

// turnAddr is host:port of a turn: or stun: URL with that transport.
func turnAddr(t *testing.T, urls []string, scheme, transport string) string {
	t.Helper()
	for _, u := range urls {
		rest, ok := strings.CutPrefix(u, scheme+":")
		if !ok {
			continue
		}
		hp, query, _ := strings.Cut(rest, "?")
		if transport == "" || query == "transport="+transport {
			return hp
		}
	}
	t.Fatalf("no %s URL with transport %q in %v", scheme, transport, urls)
	return ""
}

// turnClient makes a TURN client of addr over udp or tcp.
func turnClient(t *testing.T, transport, addr, username, password string) *pionturn.Client {
	t.Helper()
	return turntest.Client(t, turntest.Conn(t, transport, addr), addr, username, password)
}

// TestTURNCredentials: a connected client is told about the node's TURN
// server, and the credentials it gets allocate relays on it over UDP and
// TCP; altered ones do not.
func TestTURNCredentials(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	a := e.connect(t, sid, opentok.RolePublisher, "a")
	b := e.connect(t, sid, opentok.RolePublisher, "b")
	stunA, turnA := turnServers(t, a)
	_, turnB := turnServers(t, b)

	if !strings.HasSuffix(turnA.Username, ":"+a.Connection.ConnectionID) || turnA.Username == turnB.Username {
		t.Fatalf("usernames %q and %q: want <expiry>:<connectionId>, one per connection", turnA.Username, turnB.Username)
	}
	udpAddr := turnAddr(t, turnA.URLs, "turn", "udp")
	tcpAddr := turnAddr(t, turnA.URLs, "turn", "tcp")
	if udpAddr != tcpAddr || !strings.HasPrefix(udpAddr, "127.0.0.1:") || turnAddr(t, stunA.URLs, "stun", "") != udpAddr {
		t.Fatalf("URLs %v %v: want one loopback port for STUN and TURN over UDP and TCP", stunA.URLs, turnA.URLs)
	}

	// STUN answers without credentials.
	mapped, err := turnClient(t, "udp", udpAddr, "", "").SendBindingRequest()
	if err != nil || !strings.HasPrefix(mapped.String(), "127.0.0.1:") {
		t.Fatalf("binding: %v, %v", mapped, err)
	}

	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			relay, err := turnClient(t, transport, udpAddr, turnA.Username, turnA.Credential).Allocate()
			if err != nil {
				t.Fatalf("allocate with the announced credentials: %v", err)
			}
			if !strings.HasPrefix(relay.LocalAddr().String(), "127.0.0.1:") {
				t.Errorf("relay address %v", relay.LocalAddr())
			}
			relay.Close()
			for name, cred := range map[string][2]string{
				"wrong password":       {turnA.Username, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
				"another's password":   {turnA.Username, turnB.Credential},
				"extended expiry":      {"9" + turnA.Username, turnA.Credential},
				"another's connection": {strings.Replace(turnA.Username, a.Connection.ConnectionID, b.Connection.ConnectionID, 1), turnA.Credential},
			} {
				if r, err := turnClient(t, transport, udpAddr, cred[0], cred[1]).Allocate(); err == nil {
					r.Close()
					t.Errorf("%s: allocated", name)
				}
			}
		})
	}
}

// TestRelayOnlyMedia: two clients that may only use TURN relays (as behind
// a firewall letting nothing else out) publish and receive each other
// through the node's TURN server in a routed session; the SFU is reached
// only via the relay.
func TestRelayOnlyMedia(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(data string) *rtcclient.Client {
		tok, err := e.ot.GenerateToken(sid, opentok.TokenOptions{Role: opentok.RolePublisher, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		c, err := rtcclient.Connect(ctx, e.srv.URL, sid, tok, rtcclient.Options{RelayOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	a, b := connect("a"), connect("b")
	pa, err := a.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, FPS: 15, Bitrate: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, FPS: 15, Bitrate: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := a.Subscribe(ctx, pb.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Subscribe(ctx, pa.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for (sa.Video.Frames() < 15 || sb.Video.Frames() < 15 || sa.Audio.Packets() < 50 || sb.Audio.Packets() < 50) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for name, s := range map[string]*rtcclient.Subscription{"A receives B": sa, "B receives A": sb} {
		if s.Video.Frames() < 15 || s.Audio.Packets() < 50 || s.Video.Keyframes() < 1 {
			t.Errorf("%s: %d video frames, %d keyframes, %d audio packets", name, s.Video.Frames(), s.Video.Keyframes(), s.Audio.Packets())
		}
	}

	// Every peer connection's selected pair starts at a relay candidate.
	pcs := map[string]*webrtc.PeerConnection{
		"A publishing": pa.PeerConnection(), "B publishing": pb.PeerConnection(),
		"A subscribing": sa.PeerConnection(), "B subscribing": sb.PeerConnection(),
	}
	for name, pc := range pcs {
		pair := selectedPair(t, pc)
		if pair.Local.Typ != webrtc.ICECandidateTypeRelay {
			t.Errorf("%s: local candidate %s, want a relay", name, pair.Local)
		}
		t.Logf("%s: %s ↔ %s", name, pair.Local, pair.Remote)
	}
	for _, c := range []*rtcclient.Client{a, b} {
		if !strings.Contains(e.srv.Log(), `msg="turn: allocation created" connection=`+c.Connection.ConnectionID) {
			t.Errorf("the server logged no allocation for %s", c.Connection.ConnectionID)
		}
	}
}
