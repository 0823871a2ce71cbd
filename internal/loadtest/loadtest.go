// Package loadtest drives many pkg/rtcclient clients against a Parley
// server and measures what they see: packets and bits per second in and
// out, loss, one-way delay and join time. `parley loadtest` is its
// command line.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
)

// Plan describes a run. Zero counts and durations take the defaults of
// `parley loadtest`.
type Plan struct {
	URL string          // server base URL
	API *opentok.Client // creates the sessions and mints the tokens

	Sessions        int // routed sessions
	VideoPublishers int // per session, video only
	AudioPublishers int // per session, audio only
	Subscribers     int // per session, each subscribing to every publisher of it

	Duration    time.Duration // steady phase, after joining
	JoinRate    float64       // clients started per second
	JoinTimeout time.Duration // for one client to connect and publish or subscribe (default 10 s)
	Bitrate     int           // video bits per second
	FPS         int           // video frames per second

	// Progress, when set, gets one line of live totals per second.
	Progress io.Writer
}

func (p *Plan) defaults() {
	if p.Sessions <= 0 {
		p.Sessions = 1
	}
	if p.VideoPublishers < 0 {
		p.VideoPublishers = 0
	}
	if p.AudioPublishers < 0 {
		p.AudioPublishers = 0
	}
	if p.Subscribers < 0 {
		p.Subscribers = 0
	}
	if p.Duration <= 0 {
		p.Duration = 10 * time.Second
	}
	if p.JoinRate <= 0 {
		p.JoinRate = 10
	}
	if p.JoinTimeout <= 0 {
		p.JoinTimeout = 10 * time.Second
	}
	if p.Bitrate <= 0 {
		p.Bitrate = 500_000
	}
	if p.FPS <= 0 {
		p.FPS = 30
	}
}

// maxErrorSamples bounds the errors a report quotes.
const maxErrorSamples = 5

// maxDelaySamplesPerTrack bounds the delay samples kept from each track
// when merging, so memory does not grow with tracks × run length.
const maxDelaySamplesPerTrack = 4096

// member is one client of the run.
type member struct {
	client  *rtcclient.Client
	pub     *rtcclient.Publisher
	subs    []*rtcclient.Subscription
	started time.Time // connect start
}

// run is the state of one Run.
type run struct {
	plan Plan

	mu      sync.Mutex
	members []*member
	joined  int
	errs    []string
	nerrs   int
}

func (r *run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nerrs++
	if len(r.errs) < maxErrorSamples {
		r.errs = append(r.errs, err.Error())
	}
}

// Run executes the plan: it creates the sessions, joins the publishers
// and then the subscribers at the join rate, lets media flow for the
// duration and reports. Every client is disconnected before it returns.
// Cancelling ctx cuts the run short; the report then covers what ran.
// The error is for a run that could not start (no session); the
// failures of single clients are counted in the report instead.
func Run(ctx context.Context, plan Plan) (Report, error) {
	plan.defaults()
	r := &run{plan: plan}
	rep := Report{Sessions: plan.Sessions, Clients: plan.Sessions * (plan.VideoPublishers + plan.AudioPublishers + plan.Subscribers)}

	sessions := make([]string, plan.Sessions)
	for i := range sessions {
		s, err := plan.API.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
		if err != nil {
			return rep, fmt.Errorf("loadtest: create session: %w", err)
		}
		sessions[i] = s.ID
	}
	defer r.disconnectAll()

	stopProgress := r.startProgress()
	defer stopProgress()

	// Publishers first: a subscriber needs the streams of its session to
	// exist before it can subscribe to them.
	var pubJobs []func(context.Context)
	streams := make([][]string, plan.Sessions)
	var streamsMu sync.Mutex
	for si, sid := range sessions {
		for k := 0; k < plan.VideoPublishers+plan.AudioPublishers; k++ {
			o := rtcclient.PublishOptions{Name: fmt.Sprintf("lt-%d-%d", si, k), Video: true, FPS: plan.FPS, Bitrate: plan.Bitrate}
			if k >= plan.VideoPublishers {
				o = rtcclient.PublishOptions{Name: o.Name, Audio: true}
			}
			pubJobs = append(pubJobs, func(ctx context.Context) {
				if id, ok := r.joinPublisher(ctx, sid, o); ok {
					streamsMu.Lock()
					streams[si] = append(streams[si], id)
					streamsMu.Unlock()
				}
			})
		}
	}
	r.paced(ctx, pubJobs)

	var subJobs []func(context.Context)
	for si, sid := range sessions {
		for k := 0; k < plan.Subscribers; k++ {
			subJobs = append(subJobs, func(ctx context.Context) { r.joinSubscriber(ctx, sid, streams[si]) })
		}
	}
	r.paced(ctx, subJobs)

	// Steady phase.
	start, before := time.Now(), r.totals()
	select {
	case <-ctx.Done():
	case <-time.After(plan.Duration):
	}
	after := r.totals()
	rep.Seconds = time.Since(start).Seconds()
	stopProgress()

	rep.PacketsIn = after.packetsIn - before.packetsIn
	rep.PacketsOut = after.packetsOut - before.packetsOut
	rep.PacketsInPerSec = rate(rep.PacketsIn, rep.Seconds)
	rep.PacketsOutPerSec = rate(rep.PacketsOut, rep.Seconds)
	rep.BitsInPerSec = 8 * rate(after.bytesIn-before.bytesIn, rep.Seconds)
	rep.BitsOutPerSec = 8 * rate(after.bytesOut-before.bytesOut, rep.Seconds)
	r.finish(&rep)
	return rep, nil
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

func (r *run) joinPublisher(ctx context.Context, sid string, o rtcclient.PublishOptions) (string, bool) {
	m, err := r.connect(ctx, sid, opentok.RolePublisher)
	if err != nil {
		r.fail(fmt.Errorf("publisher connect: %w", err))
		return "", false
	}
	p, err := m.client.Publish(ctx, o)
	if err != nil {
		r.fail(fmt.Errorf("publish: %w", err))
		return "", false
	}
	r.mu.Lock()
	m.pub = p
	r.joined++
	r.mu.Unlock()
	return p.StreamID, true
}

func (r *run) joinSubscriber(ctx context.Context, sid string, streams []string) {
	m, err := r.connect(ctx, sid, opentok.RoleSubscriber)
	if err != nil {
		r.fail(fmt.Errorf("subscriber connect: %w", err))
		return
	}
	for _, id := range streams {
		s, err := m.client.Subscribe(ctx, id, rtcclient.SubscribeOptions{})
		if err != nil {
			r.fail(fmt.Errorf("subscribe to %s: %w", id, err))
			return
		}
		r.mu.Lock()
		m.subs = append(m.subs, s)
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.joined++
	r.mu.Unlock()
}

// totals are running counters summed over every client.
type totals struct {
	packetsIn, bytesIn, packetsOut, bytesOut uint64
}

// snapshot copies the member list so that counters are read without
// holding the lock joiners need.
func (r *run) snapshot() []member {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]member, len(r.members))
	for i, m := range r.members {
		out[i] = *m
		out[i].subs = append([]*rtcclient.Subscription(nil), m.subs...)
	}
	return out
}

