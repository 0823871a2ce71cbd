package broadcast

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/compositor"
	"github.com/parleyhq/parley/internal/layout"
	"github.com/parleyhq/parley/internal/session"
)

// hlsFileRE are the names of an HLS output's files.
var hlsFileRE = regexp.MustCompile(`^(playlist\.m3u8|segment-[0-9]{5,9}\.ts)$`)

// live is a running broadcast. One goroutine (run) owns the compositor's
// inputs: it follows the session's streams and the API's changes, and
// watches the limits; the outputs run on goroutines of their own and
// report their statuses.
type live struct {
	m   *Manager
	tag string
	dir string // HLS files; "" without HLS

	mu sync.Mutex
	b  Broadcast

	comp      *compositor.Compositor
	fan       *fanout
	outputs   []*output
	outCtx    context.Context
	outCancel context.CancelFunc
	outWG     sync.WaitGroup

	wake     chan struct{}
	cmds     chan func()
	stopReq  chan string
	loopDone chan struct{}
	stoppedC chan struct{}
	final    Broadcast
	shown    int // inputs in the last Set
}

func newLive(m *Manager, b Broadcast) *live {
	return &live{m: m, tag: b.MultiBroadcastTag, b: b, wake: make(chan struct{}, 1), cmds: make(chan func()),
		stopReq: make(chan string, 1), loopDone: make(chan struct{}), stoppedC: make(chan struct{})}
}

func (l *live) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *live) requestStop(reason string) {
	select {
	case l.stopReq <- reason:
	default:
	}
}

// snapshot is the broadcast now.
func (l *live) snapshot() Broadcast {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b
	b.RTMP = slices.Clone(b.RTMP)
	b.Streams = slices.Clone(b.Streams)
	return b
}

func (l *live) save() error {
	l.mu.Lock()
	l.b.UpdatedAt = time.Now().UnixMilli()
	l.mu.Unlock()
	rec, err := encode(l.snapshot())
	if err != nil {
		return err
	}
	return l.m.cfg.Store.UpdateBroadcast(context.Background(), rec)
}

// begin starts the outputs and the compositor.
func (l *live) begin() error {
	b := l.snapshot()
	w, h := parseResolution(b.Resolution)
	l.outCtx, l.outCancel = context.WithCancel(l.m.ctx)
	l.fan = &fanout{}
	if b.HLS != nil {
		l.dir = filepath.Join(l.m.cfg.Dir, b.ID)
		if err := os.MkdirAll(l.dir, 0o750); err != nil {
			return err
		}
		o := newOutput("hls", l.m.ffmpeg, l.m.log, func(status, reason string) { l.outputStatus(-1, status, reason) })
		o.args = hlsArgs(l.dir, b.HLS.DVR, b.HLS.LowLatency)
		o.live = firstSegment(l.dir)
		o.retry = true
		l.outputs = append(l.outputs, o)
	}
	for i, r := range b.RTMP {
		name := r.ID
		if name == "" {
			name = "rtmp" + strconv.Itoa(i)
		}
		o := newOutput(name, l.m.ffmpeg, l.m.log, func(status, reason string) { l.outputStatus(i, status, reason) })
		o.args = rtmpArgs(r.target())
		o.retry = true
		l.outputs = append(l.outputs, o)
	}
	l.fan.outputs = l.outputs
	comp, err := compositor.Start(l.outCtx, compositor.Config{Width: w, Height: h, Audio: b.HasAudio, Video: b.HasVideo,
		VideoBitrate: b.MaxBitrate, Out: l.fan, FFmpeg: l.m.ffmpeg, Log: l.m.log.With("broadcast", b.ID)})
	if err != nil {
		l.outCancel()
		if l.dir != "" {
			os.RemoveAll(l.dir)
		}
		return err
	}
	l.comp = comp
	for _, o := range l.outputs {
		l.outWG.Add(1)
		go func() {
			defer l.outWG.Done()
			o.run(l.outCtx)
		}()
	}
	return nil
}

// outputStatus records output i's status (-1: HLS) and tells.
func (l *live) outputStatus(i int, status, reason string) {
	l.mu.Lock()
	if l.b.Status != Started {
		l.mu.Unlock()
		return
	}
	if i < 0 {
		l.b.HLSStatus = status
	} else if i < len(l.b.RTMP) {
		l.b.RTMP[i].Status = status
	}
	l.mu.Unlock()
	if status == StatusOffline || status == StatusError {
		l.m.log.Warn("broadcast output down", "broadcast", l.b.ID, "output", i, "status", status, "reason", reason)
	}
	if err := l.save(); err != nil {
		l.m.log.Error("broadcast: recording an output's status", "broadcast", l.b.ID, "err", err)
	}
	l.m.changed(l.snapshot())
}

