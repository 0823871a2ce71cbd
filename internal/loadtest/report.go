package loadtest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// Report is the outcome of a run. Rates are measured over the steady
// phase only (after every client has joined or given up), so a slow ramp
// does not dilute them; loss, delay and join times cover the whole run.
type Report struct {
	Sessions int `json:"sessions"`
	Clients  int `json:"clients"` // planned
	Joined   int `json:"joined"`
	Errors   int `json:"errors"`
	// ErrorSamples are the first few errors, for a human to start from.
	ErrorSamples []string `json:"errorSamples,omitempty"`

	// Packets count RTP packets: in, received by subscribers; out, sent
	// by publishers. Bits are the transports' bytes on the wire (SRTP
	// with headers, RTCP, ICE checks), what the network has to carry.
	Seconds          float64 `json:"seconds"` // length of the steady phase
	PacketsIn        uint64  `json:"packetsIn"`
	PacketsOut       uint64  `json:"packetsOut"`
	PacketsInPerSec  float64 `json:"packetsInPerSec"`
	PacketsOutPerSec float64 `json:"packetsOutPerSec"`
	BitsInPerSec     float64 `json:"bitsInPerSec"`
	BitsOutPerSec    float64 `json:"bitsOutPerSec"`

	LossPercent float64 `json:"lossPercent"`
	DelayP50Ms  float64 `json:"delayP50Ms"`
	DelayP99Ms  float64 `json:"delayP99Ms"`
	JoinP50Ms   float64 `json:"joinP50Ms"`
	JoinP99Ms   float64 `json:"joinP99Ms"`
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

// thin keeps at most max samples of sorted, evenly spread, so that the
// percentiles of many tracks merged together stay close while memory
// stays bounded.
func thin(sorted []time.Duration, max int) []time.Duration {
	if len(sorted) <= max {
		return sorted
	}
	out := make([]time.Duration, max)
	for i := range out {
		out[i] = sorted[i*len(sorted)/max]
	}
	return out
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
	fmt.Fprintf(w, "sessions   %d\n", r.Sessions)
	fmt.Fprintf(w, "clients    %d joined of %d, %d errors\n", r.Joined, r.Clients, r.Errors)
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "  error    %s\n", e)
	}
	fmt.Fprintf(w, "steady     %.1f s\n", r.Seconds)
	fmt.Fprintf(w, "in         %.0f pkt/s  %s  (received by subscribers)\n", r.PacketsInPerSec, bits(r.BitsInPerSec))
	fmt.Fprintf(w, "out        %.0f pkt/s  %s  (sent by publishers)\n", r.PacketsOutPerSec, bits(r.BitsOutPerSec))
	fmt.Fprintf(w, "loss       %.2f %%\n", r.LossPercent)
	fmt.Fprintf(w, "delay      p50 %.1f ms  p99 %.1f ms  (one way)\n", r.DelayP50Ms, r.DelayP99Ms)
	fmt.Fprintf(w, "join       p50 %.0f ms  p99 %.0f ms  (connect to first keyframe)\n", r.JoinP50Ms, r.JoinP99Ms)
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