func (r *run) totals() totals {
	var t totals
	for _, m := range r.snapshot() {
		for _, s := range m.subs {
			t.packetsIn += s.Video.Packets() + s.Audio.Packets()
			_, in := wireBytes(s.PeerConnection())
			t.bytesIn += in
		}
		if m.pub != nil {
			t.packetsOut += m.pub.VideoPackets.Load() + m.pub.AudioPackets.Load()
			out, _ := wireBytes(m.pub.PeerConnection())
			t.bytesOut += out
		}
	}
	return t
}

// wireBytes is what a peer connection's transport has sent and received:
// SRTP packets with their headers, RTCP and ICE checks, the traffic the
// network has to carry. (This Pion keeps no per-stream byte counts.)
func wireBytes(pc *webrtc.PeerConnection) (sent, received uint64) {
	for _, s := range pc.GetStats() {
		if t, ok := s.(webrtc.TransportStats); ok {
			sent += t.BytesSent
			received += t.BytesReceived
		}
	}
	return sent, received
}

// startProgress prints a line of live totals every second until the
// returned function is called (which may be called more than once).
func (r *run) startProgress() (stop func()) {
	if r.plan.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		start, last := time.Now(), r.totals()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			now := r.totals()
			r.mu.Lock()
			joined, nerrs, n := r.joined, r.nerrs, r.plan.Sessions*(r.plan.VideoPublishers+r.plan.AudioPublishers+r.plan.Subscribers)
			r.mu.Unlock()
			fmt.Fprintf(r.plan.Progress, "%4.0fs  joined %d/%d  errors %d  in %d pkt/s %s  out %d pkt/s %s\n",
				time.Since(start).Seconds(), joined, n, nerrs,
				now.packetsIn-last.packetsIn, bits(8*float64(now.bytesIn-last.bytesIn)),
				now.packetsOut-last.packetsOut, bits(8*float64(now.bytesOut-last.bytesOut)))
			last = now
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

// finish fills in what comes from the whole run: loss, delay, join time
// and the count of subscriptions that never received media.
func (r *run) finish(rep *Report) {
	var tracks []trackCount
	var delays, joins []time.Duration
	for _, m := range r.snapshot() {
		for _, s := range m.subs {
			first := s.Video.FirstKeyframe()
			for _, st := range []*rtcclient.TrackStats{&s.Video, &s.Audio} {
				if e := st.Expected(); e > 0 {
					tracks = append(tracks, trackCount{expected: e, received: st.Packets()})
				}
				delays = append(delays, thin(st.Delays(), maxDelaySamplesPerTrack)...)
			}
			if s.Video.Packets() == 0 {
				// An audio-only stream has no keyframe: its first packet
				// is when the subscriber could start playing.
				first = s.Audio.FirstPacket()
			}
			if first.IsZero() {
				r.fail(errors.New("subscription to " + s.StreamID + " received no media"))
				continue
			}
			joins = append(joins, first.Sub(m.started))
		}
	}
	sortDurations(delays)
	sortDurations(joins)
	r.mu.Lock()
	rep.Joined, rep.Errors, rep.ErrorSamples = r.joined, r.nerrs, append([]string(nil), r.errs...)
	r.mu.Unlock()
	rep.LossPercent = lossPercent(tracks)
	rep.DelayP50Ms, rep.DelayP99Ms = ms(Percentile(delays, 50)), ms(Percentile(delays, 99))
	rep.JoinP50Ms, rep.JoinP99Ms = ms(Percentile(joins, 50)), ms(Percentile(joins, 99))
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
