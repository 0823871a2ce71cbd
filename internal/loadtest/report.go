package loadtest

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"time"
)

// Report is the outcome of a run. Rates, loss, delay and jitter are
// measured over the steady phase only (after every client has joined or
// given up), so that a slow ramp does not dilute them; join times cover
// the joining; the timeline covers the whole run, a point a second.
type Report struct {
	Sessions        int `json:"sessions"`
	VideoPublishers int `json:"videoPublishers"` // per session
	AudioPublishers int `json:"audioPublishers"` // per session
	Subscribers     int `json:"subscribers"`     // per session
	Clients         int `json:"clients"`         // planned, all sessions
	Joined          int `json:"joined"`
	Errors          int `json:"errors"`
	// ErrorSamples are the first few errors, for a human to start from.
	ErrorSamples []string `json:"errorSamples,omitempty"`

	// What the publishers sent.
	Media     string `json:"media"`
	Codec     string `json:"codec"`
	Synthetic bool   `json:"synthetic"`
	Simulcast bool   `json:"simulcast"` // video published as three simulcast layers
	// SimulcastPick is which layer subscribers asked for (spread, best
	// or lowest), with Simulcast.
	SimulcastPick string `json:"simulcastPick,omitempty"`
	// Pacing is the publishers' pacing rate as a factor of the video
	// bitrate (0: frames sent as bursts).
	Pacing float64 `json:"pacing"`
	// Tracks is how many tracks the subscribers received: the SFU's down
	// tracks, each a copy of a publisher's track it forwards.
	Tracks int `json:"tracks"`

	// Packets count RTP packets: in, received by subscribers; out, sent
	// by publishers (retransmissions aside). Bits count those packets,
	// RTP header and payload: add SRTP's tag (10 or 16 bytes) and UDP/IP
	// (28 bytes) per packet for what the network carries.
	Seconds          float64 `json:"seconds"` // length of the steady phase
	PacketsIn        uint64  `json:"packetsIn"`
	PacketsOut       uint64  `json:"packetsOut"`
	PacketsInPerSec  float64 `json:"packetsInPerSec"`
	PacketsOutPerSec float64 `json:"packetsOutPerSec"`
	BitsInPerSec     float64 `json:"bitsInPerSec"`
	BitsOutPerSec    float64 `json:"bitsOutPerSec"`

	LossPercent float64 `json:"lossPercent"`
	// One-way delay, publisher's send to subscriber's receipt (one
	// machine, one clock), in milliseconds.
	DelayP50Ms   float64 `json:"delayP50Ms"`
	DelayP99Ms   float64 `json:"delayP99Ms"`
	DelaySamples uint64  `json:"delaySamples"`
	// RFC 3550 interarrival jitter, each track's estimate at the end:
	// the mean over tracks and the largest.
	JitterMs    float64 `json:"jitterMs"`
	JitterMaxMs float64 `json:"jitterMaxMs"`
	// The same by kind, for runs that mix them.
	Video *KindReport `json:"video,omitempty"`
	Audio *KindReport `json:"audio,omitempty"`

	// From a subscriber's connect (token in hand) to the first keyframe
	// of each stream it subscribes to (first packet for audio-only).
	JoinP50Ms float64 `json:"joinP50Ms"`
	JoinP99Ms float64 `json:"joinP99Ms"`

	// Server is the server process (with Plan.ServerPID); Client is this
	// one, which shares the machine when both run on it.
	Server *ProcReport `json:"server,omitempty"`
	Client *ProcReport `json:"client,omitempty"`
	// Machine is the whole machine's CPU over the steady phase: on a
	// shared machine, what other work took from the run.
	Machine *MachineReport `json:"machine,omitempty"`

	Timeline []Sample `json:"timeline"`
}

// KindReport is the part of a report about one kind of track.
type KindReport struct {
	Tracks        int     `json:"tracks"`
	PacketsPerSec float64 `json:"packetsPerSec"`
	BitsPerSec    float64 `json:"bitsPerSec"`
	LossPercent   float64 `json:"lossPercent"`
	DelayP50Ms    float64 `json:"delayP50Ms"`
	DelayP99Ms    float64 `json:"delayP99Ms"`
	DelaySamples  uint64  `json:"delaySamples"`
	JitterMs      float64 `json:"jitterMs"`
	JitterMaxMs   float64 `json:"jitterMaxMs"`
}

