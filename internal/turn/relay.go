package turn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
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
type relayGenerator struct {
	ip   net.IP
	bind net.IP // nil: every interface
}

func newRelayGenerator(ip net.IP) *relayGenerator {
	g := &relayGenerator{ip: ip}
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
	return conn, &net.UDPAddr{IP: g.ip, Port: conn.LocalAddr().(*net.UDPAddr).Port}, nil
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
