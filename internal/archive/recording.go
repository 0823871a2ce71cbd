package archive

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

// recording is an archive being recorded. One goroutine (run) owns its
// output: it includes and excludes streams as the session's events and
// the API's stream changes say, watches the limits, and on stopping
// records the archive stopped, then zips it.
type recording struct {
	m                  *Manager
	id, apiKey, name   string
	sessionID, tag     string
	manual             bool
	auto               bool // the automatic archive of an always session
	hasAudio, hasVideo bool
	createdAt          time.Time

	mu    sync.Mutex
	rec   store.Archive
	inbox []session.Event
	wake  chan struct{}

	// out is owned by run's goroutine (and the commands it runs).
	out      output
	cmds     chan func()
	stopReq  chan string
	loopDone chan struct{} // closed when run stops taking commands

	// stopped is closed once the archive is recorded stopped (or that
	// failed, finalErr); final is the archive then.
	stopped  chan struct{}
	final    store.Archive
	finalErr error
}

func newRecording(m *Manager, a store.Archive) *recording {
	return &recording{
		m: m, id: a.ID, apiKey: a.APIKey, name: a.Name, sessionID: a.SessionID, tag: a.MultiArchiveTag,
		manual: a.StreamMode == StreamModeManual, hasAudio: a.HasAudio, hasVideo: a.HasVideo, createdAt: a.CreatedAt,
		rec: a, wake: make(chan struct{}, 1), cmds: make(chan func()), stopReq: make(chan string, 1),
		loopDone: make(chan struct{}), stopped: make(chan struct{}),
	}
}

