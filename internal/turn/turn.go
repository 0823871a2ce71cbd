// Package turn is the node's embedded TURN server (RFC 8656) on Pion: UDP
// and TCP on one port, TLS (turns:) on another when a certificate is
// configured, and short-lived credentials derived from a shared secret
// (the "TURN REST API" scheme), so that a client behind a restrictive
// firewall reaches the SFU, or a peer, through the relay.
//
// The relay carries UDP only: TCP relays (RFC 6062), which no WebRTC
// client asks for, would let a credential holder open TCP connections
// from this host to anything it can reach.
package turn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
)

// Defaults of Config.
const (
	DefaultTTL = 24 * time.Hour
	// DefaultMaxAllocations leaves room for a large session: Parley uses
	// one peer connection per subscription, and a browser allocates a
	// relay on each TURN URL (up to three) for each of them.
	DefaultMaxAllocations = 100
	DefaultRealm          = "parley"
)

// Lifetimes the server grants. An allocation lives 10 minutes unless the
// client refreshes it (at most an hour when the client asks for more), a
// permission 5 minutes, a channel binding 10 minutes: the values of RFC
// 8656, so that a client that vanishes frees its relay port soon.
const (
	AllocationLifetime = 10 * time.Minute
	PermissionLifetime = 5 * time.Minute
	ChannelLifetime    = 10 * time.Minute
)

// Bounds of the TCP and TLS listeners. Pion keeps an accepted connection
// as long as the client does: a connection silent for longer than an
// allocation lives holds nothing, and is closed; and connections beyond
// MaxConns are refused at once, so that idle sockets cannot use up the
// node's file descriptors.
const (
	IdleTimeout = AllocationLifetime + time.Minute
	MaxConns    = 10000
)

// Config configures a Server.
type Config struct {
	// Port is the UDP and TCP port (0 = any free one, the same for both).
	Port int
	// TLSPort is the TURN over TLS port (0 = any free one, -1 = none); it
	// is served only when CertFile and KeyFile are set.
	TLSPort int
	// CertFile and KeyFile are the PEM certificate (chain) and key of
	// turns:. They are read again when they change, so that a renewed
	// certificate needs no restart.
	CertFile, KeyFile string
	// Secret is the shared secret credentials derive from. Empty means the
	// one kept in SecretFile, generated there on first use.
	Secret     string
	SecretFile string
	// PublicIP, when set, is the address clients are told to reach TURN at
	// and the relay address of every allocation (a server behind 1:1
	// NAT).
	PublicIP string
	// ListenAddr is the node's HTTP listen address (host:port). Without a
	// PublicIP its host is the announced address: an IP as it is, a name
	// resolved, all interfaces (0.0.0.0, "") the address of the interface
	// holding the default route; 127.0.0.1 when nothing else is found.
	ListenAddr string
	// PublicURL is the node's public base URL; its host names the server
	// in turns: URLs when the certificate covers it.
	PublicURL string
	// TTL is how long credentials stay valid (default 24 h).
	TTL time.Duration
	// MaxAllocations bounds the allocations one connection id holds at
	// once (default DefaultMaxAllocations).
	MaxAllocations int
	// Realm is the TURN realm (default "parley").
	Realm string
	// MediaPorts are the node's media UDP ports (the SFU's): on this
	// host's addresses, relays may reach these and other relays only.
	MediaPorts []int
	Log        *slog.Logger
}

// ICEServer is one entry of a client's RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Server is a running TURN server.
type Server struct {
	log     *slog.Logger
	secret  string
	ttl     time.Duration
	host    net.IP // announced to clients in turn: and stun: URLs
	tlsHost string // announced in turns: URLs
	udp     *net.UDPConn
	tcp     *trackingListener
	tls     *trackingListener // nil without TLS
	pion    *pionturn.Server
	quota   *quota
	relay   *relayGenerator
}

// Refused counts the datagrams relays dropped because their peer was a
// host or port relays may not reach (see relayGenerator).
func (s *Server) Refused() uint64 { return s.relay.refused.Load() }

