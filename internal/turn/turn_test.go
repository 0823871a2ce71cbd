package turn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/parleyhq/parley/internal/turn/turntest"
)

const testSecret = "0123456789abcdef-test-secret"

func TestCredentialsRoundTrip(t *testing.T) {
	now := time.Now()
	username, password := Credentials(testSecret, "conn-1", now.Add(time.Hour))
	if want := strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + ":conn-1"; username != want {
		t.Fatalf("username %q, want %q", username, want)
	}
	// The password is the one coturn's use-auth-secret and Pion's own
	// TURN REST handler expect for that username.
	_, pionKey, ok := pionturn.LongTermTURNRESTAuthHandler(testSecret, nil)(&pionturn.RequestAttributes{Username: username, Realm: DefaultRealm})
	if !ok || string(pionKey) != string(pionturn.GenerateAuthKey(username, DefaultRealm, password)) {
		t.Fatalf("password %q is not the one Pion derives", password)
	}
	if user, err := CheckUsername(username, now); err != nil || user != "conn-1" {
		t.Fatalf("CheckUsername: %q, %v", user, err)
	}
}

func TestCheckUsername(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		username string
		user     string
		err      error
	}{
		{"1800000060:abc", "abc", nil},
		{"1800000001:a:b", "a:b", nil},
		{"1800000000:abc", "", ErrExpired},
		{"1799999999:abc", "", ErrExpired},
		{"1800000060", "", ErrMalformed},
		{"1800000060:", "", ErrMalformed},
		{"soon:abc", "", ErrMalformed},
		{"-5:abc", "", ErrMalformed},
		{"", "", ErrMalformed},
	} {
		user, err := CheckUsername(tc.username, now)
		if user != tc.user || !errors.Is(err, tc.err) {
			t.Errorf("%q: %q, %v; want %q, %v", tc.username, user, err, tc.user, tc.err)
		}
	}
}

