// Package loadtest drives many pkg/rtcclient clients against a Parley
// server and measures what they see: packets and bits per second in and
// out, loss, jitter, one-way delay and join time, and with the server's
// process id its CPU and memory. `parley loadtest` is its command line.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
)

// Plan describes a run. Zero counts and durations take the defaults of
// `parley loadtest`.
type Plan struct {
	URL string          // server base URL
	API *opentok.Client // creates the sessions and mints the tokens

	Sessions        int  // routed sessions
	VideoPublishers int  // per session, video only (unless WithAudio)
	AudioPublishers int  // per session, audio only
	Subscribers     int  // per session, each subscribing to every publisher of it
	WithAudio       bool // video publishers send audio too (a camera and a microphone)

	Duration    time.Duration // steady phase, after joining
	JoinRate    float64       // clients started per second
	JoinTimeout time.Duration // for one client to connect and publish or subscribe (default 10 s)

	// Video. Codec is vp8 (default), vp9 or h264: the publishers play a
	// clip that ffmpeg encodes at the start of the run (testsrc2, Width ×
	// Height, FPS, Bitrate, a keyframe every GOP), looped, and jump to
	// its next keyframe when the SFU asks for one. Audio is an Opus clip.
	Codec   string
	Width   int
	Height  int
	Bitrate int // bits per second
	FPS     int
	GOP     time.Duration
	// VideoFile and AudioFile play these files instead of making clips
	// (IVF or H.264 Annex-B; Ogg Opus with one packet per page).
	VideoFile, AudioFile string
	// Synthetic sends VP8-shaped and Opus-shaped packets that carry their
	// send time instead of clips (they are not decodable). It is the
	// fallback when ffmpeg is missing.
	Synthetic bool
	FFmpeg    string // path of ffmpeg (default: found on PATH)
	// ClipDir keeps the clips across runs: a clip made once with the
	// same settings is played again from there (default: a temporary
	// folder, removed at the end).
	ClipDir string
	// Simulcast publishes each video as three simulcast layers, made as
	// clips: a quarter, half and the whole of Width x Height, at 10 %,
	// 30 % and 100 % of Bitrate. SimulcastPick says which layer the
	// subscribers ask for: "spread" (default: subscriber i asks for layer
	// i mod 3, lowest first), "best" or "lowest".
	Simulcast     bool
	SimulcastPick string
	// Pacing spaces out each video clip's packets at this many times its
	// bitrate, as browsers' pacers do (2.5); 0 sends a frame's packets at
	// once, a burst the SFU forwards at once too.
	Pacing float64

	// ServerPID is the process id of a server on this machine: its CPU
	// time and memory are sampled from /proc during the run.
	ServerPID int

	// Progress, when set, gets a progress bar while clients join and a
	// line of live totals while media flows, and notes (such as the
	// fallback to synthetic media). Terminal says it is a terminal: lines
	// are then redrawn in place rather than appended.
	Progress io.Writer
	Terminal bool
}

// simulcastLayers are the layers of a simulcast publisher, lowest first:
// how much smaller than the plan's size each is, and its share of the
// plan's bitrate (what browsers send for three layers).
var simulcastLayers = []struct {
	scale int
	share float64
}{{4, 0.1}, {2, 0.3}, {1, 1}}

// simulcastPicks are the values of Plan.SimulcastPick.
var simulcastPicks = []string{"spread", "best", "lowest"}

func (p *Plan) defaults() {
	if p.Sessions <= 0 {
		p.Sessions = 1
	}
	p.VideoPublishers = max(p.VideoPublishers, 0)
	p.AudioPublishers = max(p.AudioPublishers, 0)
	p.Subscribers = max(p.Subscribers, 0)
	if p.Duration <= 0 {
		p.Duration = 10 * time.Second
	}
	if p.JoinRate <= 0 {
		p.JoinRate = 10
	}
	if p.JoinTimeout <= 0 {
		p.JoinTimeout = 10 * time.Second
	}
	if p.Codec == "" {
		p.Codec = "vp8"
	}
	if p.Width <= 0 || p.Height <= 0 {
		p.Width, p.Height = 640, 480
	}
	if p.Bitrate <= 0 {
		p.Bitrate = 500_000
	}
	if p.FPS <= 0 {
		p.FPS = 30
	}
	if p.GOP <= 0 {
		p.GOP = 2 * time.Second
	}
	if p.SimulcastPick == "" {
		p.SimulcastPick = "spread"
	}
}

