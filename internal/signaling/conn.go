package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/token"
)

// OpenTok client error codes used in error messages.
const (
	CodeAuthentication = 1004 // bad token
	CodeInvalidSession = 1005 // unknown session id
	CodeConnectFailed  = 1006
	CodeConnectReject  = 1007 // session full
	CodeNotConnected   = 1010 // a request before connect
	CodeInvalidParam   = 1011 // malformed request
	CodeUnableToPub    = 1500
	CodeForceDisc      = 1520
	CodeForceUnpub     = 1530
	CodeSubscribe      = 1600 // unable to subscribe
	CodeInternal       = 2000
)

// outboxSize bounds the messages waiting for a slow client; a client that
// falls this far behind is disconnected rather than slowing the session.
const outboxSize = 1024

// conn is one client's signaling connection.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	log    *slog.Logger
	remote string

	out    chan Message
	cancel context.CancelFunc

	// Set once connected; read by the request loop only.
	sess *session.Session
	me   *session.Connection

	// sink state, guarded by sinkMu (events arrive under the session's
	// lock, replies from the request loop).
	sinkMu   sync.Mutex
	ready    bool
	pending  []Message
	known    map[string]ConnectionJSON
	ending   bool   // a sessionDisconnected was queued: close after it
	overflow bool   // the outbox filled up
	leftWith string // reason the session already removed us with

	mu          sync.Mutex
	publishers  map[string]*sfu.Stream
	subscribers map[string]*sfu.Subscriber
	clientLeft  bool
}

func newConn(s *Server, ws *websocket.Conn, remote string) *conn {
	return &conn{
		srv: s, ws: ws, remote: remote, log: s.Log.With("remote", remote),
		out: make(chan Message, outboxSize), known: map[string]ConnectionJSON{},
		publishers: map[string]*sfu.Stream{}, subscribers: map[string]*sfu.Subscriber{},
	}
}

// Send implements session.Sink: it turns a session event into a message
// for this client. It runs under the session's lock and never blocks.
func (c *conn) Send(ev session.Event) {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	var m Message
	switch ev.Kind {
	case session.EventConnectionCreated:
		cj := connectionJSON(ev.Connection)
		c.known[cj.ConnectionID] = cj
		m = Message{Type: "connectionCreated", Connection: &cj}
	case session.EventConnectionDestroyed:
		cj := connectionJSON(ev.Connection)
		delete(c.known, cj.ConnectionID)
		m = Message{Type: "connectionDestroyed", Connection: &cj, Reason: ev.Reason}
	case session.EventStreamCreated:
		m = Message{Type: "streamCreated", Stream: streamJSON(ev.Stream, c.known[ev.Stream.ConnectionID])}
	case session.EventStreamDestroyed:
		m = Message{Type: "streamDestroyed", Stream: streamJSON(ev.Stream, c.known[ev.Stream.ConnectionID]), Reason: ev.Reason}
	case session.EventStreamPropertyChanged:
		m = Message{Type: "streamPropertyChanged", Stream: streamJSON(ev.Stream, c.known[ev.Stream.ConnectionID]),
			ChangedProperty: ev.Property, OldValue: propertyValue(ev.OldValue), NewValue: propertyValue(ev.NewValue)}
	case session.EventSignal:
		typ, data := ev.SignalType, ev.SignalData
		m = Message{Type: "signal", SignalType: &typ, Data: &data}
		if ev.Connection != nil {
			cj := connectionJSON(ev.Connection)
			m.From = &cj
		}
	case session.EventMuteForced:
		active := ev.Active
		m = Message{Type: "muteForced", Active: &active}
	case session.EventSessionDisconnected:
		m = Message{Type: "sessionDisconnected", Reason: ev.Reason}
		c.leftWith = ev.Reason
	default:
		return
	}
	c.enqueueLocked(m)
}

// reply queues a message from the request loop.
func (c *conn) reply(m Message) {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	c.enqueueLocked(m)
}

func (c *conn) enqueueLocked(m Message) {
	if !c.ready {
		c.pending = append(c.pending, m)
		return
	}
	if c.ending || c.overflow {
		return
	}
	if m.Type == "sessionDisconnected" {
		c.ending = true
	}
	select {
	case c.out <- m:
	default:
		c.overflow = true
		c.cancel()
	}
}

// markReady sends first (the "connected" message), then whatever the
// session queued during Join (the replay), then lets events flow.
func (c *conn) markReady(first Message) {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	c.ready = true
	c.enqueueLocked(first)
	for _, m := range c.pending {
		c.enqueueLocked(m)
	}
	c.pending = nil
}

func (c *conn) errorMsg(id int64, code int, format string, args ...any) {
	c.reply(Message{Type: "error", ID: id, Code: code, Message: fmt.Sprintf(format, args...)})
}

// run serves the client until it leaves, its link dies or the server
// stops. It owns the writer and pinger goroutines and waits for them.
func (c *conn) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	c.cancel = cancel
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.writeLoop(ctx) }()
	go func() { defer wg.Done(); c.pingLoop(ctx) }()

	c.readLoop(ctx)
	cancel()
	c.leave()
	wg.Wait()
	c.ws.CloseNow()
}