func TestAuthHandler(t *testing.T) {
	auth := authHandler(testSecret, nil)
	good, pw := Credentials(testSecret, "conn-1", time.Now().Add(time.Minute))
	expired, expiredPW := Credentials(testSecret, "conn-1", time.Now().Add(-time.Second))
	for _, tc := range []struct {
		name, username, password string
		ok                       bool // the handler answers a key
		match                    bool // the key is the one the client computes
	}{
		{"valid", good, pw, true, true},
		{"wrong password", good, "bm90IGl0", true, false},
		{"other secret", good, sign("another-secret-entirely", good), true, false},
		{"expired", expired, expiredPW, false, false},
		{"malformed", "conn-1", sign(testSecret, "conn-1"), false, false},
	} {
		user, key, ok := auth(&pionturn.RequestAttributes{Username: tc.username, Realm: DefaultRealm})
		if ok != tc.ok {
			t.Errorf("%s: ok=%v", tc.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if user != "conn-1" {
			t.Errorf("%s: user id %q", tc.name, user)
		}
		client := pionturn.GenerateAuthKey(tc.username, DefaultRealm, tc.password)
		if match := string(key) == string(client); match != tc.match {
			t.Errorf("%s: key matches the client's: %v", tc.name, match)
		}
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "turn.secret")
	s1, err := LoadOrCreateSecret(file)
	if err != nil || len(s1) < 32 {
		t.Fatalf("%q, %v", s1, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v", fi.Mode(), err)
	}
	s2, err := LoadOrCreateSecret(file)
	if err != nil || s2 != s1 {
		t.Fatalf("second start: %q, %v; want %q", s2, err, s1)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".turn-secret-*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	short := filepath.Join(dir, "short.secret")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := LoadOrCreateSecret(short); err == nil {
		t.Fatal("a 3-character secret was accepted")
	}
}

func TestAnnouncedHost(t *testing.T) {
	for _, tc := range []struct {
		publicIP, listen string
		want             string // "" = any address, guessed
	}{
		{"203.0.113.7", "127.0.0.1:8080", "203.0.113.7"},
		{"2001:db8::1", "localhost:8080", "2001:db8::1"},
		{"", "127.0.0.1:0", "127.0.0.1"},
		{"", "192.0.2.10:8080", "192.0.2.10"},
		{"", "[::1]:8080", "::1"},
		{"", "localhost:8080", "127.0.0.1"},
		{"", "0.0.0.0:8080", ""},
		{"", ":8080", ""},
	} {
		ip, guessed := announcedHost(tc.publicIP, tc.listen)
		switch {
		case tc.want == "" && (!guessed || ip == nil):
			t.Errorf("%q %q: %v, guessed %v; want a guess", tc.publicIP, tc.listen, ip, guessed)
		case tc.want != "" && (guessed || ip.String() != tc.want):
			t.Errorf("%q %q: %v, guessed %v; want %s", tc.publicIP, tc.listen, ip, guessed, tc.want)
		}
	}
}

func TestAllowPeer(t *testing.T) {
	for ip, ok := range map[string]bool{
		"127.0.0.1": true, "192.0.2.1": true, "2001:db8::1": true,
		"0.0.0.0": false, "::": false, "224.0.0.251": false, "ff02::1": false, "255.255.255.255": false,
	} {
		if allowPeer(nil, net.ParseIP(ip)) != ok {
			t.Errorf("%s: want allowed=%v", ip, ok)
		}
	}
}

// testCert writes a self-signed certificate for name (and 127.0.0.1) and
// returns the files and a pool trusting it.
func testCert(t *testing.T, dir, name string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

type testServer struct {
	*Server
	pool *x509.CertPool // trusts its TLS certificate
}

// newTestServer starts a server on loopback with TLS, ports chosen by the
// system; change adjusts the configuration first.
func newTestServer(t *testing.T, change func(*Config)) testServer {
	t.Helper()
	certFile, keyFile, pool := testCert(t, t.TempDir(), "turn.test")
	cfg := Config{Port: 0, TLSPort: 0, CertFile: certFile, KeyFile: keyFile, Secret: testSecret, ListenAddr: "127.0.0.1:0"}
	if change != nil {
		change(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return testServer{s, pool}
}

// dial makes a TURN client of s over transport (udp, tcp or tls).
func (s testServer) dial(t *testing.T, transport, username, password string) *pionturn.Client {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.UDPAddr().Port))
	if transport != "tls" {
		return turntest.Client(t, turntest.Conn(t, transport, addr), addr, username, password)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.TLSAddr().Port))
	c, err := tls.Dial("tcp4", addr, &tls.Config{RootCAs: s.pool, ServerName: "turn.test"})
	if err != nil {
		t.Fatal(err)
	}
	return turntest.Client(t, pionturn.NewSTUNConn(c), addr, username, password)
}

// TestRelay: two clients allocate, permit each other and exchange
// datagrams through their relays, over every client transport.
func TestRelay(t *testing.T) {
	s := newTestServer(t, nil)
	for _, tc := range []struct{ a, b string }{
		{"udp", "udp"}, {"tcp", "tcp"}, {"udp", "tcp"}, {"tls", "udp"},
	} {
		t.Run(tc.a+"-"+tc.b, func(t *testing.T) {
			ua, pa := Credentials(testSecret, "alice", time.Now().Add(time.Minute))
			ub, pb := Credentials(testSecret, "bob", time.Now().Add(time.Minute))
			a, b := s.dial(t, tc.a, ua, pa), s.dial(t, tc.b, ub, pb)
			ra, err := a.Allocate()
			if err != nil {
				t.Fatalf("allocate over %s: %v", tc.a, err)
			}
			defer ra.Close()
			rb, err := b.Allocate()
			if err != nil {
				t.Fatalf("allocate over %s: %v", tc.b, err)
			}
			defer rb.Close()
			if ip := ra.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Fatalf("relay address %v, want the loopback address the server announces", ra.LocalAddr())
			}
			if err := a.CreatePermission(rb.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if err := b.CreatePermission(ra.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			for _, dir := range []struct {
				from, to net.PacketConn
			}{{ra, rb}, {rb, ra}} {
				msg := []byte("hello from " + dir.from.LocalAddr().String())
				if _, err := dir.from.WriteTo(msg, dir.to.LocalAddr()); err != nil {
					t.Fatal(err)
				}
				dir.to.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 1500)
				n, from, err := dir.to.ReadFrom(buf)
				if err != nil {
					t.Fatalf("%v → %v: %v", dir.from.LocalAddr(), dir.to.LocalAddr(), err)
				}
				if string(buf[:n]) != string(msg) || from.String() != dir.from.LocalAddr().String() {
					t.Fatalf("got %q from %v", buf[:n], from)
				}
			}
		})
	}
}

// TestRefused: wrong and expired credentials get no allocation, and
// neither does a TCP relay (RFC 6062).
func TestRefused(t *testing.T) {
	s := newTestServer(t, nil)
	good, pw := Credentials(testSecret, "c", time.Now().Add(time.Minute))
	expired, expiredPW := Credentials(testSecret, "c", time.Now().Add(-time.Second))
	_, otherPW := Credentials("some-other-secret-0000", "c", time.Now().Add(time.Minute))
	for _, tc := range []struct {
		name, transport, username, password string
		want                                string // in the error
	}{
		{"wrong password over udp", "udp", good, "d3Jvbmc=", "401"},
		{"wrong password over tcp", "tcp", good, "d3Jvbmc=", "401"},
		{"other secret", "udp", good, otherPW, "401"},
		{"expired over udp", "udp", expired, expiredPW, "401"},
		{"expired over tcp", "tcp", expired, expiredPW, "401"},
		{"no expiry", "udp", "c", sign(testSecret, "c"), "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial(t, tc.transport, tc.username, tc.password)
			conn, err := c.Allocate()
			if err == nil {
				conn.Close()
				t.Fatal("allocated")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
		})
	}
	t.Run("tcp relay", func(t *testing.T) {
		c := s.dial(t, "tcp", good, pw)
		if a, err := c.AllocateTCP(); err == nil {
			a.Close()
			t.Fatal("a TCP relay was allocated")
		}
	})
	if n := s.Allocations(); n != 0 {
		t.Fatalf("%d allocations after refusals", n)
	}
}

// TestQuota: one connection id holds at most MaxAllocations relays, and
// gets one again when it frees one; another id is not affected.
func TestQuota(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.MaxAllocations = 2 })
	var relays []net.PacketConn
	for i := range 3 {
		// Fresh credentials each time: the quota counts the connection,
		// not the username.
		u, p := Credentials(testSecret, "greedy", time.Now().Add(time.Duration(i+1)*time.Minute))
		r, err := s.dial(t, "udp", u, p).Allocate()
		if i < 2 {
			if err != nil {
				t.Fatalf("allocation %d: %v", i+1, err)
			}
			relays = append(relays, r)
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "486") {
			t.Fatalf("allocation beyond the quota: %v, want 486", err)
		}
	}
	u, p := Credentials(testSecret, "modest", time.Now().Add(time.Minute))
	r, err := s.dial(t, "udp", u, p).Allocate()
	if err != nil {
		t.Fatalf("another connection: %v", err)
	}
	defer r.Close()

	relays[0].Close() // deallocates (a refresh with lifetime 0)
	deadline := time.Now().Add(5 * time.Second)
	for s.Allocations() != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	u, p = Credentials(testSecret, "greedy", time.Now().Add(time.Minute))
	r, err = s.dial(t, "tcp", u, p).Allocate()
	if err != nil {
		t.Fatalf("after freeing one: %v", err)
	}
	r.Close()
	relays[1].Close()
}

func TestICEServers(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.TTL = time.Hour })
	before := time.Now()
	servers := s.ICEServers("conn-42")
	port, tlsPort := s.UDPAddr().Port, s.TLSAddr().Port
	if s.TCPAddr().Port != port {
		t.Fatalf("tcp port %d, udp port %d: want one port", s.TCPAddr().Port, port)
	}
	if len(servers) != 2 {
		t.Fatalf("%+v", servers)
	}
	hp := "127.0.0.1:" + strconv.Itoa(port)
	if got := servers[0]; len(got.URLs) != 1 || got.URLs[0] != "stun:"+hp || got.Username != "" {
		t.Fatalf("stun entry %+v", got)
	}
	turnEntry := servers[1]
	want := []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp", "turns:turn.test:" + strconv.Itoa(tlsPort) + "?transport=tcp"}
	if strings.Join(turnEntry.URLs, " ") != strings.Join(want, " ") {
		t.Fatalf("turn URLs %v, want %v", turnEntry.URLs, want)
	}
	exp, user, _ := strings.Cut(turnEntry.Username, ":")
	e, _ := strconv.ParseInt(exp, 10, 64)
	if user != "conn-42" || e < before.Add(time.Hour).Unix() || e > time.Now().Add(time.Hour).Unix() {
		t.Fatalf("username %q: want <now+1h>:conn-42", turnEntry.Username)
	}
	// The credentials work.
	r, err := s.dial(t, "udp", turnEntry.Username, turnEntry.Credential).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()

	// Without a certificate: no turns:; the public IP is announced.
	plain := newTestServer(t, func(c *Config) { c.CertFile, c.KeyFile, c.PublicIP = "", "", "203.0.113.9" })
	urls := plain.ICEServers("x")[1].URLs
	if plain.TLSAddr() != nil || len(urls) != 2 || !strings.HasPrefix(urls[0], "turn:203.0.113.9:") {
		t.Fatalf("without TLS, with a public IP: %v", urls)
	}
}

