package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/internal/compositor"
	"github.com/parleyhq/parley/internal/layout"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

// Media is where a broadcast finds a stream's packets: the node's SFU, or
// a stand-in in tests.
type Media interface {
	Stream(id string) (compositor.Source, bool)
}

// Config configures a Manager.
type Config struct {
	Store    store.Store
	Sessions *session.Registry
	Media    Media
	// Dir holds a folder per broadcast with HLS output: its playlist and
	// segments, removed Retain after the broadcast stops.
	Dir string
	// FFmpeg is the ffmpeg to run ("" looks for "ffmpeg" on the PATH).
	FFmpeg string
	// IdleTimeout stops a broadcast that has had no stream for that long
	// (0 = 60 s); Retain is how long the HLS files of a stopped broadcast
	// stay (0 = 2 minutes), so that players reach the end.
	IdleTimeout time.Duration
	Retain      time.Duration
	Log         *slog.Logger
	// OnChange, if set, gets each broadcast whose status, or an output's
	// status, changed: where broadcast status callbacks hook in. It must
	// not block.
	OnChange func(Broadcast)
}

// Manager runs the broadcasts of a node.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	ffmpeg string

	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	active    map[string]*live   // by broadcast id
	bySession map[string][]*live // by session id
	closed    bool
	wg        sync.WaitGroup // the running broadcasts
	retiring  sync.WaitGroup // removals of stopped broadcasts' files
}

// New makes a Manager and finishes what a previous run left: broadcasts
// recorded as started are stopped, and old HLS folders removed.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.Retain <= 0 {
		cfg.Retain = 2 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("broadcast folder: %w", err)
	}
	m := &Manager{cfg: cfg, log: cfg.Log, active: map[string]*live{}, bySession: map[string][]*live{}}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	m.ffmpeg = cfg.FFmpeg
	m.ctx, m.cancel = context.WithCancel(context.Background())
	list, _, err := cfg.Store.Broadcasts(ctx, store.BroadcastFilter{Statuses: []string{Started}})
	if err != nil {
		return nil, err
	}
	for _, rec := range list {
		b, err := decode(rec)
		if err != nil {
			return nil, err
		}
		m.stopped(ctx, b, "session ended")
	}
	entries, _ := os.ReadDir(cfg.Dir)
	for _, e := range entries {
		if ValidID(e.Name()) {
			os.RemoveAll(filepath.Join(cfg.Dir, e.Name()))
		}
	}
	return m, nil
}

// decode reads a broadcast's record.
func decode(rec store.Broadcast) (Broadcast, error) {
	var b Broadcast
	if err := json.Unmarshal(rec.Data, &b); err != nil {
		return b, fmt.Errorf("broadcast %s: %w", rec.ID, err)
	}
	b.APIKey = rec.APIKey
	return b, nil
}

func encode(b Broadcast) (store.Broadcast, error) {
	data, err := json.Marshal(b)
	return store.Broadcast{ID: b.ID, APIKey: b.APIKey, SessionID: b.SessionID, Status: b.Status, Data: data,
		CreatedAt: time.UnixMilli(b.CreatedAt), UpdatedAt: time.UnixMilli(b.UpdatedAt)}, err
}

// stopped records b as stopped, its outputs ended.
func (m *Manager) stopped(ctx context.Context, b Broadcast, reason string) Broadcast {
	b.Status, b.Reason, b.UpdatedAt = Stopped, reason, time.Now().UnixMilli()
	if b.HLS != nil {
		b.HLSStatus = StatusEnded
	}
	for i := range b.RTMP {
		b.RTMP[i].Status = StatusEnded
	}
	rec, err := encode(b)
	if err == nil {
		err = m.cfg.Store.UpdateBroadcast(context.WithoutCancel(ctx), rec)
	}
	if err != nil {
		m.log.Error("broadcast: recording it stopped", "broadcast", b.ID, "err", err)
	}
	return b
}

// Observe is a session.Options.OnCreate hook: it follows the streams of
// every session for the broadcasts of it.
func (m *Manager) Observe(s *session.Session) {
	s.Observe(sessionSink{m: m, id: s.ID()})
}

type sessionSink struct {
	m  *Manager
	id string
}

func (k sessionSink) Send(ev session.Event) {
	if ev.Target != "" {
		return
	}
	switch ev.Kind {
	case session.EventStreamCreated, session.EventStreamDestroyed, session.EventLayoutClassListChanged,
		session.EventStreamPropertyChanged:
	default:
		return
	}
	k.m.mu.Lock()
	ls := k.m.bySession[k.id]
	k.m.mu.Unlock()
	for _, l := range ls {
		l.poke()
	}
}

