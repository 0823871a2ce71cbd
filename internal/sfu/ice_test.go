package sfu

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/turn"
)

// relayOnlyAPI is a client's WebRTC stack that reaches the SFU through a
// TURN relay only, as a browser with iceTransportPolicy 'relay' does, and
// nominates as soon as a browser does.
func relayOnlyAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m, err := NewMediaEngine()
	if err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	se.DisableActiveTCP(true)
	// A browser nominates the first relayed pair that works; Pion waits 2 s
	// for a better one, by which time the SFU has checked every pair.
	se.SetRelayAcceptanceMinWait(0)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

// sdpAttr is the value of the first a=name: line of an SDP.
func sdpAttr(sdp, name string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a="+name+":"); ok {
			return v
		}
	}
	return ""
}

// hostCandidates are the UDP host candidates of an SDP, each address once.
func hostCandidates(t *testing.T, sdp string) []*net.UDPAddr {
	t.Helper()
	var out []*net.UDPAddr
	seen := map[string]bool{}
	for line := range strings.Lines(sdp) {
		attr, ok := strings.CutPrefix(strings.TrimSpace(line), "a=")
		if !ok || !strings.HasPrefix(attr, "candidate:") {
			continue
		}
		c, err := ice.UnmarshalCandidate(attr)
		if err != nil {
			t.Fatalf("candidate %q: %v", line, err)
		}
		addr := net.JoinHostPort(c.Address(), strconv.Itoa(c.Port()))
		if c.Type() != ice.CandidateTypeHost || !c.NetworkType().IsUDP() || seen[addr] {
			continue
		}
		seen[addr] = true
		out = append(out, &net.UDPAddr{IP: net.ParseIP(c.Address()), Port: c.Port()})
	}
	return out
}

// publishOffer is a client's offer to publish audio, and its peer
// connection, closed at the end of t.
func publishOffer(t *testing.T, api *webrtc.API, cfg webrtc.Configuration) (*webrtc.PeerConnection, string) {
	t.Helper()
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc, pc.LocalDescription().SDP
}

// checkedPublisher publishes an audio stream on s from a client that
// never answers back; check sends that client's connectivity checks.
type checkedPublisher struct {
	t             *testing.T
	answer        string
	username, pwd string
}

