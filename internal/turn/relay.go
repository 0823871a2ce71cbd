package turn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// Errors the relay address generator answers with; Pion turns them into a
// 508 (Insufficient Capacity) for the client.
var (
	errTCPRelay = errors.New("turn: TCP relays (RFC 6062) are not offered")
	errFamily   = errors.New("turn: no relay address of that family")
)

// relayGenerator makes the UDP sockets of allocations. Each relay socket
// is announced at one address, ip: the public IP, or the address clients
// reach the server at. The socket binds to ip itself when it is an address
// of this host, so that what the relay sends to a peer leaves from the
// address the peer was told about (a loopback-only test server included);
// behind 1:1 NAT ip is not local and the socket binds to every interface.
//
// What a relay may reach is limited (egress): any public address, but on
// this host (its own and loopback addresses, the announced one included)
// and on private networks only the node's media ports and the relays of
// this server. A client holding credentials can then not use a relay to
// talk to the host's or the local network's UDP services (DNS, caches,
// monitoring agents), and two clients can still meet through their
// relays, or reach the SFU. Datagrams to or from anywhere else are
// dropped, as a firewall would, and counted.
type relayGenerator struct {
	ip   net.IP
	bind net.IP // nil: every interface

	own        map[netip.Addr]bool // this host's addresses, read at start
	mediaPorts map[uint16]bool

	mu     sync.Mutex
	relays map[uint16]int // ports of this server's open relays

	refused atomic.Uint64
}

func newRelayGenerator(ip net.IP, mediaPorts []int) *relayGenerator {
	g := &relayGenerator{ip: ip, own: map[netip.Addr]bool{}, mediaPorts: map[uint16]bool{}, relays: map[uint16]int{}}
	for _, p := range mediaPorts {
		if p > 0 && p < 1<<16 {
			g.mediaPorts[uint16(p)] = true
		}
	}
	if a, ok := netip.AddrFromSlice(ip); ok {
		g.own[a.Unmap()] = true
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					g.own[ip.Unmap()] = true
				}
			}
		}
	}
	network := "udp4"
	if ip.To4() == nil {
		network = "udp6"
	}
	if c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip}); err == nil {
		c.Close()
		g.bind = ip
	}
	return g
}

func (g *relayGenerator) Validate() error {
	if g.ip == nil {
		return errors.New("turn: no relay address")
	}
	return nil
}

func (g *relayGenerator) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if (c.Network == "udp6") != (g.ip.To4() == nil) {
		return nil, nil, errFamily
	}
	conn, err := net.ListenUDP(c.Network, &net.UDPAddr{IP: g.bind, Port: c.RequestedPort})
	if err != nil {
		return nil, nil, err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	g.mu.Lock()
	g.relays[uint16(port)]++
	g.mu.Unlock()
	return &relayConn{UDPConn: conn, g: g, port: uint16(port)}, &net.UDPAddr{IP: g.ip, Port: port}, nil
}

// egress reports whether a relay may exchange datagrams with addr.
func (g *relayGenerator) egress(addr netip.AddrPort) bool {
	ip := addr.Addr().Unmap()
	if ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip) && !g.own[ip] {
		return true // the Internet: what relays are for
	}
	if !g.own[ip] && !ip.IsLoopback() {
		return false // another host of a private network, or nothing routable
	}
	if g.mediaPorts[addr.Port()] {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.relays[addr.Port()] > 0
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598):
// private in effect, though netip does not call it so.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// relayConn is one allocation's relay socket, filtered by egress.
type relayConn struct {
	*net.UDPConn
	g    *relayGenerator
	port uint16
	once sync.Once
}

func (c *relayConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	u, ok := addr.(*net.UDPAddr)
	if !ok || !c.g.egress(u.AddrPort()) {
		c.g.refused.Add(1)
		return len(b), nil // dropped, as a firewall would
	}
	return c.UDPConn.WriteTo(b, addr)
}

func (c *relayConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(b)
		if err != nil {
			return n, nil, err
		}
		if c.g.egress(from) {
			return n, net.UDPAddrFromAddrPort(from), nil
		}
		c.g.refused.Add(1)
	}
}

func (c *relayConn) Close() error {
	c.once.Do(func() {
		c.g.mu.Lock()
		if c.g.relays[c.port]--; c.g.relays[c.port] <= 0 {
			delete(c.g.relays, c.port)
		}
		c.g.mu.Unlock()
	})
	return c.UDPConn.Close()
}

func (g *relayGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// certFile serves a certificate from PEM files, reading them again when
// their modification time changes (checked at most once a minute), so
// that a renewed certificate is used without a restart.
type certFile struct {
	certPath, keyPath string

	mu       sync.Mutex
	cert     *tls.Certificate
	certMod  time.Time
	keyMod   time.Time
	checked  time.Time
	interval time.Duration
}

func newCertFile(certPath, keyPath string) (*certFile, error) {
	c := &certFile{certPath: certPath, keyPath: keyPath, interval: time.Minute}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certFile) reload() error {
	c.checked = time.Now()
	ci, err := os.Stat(c.certPath)
	if err != nil {
		return fmt.Errorf("turn certificate: %w", err)
	}
	ki, err := os.Stat(c.keyPath)
	if err != nil {
		return fmt.Errorf("turn key: %w", err)
	}
	if c.cert != nil && ci.ModTime().Equal(c.certMod) && ki.ModTime().Equal(c.keyMod) {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		return fmt.Errorf("turn certificate: %w", err)
	}
	c.cert, c.certMod, c.keyMod = &cert, ci.ModTime(), ki.ModTime()
	return nil
}

// get is tls.Config.GetCertificate. A failed reload (a renewal caught
// half-written) keeps the certificate in use.
func (c *certFile) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) >= c.interval {
		_ = c.reload()
	}
	return c.cert, nil
}

// leaf is the current certificate's first one, or nil.
func (c *certFile) leaf() *x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || len(c.cert.Certificate) == 0 {
		return nil
	}
	if c.cert.Leaf != nil {
		return c.cert.Leaf
	}
	leaf, err := x509.ParseCertificate(c.cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}
