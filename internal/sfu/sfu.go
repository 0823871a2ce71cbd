// Package sfu is Parley's media plane: publishers' tracks arrive on
// receivers, each subscriber gets a down track per track, and the
// forwarding path rewrites SSRC, sequence numbers and timestamps, answers
// NACKs from a per-track packet cache and passes keyframe requests to the
// publisher with throttling. It knows nothing of tokens or sessions: the
// signaling layer decides, the SFU moves packets.
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Config configures an SFU.
type Config struct {
	// UDPPort is the one UDP port all ICE traffic shares (0 = any free one).
	UDPPort int
	// TCPPort is the ICE-TCP fallback port (0 = any free one, -1 = none).
	TCPPort int
	// PublicIPs, when set, are announced as host candidates instead of the
	// interface addresses (a server behind 1:1 NAT).
	PublicIPs []string
	// ListenIP restricts the sockets to one address ("" = all).
	ListenIP string
	Log      *slog.Logger
}

// SFU owns the sockets and the WebRTC stack shared by every peer
// connection of a node.
type SFU struct {
	log     *slog.Logger
	api     [2]*webrtc.API // publishers' peer connections, by clientPlace
	subAPI  [2]*webrtc.API // subscribers', which only send
	udpAddr *net.UDPAddr
	tcp     net.Listener
	udpMux  ice.UDPMux
	batch   *sendBatch // the UDP sockets of udpMux
	tcpMux  ice.TCPMux

	mu      sync.Mutex
	streams map[string]*Stream
	closed  bool
	// closing runs the peer connections' teardowns done aside (see
	// Stream.close); Close waits for them.
	closing teardowns
}

// videoFeedback is what Parley asks of video senders and answers to video
// receivers: NACK for loss, PLI and FIR for keyframes, transport-cc so
// browsers adapt their send rate.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"},
	{Type: "nack", Parameter: "pli"}, {Type: "transport-cc"},
}

// codecs are the formats Parley forwards. RTX is left out on purpose:
// without it browsers retransmit on the media SSRC, so one cache and one
// sequence space serve NACKs on both legs.
var codecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: "transport-cc"}}}, PayloadType: 111},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 96},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: videoFeedback}, PayloadType: 98},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=2", RTCPFeedback: videoFeedback}, PayloadType: 100},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFeedback}, PayloadType: 102},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: videoFeedback}, PayloadType: 104},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f", RTCPFeedback: videoFeedback}, PayloadType: 106},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 45},
}

// NewMediaEngine returns a MediaEngine with the codecs Parley forwards.
// The media client in pkg/rtcclient uses it too, so both ends agree.
func NewMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range codecs {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, kind); err != nil {
			return nil, err
		}
	}
	// Simulcast layers are told apart by these header extensions: the
	// transceiver (mid) and the layer (rid) of each packet.
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// New opens the SFU's sockets.
func New(cfg Config) (*SFU, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &SFU{log: cfg.Log, streams: map[string]*Stream{}}
	ip := net.ParseIP(cfg.ListenIP)
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	udpMux, port, batch, err := listenUDP(ip, cfg.UDPPort, cfg.PublicIPs, lf.NewLogger("ice-udp"))
	if err != nil {
		return nil, err
	}
	s.udpMux, s.udpAddr, s.batch = udpMux, &net.UDPAddr{IP: ip, Port: port}, batch

	se := webrtc.SettingEngine{}
	se.LoggerFactory = lf
	se.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCPPort >= 0 {
		tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: cfg.TCPPort})
		if err != nil {
			udpMux.Close()
			return nil, fmt.Errorf("rtc tcp port %d: %w", cfg.TCPPort, err)
		}
		s.tcp = tcp
		s.tcpMux = webrtc.NewICETCPMux(lf.NewLogger("ice-tcp"), tcp, 64)
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	se.SetIncludeLoopbackCandidate(true)
	// mDNS would open multicast sockets to resolve browsers' .local
	// candidates; the browser's own connectivity checks tell us its
	// address anyway (peer-reflexive candidates).
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}

	m, err := NewMediaEngine()
	if err != nil {
		s.Close()
		return nil, err
	}
	reg := &interceptor.Registry{}
	// NACKs toward publishers come from Pion's generator; NACKs from
	// subscribers are answered by the down tracks from the receiver's
	// cache, so the per-sender responder (a copy of every packet per
	// subscriber) is not registered.
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		s.Close()
		return nil, err
	}
	reg.Add(gen)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		s.Close()
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		s.Close()
		return nil, err
	}
	// Loopback candidates serve clients on this machine only: a remote
	// client would check them against its own loopback. Each kind of peer
	// connection has an API with them and one without.
	remote := se
	remote.SetIncludeLoopbackCandidate(false) // ICE-TCP candidates
	remote.SetICEUDPMux(noLoopbackMux{s.udpMux})
	s.api[local] = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	s.api[elsewhere] = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(remote))
	// A subscriber's peer connection only sends media: it needs sender
	// reports (for lip sync) and nothing that watches incoming media —
	// NACK generation, receiver reports, transport-wide feedback — each of
	// which is a goroutine and buffers per peer connection.
	subReg := &interceptor.Registry{}
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		s.Close()
		return nil, err
	}
	subReg.Add(sr)
	s.subAPI[local] = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(subReg), webrtc.WithSettingEngine(se))
	s.subAPI[elsewhere] = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(subReg), webrtc.WithSettingEngine(remote))
	return s, nil
}