// post queues a session event; it runs under the session's lock.
func (r *recording) post(ev session.Event) {
	r.mu.Lock()
	r.inbox = append(r.inbox, ev)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// requestStop asks run to stop, for reason; the first request wins.
func (r *recording) requestStop(reason string) {
	select {
	case r.stopReq <- reason:
	default:
	}
}

// do runs fn on run's goroutine and returns its error; an archive that
// stops meanwhile is refused as not recording.
func (r *recording) do(ctx context.Context, fn func() error) error {
	res := make(chan error, 1)
	select {
	case r.cmds <- func() { res <- fn() }:
	case <-r.loopDone:
		return refuse(ErrConflict, "archive %s is not recording", r.id)
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-res
}

func (r *recording) run(out output) {
	defer r.m.wg.Done()
	r.out = out
	maxTimer := time.NewTimer(r.m.cfg.MaxDuration - time.Since(r.createdAt))
	defer maxTimer.Stop()
	var idle *time.Timer
	var idleC <-chan time.Time
	watchIdle := func() {
		switch {
		case out.recording() > 0 && idle != nil:
			idle.Stop()
			idle, idleC = nil, nil
		case out.recording() == 0 && idle == nil:
			idle = time.NewTimer(r.m.cfg.IdleTimeout)
			idleC = idle.C
		}
	}
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()

	if !r.manual {
		if s, ok := r.m.cfg.Sessions.Get(r.sessionID); ok {
			for _, st := range s.Streams() {
				r.include(out, st.ID, true, true)
			}
		}
	}
	watchIdle()
	var reason string
loop:
	for {
		select {
		case <-r.wake:
			r.mu.Lock()
			evs := r.inbox
			r.inbox = nil
			r.mu.Unlock()
			for _, ev := range evs {
				r.follow(out, ev)
			}
		case fn := <-r.cmds:
			fn()
		case <-maxTimer.C:
			reason = ReasonMaxDuration
			break loop
		case <-idleC:
			reason = ReasonIdle
			if s, ok := r.m.cfg.Sessions.Get(r.sessionID); !ok || s.Empty() {
				reason = ReasonSessionEnded
			}
			break loop
		case reason = <-r.stopReq:
			break loop
		case <-r.m.ctx.Done():
			reason = ReasonSessionEnded
			break loop
		}
		watchIdle()
	}
	close(r.loopDone)
	r.finish(out, reason)
}

// follow applies a session event to the output.
func (r *recording) follow(out output, ev session.Event) {
	c, _ := out.(*composed)
	var err error
	switch {
	case ev.Kind == session.EventStreamDestroyed:
		out.exclude(ev.Stream.ID)
	case ev.Kind == session.EventStreamCreated && !r.manual:
		r.include(out, ev.Stream.ID, true, true)
	case c == nil || ev.Stream == nil || !c.recordingStream(ev.Stream.ID):
	case ev.Kind == session.EventLayoutClassListChanged:
		err = c.setClasses(ev.Stream.ID, ev.Stream.LayoutClassList)
	case ev.Kind == session.EventStreamPropertyChanged && ev.Property == "hasVideo":
		err = c.setVideo(ev.Stream.ID, ev.Stream.HasVideo)
	}
	if err != nil {
		r.m.log.Error("archive: writing the composition", "archive", r.id, "err", err)
	}
}

// include starts recording a stream of the session, with the tracks
// asked for that the archive records.
func (r *recording) include(out output, streamID string, audio, video bool) {
	s, ok := r.m.cfg.Sessions.Get(r.sessionID)
	if !ok {
		return
	}
	st, ok := s.Stream(streamID)
	if !ok {
		return // gone already
	}
	conn, _ := s.Connection(st.ConnectionID)
	media, ok := r.m.cfg.Media.Stream(streamID)
	if !ok {
		r.m.log.Warn("archive: a stream without media in the SFU", "archive", r.id, "stream", streamID)
		return
	}
	err := out.include(source{stream: st, connection: conn, media: media,
		audio: audio && r.hasAudio, video: video && r.hasVideo})
	if err != nil {
		r.m.log.Error("archive: recording a stream", "archive", r.id, "stream", streamID, "err", err)
	}
}

// setStream changes the streams of a manual-mode archive: it runs on
// run's goroutine, through do.
func (r *recording) setStream(ctx context.Context, streamID string, add, hasAudio, hasVideo bool) error {
	r.mu.Lock()
	a := r.rec
	r.mu.Unlock()
	i := slices.IndexFunc(a.Streams, func(x store.ArchiveStream) bool { return x.StreamID == streamID })
	s, live := r.m.cfg.Sessions.Get(r.sessionID)
	exists := false
	if live {
		_, exists = s.Stream(streamID)
	}
	next := slices.Clone(a.Streams)
	switch {
	case add && !exists:
		return refuse(ErrNotFound, "stream %q not found in the session", streamID)
	case add && i >= 0:
		next[i] = store.ArchiveStream{StreamID: streamID, HasAudio: hasAudio, HasVideo: hasVideo}
	case add:
		next = append(next, store.ArchiveStream{StreamID: streamID, HasAudio: hasAudio, HasVideo: hasVideo})
	case i >= 0:
		next = slices.Delete(next, i, i+1)
	case !exists:
		return refuse(ErrNotFound, "stream %q not found in the archive or the session", streamID)
	default:
		return nil // not in the archive: nothing to remove
	}
	a.Streams, a.UpdatedAt = next, r.m.now()
	if err := r.m.cfg.Store.UpdateArchive(ctx, a); err != nil {
		return err
	}
	r.mu.Lock()
	r.rec = a
	r.mu.Unlock()
	if add {
		r.include(r.out, streamID, hasAudio, hasVideo)
	} else {
		r.out.exclude(streamID)
	}
	return nil
}

// finish stops the output, records the archive stopped, tells the
// session, and zips the files.
func (r *recording) finish(out output, reason string) {
	err := out.close()
	stoppedAt := r.m.now()
	r.m.deactivate(r)
	if s, ok := r.m.cfg.Sessions.Get(r.sessionID); ok {
		s.ArchiveStopped(r.id)
	}
	r.mu.Lock()
	a := r.rec
	r.mu.Unlock()
	a.Status, a.Reason = StatusStopped, reason
	a.Duration = seconds(stoppedAt.Sub(a.CreatedAt))
	a.UpdatedAt = stoppedAt
	if err != nil {
		r.m.log.Error("archive: stopping the recording", "archive", r.id, "err", err)
	}
	r.finalErr = r.m.cfg.Store.UpdateArchive(context.Background(), a)
	r.final = a
	close(r.stopped)
	r.m.log.Info("archive stopped", "archive", r.id, "reason", reason, "duration", a.Duration)
	if r.finalErr != nil {
		r.m.log.Error("archive: recording it stopped", "archive", r.id, "err", r.finalErr)
		return
	}
	r.m.changed(a)
	r.m.settle(r.m.sealCtx, a)
}