func TestTLSHost(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testCert(t, dir, "turn.example.com")
	cf, err := newCertFile(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ip := net.IPv4(192, 0, 2, 1)
	for publicURL, want := range map[string]string{
		"":                              "turn.example.com",
		"https://turn.example.com:8443": "turn.example.com",
		"https://video.example.org":     "turn.example.com", // not covered
	} {
		if got := tlsHost(cf.leaf(), publicURL, ip); got != want {
			t.Errorf("%q: %q, want %q", publicURL, got, want)
		}
	}
	if got := tlsHost(nil, "https://x.example", ip); got != "192.0.2.1" {
		t.Errorf("without a certificate: %q", got)
	}

	// A renewed certificate is picked up.
	newCert, newKey, _ := testCert(t, dir, "renewed.example.com")
	later := time.Now().Add(time.Minute)
	os.Rename(newCert, certFile)
	os.Rename(newKey, keyFile)
	os.Chtimes(certFile, later, later)
	cf.interval = 0
	c, err := cf.get(nil)
	if err != nil || c.Leaf == nil || c.Leaf.DNSNames[0] != "renewed.example.com" {
		t.Fatalf("after renewal: %v", err)
	}
}

// TestTrackingListener: silent connections are closed after the idle
// timeout, connections beyond the bound at once, and Close ends the rest.
func TestTrackingListener(t *testing.T) {
	raw, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := track(raw, 300*time.Millisecond, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
			// The server side reads as Pion's loop does.
			go func() {
				buf := make([]byte, 64)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp4", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closed reports whether the server closed c within d.
	closed := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}

	idle, chatty := dial(), dial()
	<-accepted
	<-accepted
	if third := dial(); !closed(third, time.Second) {
		t.Fatal("a connection beyond the bound stayed open")
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				chatty.Write([]byte("x"))
			}
		}
	}()
	if !closed(idle, 2*time.Second) {
		t.Fatal("a silent connection outlived the idle timeout")
	}
	if closed(chatty, 500*time.Millisecond) {
		t.Fatal("a talking connection was closed")
	}
	close(stop)
	l.closeConns()
	if !closed(chatty, time.Second) {
		t.Fatal("closeConns left a connection open")
	}
}