// Start starts broadcasting session sessionID of project apiKey. It
// refuses bad options (400), a session of another project (403), an
// unknown session or one nobody is connected to (404), a relayed session
// and a second broadcast without a distinct multiBroadcastTag (409).
func (m *Manager) Start(ctx context.Context, apiKey, sessionID string, o Options) (Broadcast, error) {
	if err := o.Validate(); err != nil {
		return Broadcast{}, err
	}
	srec, err := m.cfg.Store.Session(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return Broadcast{}, refuse(ErrNotFound, "session %q not found", sessionID)
	}
	if err != nil {
		return Broadcast{}, err
	}
	if srec.APIKey != apiKey {
		return Broadcast{}, refuse(ErrForbidden, "the session belongs to another project")
	}
	if srec.MediaMode != session.Routed {
		return Broadcast{}, refuse(ErrConflict, "the session is relayed: only routed sessions (media through Parley's SFU) can be broadcast")
	}
	s, ok := m.cfg.Sessions.Get(sessionID)
	if !ok || s.Empty() {
		return Broadcast{}, refuse(ErrNotFound, "session has no connected clients")
	}
	now := time.Now().UnixMilli()
	b := Broadcast{ID: uuid.NewString(), SessionID: sessionID, APIKey: apiKey, CreatedAt: now, UpdatedAt: now,
		Status: Started, MaxDuration: o.MaxDuration, MaxBitrate: o.MaxBitrate, Resolution: o.Resolution,
		StreamMode: o.StreamMode, HasAudio: o.HasAudio, HasVideo: o.HasVideo, MultiBroadcastTag: o.MultiBroadcastTag,
		Layout: layout.Spec{Type: layout.TypeBestFit}, HLS: o.HLS, RTMP: slices.Clone(o.RTMP), Streams: []StreamRef{}}
	if b.MaxDuration == 0 {
		b.MaxDuration = DefaultMaxDuration
	}
	if b.Resolution == "" {
		b.Resolution = "640x480"
	}
	if o.Layout != nil {
		b.Layout = *o.Layout
	}
	if b.RTMP == nil {
		b.RTMP = []RTMP{}
	}
	if b.HLS != nil {
		b.HLSStatus = StatusConnecting
	}
	for i := range b.RTMP {
		b.RTMP[i].Status = StatusConnecting
	}

	l := newLive(m, b)
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return Broadcast{}, errors.New("broadcast: the node is shutting down")
	case slices.ContainsFunc(m.bySession[sessionID], func(x *live) bool { return x.tag == o.MultiBroadcastTag }):
		m.mu.Unlock()
		if o.MultiBroadcastTag == "" {
			return Broadcast{}, refuse(ErrConflict, "the session is already being broadcast; give each simultaneous broadcast a distinct multiBroadcastTag")
		}
		return Broadcast{}, refuse(ErrConflict, "the session is already being broadcast with multiBroadcastTag %q", o.MultiBroadcastTag)
	}
	m.active[b.ID] = l
	m.bySession[sessionID] = append(m.bySession[sessionID], l)
	m.wg.Add(1)
	m.mu.Unlock()

	rec, err := encode(b)
	if err == nil {
		err = m.cfg.Store.CreateBroadcast(ctx, rec)
	}
	if err == nil {
		err = l.begin()
	}
	if err != nil {
		m.deactivate(l)
		m.wg.Done()
		return Broadcast{}, err
	}
	go l.run()
	m.changed(b)
	m.log.Info("broadcast started", "broadcast", b.ID, "session", sessionID, "hls", b.HLS != nil, "rtmp", len(b.RTMP))
	return b, nil
}

func (m *Manager) deactivate(l *live) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.active, l.b.ID)
	ls := slices.DeleteFunc(slices.Clone(m.bySession[l.b.SessionID]), func(x *live) bool { return x == l })
	if len(ls) == 0 {
		delete(m.bySession, l.b.SessionID)
	} else {
		m.bySession[l.b.SessionID] = ls
	}
}

func (m *Manager) liveOf(apiKey, id string) *live {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.active[id]; l != nil && l.b.APIKey == apiKey {
		return l
	}
	return nil
}

func (m *Manager) changed(b Broadcast) {
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(b)
	}
}

