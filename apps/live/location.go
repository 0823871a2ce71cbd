package live

import (
	"context"
	"net"
	"net/http"
	"net/netip"
)

// Locator turns a presenter's address into a location hint for the
// library ("Lisbon, Portugal"). An operator plugs in a lookup (a local
// GeoIP database, say); the default makes no outside calls.
type Locator interface {
	Locate(ctx context.Context, addr netip.Addr) string
}

// UnknownLocation is the default Locator: it knows nothing.
type UnknownLocation struct{}

// Locate implements Locator.
func (UnknownLocation) Locate(context.Context, netip.Addr) string { return "unknown" }

// LocatorFunc adapts a function to Locator.
type LocatorFunc func(ctx context.Context, addr netip.Addr) string

// Locate implements Locator.
func (f LocatorFunc) Locate(ctx context.Context, addr netip.Addr) string { return f(ctx, addr) }

// remoteAddr is the address the request came from. Headers a client can
// set (X-Forwarded-For) are not trusted.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// locate asks the Locator, keeping its answer to a sane length.
func (a *App) locate(ctx context.Context, r *http.Request) string {
	loc, ok := cleanText(a.o.Locator.Locate(ctx, remoteAddr(r)), 100)
	if !ok {
		return "unknown"
	}
	return loc
}
