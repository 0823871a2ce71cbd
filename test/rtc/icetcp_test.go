package rtc

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

// selectedPair returns the ICE candidate pair a peer connection uses.
func selectedPair(t *testing.T, pc *webrtc.PeerConnection) *webrtc.ICECandidatePair {
	t.Helper()
	var ice *webrtc.ICETransport
	if senders := pc.GetSenders(); len(senders) > 0 && senders[0].Transport() != nil {
		ice = senders[0].Transport().ICETransport()
	} else if receivers := pc.GetReceivers(); len(receivers) > 0 && receivers[0].Transport() != nil {
		ice = receivers[0].Transport().ICETransport()
	}
	if ice == nil {
		t.Fatal("no ICE transport")
	}
	pair, err := ice.GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected pair: %v", err)
	}
	return pair
}

// TestICETCPFallback: a client whose network blocks UDP reaches the SFU
// on its ICE-TCP port, publishing and subscribing.
func TestICETCPFallback(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := e.ot.GenerateToken(sid, opentok.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := rtcclient.Connect(ctx, e.srv.URL, sid, tok, rtcclient.Options{TCPOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp := e.connect(t, sid, opentok.RolePublisher, "udp")

	pt, err := tcp.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	pu, err := udp.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	su, err := udp.Subscribe(ctx, pt.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := tcp.Subscribe(ctx, pu.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	for name, s := range map[string]*rtcclient.Subscription{"udp receives tcp": su, "tcp receives udp": st} {
		if s.Video.Frames() < 10 || s.Audio.Packets() < 20 {
			t.Errorf("%s: %d frames, %d audio packets", name, s.Video.Frames(), s.Audio.Packets())
		}
	}
	for name, pc := range map[string]*webrtc.PeerConnection{"publishing": pt.PeerConnection(), "subscribing": st.PeerConnection()} {
		pair := selectedPair(t, pc)
		if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Remote.Protocol != webrtc.ICEProtocolTCP {
			t.Errorf("%s: pair %s ↔ %s, want TCP", name, pair.Local, pair.Remote)
		}
	}
}

// TestClientElsewhereGetsNoLoopbackCandidates: clients whose signaling
// comes from another address than loopback (here this machine's own
// interface address, as a client on another machine would) are offered
// no loopback candidates, and media flows over the others, UDP and TCP.
func TestClientElsewhereGetsNoLoopbackCandidates(t *testing.T) {
	var ip net.IP
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				ip = n.IP
				break
			}
		}
	}
	if ip == nil {
		t.Skip("this machine has no IPv4 address but loopback")
	}
	srv := live.Start(t, "--addr", net.JoinHostPort(ip.String(), "0"))
	e := &env{srv: srv, ot: opentok.New(srv.APIKey, srv.Secret(t), srv.URL)}
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub := e.connect(t, sid, opentok.RolePublisher, "")
	p, err := pub.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.ot.GenerateToken(sid, opentok.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := rtcclient.Connect(ctx, srv.URL, sid, tok, rtcclient.Options{TCPOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp := e.connect(t, sid, opentok.RoleSubscriber, "")
	su, err := udp.Subscribe(ctx, p.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := tcp.Subscribe(ctx, p.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	for name, s := range map[string]*rtcclient.Subscription{"udp": su, "tcp": st} {
		if s.Video.Frames() < 10 || s.Audio.Packets() < 20 {
			t.Errorf("%s subscriber: %d frames, %d audio packets", name, s.Video.Frames(), s.Audio.Packets())
		}
	}
	for name, pc := range map[string]*webrtc.PeerConnection{"publisher": p.PeerConnection(), "udp subscriber": su.PeerConnection(), "tcp subscriber": st.PeerConnection()} {
		for _, d := range []*webrtc.SessionDescription{pc.RemoteDescription()} {
			if d == nil {
				t.Fatalf("%s: no remote description", name)
			}
			for line := range strings.Lines(d.SDP) {
				if strings.HasPrefix(line, "a=candidate:") && (strings.Contains(line, " 127.0.0.1 ") || strings.Contains(line, " ::1 ")) {
					t.Errorf("%s was offered a loopback candidate: %s", name, strings.TrimSpace(line))
				}
			}
		}
		if pair := selectedPair(t, pc); net.ParseIP(pair.Remote.Address).IsLoopback() {
			t.Errorf("%s: pair %s ↔ %s", name, pair.Local, pair.Remote)
		}
	}
}