// UDPAddr is the address of the ICE UDP sockets: their port, and the
// listen IP (nil for one socket per local address).
func (s *SFU) UDPAddr() *net.UDPAddr { return s.udpAddr }

// TCPAddr is the ICE-TCP address, or nil when ICE-TCP is off.
func (s *SFU) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// ErrClosed is returned by an SFU that has been closed.
var ErrClosed = errors.New("sfu: closed")

// Close tears down every stream and the sockets.
func (s *SFU) Close() error {
	s.mu.Lock()
	s.closed = true
	streams := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	for _, st := range streams {
		st.Close()
	}
	s.closing.Wait()
	var errs []error
	if s.udpMux != nil {
		errs = append(errs, s.udpMux.Close())
	}
	if s.tcpMux != nil {
		errs = append(errs, s.tcpMux.Close())
	}
	return errors.Join(errs...)
}

// Stream returns a published stream by id.
func (s *SFU) Stream(id string) (*Stream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[id]
	return st, ok
}

// Where a client is, for the candidates its peer connection offers.
const (
	elsewhere = 0 // another machine: no loopback candidates
	local     = 1 // this machine (loopback): every candidate
)

// placeOf picks the API of a client on this machine or elsewhere.
func placeOf(onLoopback bool) int {
	if onLoopback {
		return local
	}
	return elsewhere
}

func (s *SFU) newPeerConnection(api *webrtc.API) (*webrtc.PeerConnection, error) {
	return api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
}

// releaseTCP closes a peer connection's ICE-TCP connections once ICE has
// chosen a UDP pair. Clients that try every transport (browsers, Pion)
// open a TCP connection to each of the SFU's TCP candidates during the
// checks; with UDP chosen, media never uses them, yet each would keep
// goroutines and buffers for as long as the peer connection lives. An ICE
// restart gathers new candidates, TCP ones included.
func (s *SFU) releaseTCP(pc *webrtc.PeerConnection) {
	if s.tcpMux == nil {
		return
	}
	t := pc.SCTP().Transport().ICETransport()
	pair, err := t.GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Protocol != webrtc.ICEProtocolUDP {
		return
	}
	params, err := t.GetLocalParameters()
	if err != nil || params.UsernameFragment == "" {
		return
	}
	s.tcpMux.RemoveConnByUfrag(params.UsernameFragment)
}

// noLoopbackMux is the ICE UDP mux without its loopback addresses, for
// peer connections of clients elsewhere: the agent gathers a host
// candidate per address the mux lists, and leaves out loopback only for
// a single-socket mux itself.
type noLoopbackMux struct{ ice.UDPMux }

func (m noLoopbackMux) GetListenAddresses() []net.Addr {
	var out []net.Addr
	for _, a := range m.UDPMux.GetListenAddresses() {
		if u, ok := a.(*net.UDPAddr); ok && u.IP.IsLoopback() {
			continue
		}
		out = append(out, a)
	}
	return out
}
