// Package turntest makes TURN clients for tests: the same client for the
// TURN server's own tests and for tests against a live node.
package turntest

import (
	"net"
	"testing"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
)

// Conn opens the client side of transport ("udp" or "tcp") towards addr.
func Conn(t testing.TB, transport, addr string) net.PacketConn {
	t.Helper()
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return c
	case "tcp":
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		return pionturn.NewSTUNConn(c)
	}
	t.Fatalf("transport %q", transport)
	return nil
}

// Client makes a listening TURN client of the server at addr over conn,
// closed (with conn) at the end of t.
func Client(t testing.TB, conn net.PacketConn, addr, username, password string) *pionturn.Client {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: username, Password: password, LoggerFactory: lf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		conn.Close()
	})
	return c
}
