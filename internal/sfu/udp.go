package sfu

import (
	"fmt"
	"net"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// udpBuffer is the kernel buffer size of each ICE UDP socket: many peer
// connections share one, so it needs room for bursts.
const udpBuffer = 4 << 20

// listenUDP opens the SFU's ICE UDP sockets, all on one port (any free one
// when port is 0), and returns them as one mux with the port.
//
// Every host candidate gets a socket of its own, bound to its address.
// One socket bound to all interfaces would serve several candidates of a
// family (loopback and each interface's address) through one connection
// per peer connection: the ICE agent could not tell which candidate a
// packet came in on, and it answers from whichever address the route to
// the sender picks. A check the client sent to one candidate is then
// credited to another, or its answer comes from an address the client
// never asked. A controlling client (a publisher, which makes the offer)
// that nominates the pair it checked, through a TURN relay say, can then
// see ICE connected while the SFU never selects a pair, and the publisher
// fails.
//
// With public IPs (1:1 NAT) every address of a public IP's family is
// announced as that IP: one candidate, so one socket on all interfaces of
// that family serves it, and receives what the NAT forwards to whichever
// local address. The addresses are read once, at start.
func listenUDP(listenIP net.IP, port int, publicIPs []string, log logging.LeveledLogger) (ice.UDPMux, int, *sendBatch, error) {
	if listenIP != nil && !listenIP.IsUnspecified() {
		c, err := listenBatchUDP("udp", &net.UDPAddr{IP: listenIP, Port: port})
		if err != nil {
			return nil, 0, nil, fmt.Errorf("rtc udp port %d: %w", port, err)
		}
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: log, UDPConn: c})
		return mux, c.LocalAddr().(*net.UDPAddr).Port, &sendBatch{conns: []*batchConn{c}}, nil
	}
	var nat4, nat6 bool
	for _, s := range publicIPs {
		if ip := net.ParseIP(s); ip != nil {
			nat4 = nat4 || ip.To4() != nil
			nat6 = nat6 || ip.To4() == nil
		}
	}
	for attempt := 1; ; attempt++ {
		p := port
		if p == 0 {
			// A port free on every address: the first socket on all
			// interfaces gets one, the per-address sockets take it over.
			c, err := net.ListenUDP("udp", &net.UDPAddr{})
			if err != nil {
				return nil, 0, nil, fmt.Errorf("rtc udp port: %w", err)
			}
			p = c.LocalAddr().(*net.UDPAddr).Port
			c.Close()
		}
		mux, batch, err := listenUDPPort(p, nat4, nat6, log)
		if err == nil {
			return mux, p, batch, nil
		}
		if port != 0 || attempt == 20 {
			return nil, 0, nil, fmt.Errorf("rtc udp port %d: %w", p, err)
		}
	}
}

// listenUDPPort opens the sockets of listenUDP on port: one per local
// address of each family, or one on all interfaces for a family with a
// public IP.
func listenUDPPort(port int, nat4, nat6 bool, log logging.LeveledLogger) (ice.UDPMux, *sendBatch, error) {
	var muxes []ice.UDPMux
	fail := func(err error) (ice.UDPMux, *sendBatch, error) {
		for _, m := range muxes {
			_ = m.Close()
		}
		return nil, nil, err
	}
	std, err := stdnet.NewNet()
	if err != nil {
		return fail(err)
	}
	bn := &batchNet{Net: std}
	var perAddress []ice.NetworkType
	if !nat4 {
		perAddress = append(perAddress, ice.NetworkTypeUDP4)
	}
	if !nat6 {
		perAddress = append(perAddress, ice.NetworkTypeUDP6)
	}
	if len(perAddress) > 0 {
		m, err := ice.NewMultiUDPMuxFromPort(port,
			ice.UDPMuxFromPortWithNetworks(perAddress...),
			ice.UDPMuxFromPortWithLoopback(),
			ice.UDPMuxFromPortWithReadBufferSize(udpBuffer),
			ice.UDPMuxFromPortWithWriteBufferSize(udpBuffer),
			ice.UDPMuxFromPortWithLogger(log),
			ice.UDPMuxFromPortWithNet(bn))
		if err != nil {
			return fail(err)
		}
		muxes = append(muxes, m)
	}
	for _, family := range []struct {
		nat     bool
		network string
	}{{nat4, "udp4"}, {nat6, "udp6"}} {
		if !family.nat {
			continue
		}
		c, err := bn.ListenUDP(family.network, &net.UDPAddr{Port: port})
		if err != nil {
			return fail(err)
		}
		m := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: log, UDPConn: c})
		// The addresses the candidates are made from (all rewritten to the
		// public IP) are fixed at start, as those of the per-address
		// sockets are: the combined mux knows only these.
		muxes = append(muxes, fixedAddrMux{UDPMux: m, addrs: m.GetListenAddresses()})
	}
	return ice.NewMultiUDPMuxDefault(muxes...), &sendBatch{conns: bn.conns}, nil
}

// listenBatchUDP opens one ICE UDP socket, with room for bursts (many
// peer connections share it), as a batchConn.
func listenBatchUDP(network string, addr *net.UDPAddr) (*batchConn, error) {
	c, err := net.ListenUDP(network, addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(udpBuffer)
	_ = c.SetWriteBuffer(udpBuffer)
	bc, err := newBatchConn(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return bc, nil
}

// batchNet is the host's network, except that the UDP sockets it opens
// are batchConns, kept for the SFU's sendBatch.
type batchNet struct {
	transport.Net
	mu    sync.Mutex
	conns []*batchConn
}

func (n *batchNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := listenBatchUDP(network, addr)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.conns = append(n.conns, c)
	n.mu.Unlock()
	return c, nil
}

// fixedAddrMux is a mux on all interfaces of a family that reports the
// local addresses it had at start.
type fixedAddrMux struct {
	ice.UDPMux
	addrs []net.Addr
}

func (m fixedAddrMux) GetListenAddresses() []net.Addr { return m.addrs }