// New opens the listeners and starts serving.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxAllocations <= 0 {
		cfg.MaxAllocations = DefaultMaxAllocations
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	secret := cfg.Secret
	if secret == "" {
		if cfg.SecretFile == "" {
			return nil, errors.New("turn: neither a secret nor a secret file")
		}
		var err error
		if secret, err = LoadOrCreateSecret(cfg.SecretFile); err != nil {
			return nil, err
		}
	}

	host, guessed := announcedHost(cfg.PublicIP, cfg.ListenAddr)
	s := &Server{log: cfg.Log, secret: secret, ttl: cfg.TTL, host: host, quota: newQuota(cfg.MaxAllocations)}
	if guessed {
		s.log.Warn("turn: clients are told to reach TURN at a guessed address; set --public-ip if they reach this node at another one", "address", host.String())
	}

	// Listeners of the relay address's family only: an allocation gets a
	// relay address of the family the client came in with, and this
	// server has one relay address.
	udpNet, tcpNet := "udp4", "tcp4"
	if host.To4() == nil {
		udpNet, tcpNet = "udp6", "tcp6"
	}
	// The UDP listener binds to the announced address when it is this
	// host's: a reply from a socket bound to every interface leaves from
	// whatever address the route to the client picks, and a browser drops
	// TURN answers that do not come from the address it asked.
	bind := host
	if c, err := net.ListenUDP(udpNet, &net.UDPAddr{IP: host}); err == nil {
		c.Close()
	} else {
		bind = nil
	}
	udp, tcp, err := listenPair(udpNet, tcpNet, bind, cfg.Port)
	if err != nil {
		return nil, err
	}
	s.udp, s.tcp = udp, track(tcp, IdleTimeout, MaxConns)
	listeners := []pionturn.ListenerConfig{{Listener: s.tcp}}

	if cfg.CertFile != "" && cfg.KeyFile != "" && cfg.TLSPort >= 0 {
		certs, err := newCertFile(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			s.closeListeners()
			return nil, err
		}
		ln, err := net.ListenTCP(tcpNet, &net.TCPAddr{Port: cfg.TLSPort})
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("turn tls port %d: %w", cfg.TLSPort, err)
		}
		s.tls = track(ln, IdleTimeout, MaxConns)
		s.tlsHost = tlsHost(certs.leaf(), cfg.PublicURL, host)
		listeners = append(listeners, pionturn.ListenerConfig{Listener: tls.NewListener(s.tls, &tls.Config{
			GetCertificate: certs.get,
			MinVersion:     tls.VersionTLS12,
		})})
	}

	relay := newRelayGenerator(host, cfg.MediaPorts)
	s.relay = relay
	for i := range listeners {
		listeners[i].RelayAddressGenerator = relay
		listeners[i].PermissionHandler = allowPeer
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	s.pion, err = pionturn.NewServer(pionturn.ServerConfig{
		PacketConnConfigs: []pionturn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: relay, PermissionHandler: allowPeer}},
		ListenerConfigs:   listeners,
		LoggerFactory:     lf,
		Realm:             cfg.Realm,
		AuthHandler: authHandler(secret, func(username string, err error) {
			s.log.Debug("turn: credentials refused", "username", username, "err", err)
		}),
		QuotaHandler:       s.quota.allow,
		EventHandler:       s.quota.events(s.log),
		AllocationLifetime: AllocationLifetime,
		PermissionTimeout:  PermissionLifetime,
		ChannelBindTimeout: ChannelLifetime,
	})
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turn: %w", err)
	}
	return s, nil
}

// listenPair opens UDP and TCP on one port number; with port 0 it draws
// free UDP ports until TCP can have the same one.
func listenPair(udpNet, tcpNet string, bind net.IP, port int) (*net.UDPConn, *net.TCPListener, error) {
	for attempt := 1; ; attempt++ {
		udp, err := net.ListenUDP(udpNet, &net.UDPAddr{IP: bind, Port: port})
		if err != nil {
			return nil, nil, fmt.Errorf("turn udp port %d: %w", port, err)
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.ListenTCP(tcpNet, &net.TCPAddr{Port: p})
		if err == nil {
			// Relayed media for many clients arrives on this socket.
			_ = udp.SetReadBuffer(4 << 20)
			_ = udp.SetWriteBuffer(4 << 20)
			return udp, tcp, nil
		}
		udp.Close()
		if port != 0 || attempt == 20 {
			return nil, nil, fmt.Errorf("turn tcp port %d: %w", p, err)
		}
	}
}

// announcedHost picks the address clients are told to reach TURN at, and
// reports whether it had to guess.
func announcedHost(publicIP, listenAddr string) (ip net.IP, guessed bool) {
	if ip := net.ParseIP(publicIP); ip != nil {
		return unmap(ip), false
	}
	h, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		h = listenAddr
	}
	if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
		return unmap(ip), false
	}
	if ip := net.ParseIP(h); ip != nil || h == "" {
		// Listening on every interface: the one holding the default route
		// is the best guess. Connecting a UDP socket sends nothing.
		if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
			defer c.Close()
			return unmap(c.LocalAddr().(*net.UDPAddr).IP), true
		}
		return net.IPv4(127, 0, 0, 1).To4(), true
	}
	if ips, err := net.LookupIP(h); err == nil && len(ips) > 0 {
		for _, ip := range ips {
			if ip.To4() != nil {
				return unmap(ip), false
			}
		}
		return ips[0], false
	}
	return net.IPv4(127, 0, 0, 1).To4(), true
}

func unmap(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// tlsHost is the name put in turns: URLs: TLS clients check it against
// the certificate, so an IP rarely does. The public URL's host when the
// certificate covers it, else the certificate's first exact name, else
// the announced IP.
func tlsHost(leaf *x509.Certificate, publicURL string, ip net.IP) string {
	if leaf == nil {
		return ip.String()
	}
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" && leaf.VerifyHostname(u.Hostname()) == nil {
		return u.Hostname()
	}
	for _, name := range leaf.DNSNames {
		if !strings.Contains(name, "*") {
			return name
		}
	}
	return ip.String()
}