func (p *Plan) check() error {
	if p.Simulcast && (p.Synthetic || p.VideoFile != "") {
		return errors.New("loadtest: simulcast layers are clips made with ffmpeg: drop --synthetic and --video-file")
	}
	if p.Simulcast && (p.Width%8 != 0 || p.Height%8 != 0) {
		return fmt.Errorf("loadtest: simulcast of %dx%d: width and height must be multiples of 8, for a quarter-size layer of even size", p.Width, p.Height)
	}
	if p.Pacing < 0 || p.Pacing > 100 {
		return fmt.Errorf("loadtest: pacing %v: want 0 (off) or a factor of the bitrate up to 100", p.Pacing)
	}
	if !slices.Contains(simulcastPicks, p.SimulcastPick) {
		return fmt.Errorf("loadtest: simulcast pick %q: want spread, best or lowest", p.SimulcastPick)
	}
	if _, ok := codecs[p.Codec]; !ok {
		return fmt.Errorf("loadtest: unknown codec %q (vp8, vp9 or h264)", p.Codec)
	}
	if p.Synthetic && p.Codec != "vp8" {
		return fmt.Errorf("loadtest: synthetic packets are VP8-shaped only; --codec %s needs a clip", p.Codec)
	}
	if p.Synthetic && (p.VideoFile != "" || p.AudioFile != "") {
		return errors.New("loadtest: synthetic packets and files exclude each other")
	}
	if p.Width%2 != 0 || p.Height%2 != 0 {
		return fmt.Errorf("loadtest: %dx%d: width and height must be even", p.Width, p.Height)
	}
	return nil
}

// maxErrorSamples bounds the errors a report quotes.
const maxErrorSamples = 5

// maxTimeline bounds the timeline: a sample a second for a day.
const maxTimeline = 24 * 3600

// member is one client of the run.
type member struct {
	client  *rtcclient.Client
	pub     *rtcclient.Publisher
	subs    []*rtcclient.Subscription
	started time.Time // connect start
}

// phases of a run, for the timeline and the progress line.
const (
	phaseJoining int32 = iota
	phaseSteady
)

// run is the state of one Run.
type run struct {
	plan  Plan
	media *media
	start time.Time
	out   *progress
	phase atomic.Int32
	// Delays measured by subscribers, by kind (0 video, 1 audio).
	delays [2]histogram

	mu      sync.Mutex
	members []*member
	joined  int // clients that joined fully
	settled int // clients that joined or gave up
	errs    []string
	nerrs   int
	// Written by the monitor only, read after it stopped.
	timeline  []Sample
	serverErr error
	serverMax uint64 // peak RSS seen
	steadyMax uint64 // peak RSS seen in the steady phase
	clientMax uint64
}

func (r *run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nerrs++
	if len(r.errs) < maxErrorSamples {
		r.errs = append(r.errs, err.Error())
	}
}

func (r *run) clients() int {
	return r.plan.Sessions * (r.plan.VideoPublishers + r.plan.AudioPublishers + r.plan.Subscribers)
}

