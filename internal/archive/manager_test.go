package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/token"
)

// fakeMedia stands in for the SFU: tests send packets through its
// streams' taps.
type fakeMedia struct {
	mu      sync.Mutex
	streams map[string]*fakeStream
}

func (m *fakeMedia) Stream(id string) (MediaStream, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.streams[id]
	return s, ok
}

type fakeStream struct {
	mu        sync.Mutex
	codecs    map[webrtc.RTPCodecType]webrtc.RTPCodecParameters
	taps      map[webrtc.RTPCodecType]map[int]sfu.TapFunc
	next      int
	keyframes atomic.Int32
	seq       [2]uint16
}

func newFakeStream() *fakeStream {
	return &fakeStream{
		codecs: map[webrtc.RTPCodecType]webrtc.RTPCodecParameters{
			webrtc.RTPCodecTypeVideo: {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}},
			webrtc.RTPCodecTypeAudio: {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}},
		},
		taps: map[webrtc.RTPCodecType]map[int]sfu.TapFunc{},
		seq:  [2]uint16{65000, 100},
	}
}

func (s *fakeStream) Codec(kind webrtc.RTPCodecType) (webrtc.RTPCodecParameters, bool) {
	c, ok := s.codecs[kind]
	return c, ok
}

func (s *fakeStream) Tap(kind webrtc.RTPCodecType, fn sfu.TapFunc) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.codecs[kind]; !ok {
		return nil, sfu.ErrNoTrack
	}
	if s.taps[kind] == nil {
		s.taps[kind] = map[int]sfu.TapFunc{}
	}
	s.next++
	n := s.next
	s.taps[kind][n] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.taps[kind], n)
	}, nil
}

func (s *fakeStream) RequestKeyframe() { s.keyframes.Add(1) }

func (s *fakeStream) send(kind webrtc.RTPCodecType, pkt *rtp.Packet, key bool) {
	s.mu.Lock()
	fns := make([]sfu.TapFunc, 0, len(s.taps[kind]))
	for _, fn := range s.taps[kind] {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(pkt, key)
	}
}

// feed sends, at once, seconds of 30 fps VP8 (a keyframe a second, two
// packets a frame) and 50 Opus packets a second.
func (s *fakeStream) feed(seconds float64) {
	frames, audio := int(seconds*30), int(seconds*50)
	for f, a := 0, 0; f < frames || a < audio; {
		if f < frames && (a >= audio || f*1000/30 <= a*20) {
			key := f%30 == 0
			for i, p := range vp8Packets(f, s.seq[0], 2, key) {
				s.send(webrtc.RTPCodecTypeVideo, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: p.seq,
					Timestamp: uint32(f) * 3000, Marker: p.marker, SSRC: 11}, Payload: p.payload}, key && i == 0)
			}
			s.seq[0] += 2
			f++
			continue
		}
		s.send(webrtc.RTPCodecTypeAudio, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: s.seq[1],
			Timestamp: uint32(a) * 960, SSRC: 22}, Payload: opusFrame}, true)
		s.seq[1]++
		a++
	}
}

// sink keeps the events a connection receives.
type sink struct {
	mu     sync.Mutex
	events []session.Event
}

func (k *sink) Send(ev session.Event) {
	k.mu.Lock()
	k.events = append(k.events, ev)
	k.mu.Unlock()
}

// archiveEvents describes the archive notices received so far.
func (k *sink) archiveEvents() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, ev := range k.events {
		if ev.Kind == session.EventArchiveStarted || ev.Kind == session.EventArchiveStopped {
			out = append(out, string(ev.Kind)+" "+ev.ArchiveID)
		}
	}
	return out
}

const apiKey = "42"

type env struct {
	t     *testing.T
	st    *sqlite.Store
	reg   *session.Registry
	media *fakeMedia
	m     *Manager
	dir   string
	ctx   context.Context
}