// ProcReport is what /proc said of a process over the steady phase.
type ProcReport struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpuSeconds"`
	// Cores is CPU seconds per second: 1 is one core busy.
	Cores      float64 `json:"cores"`
	RSSStartMB float64 `json:"rssStartMB"` // before any client (server), at the steady phase (client)
	RSSEndMB   float64 `json:"rssEndMB"`
	RSSPeakMB  float64 `json:"rssPeakMB"`
	// For the server: memory grown per forwarded track (the highest RSS
	// of the steady phase less that before any client, over Tracks), CPU
	// per forwarded packet
	// (received by a subscriber), and its inverse, forwarded packets per
	// CPU second: one core's throughput.
	RSSPerTrackKB        float64 `json:"rssPerTrackKB,omitempty"`
	CPUPerPacketUs       float64 `json:"cpuPerPacketUs,omitempty"`
	PacketsPerCoreSecond float64 `json:"packetsPerCoreSecond,omitempty"`
	MachineCPUPercent    float64 `json:"machineCpuPercent"` // Cores over the machine's CPUs
	Error                string  `json:"error,omitempty"`
}

// MachineReport is the machine's CPU over the steady phase, in cores
// (CPU seconds per second).
type MachineReport struct {
	CPUs int     `json:"cpus"`
	Busy float64 `json:"busyCores"`
	// Others is Busy less the server and the load test: other processes
	// and the kernel's work for no one in particular.
	Others float64 `json:"otherCores"`
	// Steal is CPU the hypervisor gave to other virtual machines.
	Steal float64 `json:"stealCores"`
}

// Sample is one second of the run.
type Sample struct {
	T                float64 `json:"t"`     // seconds since the run started
	Phase            string  `json:"phase"` // joining or steady
	Joined           int     `json:"joined"`
	Errors           int     `json:"errors"`
	PacketsInPerSec  float64 `json:"packetsInPerSec"`
	PacketsOutPerSec float64 `json:"packetsOutPerSec"`
	BitsInPerSec     float64 `json:"bitsInPerSec"`
	BitsOutPerSec    float64 `json:"bitsOutPerSec"`
	LossPercent      float64 `json:"lossPercent"`
	DelayP50Ms       float64 `json:"delayP50Ms"`
	DelayP99Ms       float64 `json:"delayP99Ms"`
	// CPU in percent of one core (200 is two cores busy), RSS in MiB.
	ServerCPUPercent float64 `json:"serverCpuPercent,omitempty"`
	ServerRSSMB      float64 `json:"serverRssMB,omitempty"`
	ClientCPUPercent float64 `json:"clientCpuPercent"`
	// The whole machine's busy CPU, all processes and the kernel.
	MachineCPUPercent float64 `json:"machineCpuPercent"`
}