// Run executes the plan: it makes the clips, creates the sessions, joins
// the publishers and then the subscribers at the join rate, lets media
// flow for the duration and reports. Every client is disconnected before
// it returns. Cancelling ctx cuts the run short; the report then covers
// what ran. The error is for a run that could not start (a bad plan, no
// clip, no session, no such server process); the failures of single
// clients are counted in the report instead.
func Run(ctx context.Context, plan Plan) (Report, error) {
	plan.defaults()
	if err := plan.check(); err != nil {
		return Report{}, err
	}
	if plan.API == nil || plan.URL == "" {
		return Report{}, errors.New("loadtest: the plan needs a server URL and an API client")
	}
	r := &run{plan: plan, start: time.Now(), out: &progress{w: plan.Progress, tty: plan.Terminal}}
	rep := Report{Sessions: plan.Sessions, Clients: r.clients(),
		VideoPublishers: plan.VideoPublishers, AudioPublishers: plan.AudioPublishers, Subscribers: plan.Subscribers,
		Codec: plan.Codec, Simulcast: plan.Simulcast, Pacing: plan.Pacing}
	if plan.Simulcast {
		rep.SimulcastPick = plan.SimulcastPick
	}

	m, err := prepareMedia(ctx, &r.plan, r.out.note)
	if err != nil {
		return rep, err
	}
	defer m.cleanup()
	r.media = m
	rep.Media, rep.Synthetic = m.describe, m.synthetic
	if m.synthetic {
		rep.Codec = "vp8"
	}

	// The server's state before any client: the base of memory per track.
	var serverStart procSample
	if plan.ServerPID > 0 {
		if serverStart, err = readProc(plan.ServerPID); err != nil {
			return rep, fmt.Errorf("loadtest: server process %d: %w", plan.ServerPID, err)
		}
		r.serverMax = serverStart.rss
	}

	sessions := make([]string, plan.Sessions)
	for i := range sessions {
		s, err := plan.API.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
		if err != nil {
			return rep, fmt.Errorf("loadtest: create session: %w", err)
		}
		sessions[i] = s.ID
	}
	defer r.disconnectAll()

	stopMonitor := r.startMonitor()
	defer stopMonitor()

	// Publishers first: a subscriber needs the streams of its session to
	// exist before it can subscribe to them.
	var pubJobs []func(context.Context)
	streams := make([][]*rtcclient.Publisher, plan.Sessions)
	var streamsMu sync.Mutex
	for si, sid := range sessions {
		for k := 0; k < plan.VideoPublishers+plan.AudioPublishers; k++ {
			o := r.publishOptions(fmt.Sprintf("lt-%d-%d", si, k), k < plan.VideoPublishers)
			pubJobs = append(pubJobs, func(ctx context.Context) {
				if p := r.joinPublisher(ctx, sid, o); p != nil {
					streamsMu.Lock()
					streams[si] = append(streams[si], p)
					streamsMu.Unlock()
				}
			})
		}
	}
	r.paced(ctx, pubJobs)

	var subJobs []func(context.Context)
	for si, sid := range sessions {
		for i := range plan.Subscribers {
			w, h := r.preferred(i)
			subJobs = append(subJobs, func(ctx context.Context) { r.joinSubscriber(ctx, sid, streams[si], w, h) })
		}
	}
	r.paced(ctx, subJobs)

	// Steady phase.
	r.phase.Store(phaseSteady)
	begin := r.take(true)
	select {
	case <-ctx.Done():
	case <-time.After(plan.Duration):
	}
	end := r.take(true)
	stopMonitor()
	r.report(&rep, begin, end, serverStart)
	return rep, nil
}

// publishOptions are those of a video (or an audio-only) publisher.
func (r *run) publishOptions(name string, video bool) rtcclient.PublishOptions {
	p, m := r.plan, r.media
	if !video {
		return rtcclient.PublishOptions{Name: name, Audio: true, AudioFile: m.audioFile, LogSends: !m.synthetic}
	}
	return rtcclient.PublishOptions{Name: name, Video: true, Audio: p.WithAudio,
		Width: p.Width, Height: p.Height, FPS: p.FPS, Bitrate: p.Bitrate, GOP: p.GOP,
		VideoFile: m.videoFile, SimulcastFiles: m.layerFiles, AudioFile: m.audioFile,
		KeyframeOnRequest: true, LogSends: !m.synthetic, PaceBitrate: int(p.Pacing * float64(p.Bitrate))}
}

// preferred is the size subscriber i of a session asks for: none without
// simulcast, else that of its layer.
func (r *run) preferred(i int) (width, height int) {
	p := r.plan
	if !p.Simulcast {
		return 0, 0
	}
	layer := len(simulcastLayers) - 1
	switch p.SimulcastPick {
	case "spread":
		layer = i % len(simulcastLayers)
	case "lowest":
		layer = 0
	}
	return p.Width / simulcastLayers[layer].scale, p.Height / simulcastLayers[layer].scale
}

// paced runs jobs at the join rate, each in its own goroutine with the
// join timeout, and waits for all of them. Starting stops when ctx ends;
// the wait is bounded by the join timeout of the last one started.
func (r *run) paced(ctx context.Context, jobs []func(context.Context)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	interval := time.Duration(float64(time.Second) / r.plan.JoinRate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i, job := range jobs {
		if i > 0 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			jctx, cancel := context.WithTimeout(ctx, r.plan.JoinTimeout)
			defer cancel()
			job(jctx)
		}()
	}
}

// connect mints a token and connects one client, recording it so that it
// is disconnected at the end whatever happens next.
func (r *run) connect(ctx context.Context, sid string, role opentok.Role) (*member, error) {
	m := &member{started: time.Now()}
	tok, err := r.plan.API.GenerateToken(sid, opentok.TokenOptions{Role: role, Data: "loadtest"})
	if err != nil {
		return nil, err
	}
	c, err := rtcclient.Connect(ctx, r.plan.URL, sid, tok, rtcclient.Options{})
	if err != nil {
		return nil, err
	}
	m.client = c
	r.mu.Lock()
	r.members = append(r.members, m)
	r.mu.Unlock()
	return m, nil
}

// settle counts a client as done joining, fully or not.
func (r *run) settle(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settled++
	if ok {
		r.joined++
	}
}

