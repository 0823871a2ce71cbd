package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

// Defaults of the limits OpenTok documents.
const (
	DefaultMaxDuration = 4 * time.Hour
	DefaultIdleTimeout = 60 * time.Second
)

// sealGrace is how long a node shutting down lets the archives it just
// stopped be zipped; those it cannot finish stay stopped, and are sealed
// at the next start.
const sealGrace = 10 * time.Second

// Config configures a Manager.
type Config struct {
	Store    store.Store
	Sessions *session.Registry
	Media    Media
	// Dir is the archive folder, created if needed: a working folder per
	// recording archive, a zip per available one, nothing else.
	Dir string
	// Secret keys the signatures of download links (at least 16 bytes).
	Secret []byte
	// PublicURL is the base of download links; "" means the base each
	// request came on.
	PublicURL string
	// MaxDuration stops an archive after that long (0 = 4 hours);
	// IdleTimeout stops one that has recorded no stream for that long
	// (0 = 60 s); URLValidity is how long a download link works (0 = 10
	// minutes).
	MaxDuration time.Duration
	IdleTimeout time.Duration
	URLValidity time.Duration
	Log         *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// FFmpeg is the ffmpeg that composes composed archives ("" looks for
	// "ffmpeg" on the PATH); without one, composed archives are refused.
	FFmpeg string
	// OnChange, if set, gets each archive whose status changed, from the
	// Manager's goroutines: where archive status callbacks will hook in.
	// It must not block.
	OnChange func(store.Archive)
}

// Manager runs the archives of a node.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	root     *os.Root
	signer   signer
	composer *composer // nil when the node has no ffmpeg

	// ctx ends the recordings (node shutdown); sealCtx, a little later,
	// the zipping of those that stopped.
	ctx, sealCtx       context.Context
	cancel, sealCancel context.CancelFunc

	mu        sync.Mutex
	active    map[string]*recording   // by archive id
	bySession map[string][]*recording // by session id
	autoing   map[string]bool         // sessions whose automatic archive is being started
	closed    bool
	wg        sync.WaitGroup

	recordingDesc, droppedDesc *prometheus.Desc
	dropped                    atomic.Uint64
}

