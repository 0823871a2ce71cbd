// Package rtcclient is a Go media client for Parley: it connects to a
// session over the signaling protocol, publishes audio and video (from
// synthetic sources or IVF/Ogg files) and subscribes to streams, counting
// packets, frames, keyframes, loss and one-way delay. Tests, `parley
// loadtest` and bots use it.
package rtcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/signaling"
)

// Event is a server message: an event (connectionCreated, streamCreated,
// signal, …) as described in docs/protocol.md.
type Event = signaling.Message

// Client is one connection to a session.
type Client struct {
	// Connection is this client's own connection; Capabilities its rights.
	Connection   signaling.ConnectionJSON
	Capabilities signaling.Capabilities
	ICEServers   []signaling.ICEServer

	ws          *websocket.Conn
	raw         *freezableConn
	wsURL       string
	sessionID   string
	resumeToken string
	hc          *http.Client
	cutting     atomic.Bool   // the link is being replaced: keep events open
	loopDone    chan struct{} // closed when the current read loop exits
	api         *webrtc.API
	relayOnly   bool
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	nextID  atomic.Int64
	mu      sync.Mutex
	pending map[int64]chan Event
	streams map[string]signaling.StreamJSON
	conns   map[string]signaling.ConnectionJSON
	pubs    map[string]*Publisher
	subs    map[string]*Subscription
	sinks   map[uint32]sendSink // by SSRC, for the publishers' tracks
	events  chan Event
	closed  chan struct{}
	err     error
}

// Options tune a client; the zero value works.
type Options struct {
	// Events is the capacity of the event channel (default 4096); events
	// beyond it are dropped rather than stalling the client.
	Events int
	// RelayOnly makes every peer connection use the ICE servers the
	// server announced with ICETransportPolicy relay: media flows through
	// TURN only, as for a client behind a firewall that lets nothing else
	// out. Without it the announced servers are not used.
	RelayOnly bool
	// TCPOnly restricts ICE to TCP: the client reaches the SFU through its
	// ICE-TCP port, as a client whose network blocks UDP would.
	TCPOnly bool
}

// Connect joins session sessionID on the server at baseURL (http or
// https) with a client token.
func Connect(ctx context.Context, baseURL, sessionID, token string, o Options) (*Client, error) {
	u := strings.TrimSuffix(baseURL, "/") + signaling.Path
	u = "ws" + strings.TrimPrefix(u, "http")
	c := &Client{
		pending: map[int64]chan Event{}, streams: map[string]signaling.StreamJSON{},
		conns: map[string]signaling.ConnectionJSON{}, pubs: map[string]*Publisher{}, subs: map[string]*Subscription{},
		sinks: map[uint32]sendSink{}, closed: make(chan struct{}),
	}
	if o.Events <= 0 {
		o.Events = 4096
	}
	c.events = make(chan Event, o.Events)
	c.relayOnly = o.RelayOnly
	api, err := newAPI(o, c)
	if err != nil {
		return nil, err
	}
	c.api = api
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.raw = newFreezableConn(nc)
		return c.raw, nil
	}}}
	c.wsURL, c.sessionID, c.hc = u, sessionID, hc
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("rtcclient: dial %s: %w", u, err)
	}
	ws.SetReadLimit(1 << 20)
	c.ws = ws
	c.ctx, c.cancel = context.WithCancel(context.Background())

	// The first answer is "connected" or an error; events follow.
	id := c.nextID.Add(1)
	b, _ := json.Marshal(signaling.Request{Type: "connect", ID: id, SessionID: sessionID, Token: token})
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		ws.CloseNow()
		return nil, err
	}
	_, b, err = ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("rtcclient: connect: %w", err)
	}
	var m Event
	if err := json.Unmarshal(b, &m); err != nil {
		ws.CloseNow()
		return nil, err
	}
	if m.Type == "error" {
		ws.CloseNow()
		return nil, &Error{Code: m.Code, Message: m.Message}
	}
	if m.Type != "connected" || m.Connection == nil || m.Capabilities == nil {
		ws.CloseNow()
		return nil, fmt.Errorf("rtcclient: unexpected first message %q", m.Type)
	}
	c.Connection, c.Capabilities, c.ICEServers = *m.Connection, *m.Capabilities, m.ICEServers
	c.resumeToken = m.ResumeToken
	c.startReadLoop()
	return c, nil
}