// Stop stops broadcast id: 404 when there is none or it stopped already,
// as OpenTok answers.
func (m *Manager) Stop(ctx context.Context, apiKey, id string) (Broadcast, error) {
	l := m.liveOf(apiKey, id)
	if l == nil {
		if _, err := m.Get(ctx, apiKey, id); err != nil {
			return Broadcast{}, err
		}
		return Broadcast{}, refuse(ErrNotFound, "broadcast %s is not running", id)
	}
	l.requestStop("user initiated")
	select {
	case <-l.stoppedC:
		return l.final, nil
	case <-ctx.Done():
		return Broadcast{}, ctx.Err()
	}
}

// Get returns broadcast id of project apiKey: the live state of a running
// one.
func (m *Manager) Get(ctx context.Context, apiKey, id string) (Broadcast, error) {
	if l := m.liveOf(apiKey, id); l != nil {
		return l.snapshot(), nil
	}
	if !ValidID(id) {
		return Broadcast{}, refuse(ErrNotFound, "broadcast not found")
	}
	rec, err := m.cfg.Store.Broadcast(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.APIKey != apiKey) {
		return Broadcast{}, refuse(ErrNotFound, "broadcast not found")
	}
	if err != nil {
		return Broadcast{}, err
	}
	return decode(rec)
}

// List returns the broadcasts of project apiKey (of one session when
// sessionID is not ""), newest first, from offset, at most count, and how
// many there are.
func (m *Manager) List(ctx context.Context, apiKey, sessionID string, offset, count int) ([]Broadcast, int, error) {
	recs, total, err := m.cfg.Store.Broadcasts(ctx, store.BroadcastFilter{APIKey: apiKey, SessionID: sessionID, Offset: offset, Count: count})
	if err != nil {
		return nil, 0, err
	}
	out := make([]Broadcast, 0, len(recs))
	for _, rec := range recs {
		if l := m.liveOf(apiKey, rec.ID); l != nil {
			out = append(out, l.snapshot())
			continue
		}
		b, err := decode(rec)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, b)
	}
	return out, total, nil
}

// SetLayout changes a running broadcast's layout at once.
func (m *Manager) SetLayout(ctx context.Context, apiKey, id string, spec layout.Spec) error {
	if _, err := layout.Parse(spec); err != nil {
		return refuse(ErrInvalid, "%v", err)
	}
	l := m.liveOf(apiKey, id)
	if l == nil {
		if _, err := m.Get(ctx, apiKey, id); err != nil {
			return err
		}
		return refuse(ErrConflict, "broadcast %s is not running", id)
	}
	return l.do(ctx, func() error {
		l.mu.Lock()
		l.b.Layout = spec
		l.mu.Unlock()
		l.recompose()
		return l.save()
	})
}

// SetStream adds (with the tracks asked for) or removes a stream of a
// manual-mode broadcast.
func (m *Manager) SetStream(ctx context.Context, apiKey, id, streamID string, add, hasAudio, hasVideo bool) error {
	l := m.liveOf(apiKey, id)
	if l == nil {
		if _, err := m.Get(ctx, apiKey, id); err != nil {
			return err
		}
		return refuse(ErrConflict, "broadcast %s is not running", id)
	}
	if l.b.StreamMode != "manual" {
		return refuse(ErrStreamMode, "broadcast %s includes every stream (streamMode auto); addStream and removeStream are for streamMode manual", id)
	}
	if add && !hasAudio && !hasVideo {
		return refuse(ErrInvalid, "hasAudio and hasVideo cannot both be false")
	}
	return l.do(ctx, func() error { return l.setStream(streamID, add, hasAudio, hasVideo) })
}

// HLSFile opens a file of broadcast id's HLS output: its playlist or a
// segment. name must be one of those names; anything else is not found.
func (m *Manager) HLSFile(id, name string) (*os.File, error) {
	if !ValidID(id) || !hlsFileRE.MatchString(name) {
		return nil, refuse(ErrNotFound, "not found")
	}
	f, err := os.Open(filepath.Join(m.cfg.Dir, id, name))
	if err != nil {
		return nil, refuse(ErrNotFound, "not found")
	}
	return f, nil
}

// Close stops every broadcast (reason "session ended") and waits for
// their goroutines and processes.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	ls := make([]*live, 0, len(m.active))
	for _, l := range m.active {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	for _, l := range ls {
		l.requestStop("session ended")
	}
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		m.cancel() // kill what is still running
		<-done
	}
	m.cancel()
	m.retiring.Wait()
	return nil
}