// New opens the archive folder. It starts nothing: Recover finishes what
// a previous run left, Observe follows sessions.
func New(cfg Config) (*Manager, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("archive: the download link secret must be at least 16 bytes")
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = DefaultMaxDuration
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.URLValidity <= 0 {
		cfg.URLValidity = DefaultURLValidity
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("archive folder: %w", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("archive folder: %w", err)
	}
	m := &Manager{cfg: cfg, log: cfg.Log, root: root, signer: signer{secret: cfg.Secret},
		active: map[string]*recording{}, bySession: map[string][]*recording{}, autoing: map[string]bool{},
		recordingDesc: prometheus.NewDesc("parley_archives_recording", "Archives recording on this node.", nil, nil),
		droppedDesc: prometheus.NewDesc("parley_archive_packets_dropped_total",
			"Packets a stream recorder had no room for (it fell behind the stream).", nil, nil),
	}
	m.composer = newComposer(cfg.FFmpeg, cfg.Dir, cfg.Log)
	if m.composer == nil {
		m.log.Warn("archive: no ffmpeg found; composed archives are refused until one is installed")
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.sealCtx, m.sealCancel = context.WithCancel(context.Background())
	return m, nil
}

func (m *Manager) now() time.Time {
	if m.cfg.Now != nil {
		return m.cfg.Now()
	}
	return time.Now()
}

// Describe implements prometheus.Collector.
func (m *Manager) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.recordingDesc
	ch <- m.droppedDesc
}

// Collect implements prometheus.Collector.
func (m *Manager) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	n := len(m.active)
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(m.recordingDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(m.droppedDesc, prometheus.CounterValue, float64(m.dropped.Load()))
}

// Observe is a session.Options.OnCreate hook: it follows the streams of
// every session for the archives recording it. When the Registry makes
// a session anew while an archive records it (everyone left, then someone
// came back), the new session learns of the archive, so that its joiners
// get archiveStarted.
func (m *Manager) Observe(s *session.Session) {
	s.Observe(sessionSink{m: m, id: s.ID()})
	m.mu.Lock()
	rs := slices.Clone(m.bySession[s.ID()])
	m.mu.Unlock()
	for _, r := range rs {
		s.ArchiveStarted(r.id, r.name)
	}
}

// sessionSink passes a session's stream events to the archives recording
// it. It runs under the session's lock: it only queues.
type sessionSink struct {
	m  *Manager
	id string
}

func (k sessionSink) Send(ev session.Event) {
	if ev.Target != "" {
		return
	}
	switch ev.Kind {
	case session.EventStreamCreated, session.EventStreamDestroyed, session.EventLayoutClassListChanged:
	case session.EventStreamPropertyChanged:
		if ev.Property != "hasVideo" {
			return
		}
	default:
		return
	}
	k.m.mu.Lock()
	rs := k.m.bySession[k.id]
	k.m.mu.Unlock()
	for _, r := range rs {
		r.post(ev)
	}
	if ev.Kind == session.EventStreamCreated && len(rs) == 0 {
		k.m.autoStart(k.id)
	}
}

// autoStart starts the automatic archive of a session whose archive mode
// is always, once a stream is published in it and nothing records it.
// It runs under the session's lock, so the work is done on a goroutine
// of the Manager's.
func (m *Manager) autoStart(sessionID string) {
	m.mu.Lock()
	if m.closed || m.autoing[sessionID] || len(m.bySession[sessionID]) > 0 {
		m.mu.Unlock()
		return
	}
	m.autoing[sessionID] = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.autoing, sessionID)
			m.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		defer cancel()
		srec, err := m.cfg.Store.Session(ctx, sessionID)
		if err != nil || srec.ArchiveMode != session.ArchiveAlways {
			return
		}
		o := DefaultOptions()
		o.Name, o.Resolution = srec.ArchiveName, srec.ArchiveResolution
		if !resolutions[o.Resolution] {
			o.Resolution = ""
		}
		if o.Resolution != "" && m.composer == nil {
			o.Resolution = ""
		}
		if m.composer == nil {
			// Without ffmpeg, an automatic archive is recorded stream by
			// stream rather than not at all.
			o.OutputMode = OutputIndividual
		}
		a, err := m.start(ctx, srec.APIKey, sessionID, o, true)
		if err != nil {
			if !errors.Is(err, ErrConflict) {
				m.log.Error("archive: starting the automatic archive", "session", sessionID, "err", err)
			}
			return
		}
		m.log.Info("automatic archive started", "archive", a.ID, "session", sessionID)
	}()
}

// Start starts recording session sessionID of project apiKey and returns
// the archive, status started. It refuses (see the Err* values) bad
// options (400), a session of another project (403), an unknown session
// or one nobody is connected to (404), composed archives (400, until a
// compositor lands), and, with 409, a relayed session and a second
// archive of a session without a distinct multiArchiveTag.
func (m *Manager) Start(ctx context.Context, apiKey, sessionID string, o Options) (store.Archive, error) {
	return m.start(ctx, apiKey, sessionID, o, false)
}