func newEnv(t *testing.T, configure func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, k := range []string{apiKey, "43"} {
		if err := st.CreateProject(ctx, store.Project{APIKey: k, Secret: "s", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, st: st, media: &fakeMedia{streams: map[string]*fakeStream{}}, dir: filepath.Join(dir, "archives"), ctx: ctx}
	e.reg = session.NewRegistry(session.Options{OnCreate: func(s *session.Session) { e.m.Observe(s) }})
	e.m = e.manager(configure)
	return e
}

func (e *env) manager(configure func(*Config)) *Manager {
	e.t.Helper()
	cfg := Config{Store: e.st, Sessions: e.reg, Media: e.media, Dir: e.dir,
		Secret: []byte("0123456789abcdef0123456789abcdef"), PublicURL: "https://parley.example.com"}
	if configure != nil {
		configure(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { m.Close() })
	return m
}

func (e *env) session(mode session.MediaMode, key string) string {
	e.t.Helper()
	id := session.NewID(key, "", time.Now())
	if err := e.st.CreateSession(e.ctx, store.Session{ID: id, APIKey: key, MediaMode: mode,
		ArchiveMode: session.ArchiveManual, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) join(sid, data string) (*session.Session, *session.Connection, *sink) {
	e.t.Helper()
	k := &sink{}
	s, c, err := e.reg.Join(sid, session.Routed, token.RolePublisher, data, nil, k)
	if err != nil {
		e.t.Fatal(err)
	}
	return s, c, k
}

func (e *env) publish(s *session.Session, connID, name string) (string, *fakeStream) {
	e.t.Helper()
	fs := newFakeStream()
	id := "stream-" + name
	e.media.mu.Lock()
	e.media.streams[id] = fs
	e.media.mu.Unlock()
	if _, err := s.Publish(connID, session.StreamSpec{ID: id, Name: name, HasAudio: true, HasVideo: true,
		VideoDimensions: session.VideoDimensions{Width: 320, Height: 240}}); err != nil {
		e.t.Fatal(err)
	}
	return id, fs
}

func individualOptions() Options {
	o := DefaultOptions()
	o.OutputMode = OutputIndividual
	return o
}

// waitStatus polls archive id until it reaches one of the statuses.
func (e *env) waitStatus(id string, statuses ...string) store.Archive {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := e.st.Archive(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range statuses {
			if a.Status == s {
				return a
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("archive %s is %s, want one of %v", id, a.Status, statuses)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// download fetches an archive's zip through its signed link.
func (e *env) download(a store.Archive) *zip.Reader {
	e.t.Helper()
	u, err := url.Parse(e.m.URL(a, "http://ignored"))
	if err != nil || u.Host != "parley.example.com" {
		e.t.Fatalf("link %v: %v", u, err)
	}
	f, err := e.m.Download(a.ID+".zip", u.Query().Get("expires"), u.Query().Get("sig"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		e.t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		e.t.Fatal(err)
	}
	return zr
}

// unzip reads an archive's manifest and scans each of its files.
func (e *env) unzip(zr *zip.Reader, id string) (manifest, map[string]mediaLayout) {
	e.t.Helper()
	var m manifest
	files := map[string]mediaLayout{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			e.t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if zf.Name == id+".json" {
			if err := json.Unmarshal(b, &m); err != nil {
				e.t.Fatal(err)
			}
			continue
		}
		l, err := scanMatroska(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			e.t.Fatalf("%s: %v", zf.Name, err)
		}
		files[zf.Name] = l
	}
	return m, files
}

func TestArchiveLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	sid := e.session(session.Routed, apiKey)
	s, alice, aliceSink := e.join(sid, "name=alice")
	first, fs1 := e.publish(s, alice.ID, "alice")

	o := individualOptions()
	o.Name = "lesson"
	a, err := e.m.Start(e.ctx, apiKey, sid, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != StatusStarted || !ValidID(a.ID) || a.Name != "lesson" || a.OutputMode != OutputIndividual {
		t.Fatalf("started: %+v", a)
	}
	if got, err := e.m.Get(e.ctx, apiKey, a.ID); err != nil || got.Status != StatusStarted {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	time.Sleep(50 * time.Millisecond) // the recording picks up the streams
	if fs1.keyframes.Load() == 0 {
		t.Error("no keyframe was asked for at the start")
	}
	fs1.feed(2)

	// A stream published during the recording gets its own file; a
	// joiner learns the session is being recorded.
	_, bob, bobSink := e.join(sid, "name=bob")
	second, fs2 := e.publish(s, bob.ID, "bob")
	time.Sleep(50 * time.Millisecond)
	fs2.feed(1)
	time.Sleep(100 * time.Millisecond) // let the recorders write

	stopped, err := e.m.Stop(e.ctx, apiKey, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Status != StatusStopped || stopped.Reason != ReasonUserInitiated {
		t.Errorf("stopped: %+v", stopped)
	}
	if _, err := e.m.Stop(e.ctx, apiKey, a.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("stopping twice: %v, want a conflict", err)
	}
	want := []string{"archiveStarted " + a.ID, "archiveStopped " + a.ID}
	for name, k := range map[string]*sink{"alice": aliceSink, "bob": bobSink} {
		if got := k.archiveEvents(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s got %q, want %q", name, got, want)
		}
	}

	done := e.waitStatus(a.ID, StatusAvailable, StatusFailed)
	if done.Status != StatusAvailable || done.Size == 0 || done.Reason != ReasonUserInitiated {
		t.Fatalf("after stopping: %+v", done)
	}
	m, files := e.unzip(e.download(done), a.ID)
	if m.ID != a.ID || m.Name != "lesson" || m.SessionID != sid || m.CreatedAt != a.CreatedAt.UnixMilli() || len(m.Files) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	for i, tc := range []struct {
		stream, data string
		seconds      int64
	}{{first, "name=alice", 2}, {second, "name=bob", 1}} {
		f := m.Files[i]
		l, ok := files[f.Filename]
		if f.StreamID != tc.stream || f.ConnectionData != tc.data || !ok || f.Filename != tc.stream+".webm" ||
			!f.HasAudio || !f.HasVideo || f.VideoCodec != "VP8" || f.AudioCodec != "opus" || f.Size == 0 {
			t.Errorf("file %d: %+v", i, f)
			continue
		}
		if got := l.lastMs; got < tc.seconds*1000-100 || got > tc.seconds*1000+200 {
			t.Errorf("%s: %d ms of media, want ≈ %d s", f.Filename, got, tc.seconds)
		}
		if f.StopTimeOffset-f.StartTimeOffset != l.lastMs {
			t.Errorf("%s: offsets %d to %d for %d ms of media", f.Filename, f.StartTimeOffset, f.StopTimeOffset, l.lastMs)
		}
	}
	if m.Files[1].StartTimeOffset <= m.Files[0].StartTimeOffset {
		t.Errorf("the second stream starts at %d ms, the first at %d", m.Files[1].StartTimeOffset, m.Files[0].StartTimeOffset)
	}

	list, total, err := e.m.List(e.ctx, apiKey, "", 0, 50)
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != a.ID {
		t.Errorf("List: %v (%d), %v", list, total, err)
	}
	if err := e.m.Delete(e.ctx, "43", a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another project deleting: %v", err)
	}
	if err := e.m.Delete(e.ctx, apiKey, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Get(e.ctx, apiKey, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, a.ID+".zip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the zip is still there: %v", err)
	}
	u, _ := url.Parse(e.m.URL(done, ""))
	if _, err := e.m.Download(a.ID+".zip", u.Query().Get("expires"), u.Query().Get("sig")); !errors.Is(err, ErrNotFound) {
		t.Errorf("download after delete: %v", err)
	}
}

func TestStartRefusals(t *testing.T) {
	e := newEnv(t, nil)
	routed := e.session(session.Routed, apiKey)
	relayed := e.session(session.Relayed, apiKey)
	empty := e.session(session.Routed, apiKey)
	others := e.session(session.Routed, "43")
	e.join(routed, "a")
	e.join(relayed, "a")
	e.join(others, "a")

	first, err := e.m.Start(e.ctx, apiKey, routed, individualOptions())
	if err != nil {
		t.Fatal(err)
	}
	tagged := individualOptions()
	tagged.MultiArchiveTag = "second"
	if _, err := e.m.Start(e.ctx, apiKey, routed, tagged); err != nil {
		t.Errorf("a second archive with its own tag: %v", err)
	}
	for _, tc := range []struct {
		name      string
		sessionID string
		o         Options
		kind      error
		msg       string
	}{
		{"unknown session", "1_nope", individualOptions(), ErrNotFound, "not found"},
		{"another project's session", others, individualOptions(), ErrForbidden, "another project"},
		{"relayed", relayed, individualOptions(), ErrConflict, "relayed"},
		{"relayed, composed", relayed, DefaultOptions(), ErrConflict, "relayed"},
		{"nobody connected", empty, individualOptions(), ErrNotFound, "no connected clients"},
		{"bad options", routed, func() Options { o := individualOptions(); o.Resolution = "640x480"; return o }(), ErrInvalid, "resolution"},
		{"already recording", routed, individualOptions(), ErrConflict, "multiArchiveTag"},
		{"the same tag", routed, tagged, ErrConflict, `"second"`},
	} {
		_, err := e.m.Start(e.ctx, apiKey, tc.sessionID, tc.o)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v with %q", tc.name, err, tc.kind, tc.msg)
		}
	}
	if _, err := e.m.Stop(e.ctx, apiKey, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Start(e.ctx, apiKey, routed, individualOptions()); err != nil {
		t.Errorf("after the first stopped: %v", err)
	}
}

func TestArchiveLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       func(*Config)
		publish   bool
		leave     bool
		want      string
		wantFinal string
	}{
		{"nobody publishes", func(c *Config) { c.IdleTimeout = 200 * time.Millisecond }, false, false, ReasonIdle, StatusFailed},
		{"everyone left", func(c *Config) { c.IdleTimeout = 200 * time.Millisecond }, true, true, ReasonSessionEnded, StatusAvailable},
		{"too long", func(c *Config) { c.MaxDuration = 500 * time.Millisecond }, true, false, ReasonMaxDuration, StatusAvailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			sid := e.session(session.Routed, apiKey)
			s, c, k := e.join(sid, "a")
			var fs *fakeStream
			if tc.publish {
				_, fs = e.publish(s, c.ID, "a")
			}
			a, err := e.m.Start(e.ctx, apiKey, sid, individualOptions())
			if err != nil {
				t.Fatal(err)
			}
			if fs != nil {
				time.Sleep(50 * time.Millisecond)
				fs.feed(0.3)
				time.Sleep(50 * time.Millisecond)
			}
			if tc.leave {
				if err := s.Leave(c.ID, session.ReasonClientDisconnected); err != nil {
					t.Fatal(err)
				}
			}
			got := e.waitStatus(a.ID, StatusAvailable, StatusFailed)
			if got.Status != tc.wantFinal {
				t.Errorf("status %s, want %s", got.Status, tc.wantFinal)
			}
			if tc.wantFinal == StatusAvailable && got.Reason != tc.want {
				t.Errorf("reason %q, want %q", got.Reason, tc.want)
			}
			if !tc.leave && strings.Join(k.archiveEvents(), ",") != "archiveStarted "+a.ID+",archiveStopped "+a.ID {
				t.Errorf("notices %q", k.archiveEvents())
			}
		})
	}
}

// TestArchiveModeAlways: a session whose archive mode is always records
// itself once someone publishes; stopping that archive has no effect; it
// stops once the streams are gone, and the next stream starts another.
func TestArchiveModeAlways(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.IdleTimeout = 300 * time.Millisecond
		c.FFmpeg = filepath.Join(t.TempDir(), "no-ffmpeg") // recorded stream by stream
	})
	sid := session.NewID(apiKey, "", time.Now())
	if err := e.st.CreateSession(e.ctx, store.Session{ID: sid, APIKey: apiKey, MediaMode: session.Routed,
		ArchiveMode: session.ArchiveAlways, ArchiveName: "auto", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	manual := e.session(session.Routed, apiKey)
	s, c, k := e.join(sid, "a")
	ms, mc, _ := e.join(manual, "b")
	e.publish(ms, mc.ID, "manual")
	if list, _, _ := e.m.List(e.ctx, apiKey, "", 0, 10); len(list) != 0 {
		t.Fatalf("archives before anyone published: %+v", list)
	}
	id, fs := e.publish(s, c.ID, "a")
	first := e.waitAuto(sid, 1)
	if first.Name != "auto" || first.OutputMode != OutputIndividual || first.Status != StatusStarted {
		t.Fatalf("automatic archive %+v", first)
	}
	got, err := e.m.Stop(e.ctx, apiKey, first.ID)
	if err != nil || got.Status != StatusStarted {
		t.Errorf("stopping the automatic archive: %+v, %v; want no effect", got, err)
	}
	time.Sleep(50 * time.Millisecond) // the recording taps the stream
	fs.feed(0.3)
	time.Sleep(50 * time.Millisecond)
	if err := s.Unpublish(c.ID, id, session.ReasonClientDisconnected); err != nil {
		t.Fatal(err)
	}
	if a := e.waitStatus(first.ID, StatusAvailable, StatusFailed); a.Status != StatusAvailable || a.Reason != ReasonIdle {
		t.Errorf("after the streams left: %+v", a)
	}
	e.publish(s, c.ID, "again")
	e.waitAuto(sid, 2)
	// The archive is stored before the session is told.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n := strings.Count(strings.Join(k.archiveEvents(), ","), "archiveStarted"); n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices %q, want two archiveStarted", k.archiveEvents())
		}
	}
	if list, _, _ := e.m.List(e.ctx, apiKey, manual, 0, 10); len(list) != 0 {
		t.Errorf("a manual session recorded itself: %+v", list)
	}
}

// waitAuto waits until session sid has n archives and returns the newest.
func (e *env) waitAuto(sid string, n int) store.Archive {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, _, err := e.m.List(e.ctx, apiKey, sid, 0, 10)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(list) >= n {
			return list[0]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d archives of the session, want %d", len(list), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestManualStreamMode(t *testing.T) {
	e := newEnv(t, nil)
	sid := e.session(session.Routed, apiKey)
	s, c, _ := e.join(sid, "a")
	st, fs := e.publish(s, c.ID, "a")

	auto, err := e.m.Start(e.ctx, apiKey, sid, individualOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetStream(e.ctx, apiKey, auto.ID, st, true, true, true); !errors.Is(err, ErrStreamMode) {
		t.Errorf("streams of an auto archive: %v, want ErrStreamMode", err)
	}
	o := individualOptions()
	o.StreamMode, o.MultiArchiveTag = StreamModeManual, "manual"
	a, err := e.m.Start(e.ctx, apiKey, sid, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		stream        string
		add, au, vi   bool
		kind          error
		wantStreams   string
		wantRecording int
	}{
		{"unknown stream", "nope", true, true, true, ErrNotFound, "", 0},
		{"neither track", st, true, false, false, ErrInvalid, "", 0},
		{"audio only", st, true, true, false, nil, st + " audio", 1},
		{"then video too", st, true, true, true, nil, st + " audio video", 1},
		{"removed", st, false, false, false, nil, "", 0},
		{"removed again", st, false, false, false, nil, "", 0},
	} {
		err := e.m.SetStream(e.ctx, apiKey, a.ID, tc.stream, tc.add, tc.au, tc.vi)
		if (tc.kind == nil && err != nil) || (tc.kind != nil && !errors.Is(err, tc.kind)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
			continue
		}
		got, _ := e.m.Get(e.ctx, apiKey, a.ID)
		var desc []string
		for _, x := range got.Streams {
			d := x.StreamID
			if x.HasAudio {
				d += " audio"
			}
			if x.HasVideo {
				d += " video"
			}
			desc = append(desc, d)
		}
		if strings.Join(desc, ",") != tc.wantStreams {
			t.Errorf("%s: streams %q, want %q", tc.name, desc, tc.wantStreams)
		}
		if tc.name == "audio only" || tc.name == "then video too" {
			time.Sleep(30 * time.Millisecond)
			fs.feed(0.5)
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := e.m.Stop(e.ctx, apiKey, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetStream(e.ctx, apiKey, a.ID, st, true, true, true); !errors.Is(err, ErrConflict) {
		t.Errorf("streams of a stopped archive: %v, want a conflict", err)
	}
	done := e.waitStatus(a.ID, StatusAvailable, StatusFailed)
	m, files := e.unzip(e.download(done), a.ID)
	// One file per stretch: audio only, then audio and video.
	if len(m.Files) != 2 || m.Files[0].Filename != st+".webm" || m.Files[1].Filename != st+".2.webm" ||
		m.Files[0].HasVideo || !m.Files[1].HasVideo {
		t.Fatalf("manifest files %+v", m.Files)
	}
	if len(files[st+".webm"].types) != 1 || len(files[st+".2.webm"].types) != 2 {
		t.Errorf("tracks: %v and %v", files[st+".webm"].types, files[st+".2.webm"].types)
	}
}

// TestRecover puts on disk what a node killed mid-recording leaves, and
// starts a Manager on it.
func TestRecover(t *testing.T) {
	e := newEnv(t, nil)
	sid := e.session(session.Routed, apiKey)
	created := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	mk := func(id, status string) store.Archive {
		a := store.Archive{ID: id, APIKey: apiKey, SessionID: sid, Status: status, OutputMode: OutputIndividual,
			StreamMode: StreamModeAuto, HasAudio: true, HasVideo: true, CreatedAt: created, UpdatedAt: created}
		if err := e.st.CreateArchive(e.ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	// A recording cut off in the middle of a block.
	crashed := mk("0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", StatusStarted)
	os.MkdirAll(filepath.Join(e.dir, crashed.ID), 0o750)
	live, blocks := writeTestFile(t, filepath.Join(e.dir, crashed.ID, "s1.webm"), 3)
	os.WriteFile(filepath.Join(e.dir, crashed.ID, "s1.webm"), live[:len(live)-3], 0o640)
	root, _ := os.OpenRoot(e.dir)
	defer root.Close()
	if err := writeJournal(root, manifest{ID: crashed.ID, SessionID: sid, CreatedAt: created.UnixMilli(),
		Files: []manifestFile{{Filename: "s1.webm", StreamID: "s1", ConnectionData: "d", StartTimeOffset: 1500, HasAudio: true, HasVideo: true}}}); err != nil {
		t.Fatal(err)
	}
	// One that died before anything was written.
	empty := mk("1f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", StatusStarted)
	os.MkdirAll(filepath.Join(e.dir, empty.ID), 0o750)
	// One whose zip was written, but not its status.
	zipped := mk("2f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", StatusStopped)
	os.MkdirAll(filepath.Join(e.dir, zipped.ID), 0o750)
	writeTestFile(t, filepath.Join(e.dir, zipped.ID, "s2.webm"), 1)
	if err := writeJournal(root, manifest{ID: zipped.ID, Files: []manifestFile{{Filename: "s2.webm", StreamID: "s2"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := seal(e.ctx, root, zipped.ID, nil); err != nil {
		t.Fatal(err)
	}
	// A journal naming a file outside the folder.
	evil := mk("3f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", StatusStarted)
	os.MkdirAll(filepath.Join(e.dir, evil.ID), 0o750)
	os.WriteFile(filepath.Join(e.dir, evil.ID, journalName), []byte(`{"id":"`+evil.ID+`","files":[{"filename":"../../parley.db"}]}`), 0o640)

	if err := e.m.Recover(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a              store.Archive
		status, reason string
		duration       int
	}{
		{crashed, StatusAvailable, ReasonSessionEnded, 4}, // 1.5 s offset + 3 s of media less the torn block, rounded
		{empty, StatusFailed, ReasonFailure, 0},
		{zipped, StatusAvailable, "", 0},
		{evil, StatusFailed, ReasonFailure, 0},
	} {
		got, _ := e.st.Archive(e.ctx, tc.a.ID)
		if got.Status != tc.status || got.Reason != tc.reason || got.Duration != tc.duration {
			t.Errorf("%s: %s %q %d s, want %s %q %d s", tc.a.ID, got.Status, got.Reason, got.Duration, tc.status, tc.reason, tc.duration)
		}
	}
	got, _ := e.st.Archive(e.ctx, crashed.ID)
	m, files := e.unzip(e.download(got), crashed.ID)
	l := files["s1.webm"]
	if len(m.Files) != 1 || l.blocks != blocks-1 || m.Files[0].StopTimeOffset != 1500+l.lastMs {
		t.Errorf("recovered: manifest %+v, %d blocks of %d", m.Files, l.blocks, blocks)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "..", "parley.db")); err != nil {
		t.Errorf("the store next to the archive folder: %v", err)
	}
}

func TestDownloadPathSafety(t *testing.T) {
	e := newEnv(t, nil)
	secret := filepath.Join(filepath.Dir(e.dir), "secret.txt")
	os.WriteFile(secret, []byte("not for download"), 0o600)
	id := "0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f"
	// A link in the archive folder pointing out of it.
	if err := os.Symlink(secret, filepath.Join(e.dir, id+".zip")); err != nil {
		t.Fatal(err)
	}
	link := func(id string) (string, string) {
		u, _ := url.Parse(e.m.signer.link("http://x", id, ".zip", time.Now().Add(time.Minute)))
		return u.Query().Get("expires"), u.Query().Get("sig")
	}
	for _, bad := range []string{"../secret.txt", "../" + id, id + "/../../secret.txt", strings.ToUpper(id) + ".zip", id, id + ".json", id + ".mp4.zip"} {
		exp, sig := link(bad)
		if f, err := e.m.Download(bad, exp, sig); !errors.Is(err, ErrNotFound) {
			t.Errorf("Download(%q): %v, want not found", bad, err)
			if f != nil {
				f.Close()
			}
		}
	}
	exp, sig := link(id)
	if f, err := e.m.Download(id+".zip", exp, sig); err == nil {
		b, _ := io.ReadAll(f)
		f.Close()
		t.Errorf("a symbolic link out of the archive folder was followed: %q", b)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