func TestSameFixedPort(t *testing.T) {
	first := newTestServer(t, func(c *Config) { c.CertFile = "" })
	port := first.UDPAddr().Port
	first.Close()
	s := newTestServer(t, func(c *Config) { c.Port, c.CertFile = port, "" })
	if s.UDPAddr().Port != port || s.TCPAddr().Port != port {
		t.Fatalf("udp %v tcp %v, want port %d", s.UDPAddr(), s.TCPAddr(), port)
	}
	if _, err := New(Config{Port: port, Secret: testSecret, ListenAddr: "127.0.0.1:0", TLSPort: -1}); err == nil {
		t.Fatal("a second server took the same port")
	}
}

func TestRelayEgress(t *testing.T) {
	g := &relayGenerator{
		own:        map[netip.Addr]bool{netip.MustParseAddr("127.0.0.1"): true, netip.MustParseAddr("203.0.113.5"): true, netip.MustParseAddr("10.1.2.3"): true},
		mediaPorts: map[uint16]bool{7882: true},
		relays:     map[uint16]int{40000: 1},
	}
	for addr, want := range map[string]bool{
		"8.8.8.8:53":            true, // the Internet
		"[2001:4860::8888]:53":  true,
		"10.0.0.5:7882":         false, // another host of a private network
		"192.168.1.1:53":        false,
		"172.16.0.1:7882":       false,
		"100.64.1.1:5000":       false, // carrier-grade NAT
		"[fd00::1]:7882":        false,
		"[fe80::1]:53":          false, // link-local
		"127.0.0.1:53":          false, // this host: only media and relays
		"127.0.0.1:7882":        true,
		"127.0.0.1:40000":       true,
		"127.0.0.2:7882":        true, // loopback is this host whatever the address
		"[::1]:53":              false,
		"[::ffff:127.0.0.1]:53": false,
		"203.0.113.5:53":        false, // this host's announced address
		"203.0.113.5:7882":      true,
		"10.1.2.3:40000":        true, // this host's private address
		"10.1.2.3:40001":        false,
	} {
		if got := g.egress(netip.MustParseAddrPort(addr)); got != want {
			t.Errorf("%s: egress %v, want %v", addr, got, want)
		}
	}
}