// report fills rep from the snapshots that open and close the steady
// phase, the monitor's timeline and the subscriptions.
func (r *run) report(rep *Report, begin, end snap, serverStart procSample) {
	rep.Seconds = end.at.Sub(begin.at).Seconds()
	var bytesIn uint64
	for k := range 2 {
		rep.PacketsIn += end.c.packetsIn[k] - begin.c.packetsIn[k]
		bytesIn += end.c.bytesIn[k] - begin.c.bytesIn[k]
	}
	rep.PacketsOut = end.c.packetsOut - begin.c.packetsOut
	rep.PacketsInPerSec = rate(rep.PacketsIn, rep.Seconds)
	rep.PacketsOutPerSec = rate(rep.PacketsOut, rep.Seconds)
	rep.BitsInPerSec = 8 * rate(bytesIn, rep.Seconds)
	rep.BitsOutPerSec = 8 * rate(end.c.bytesOut-begin.c.bytesOut, rep.Seconds)

	// Loss, track by track over the steady phase, by kind and in all.
	var tracks [2][]trackCount
	for st, e := range end.tracks {
		b := begin.tracks[st]
		k := end.kinds[st]
		tracks[k] = append(tracks[k], trackCount{expected: e.expected - b.expected, received: e.received - b.received})
	}
	rep.Tracks = len(tracks[0]) + len(tracks[1])
	rep.LossPercent = lossPercent(slices.Concat(tracks[0], tracks[1]))

	var all histCounts
	var jitters []time.Duration
	for k, kind := range []**KindReport{&rep.Video, &rep.Audio} {
		if len(tracks[k]) == 0 {
			continue
		}
		d := end.delays[k].minus(&begin.delays[k])
		all = all.plus(&d)
		jitters = append(jitters, end.jitter[k]...)
		mean, top := meanMax(end.jitter[k])
		*kind = &KindReport{
			Tracks:        len(tracks[k]),
			PacketsPerSec: rate(end.c.packetsIn[k]-begin.c.packetsIn[k], rep.Seconds),
			BitsPerSec:    8 * rate(end.c.bytesIn[k]-begin.c.bytesIn[k], rep.Seconds),
			LossPercent:   lossPercent(tracks[k]),
			DelayP50Ms:    ms(d.percentile(50)), DelayP99Ms: ms(d.percentile(99)), DelaySamples: d.count(),
			JitterMs: ms(mean), JitterMaxMs: ms(top),
		}
	}
	rep.DelayP50Ms, rep.DelayP99Ms, rep.DelaySamples = ms(all.percentile(50)), ms(all.percentile(99)), all.count()
	mean, top := meanMax(jitters)
	rep.JitterMs, rep.JitterMaxMs = ms(mean), ms(top)

	// Join times, and subscriptions that never received media.
	var joins []time.Duration
	for _, m := range r.snapshot() {
		for _, s := range m.subs {
			first := s.Video.FirstKeyframe()
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
	sortDurations(joins)
	rep.JoinP50Ms, rep.JoinP99Ms = ms(Percentile(joins, 50)), ms(Percentile(joins, 99))

	r.mu.Lock()
	rep.Joined, rep.Errors, rep.ErrorSamples = r.joined, r.nerrs, append([]string(nil), r.errs...)
	rep.Timeline = append([]Sample{}, r.timeline...)
	r.mu.Unlock()

	if r.plan.ServerPID > 0 {
		rep.Server = procReport(r.plan.ServerPID, serverStart, begin.server, end.server, r.serverMax)
		if err := cmp.Or(begin.serverErr, end.serverErr, r.serverErr); err != nil && rep.Server.Error != "" {
			rep.Server.Error += ": " + err.Error()
		}
		if rep.Server.Error == "" {
			if rep.Tracks > 0 {
				// The steady phase's highest RSS: the runtime may hand
				// memory back to the system between two samples.
				top := max(r.steadyMax, begin.server.rss, end.server.rss)
				rep.Server.RSSPerTrackKB = max(0, float64(top)-float64(serverStart.rss)) / 1024 / float64(rep.Tracks)
			}
			if rep.PacketsIn > 0 && rep.Server.CPUSeconds > 0 {
				rep.Server.CPUPerPacketUs = rep.Server.CPUSeconds * 1e6 / float64(rep.PacketsIn)
				rep.Server.PacketsPerCoreSecond = float64(rep.PacketsIn) / rep.Server.CPUSeconds
			}
		}
	}
	rep.Client = procReport(os.Getpid(), begin.client, begin.client, end.client, r.clientMax)
	if secs := end.machine.at.Sub(begin.machine.at).Seconds(); secs > 0 && !begin.machine.at.IsZero() {
		m := &MachineReport{CPUs: runtime.NumCPU(),
			Busy:  (end.machine.busy - begin.machine.busy).Seconds() / secs,
			Steal: (end.machine.steal - begin.machine.steal).Seconds() / secs}
		m.Others = m.Busy - rep.Client.Cores
		if rep.Server != nil {
			m.Others -= rep.Server.Cores
		}
		m.Others = max(m.Others, 0)
		rep.Machine = m
	}
}

// procReport sums up a process over the steady phase (begin to end);
// start is its state before the run, for memory growth.
func procReport(pid int, start, begin, end procSample, peak uint64) *ProcReport {
	p := &ProcReport{PID: pid}
	if begin.at.IsZero() || end.at.IsZero() {
		p.Error = fmt.Sprintf("process %d could not be read during the run (did it exit?)", pid)
		return p
	}
	secs := end.at.Sub(begin.at).Seconds()
	p.CPUSeconds = (end.cpu - begin.cpu).Seconds()
	if secs > 0 {
		p.Cores = p.CPUSeconds / secs
	}
	p.MachineCPUPercent = 100 * p.Cores / float64(runtime.NumCPU())
	peak = max(peak, start.rss, begin.rss, end.rss)
	p.RSSStartMB, p.RSSEndMB, p.RSSPeakMB = mb(start.rss), mb(end.rss), mb(peak)
	return p
}

// meanMax is the mean and the largest of d (0, 0 for none).
func meanMax(d []time.Duration) (mean, top time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	var sum time.Duration
	for _, v := range d {
		sum += v
		top = max(top, v)
	}
	return sum / time.Duration(len(d)), top
}

// Percentile returns the p-th percentile (0–100) of sorted by the
// nearest-rank method: a value that was actually observed, never an
// interpolation between two, and 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(n))) - 1
	if i < 0 {
		i = 0
	}
	if i >= n {
		i = n - 1
	}
	return sorted[i]
}

// trackCount is what one received track says about loss.
type trackCount struct {
	expected, received uint64
}

// LossPercent is the share of packets the sequence numbers say were sent
// but never arrived, summed over tracks. A track that received more than
// it expected (duplicates) counts as no loss rather than as a gain that
// would hide another track's loss.
func lossPercent(tracks []trackCount) float64 {
	var expected, lost uint64
	for _, t := range tracks {
		expected += t.expected
		if t.received < t.expected {
			lost += t.expected - t.received
		}
	}
	if expected == 0 {
		return 0
	}
	return 100 * float64(lost) / float64(expected)
}

// sortDurations sorts in place and returns d.
func sortDurations(d []time.Duration) []time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rate is n per second over secs, 0 when no time passed.
func rate(n uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// Print writes the report for people.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "media      %s\n", r.Media)
	switch {
	case !r.Simulcast:
		fmt.Fprintf(w, "simulcast  off (one encoding per video track)\n")
	case r.SimulcastPick == "spread":
		fmt.Fprintf(w, "simulcast  3 layers per video publisher; subscriber i asks for layer i mod 3 (lowest first)\n")
	default:
		fmt.Fprintf(w, "simulcast  3 layers per video publisher; subscribers ask for the %s one\n", r.SimulcastPick)
	}
	if r.Pacing > 0 && !r.Synthetic {
		fmt.Fprintf(w, "pacing     video packets spaced out at %.1f× the bitrate, as browsers send them\n", r.Pacing)
	} else {
		fmt.Fprintf(w, "pacing     off (each frame's packets sent at once)\n")
	}
	fmt.Fprintf(w, "sessions   %d, each with %d video and %d audio publishers and %d subscribers\n",
		r.Sessions, r.VideoPublishers, r.AudioPublishers, r.Subscribers)
	fmt.Fprintf(w, "clients    %d joined of %d, %d errors\n", r.Joined, r.Clients, r.Errors)
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "  error    %s\n", e)
	}
	fmt.Fprintf(w, "tracks     %d forwarded to subscribers\n", r.Tracks)
	fmt.Fprintf(w, "steady     %.1f s (rates, loss, delay and jitter are over this phase)\n", r.Seconds)
	fmt.Fprintf(w, "in         %.0f pkt/s  %s  (received by subscribers, RTP)\n", r.PacketsInPerSec, bits(r.BitsInPerSec))
	fmt.Fprintf(w, "out        %.0f pkt/s  %s  (sent by publishers, RTP)\n", r.PacketsOutPerSec, bits(r.BitsOutPerSec))
	fmt.Fprintf(w, "loss       %.2f %%\n", r.LossPercent)
	fmt.Fprintf(w, "delay      p50 %.2f ms  p99 %.2f ms  (one way, %d packets)\n", r.DelayP50Ms, r.DelayP99Ms, r.DelaySamples)
	fmt.Fprintf(w, "jitter     %.2f ms mean, %.2f ms worst track  (RFC 3550, at the subscribers)\n", r.JitterMs, r.JitterMaxMs)
	for _, k := range []struct {
		name string
		r    *KindReport
	}{{"video", r.Video}, {"audio", r.Audio}} {
		if k.r == nil {
			continue
		}
		fmt.Fprintf(w, "%-10s %d tracks  %.0f pkt/s  %s  loss %.2f %%  delay p50 %.2f p99 %.2f ms  jitter %.2f ms\n",
			k.name, k.r.Tracks, k.r.PacketsPerSec, bits(k.r.BitsPerSec), k.r.LossPercent, k.r.DelayP50Ms, k.r.DelayP99Ms, k.r.JitterMs)
	}
	fmt.Fprintf(w, "join       p50 %.0f ms  p99 %.0f ms  (connect to first keyframe)\n", r.JoinP50Ms, r.JoinP99Ms)
	if s := r.Server; s != nil {
		if s.Error != "" {
			fmt.Fprintf(w, "server     pid %d: %s\n", s.PID, s.Error)
		} else {
			fmt.Fprintf(w, "server     pid %d: %.2f cores (%.0f %% of the machine's %d), %.1f µs CPU per forwarded packet, %.0f forwarded packets per core-second\n",
				s.PID, s.Cores, s.MachineCPUPercent, runtime.NumCPU(), s.CPUPerPacketUs, s.PacketsPerCoreSecond)
			fmt.Fprintf(w, "           RSS %.1f MB before the clients, %.1f MB at the end (peak %.1f MB): %.0f KB more per forwarded track\n",
				s.RSSStartMB, s.RSSEndMB, s.RSSPeakMB, s.RSSPerTrackKB)
		}
	}
	if c := r.Client; c != nil && c.Error == "" {
		fmt.Fprintf(w, "client     this load test: %.2f cores, RSS %.1f MB (peak %.1f MB)\n", c.Cores, c.RSSEndMB, c.RSSPeakMB)
	}
	if m := r.Machine; m != nil {
		fmt.Fprintf(w, "machine    %d CPUs, %.2f cores busy, of which %.2f neither the server nor this load test", m.CPUs, m.Busy, m.Others)
		if m.Steal >= 0.01 {
			fmt.Fprintf(w, "; %.2f cores stolen by the hypervisor", m.Steal)
		}
		fmt.Fprintln(w)
	}
}

// bits formats a bit rate with a unit people read at a glance.
func bits(b float64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kbit/s", b/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", b)
}