// start starts an archive; auto marks the automatic archive of a session
// whose archive mode is always.
func (m *Manager) start(ctx context.Context, apiKey, sessionID string, o Options, auto bool) (store.Archive, error) {
	if err := o.Validate(); err != nil {
		return store.Archive{}, err
	}
	srec, err := m.cfg.Store.Session(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Archive{}, refuse(ErrNotFound, "session %q not found", sessionID)
	}
	if err != nil {
		return store.Archive{}, err
	}
	if srec.APIKey != apiKey {
		return store.Archive{}, refuse(ErrForbidden, "the session belongs to another project")
	}
	if srec.MediaMode != session.Routed {
		return store.Archive{}, refuse(ErrConflict, "the session is relayed: only routed sessions (media through Parley's SFU) can be archived")
	}
	s, ok := m.cfg.Sessions.Get(sessionID)
	if !ok || s.Empty() {
		return store.Archive{}, refuse(ErrNotFound, "session has no connected clients")
	}
	if o.OutputMode == OutputComposed && m.composer == nil {
		return store.Archive{}, ErrComposedUnavailable
	}

	now := m.now().Truncate(time.Millisecond)
	a := store.Archive{
		ID: uuid.NewString(), APIKey: apiKey, SessionID: sessionID, Name: o.Name, Status: StatusStarted,
		OutputMode: o.OutputMode, StreamMode: o.StreamMode, HasAudio: o.HasAudio, HasVideo: o.HasVideo,
		Resolution: o.Resolution, MultiArchiveTag: o.MultiArchiveTag, Streams: []store.ArchiveStream{},
		CreatedAt: now, UpdatedAt: now,
	}
	r := newRecording(m, a)
	r.auto = auto
	// Claim the session's slot before anything slow, so that two starts
	// racing cannot both win it.
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return store.Archive{}, errors.New("archive: the node is shutting down")
	case slices.ContainsFunc(m.bySession[sessionID], func(x *recording) bool { return x.tag == o.MultiArchiveTag }):
		m.mu.Unlock()
		if o.MultiArchiveTag == "" {
			return store.Archive{}, refuse(ErrConflict, "the session is already being recorded; give each simultaneous archive a distinct multiArchiveTag")
		}
		return store.Archive{}, refuse(ErrConflict, "the session is already being recorded with multiArchiveTag %q", o.MultiArchiveTag)
	}
	m.active[a.ID] = r
	m.bySession[sessionID] = append(m.bySession[sessionID], r)
	m.wg.Add(1)
	m.mu.Unlock()

	out, err := m.begin(ctx, a, o)
	if err != nil {
		m.deactivate(r)
		m.wg.Done()
		return store.Archive{}, err
	}
	// Told before the recording runs, so that its stop, however soon,
	// comes after.
	s.ArchiveStarted(a.ID, a.Name)
	go r.run(out)
	m.changed(a)
	m.log.Info("archive started", "archive", a.ID, "session", sessionID, "output", a.OutputMode, "streams", a.StreamMode)
	return a, nil
}

// begin stores a new archive and makes its working folder and output.
func (m *Manager) begin(ctx context.Context, a store.Archive, o Options) (output, error) {
	if err := m.cfg.Store.CreateArchive(ctx, a); err != nil {
		return nil, err
	}
	fail := func(err error) (output, error) {
		m.root.RemoveAll(a.ID)
		return nil, errors.Join(err, m.cfg.Store.DeleteArchive(context.WithoutCancel(ctx), a.APIKey, a.ID))
	}
	if err := m.root.Mkdir(a.ID, 0o750); err != nil {
		return fail(err)
	}
	in, err := newIndividual(m.root, manifest{ID: a.ID, Name: a.Name, SessionID: a.SessionID,
		CreatedAt: a.CreatedAt.UnixMilli()}, m.log, &m.dropped)
	if err != nil {
		return fail(err)
	}
	if a.OutputMode != OutputComposed {
		return in, nil
	}
	w, h := parseResolution(a.Resolution)
	spec := Layout{Type: "bestFit"}
	if o.Layout != nil {
		spec = *o.Layout
	}
	out, err := newComposed(in, composition{ID: a.ID, Width: w, Height: h, HasAudio: a.HasAudio, HasVideo: a.HasVideo,
		MaxBitrate: o.MaxBitrate, QuantizationParameter: o.QuantizationParameter,
		Layouts: []timedLayout{{At: 0, Layout: spec}}})
	if err != nil {
		return fail(err)
	}
	return out, nil
}

func (m *Manager) deactivate(r *recording) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.active, r.id)
	rs := slices.DeleteFunc(slices.Clone(m.bySession[r.sessionID]), func(x *recording) bool { return x == r })
	if len(rs) == 0 {
		delete(m.bySession, r.sessionID)
	} else {
		m.bySession[r.sessionID] = rs
	}
}

func (m *Manager) recordingOf(apiKey, id string) *recording {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.active[id]; r != nil && r.apiKey == apiKey {
		return r
	}
	return nil
}

func (m *Manager) changed(a store.Archive) {
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(a)
	}
}

// notRecording is the refusal of an action on an archive that is not
// recording (404 when there is no such archive).
func (m *Manager) notRecording(ctx context.Context, apiKey, id string) error {
	a, err := m.Get(ctx, apiKey, id)
	if err != nil {
		return err
	}
	return refuse(ErrConflict, "archive %s is not recording (status %s)", id, a.Status)
}