func (r *run) joinPublisher(ctx context.Context, sid string, o rtcclient.PublishOptions) *rtcclient.Publisher {
	m, err := r.connect(ctx, sid, opentok.RolePublisher)
	if err != nil {
		r.fail(fmt.Errorf("publisher connect: %w", err))
		r.settle(false)
		return nil
	}
	p, err := m.client.Publish(ctx, o)
	if err != nil {
		r.fail(fmt.Errorf("publish: %w", err))
		r.settle(false)
		return nil
	}
	r.mu.Lock()
	m.pub = p
	r.mu.Unlock()
	r.settle(true)
	return p
}

// joinSubscriber connects one client and subscribes to every stream of
// its session at once, as a page does when the streams' streamCreated
// events arrive together.
func (r *run) joinSubscriber(ctx context.Context, sid string, pubs []*rtcclient.Publisher, width, height int) {
	m, err := r.connect(ctx, sid, opentok.RoleSubscriber)
	if err != nil {
		r.fail(fmt.Errorf("subscriber connect: %w", err))
		r.settle(false)
		return
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := m.client.Subscribe(ctx, p.StreamID, rtcclient.SubscribeOptions{Sent: p.Sent, OnDelay: r.addDelay,
				PreferredWidth: width, PreferredHeight: height})
			if err != nil {
				failed.Store(true)
				r.fail(fmt.Errorf("subscribe to %s: %w", p.StreamID, err))
				return
			}
			r.mu.Lock()
			m.subs = append(m.subs, s)
			r.mu.Unlock()
		}()
	}
	wg.Wait()
	r.settle(!failed.Load())
}

func (r *run) addDelay(video bool, d time.Duration) {
	k := 1
	if video {
		k = 0
	}
	r.delays[k].add(d)
}

// snapshot copies the member list so that counters are read without
// holding the lock joiners need.
func (r *run) snapshot() []member {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]member, len(r.members))
	for i, m := range r.members {
		out[i] = *m
		out[i].subs = slices.Clone(m.subs)
	}
	return out
}

// counts are running counters summed over every client (by kind: 0
// video, 1 audio, for what subscribers received).
type counts struct {
	packetsIn, bytesIn   [2]uint64
	expected, received   [2]uint64 // over tracks that know their sequence span
	packetsOut, bytesOut uint64
}

// snap is the state of the run at one moment.
type snap struct {
	at        time.Time
	c         counts
	delays    [2]histCounts
	server    procSample // zero if it could not be read: serverErr
	serverErr error
	client    procSample
	machine   machineSample
	tracks    map[*rtcclient.TrackStats]trackCount // with take(true)
	kinds     map[*rtcclient.TrackStats]int
	jitter    [2][]time.Duration // with take(true): each track's RFC 3550 estimate
}

// take reads every counter; withTracks also keeps each track's own.
func (r *run) take(withTracks bool) snap {
	s := snap{at: time.Now()}
	if withTracks {
		s.tracks = map[*rtcclient.TrackStats]trackCount{}
		s.kinds = map[*rtcclient.TrackStats]int{}
	}
	for _, m := range r.snapshot() {
		for _, sub := range m.subs {
			for k, st := range []*rtcclient.TrackStats{&sub.Video, &sub.Audio} {
				n := st.Packets()
				if n == 0 {
					continue
				}
				s.c.packetsIn[k] += n
				s.c.bytesIn[k] += st.RTPBytes()
				e := st.Expected()
				s.c.expected[k] += e
				s.c.received[k] += n
				if withTracks {
					s.tracks[st] = trackCount{expected: e, received: n}
					s.kinds[st] = k
					s.jitter[k] = append(s.jitter[k], st.Jitter())
				}
			}
		}
		if m.pub != nil {
			s.c.packetsOut += m.pub.SentPackets.Load()
			s.c.bytesOut += m.pub.SentBytes.Load()
		}
	}
	for k := range s.delays {
		s.delays[k] = r.delays[k].snapshot()
	}
	if r.plan.ServerPID > 0 {
		s.server, s.serverErr = readProc(r.plan.ServerPID)
	}
	s.client, _ = readProc(os.Getpid())
	s.machine, _ = readMachine()
	return s
}

// disconnectAll leaves the session with every client, all at once so
// that a large run does not take clients × round trip to end.
func (r *run) disconnectAll() {
	r.mu.Lock()
	members := r.members
	r.members = nil
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.client.Disconnect()
			// Disconnect says goodbye; Close also waits for the client's
			// own goroutines, so none outlives the run.
			m.client.Close()
		}()
	}
	wg.Wait()
}