// do runs fn on run's goroutine.
func (l *live) do(ctx context.Context, fn func() error) error {
	res := make(chan error, 1)
	select {
	case l.cmds <- func() { res <- fn() }:
	case <-l.loopDone:
		return refuse(ErrConflict, "broadcast %s is not running", l.b.ID)
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-res
}

func (l *live) run() {
	defer l.m.wg.Done()
	b := l.snapshot()
	maxTimer := time.NewTimer(time.Duration(b.MaxDuration)*time.Second - time.Since(time.UnixMilli(b.CreatedAt)))
	defer maxTimer.Stop()
	var idle *time.Timer
	var idleC <-chan time.Time
	watchIdle := func() {
		switch {
		case l.shown > 0 && idle != nil:
			idle.Stop()
			idle, idleC = nil, nil
		case l.shown == 0 && idle == nil:
			idle = time.NewTimer(l.m.cfg.IdleTimeout)
			idleC = idle.C
		}
	}
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	l.recompose()
	watchIdle()
	var reason string
loop:
	for {
		select {
		case <-l.wake:
			l.recompose()
		case fn := <-l.cmds:
			fn()
		case <-maxTimer.C:
			reason = "maximum duration exceeded"
			break loop
		case <-idleC:
			reason = "maximum idle time exceeded"
			break loop
		case <-l.comp.Done():
			reason = "failure"
			l.m.log.Error("broadcast: the compositor stopped", "broadcast", b.ID, "err", l.comp.Err())
			break loop
		case reason = <-l.stopReq:
			break loop
		case <-l.m.ctx.Done():
			reason = "session ended"
			break loop
		}
		watchIdle()
	}
	close(l.loopDone)
	l.finish(reason)
}

// recompose gives the compositor the streams the broadcast shows now,
// laid out by its layout.
func (l *live) recompose() {
	b := l.snapshot()
	s, ok := l.m.cfg.Sessions.Get(b.SessionID)
	var streams []session.Stream
	if ok {
		streams = s.Streams()
	}
	slices.SortStableFunc(streams, func(x, y session.Stream) int { return x.CreationTime.Compare(y.CreationTime) })
	type pick struct {
		st           session.Stream
		audio, video bool
	}
	var picks []pick
	for _, st := range streams {
		audio, video := true, true
		if b.StreamMode == "manual" {
			i := slices.IndexFunc(b.Streams, func(r StreamRef) bool { return r.StreamID == st.ID })
			if i < 0 {
				continue
			}
			audio, video = b.Streams[i].HasAudio, b.Streams[i].HasVideo
		}
		picks = append(picks, pick{st, audio && b.HasAudio && st.HasAudio, video && b.HasVideo})
	}
	var placed []layout.Stream
	for _, p := range picks {
		if p.video {
			placed = append(placed, layout.Stream{ID: p.st.ID, VideoType: p.st.VideoType, Classes: p.st.LayoutClassList})
		}
	}
	boxes := map[string]*compositor.Box{}
	if lay, err := layout.Parse(b.Layout); err == nil {
		w, h := parseResolution(b.Resolution)
		for _, bx := range lay.Place(w, h, placed) {
			boxes[bx.StreamID] = &compositor.Box{StreamID: bx.StreamID, X: bx.X, Y: bx.Y, W: bx.W, H: bx.H, Z: bx.Z, Fit: bx.Fit}
		}
	}
	var inputs []compositor.Input
	for _, p := range picks {
		src, ok := l.m.cfg.Media.Stream(p.st.ID)
		if !ok {
			continue
		}
		box := boxes[p.st.ID]
		inputs = append(inputs, compositor.Input{ID: p.st.ID, Source: src, Audio: p.audio,
			Video: p.video && box != nil && p.st.HasVideo, Box: box})
	}
	l.comp.Set(inputs)
	l.shown = len(inputs)
}

// setStream changes the streams of a manual-mode broadcast.
func (l *live) setStream(streamID string, add, hasAudio, hasVideo bool) error {
	b := l.snapshot()
	i := slices.IndexFunc(b.Streams, func(r StreamRef) bool { return r.StreamID == streamID })
	exists := false
	if s, ok := l.m.cfg.Sessions.Get(b.SessionID); ok {
		_, exists = s.Stream(streamID)
	}
	next := slices.Clone(b.Streams)
	switch {
	case add && !exists:
		return refuse(ErrNotFound, "stream %q not found in the session", streamID)
	case add && i >= 0:
		next[i] = StreamRef{streamID, hasAudio, hasVideo}
	case add:
		next = append(next, StreamRef{streamID, hasAudio, hasVideo})
	case i >= 0:
		next = slices.Delete(next, i, i+1)
	case !exists:
		return refuse(ErrNotFound, "stream %q not found in the broadcast or the session", streamID)
	default:
		return nil
	}
	l.mu.Lock()
	l.b.Streams = next
	l.mu.Unlock()
	l.recompose()
	return l.save()
}

// finish stops the compositor (its last frames reach the outputs), lets
// the outputs end (HLS writes the end of its playlist), and records the
// broadcast stopped.
func (l *live) finish(reason string) {
	if err := l.comp.Close(); err != nil {
		l.m.log.Warn("broadcast: closing the compositor", "broadcast", l.b.ID, "err", err)
	}
	l.fan.close()
	done := make(chan struct{})
	go func() {
		l.outWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		l.outCancel()
		<-done
	}
	l.outCancel()
	l.m.deactivate(l)
	l.mu.Lock()
	b := l.b
	l.mu.Unlock()
	l.final = l.m.stopped(context.Background(), b, reason)
	l.mu.Lock()
	l.b = l.final
	l.mu.Unlock()
	close(l.stoppedC)
	l.m.changed(l.final)
	l.m.log.Info("broadcast stopped", "broadcast", b.ID, "reason", reason)
	if l.dir != "" {
		l.m.retire(l.dir)
	}
}

// retire removes a stopped broadcast's HLS files after Retain.
func (m *Manager) retire(dir string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return // the next start removes it
	}
	m.retiring.Add(1)
	go func() {
		defer m.retiring.Done()
		t := time.NewTimer(m.cfg.Retain)
		defer t.Stop()
		select {
		case <-t.C:
			if err := os.RemoveAll(dir); err != nil {
				m.log.Warn("broadcast: removing HLS files", "dir", dir, "err", err)
			}
		case <-m.ctx.Done():
		}
	}()
}

// parseResolution splits "WxH".
func parseResolution(r string) (w, h int) {
	ws, hs, _ := strings.Cut(r, "x")
	w, _ = strconv.Atoi(ws)
	h, _ = strconv.Atoi(hs)
	if w == 0 || h == 0 {
		return 640, 480
	}
	return w, h
}