// TestRelayCannotReachLocalServices: a relay's datagrams to a UDP service
// of this host are dropped unless it is on a media port, and nothing the
// service sends comes back through the relay.
func TestRelayCannotReachLocalServices(t *testing.T) {
	service, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer service.Close()
	media, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	s := newTestServer(t, func(c *Config) { c.MediaPorts = []int{media.LocalAddr().(*net.UDPAddr).Port} })
	user, pw := Credentials(testSecret, "mallory", time.Now().Add(time.Minute))
	relay, err := s.dial(t, "udp", user, pw).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	if _, err := relay.WriteTo([]byte("probe"), service.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Refused() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the datagram to the local service was not refused")
		}
		time.Sleep(10 * time.Millisecond)
	}
	service.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := service.ReadFrom(make([]byte, 100)); err == nil {
		t.Fatalf("the local service received %d bytes through the relay", n)
	}

	// The media port is reachable, both ways.
	if _, err := relay.WriteTo([]byte("media"), media.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	media.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := media.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "media" {
		t.Fatalf("media port: %q, %v", buf[:n], err)
	}
	if _, err := media.WriteTo([]byte("back"), from); err != nil {
		t.Fatal(err)
	}
	relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := relay.ReadFrom(buf); err != nil || string(buf[:n]) != "back" {
		t.Fatalf("reply from the media port: %q, %v", buf[:n], err)
	}
}