// allowPeer refuses permissions toward addresses that are no peer: the
// unspecified address, multicast and broadcast, which would make one
// client's datagrams reach many hosts.
func allowPeer(_ net.Addr, peer net.IP) bool {
	return !peer.IsUnspecified() && !peer.IsMulticast() && !peer.Equal(net.IPv4bcast)
}

// ICEServers returns what a client with that connection id is told to
// use: STUN, and TURN over UDP, TCP and (when configured) TLS with fresh
// credentials valid for the TTL. A connection asking again later gets
// new ones.
func (s *Server) ICEServers(connectionID string) []ICEServer {
	username, credential := Credentials(s.secret, connectionID, time.Now().Add(s.ttl))
	hp := net.JoinHostPort(s.host.String(), strconv.Itoa(s.UDPAddr().Port))
	turnURLs := []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
	if a := s.TLSAddr(); a != nil {
		turnURLs = append(turnURLs, "turns:"+net.JoinHostPort(s.tlsHost, strconv.Itoa(a.Port))+"?transport=tcp")
	}
	return []ICEServer{
		{URLs: []string{"stun:" + hp}},
		{URLs: turnURLs, Username: username, Credential: credential},
	}
}

// Host is the address clients are told to reach TURN at.
func (s *Server) Host() net.IP { return s.host }

// UDPAddr is the address of the UDP listener; TCP listens on the same
// port.
func (s *Server) UDPAddr() *net.UDPAddr { return s.udp.LocalAddr().(*net.UDPAddr) }

// TCPAddr is the address of the TCP listener.
func (s *Server) TCPAddr() *net.TCPAddr { return s.tcp.Addr().(*net.TCPAddr) }

// TLSAddr is the address of the TLS listener, or nil without TLS.
func (s *Server) TLSAddr() *net.TCPAddr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr().(*net.TCPAddr)
}

// Allocations is the number of live allocations.
func (s *Server) Allocations() int { return s.pion.AllocationCount() }

// Close stops serving: listeners, client connections and relays close.
func (s *Server) Close() error {
	err := s.pion.Close()
	// Pion closes the listeners but not the TCP and TLS connections it
	// accepted; their clients would otherwise keep a dead server's
	// goroutines.
	s.tcp.closeConns()
	if s.tls != nil {
		s.tls.closeConns()
	}
	return err
}

func (s *Server) closeListeners() {
	s.udp.Close()
	s.tcp.Close()
	if s.tls != nil {
		s.tls.Close()
	}
}

// quota counts the live allocations of each user id.
type quota struct {
	max  int
	mu   sync.Mutex
	live map[string]int
}

func newQuota(max int) *quota { return &quota{max: max, live: map[string]int{}} }

// allow is Pion's QuotaHandler. The count moves when allocations are
// made, so simultaneous requests over several TCP connections may pass
// the bound by a few: a bound against leaks, not an exact budget.
func (q *quota) allow(userID, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.live[userID] < q.max
}

// events counts allocations as they come and go, and logs them.
func (q *quota) events(log *slog.Logger) pionturn.EventHandler {
	return pionturn.EventHandler{
		OnAllocationCreated: func(src, _ net.Addr, _, userID, _ string, relay net.Addr, _ int) {
			q.mu.Lock()
			q.live[userID]++
			q.mu.Unlock()
			log.Debug("turn: allocation created", "connection", userID, "client", src.String(), "relay", relay.String())
		},
		OnAllocationDeleted: func(src, _ net.Addr, _, userID, _ string) {
			q.mu.Lock()
			if q.live[userID]--; q.live[userID] <= 0 {
				delete(q.live, userID)
			}
			q.mu.Unlock()
			log.Debug("turn: allocation deleted", "connection", userID, "client", src.String())
		},
	}
}

// trackingListener remembers the connections it accepted so that Close
// can end them, refuses connections beyond max, and gives each an idle
// timeout.
type trackingListener struct {
	net.Listener
	idle  time.Duration
	max   int
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func track(ln net.Listener, idle time.Duration, max int) *trackingListener {
	return &trackingListener{Listener: ln, idle: idle, max: max, conns: map[*trackedConn]struct{}{}}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, l: l}
		l.mu.Lock()
		full := len(l.conns) >= l.max
		if !full {
			l.conns[tc] = struct{}{}
		}
		l.mu.Unlock()
		if full {
			c.Close()
			continue
		}
		return tc, nil
	}
}

func (l *trackingListener) closeConns() {
	l.mu.Lock()
	conns := l.conns
	l.conns = map[*trackedConn]struct{}{}
	l.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	l *trackingListener
}

// Read waits at most the idle timeout for the client to say something.
func (c *trackedConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.l.idle))
	return c.Conn.Read(b)
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