// Stop stops recording archive id and returns it, status stopped; the zip
// is written next, and the archive becomes available. An archive that is
// not recording is refused with 409.
func (m *Manager) Stop(ctx context.Context, apiKey, id string) (store.Archive, error) {
	r := m.recordingOf(apiKey, id)
	if r == nil {
		return store.Archive{}, m.notRecording(ctx, apiKey, id)
	}
	if r.auto {
		// OpenTok: stopping the automatic archive of an always session
		// has no effect; it stops when the session's streams are gone.
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.rec, nil
	}
	r.requestStop(ReasonUserInitiated)
	select {
	case <-r.stopped:
		return r.final, r.finalErr
	case <-ctx.Done():
		return store.Archive{}, ctx.Err()
	}
}

// Get returns archive id of project apiKey.
func (m *Manager) Get(ctx context.Context, apiKey, id string) (store.Archive, error) {
	if !ValidID(id) {
		return store.Archive{}, refuse(ErrNotFound, "archive not found")
	}
	a, err := m.cfg.Store.Archive(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.APIKey != apiKey) {
		return store.Archive{}, refuse(ErrNotFound, "archive not found")
	}
	return a, err
}

// List returns the archives of project apiKey (of one session when
// sessionID is not ""), newest first, from offset, at most count, and how
// many there are.
func (m *Manager) List(ctx context.Context, apiKey, sessionID string, offset, count int) ([]store.Archive, int, error) {
	return m.cfg.Store.Archives(ctx, store.ArchiveFilter{APIKey: apiKey, SessionID: sessionID, Offset: offset, Count: count})
}

// Delete removes archive id and its files. Only a finished archive
// (available, uploaded or failed) can be deleted; 409 otherwise.
func (m *Manager) Delete(ctx context.Context, apiKey, id string) error {
	a, err := m.Get(ctx, apiKey, id)
	if err != nil {
		return err
	}
	switch a.Status {
	case StatusAvailable, StatusUploaded, StatusFailed:
	default:
		return refuse(ErrConflict, "archive %s is %s: only available, uploaded or failed archives can be deleted", id, a.Status)
	}
	// Files first: a record without files can be deleted again, files
	// without a record could not.
	if err := m.removeUploaded(ctx, a); err != nil {
		return err
	}
	for _, name := range []string{id + ".zip", id + ".mp4"} {
		if err := m.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := m.root.RemoveAll(id); err != nil {
		return err
	}
	err = m.cfg.Store.DeleteArchive(ctx, apiKey, id)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(ErrNotFound, "archive not found")
	}
	if err == nil {
		m.log.Info("archive deleted", "archive", id)
	}
	return err
}

// SetStream adds (add true, with the tracks asked for) or removes a
// stream of a manual-mode archive. It refuses an archive in auto mode
// (ErrStreamMode), one that is not recording (409), an unknown stream
// (404) and a stream added with neither audio nor video (400).
func (m *Manager) SetStream(ctx context.Context, apiKey, id, streamID string, add, hasAudio, hasVideo bool) error {
	r := m.recordingOf(apiKey, id)
	if r == nil {
		return m.notRecording(ctx, apiKey, id)
	}
	if !r.manual {
		return refuse(ErrStreamMode, "archive %s records every stream (streamMode auto); addStream and removeStream are for streamMode manual", id)
	}
	if add && !hasAudio && !hasVideo {
		return refuse(ErrInvalid, "hasAudio and hasVideo cannot both be false")
	}
	return r.do(ctx, func() error { return r.setStream(ctx, streamID, add, hasAudio, hasVideo) })
}

// SetLayout changes the layout of composed archive id from now on. It
// refuses a bad layout (400), an individual archive (400), and one that
// is not recording (409).
func (m *Manager) SetLayout(ctx context.Context, apiKey, id string, spec Layout) error {
	o := DefaultOptions()
	o.Layout = &spec
	if err := o.Validate(); err != nil {
		return err
	}
	r := m.recordingOf(apiKey, id)
	if r == nil {
		return m.notRecording(ctx, apiKey, id)
	}
	return r.do(ctx, func() error {
		c, ok := r.out.(*composed)
		if !ok {
			return refuse(ErrInvalid, "layouts apply to composed archives; archive %s is individual", id)
		}
		return c.setLayout(spec)
	})
}

// URL returns the download link of an available archive, or "": on the
// configured public URL, else on base (the URL the request came on).
func (m *Manager) URL(a store.Archive, base string) string {
	if a.Status != StatusAvailable {
		return ""
	}
	if m.cfg.PublicURL != "" {
		base = m.cfg.PublicURL
	}
	return m.signer.link(base, a.ID, fileExt(a), m.now().Add(m.cfg.URLValidity))
}