func newCheckedPublisher(t *testing.T, s *SFU) *checkedPublisher {
	t.Helper()
	m, err := NewMediaEngine()
	if err != nil {
		t.Fatal(err)
	}
	_, offer := publishOffer(t, webrtc.NewAPI(webrtc.WithMediaEngine(m)), webrtc.Configuration{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, answer, err := s.Publish(ctx, "checks", offer, PublishOptions{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &checkedPublisher{t: t, answer: answer,
		username: sdpAttr(answer, "ice-ufrag") + ":" + sdpAttr(offer, "ice-ufrag"), pwd: sdpAttr(answer, "ice-pwd")}
}

// check sends a connectivity check from the loopback address to addr and
// returns where the success answer came from.
func (p *checkedPublisher) check(addr *net.UDPAddr) *net.UDPAddr {
	t := p.t
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, err := stun.Build(stun.BindingRequest, stun.TransactionID, stun.NewUsername(p.username),
		ice.AttrControlling(1), ice.PriorityAttr(1), stun.NewShortTermIntegrity(p.pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	from, res := exchange(t, conn, addr, req)
	if res.Type != stun.BindingSuccess {
		t.Fatalf("check to %v: answered with %v", addr, res.Type)
	}
	return from
}

// TestHostCandidatesAnswerFromTheirOwnAddress: a connectivity check sent
// to any of the SFU's IPv4 host candidates is answered from that
// candidate's address. The checks come from the loopback address, as
// those of a TURN relay on this host do. One socket bound to every
// interface, shared by all candidates, answers from the address the
// route back picks (loopback here), and cannot tell its candidates'
// checks apart: a client drops such an answer, and a relay-only
// publisher's nomination can be credited to the wrong candidate.
func TestHostCandidatesAnswerFromTheirOwnAddress(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newCheckedPublisher(t, s)
	var checked int
	for _, cand := range hostCandidates(t, p.answer) {
		if cand.IP.To4() == nil {
			continue
		}
		checked++
		if from := p.check(cand); !from.IP.Equal(cand.IP) || from.Port != cand.Port {
			t.Errorf("check to host candidate %v answered from %v", cand, from)
		}
	}
	if checked == 0 {
		t.Fatalf("no IPv4 host candidate in the answer:\n%s", p.answer)
	}
}

// TestPublicIPOneCandidateEveryAddress: behind 1:1 NAT the SFU announces
// its public IPv4 address as its one IPv4 host candidate, and answers the
// checks the NAT forwards to any of its local addresses (loopback here).
func TestPublicIPOneCandidateEveryAddress(t *testing.T) {
	const public = "203.0.113.7"
	s, err := New(Config{PublicIPs: []string{public}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newCheckedPublisher(t, s)
	var v4 []*net.UDPAddr
	for _, cand := range hostCandidates(t, p.answer) {
		if cand.IP.To4() != nil {
			v4 = append(v4, cand)
		}
	}
	if len(v4) != 1 || v4[0].IP.String() != public || v4[0].Port != s.UDPAddr().Port {
		t.Fatalf("IPv4 host candidates %v, want %s:%d only", v4, public, s.UDPAddr().Port)
	}
	p.check(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: v4[0].Port})
}

// exchange sends a STUN request from conn to addr until an answer to it
// comes (UDP may drop a datagram), and returns the answer and where it
// came from.
func exchange(t *testing.T, conn *net.UDPConn, addr *net.UDPAddr, req *stun.Message) (*net.UDPAddr, *stun.Message) {
	t.Helper()
	buf := make([]byte, 1500)
	for range 20 {
		if _, err := conn.WriteToUDP(req.Raw, addr); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				break // not answered yet: send again
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() == nil && res.TransactionID == req.TransactionID {
				return from, res
			}
		}
	}
	t.Fatalf("no answer from %v", addr)
	return nil, nil
}

// TestRelayedPublisherConnects: a publisher that may only use TURN relay
// candidates, and is the ICE-controlling side (it makes the offer),
// connects to the SFU. The SFU answers with a host candidate per local
// address (loopback and, on most machines, another interface), and the
// relay reaches all of them from one address. Were the candidates to share
// a socket, the publisher's nomination could be credited to one of them
// and the answer to the SFU's own check of that pair to another: the SFU
// would never select a pair while the publisher, its nomination answered,
// waits for DTLS, until the SFU's ICE fails.
//
// Which candidate of a shared socket reads a packet first is a matter of
// scheduling, so the test publishes many times in a row.
func TestRelayedPublisherConnects(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// On this host a relay reaches the SFU's media port only (and other
	// relays), as the node configures it.
	ts, err := turn.New(turn.Config{Secret: "test-secret", ListenAddr: "127.0.0.1:0", MediaPorts: []int{s.UDPAddr().Port}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()

	var servers []webrtc.ICEServer
	for _, srv := range ts.ICEServers("publisher") {
		servers = append(servers, webrtc.ICEServer{URLs: srv.URLs, Username: srv.Username, Credential: srv.Credential})
	}
	api := relayOnlyAPI(t)

	const publishers = 40
	for i := range publishers {
		id := "relayed-" + strconv.Itoa(i)
		pc, offer := publishOffer(t, api, webrtc.Configuration{
			ICEServers: servers, ICETransportPolicy: webrtc.ICETransportPolicyRelay,
			BundlePolicy: webrtc.BundlePolicyMaxBundle, RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
		})

		// The publisher connects once DTLS is through, which the SFU starts
		// only when its ICE has selected a pair; when its ICE gives up, the
		// stream ends with networkDisconnected. Either ends the wait.
		result := make(chan string, 1)
		report := func(r string) {
			select {
			case result <- r:
			default:
			}
		}
		pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
			if state == webrtc.PeerConnectionStateConnected || state == webrtc.PeerConnectionStateFailed {
				report("publisher " + state.String())
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, answer, err := s.Publish(ctx, id, offer, PublishOptions{Loopback: true, OnClose: func(reason string) {
			report("SFU stream ended: " + reason)
		}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			t.Logf("SFU host candidates: %v", hostCandidates(t, answer))
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
			t.Fatal(err)
		}
		if r := <-result; r != "publisher connected" {
			t.Fatalf("publisher %d through the TURN relay: %s", i, r)
		}
		st.Close()
		pc.Close()
	}
}

// TestLoopbackCandidatesOnlyForLocalClients: a client on this machine
// is offered loopback candidates; one elsewhere gets the others only, so
// that it does not check them against its own loopback (and the peer
// connection holds no sockets' worth of state for them).
func TestLoopbackCandidatesOnlyForLocalClients(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := NewMediaEngine()
	if err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m))
	hasLoopback := func(sdp string) bool {
		for _, a := range hostCandidates(t, sdp) {
			if a.IP.IsLoopback() {
				return true
			}
		}
		return false
	}
	for i, loopback := range []bool{true, false} {
		_, offer := publishOffer(t, api, webrtc.Configuration{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, answer, err := s.Publish(ctx, "local-"+strconv.Itoa(i), offer, PublishOptions{Loopback: loopback})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if got := hasLoopback(answer); got != loopback {
			t.Errorf("client on loopback %v: loopback candidates %v (%v)", loopback, got, hostCandidates(t, answer))
		}
		if !loopback && len(hostCandidates(t, answer)) == 0 {
			t.Log("no address but loopback on this machine: a remote client gets no host candidate")
		}
	}
}
