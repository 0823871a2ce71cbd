package sfu

import (
	"math"
	"sync/atomic"
	"time"
)

// throttleUnset marks a throttle that has let nothing through yet.
const throttleUnset = math.MinInt64

// KeyframeThrottle lets one keyframe request (PLI or FIR) through per
// interval, so that many subscribers asking at once, or one asking
// repeatedly while the keyframe is on its way, cost the publisher's
// encoder one keyframe rather than one each. Use one per source track.
// It counts the requests it swallowed. It is safe for concurrent use
// and takes no lock: every subscriber's RTCP goroutine calls it.
//
// A subscriber that has no picture yet (it just joined, or resumed) may
// ask sooner: once the keyframe that answered the last request has
// arrived, the next first-picture request goes through after joinGap,
// not after a whole interval. Subscribers joining one after another then
// each wait for one keyframe's round trip, while those joining together
// share one keyframe, and a storm of joins costs at most one keyframe per
// joinGap.
type KeyframeThrottle struct {
	interval, joinGap int64
	last              atomic.Int64 // Unix nanoseconds of the last request let through
	keyframe          atomic.Int64 // Unix nanoseconds of the last keyframe seen
	dropped           atomic.Uint64
}

// joinGap is the shortest time between two keyframe requests for
// subscribers without a picture.
const joinGap = 100 * time.Millisecond

// NewKeyframeThrottle returns a throttle that lets one request through per
// interval; an interval of zero or less lets every request through.
func NewKeyframeThrottle(interval time.Duration) *KeyframeThrottle {
	t := &KeyframeThrottle{interval: int64(interval), joinGap: min(int64(joinGap), int64(interval))}
	t.last.Store(throttleUnset)
	t.keyframe.Store(throttleUnset)
	return t
}

// Keyframe records that a keyframe of the track arrived at now.
func (t *KeyframeThrottle) Keyframe(now int64) { t.keyframe.Store(now) }

// AllowFirst is Allow for a subscriber that has no picture yet: it also
// lets a request through joinGap after the last one when a keyframe has
// arrived since that one.
func (t *KeyframeThrottle) AllowFirst(now int64) bool {
	return t.allow(now, true)
}

// Allow reports whether a keyframe request made at now (Unix nanoseconds)
// should go to the publisher: it is the first one, or the last one let
// through is at least one interval old. When the clock went back by more
// than an interval (a wall-clock step), the request goes through too,
// rather than the track waiting for the clock to catch up; smaller steps
// back are the normal disorder of callers reading the clock in parallel.
func (t *KeyframeThrottle) Allow(now int64) bool {
	return t.allow(now, false)
}

func (t *KeyframeThrottle) allow(now int64, first bool) bool {
	for {
		last := t.last.Load()
		if last != throttleUnset {
			// The difference of two Unix times cannot overflow; a
			// caller's extreme value could, so saturate.
			d, overflow := subInt64(now, last)
			answered := first && t.keyframe.Load() > last && d >= t.joinGap
			if !overflow && d < t.interval && d > -t.interval && !answered {
				t.dropped.Add(1)
				return false
			}
		}
		if t.last.CompareAndSwap(last, now) {
			return true
		}
		// Another request got through meanwhile: judge against it.
	}
}

// Dropped returns how many requests Allow has refused.
func (t *KeyframeThrottle) Dropped() uint64 { return t.dropped.Load() }

// subInt64 returns a-b and whether it overflowed.
func subInt64(a, b int64) (int64, bool) {
	d := a - b
	return d, (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0)
}