func (c *conn) readLoop(ctx context.Context) {
	connectBy := time.Now().Add(DefaultConnectTimeout)
	for {
		rctx := ctx
		var stop context.CancelFunc = func() {}
		if c.me == nil {
			rctx, stop = context.WithDeadline(ctx, connectBy)
		}
		typ, b, err := c.ws.Read(rctx)
		stop()
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.errorMsg(0, CodeInvalidParam, "messages are JSON text")
			continue
		}
		req, err := DecodeRequest(b)
		if err != nil {
			c.errorMsg(0, CodeInvalidParam, "%v", err)
			continue
		}
		if c.me == nil {
			if req.Type != "connect" {
				c.errorMsg(req.ID, CodeNotConnected, "not connected: the first message must be connect")
				continue
			}
			if !c.connect(ctx, req) {
				c.refuse()
				return
			}
			continue
		}
		if req.Type == "disconnect" {
			c.mu.Lock()
			c.clientLeft = true
			c.mu.Unlock()
			return
		}
		c.handle(ctx, req)
	}
}

// refuse sends what is queued (the error saying why connect failed)
// straight to the socket, then closes it: nothing else is in flight
// before a connection is admitted.
func (c *conn) refuse() {
	c.sinkMu.Lock()
	pending := c.pending
	c.pending = nil
	c.sinkMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, m := range pending {
		if b, err := json.Marshal(m); err == nil {
			_ = c.ws.Write(ctx, websocket.MessageText, b)
		}
	}
	c.ws.Close(websocket.StatusPolicyViolation, "connect refused")
}

func (c *conn) connect(ctx context.Context, req *Request) bool {
	rec, err := c.srv.Store.Session(ctx, req.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		c.errorMsg(req.ID, CodeInvalidSession, "invalid session id %q", req.SessionID)
		return false
	}
	if err != nil {
		c.log.Error("session lookup", "err", err)
		c.errorMsg(req.ID, CodeConnectFailed, "connect failed")
		return false
	}
	claims, err := token.Verify(req.Token, req.SessionID, func(key string) (string, error) {
		p, err := c.srv.Store.Project(ctx, key)
		return p.Secret, err
	}, time.Now())
	if err != nil {
		c.errorMsg(req.ID, CodeAuthentication, "authentication error: %v", err)
		return false
	}
	if claims.APIKey != rec.APIKey {
		c.errorMsg(req.ID, CodeAuthentication, "authentication error: the token belongs to another project")
		return false
	}
	sess, me, err := c.srv.Sessions.Join(rec.ID, rec.MediaMode, claims.Role, claims.Data, claims.InitialLayoutClassList, c)
	if err != nil {
		c.errorMsg(req.ID, CodeConnectReject, "connect rejected: %v", err)
		return false
	}
	c.sess, c.me = sess, me
	c.log = c.log.With("session", rec.ID, "connection", me.ID)
	var ice []ICEServer
	if c.srv.ICEServers != nil {
		ice = c.srv.ICEServers(me.ID)
	}
	cj := connectionJSON(me)
	c.markReady(Message{
		Type: "connected", ID: req.ID, Protocol: ProtocolVersion,
		Session:      &SessionJSON{SessionID: rec.ID, MediaMode: string(rec.MediaMode)},
		Connection:   &cj,
		Capabilities: capabilities(me),
		ICEServers:   ice,
	})
	c.log.Debug("connected", "role", claims.Role)
	return true
}

// leave removes the client from its session with the right reason and
// ends its media.
func (c *conn) leave() {
	if c.me == nil {
		return
	}
	c.mu.Lock()
	reason := "networkDisconnected"
	if c.clientLeft {
		reason = "clientDisconnected"
	}
	pubs, subs := c.publishers, c.subscribers
	c.publishers, c.subscribers = map[string]*sfu.Stream{}, map[string]*sfu.Subscriber{}
	c.mu.Unlock()
	// A force-disconnected client was already removed; Leave then reports
	// not-found and emits nothing.
	_ = c.sess.Leave(c.me.ID, reason)
	for _, sub := range subs {
		sub.Close()
	}
	for _, st := range pubs {
		st.Close()
	}
	c.srv.Sessions.Remove(c.sess.ID()) // if it was the last one
	c.log.Debug("left", "reason", reason)
}

func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.out:
			b, err := json.Marshal(m)
			if err != nil {
				c.log.Error("encode", "type", m.Type, "err", err)
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = c.ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				c.cancel()
				return
			}
			if m.Type == "sessionDisconnected" {
				c.ws.Close(websocket.StatusNormalClosure, m.Reason)
				c.cancel()
				return
			}
		}
	}
}

// pingLoop notices dead clients: a client whose network vanished without
// closing the TCP connection answers no ping.
func (c *conn) pingLoop(ctx context.Context) {
	t := time.NewTicker(c.srv.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, c.srv.PingTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				c.log.Debug("ping failed", "err", err)
				c.cancel()
				return
			}
		}
	}
}

// iceCandidate converts a trickled candidate.
func iceCandidate(c *Candidate) webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
}