// seconds rounds d to whole seconds, as OpenTok's durations are.
func seconds(d time.Duration) int {
	return int(math.Round(max(d, 0).Seconds()))
}

// settle zips a stopped archive and records the outcome: available, or
// failed when nothing was recorded or the zip could not be written. When
// the node shuts down before it is done, the archive stays stopped and
// the next start settles it.
func (m *Manager) settle(ctx context.Context, a store.Archive) store.Archive {
	res, err := seal(ctx, m.root, a.ID, m.composer)
	switch {
	case err == nil:
		a.Status, a.Size = StatusAvailable, res.size
		// To the project's S3 bucket, when it has one: uploaded, or
		// failed, or still available here (its fallback).
		a = m.deliver(ctx, a, res.name)
	case ctx.Err() != nil:
		m.log.Info("archive: zipping interrupted; it will be finished at the next start", "archive", a.ID)
		return a
	case errors.Is(err, errNothingRecorded):
		a.Status, a.Reason = StatusFailed, ReasonFailure
		m.log.Warn("archive failed: nothing was recorded", "archive", a.ID)
	case errors.Is(err, errNoComposer):
		m.log.Warn("archive: left stopped until ffmpeg is installed to compose it", "archive", a.ID)
		return a
	default:
		a.Status, a.Reason = StatusFailed, ReasonFailure
		m.log.Error("archive failed", "archive", a.ID, "err", err)
	}
	a.UpdatedAt = m.now()
	if err := m.cfg.Store.UpdateArchive(context.WithoutCancel(ctx), a); err != nil {
		m.log.Error("archive: recording its status", "archive", a.ID, "status", a.Status, "err", err)
		return a
	}
	m.changed(a)
	if a.Status == StatusAvailable {
		m.log.Info("archive available", "archive", a.ID, "file", res.name, "files", res.files, "bytes", res.size)
	}
	return a
}

// Recover finishes the archives a previous run of the node left started
// or stopped (it was killed, or shut down before zipping): each becomes
// available from what its files hold up to the crash, or failed when
// nothing was recorded. None is left started. It assumes that this node
// alone works in the archive folder.
func (m *Manager) Recover(ctx context.Context) error {
	list, _, err := m.cfg.Store.Archives(ctx, store.ArchiveFilter{Statuses: []string{StatusStarted, StatusStopped}})
	if err != nil {
		return err
	}
	for _, a := range list {
		composed := a.OutputMode == OutputComposed && m.composer != nil
		if a.Status == StatusStarted {
			// The node died recording it: the session ended with it.
			a.Status, a.Reason = StatusStopped, ReasonSessionEnded
			if composed {
				if end, err := m.recordedEnd(ctx, a.ID); err == nil {
					a.Duration = seconds(time.Duration(end) * time.Millisecond)
				}
			} else if res, err := seal(ctx, m.root, a.ID, m.composer); err == nil {
				a.Duration = seconds(time.Duration(res.endMs) * time.Millisecond)
			}
		}
		if composed {
			// Composing takes a while: the node serves meanwhile, and the
			// archive is stopped until its MP4 is made.
			a.UpdatedAt = m.now()
			if err := m.cfg.Store.UpdateArchive(ctx, a); err != nil {
				return err
			}
			m.changed(a)
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				a := m.settle(m.sealCtx, a)
				m.log.Info("archive recovered after a restart", "archive", a.ID, "status", a.Status, "duration", a.Duration)
			}()
			continue
		}
		a = m.settle(ctx, a)
		m.log.Info("archive recovered after a restart", "archive", a.ID, "status", a.Status, "duration", a.Duration)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// recordedEnd finishes the files of archive id's working folder and
// tells where the last one ends, in ms after the archive's start.
func (m *Manager) recordedEnd(ctx context.Context, id string) (int64, error) {
	j, err := readJournal(m.root, id)
	if err != nil {
		return 0, err
	}
	_, res, err := finishFiles(ctx, m.root, j)
	return res.endMs, err
}

// Close stops every recording (reason "session ended": the node takes
// its sessions down), lets the stopped archives be zipped for a little
// while, and waits for the Manager's goroutines.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	t := time.AfterFunc(sealGrace, m.sealCancel)
	defer t.Stop()
	m.wg.Wait()
	m.sealCancel()
	return m.root.Close()
}