func (c *Client) startReadLoop() {
	c.loopDone = make(chan struct{})
	c.wg.Add(1)
	go c.readLoop(c.loopDone)
}

// CutAndResume drops the signaling link without a goodbye, stays away for
// gap, then resumes the same connection on a new link (docs/protocol.md,
// "Resuming"). Media keeps flowing meanwhile; events sent to the client
// during the gap arrive after the resume.
func (c *Client) CutAndResume(ctx context.Context, gap time.Duration) error {
	c.cutting.Store(true)
	c.ws.CloseNow()
	<-c.loopDone
	select {
	case <-time.After(gap):
	case <-ctx.Done():
		return ctx.Err()
	}
	ws, _, err := websocket.Dial(ctx, c.wsURL, &websocket.DialOptions{HTTPClient: c.hc})
	if err != nil {
		return fmt.Errorf("rtcclient: redial: %w", err)
	}
	ws.SetReadLimit(1 << 20)
	b, _ := json.Marshal(signaling.Request{Type: "resume", ID: c.nextID.Add(1), SessionID: c.sessionID,
		ConnectionID: c.Connection.ConnectionID, ResumeToken: c.resumeToken})
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		ws.CloseNow()
		return err
	}
	_, b, err = ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return fmt.Errorf("rtcclient: resume: %w", err)
	}
	var m Event
	if err := json.Unmarshal(b, &m); err != nil {
		ws.CloseNow()
		return err
	}
	if m.Type != "resumed" {
		ws.CloseNow()
		return &Error{Code: m.Code, Message: m.Message}
	}
	c.resumeToken = m.ResumeToken
	c.ws = ws
	c.cutting.Store(false)
	c.startReadLoop()
	return nil
}

// Error is a request the server refused.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("rtcclient: %d: %s", e.Code, e.Message) }

// ErrClosed is returned after the connection ended.
var ErrClosed = errors.New("rtcclient: connection closed")

// peerConfig is the configuration of the client's peer connections.
func (c *Client) peerConfig() webrtc.Configuration {
	if !c.relayOnly {
		return webrtc.Configuration{}
	}
	cfg := webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	for _, s := range c.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return cfg
}

func newAPI(o Options, c *Client) (*webrtc.API, error) {
	m, err := sfu.NewMediaEngine()
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	reg.Add(sendCounterFactory{c}) // outside the others, see sendCounter
	reg.Add(pacerFactory{c})       // outermost: counted as paced, see pacer
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if o.TCPOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	}
	if o.RelayOnly {
		// Pion dials the SFU's passive ICE-TCP candidates from host
		// addresses whatever the transport policy says; a relay-only
		// client must not reach the SFU that way.
		se.DisableActiveTCP(true)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

func (c *Client) readLoop(done chan struct{}) {
	defer c.wg.Done()
	defer close(done)
	ws := c.ws
	defer func() {
		if c.cutting.Load() {
			return // CutAndResume replaces the link; the client lives on
		}
		c.mu.Lock()
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
		c.mu.Unlock()
		close(c.closed)
		close(c.events)
	}()
	for {
		_, b, err := ws.Read(c.ctx)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m Event
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if (m.Type == "reply" || m.Type == "error") && m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
				continue
			}
		}
		c.track(m)
		select {
		case c.events <- m:
		default:
		}
	}
}

// track keeps the client's view of the session current.
func (c *Client) track(m Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "connectionCreated":
		c.conns[m.Connection.ConnectionID] = *m.Connection
	case "connectionDestroyed":
		delete(c.conns, m.Connection.ConnectionID)
	case "streamCreated", "streamPropertyChanged":
		c.streams[m.Stream.StreamID] = *m.Stream
	case "streamDestroyed":
		delete(c.streams, m.Stream.StreamID)
	case "subscriberClosed":
		delete(c.subs, m.SubscriberID)
	}
}

