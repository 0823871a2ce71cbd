package rtc

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
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