// request sends one request and waits for its reply.
func (c *Client) request(ctx context.Context, r signaling.Request) (Event, error) {
	r.ID = c.nextID.Add(1)
	ch := make(chan Event, 1)
	c.mu.Lock()
	select {
	case <-c.closed:
		c.mu.Unlock()
		return Event{}, ErrClosed
	default:
	}
	c.pending[r.ID] = ch
	c.mu.Unlock()
	if err := c.Send(ctx, r); err != nil {
		return Event{}, err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return Event{}, ErrClosed
		}
		if m.Type == "error" {
			return m, &Error{Code: m.Code, Message: m.Message}
		}
		return m, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, r.ID)
		c.mu.Unlock()
		return Event{}, ctx.Err()
	}
}

// Send writes a raw request without waiting for an answer (tests use it
// to send odd messages).
func (c *Client) Send(ctx context.Context, r signaling.Request) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, b)
}

// SendRaw writes bytes as one text message.
func (c *Client) SendRaw(ctx context.Context, b []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// Events delivers server events in order; it is closed when the
// connection ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.closed }

// Streams returns the session's streams as this client knows them.
func (c *Client) Streams() []signaling.StreamJSON {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]signaling.StreamJSON, 0, len(c.streams))
	for _, s := range c.streams {
		out = append(out, s)
	}
	return out
}

// Connections returns the session's connections as this client knows
// them (its own included).
func (c *Client) Connections() []signaling.ConnectionJSON {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]signaling.ConnectionJSON, 0, len(c.conns))
	for _, x := range c.conns {
		out = append(out, x)
	}
	return out
}

// Signal sends a signal to one connection (to != "") or to everyone.
func (c *Client) Signal(ctx context.Context, to, typ, data string) error {
	_, err := c.request(ctx, signaling.Request{Type: "signal", To: to, SignalType: &typ, Data: &data})
	return err
}

// Do sends a request and waits for its reply (moderation and other calls
// without a helper of their own).
func (c *Client) Do(ctx context.Context, r signaling.Request) (Event, error) {
	return c.request(ctx, r)
}

// Disconnect leaves the session cleanly (reason clientDisconnected) and
// closes every peer connection.
func (c *Client) Disconnect() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = c.Send(ctx, signaling.Request{Type: "disconnect"})
	cancel()
	c.shutdown()
	c.ws.Close(websocket.StatusNormalClosure, "bye")
}

// Kill drops the connection without a word, as a crashed process would:
// the server sees the TCP connection close.
func (c *Client) Kill() {
	c.shutdown()
	c.ws.CloseNow()
}

// Freeze makes the client go silent without closing anything, as when its
// network vanishes: the server must notice by itself. Media stops too.
func (c *Client) Freeze() {
	c.raw.freeze()
	c.closePeers()
}

func (c *Client) closePeers() {
	c.mu.Lock()
	pubs, subs := c.pubs, c.subs
	c.pubs, c.subs = map[string]*Publisher{}, map[string]*Subscription{}
	c.mu.Unlock()
	for _, p := range pubs {
		p.close()
	}
	for _, s := range subs {
		s.close()
	}
}

func (c *Client) shutdown() {
	c.closePeers()
	c.cancel()
}

// Close releases everything; after Freeze it also stops the goroutines.
func (c *Client) Close() {
	c.shutdown()
	c.ws.CloseNow()
	c.raw.Close()
	c.wg.Wait()
}

// freezableConn is a net.Conn that can be made to go silent.
type freezableConn struct {
	net.Conn
	once   sync.Once
	frozen chan struct{}
}

func newFreezableConn(c net.Conn) *freezableConn {
	return &freezableConn{Conn: c, frozen: make(chan struct{})}
}

func (f *freezableConn) freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *freezableConn) Read(b []byte) (int, error) {
	select {
	case <-f.frozen:
		// Swallow whatever arrives and answer nothing, until closed.
		for {
			if _, err := f.Conn.Read(b); err != nil {
				return 0, err
			}
		}
	default:
	}
	return f.Conn.Read(b)
}

func (f *freezableConn) Write(b []byte) (int, error) {
	select {
	case <-f.frozen:
		return len(b), nil
	default:
	}
	return f.Conn.Write(b)
}
