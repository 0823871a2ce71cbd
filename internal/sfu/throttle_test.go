package sfu

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyframeThrottle(t *testing.T) {
	const s = int64(time.Second)
	type call struct {
		now  int64
		want bool
	}
	tests := []struct {
		name     string
		interval time.Duration
		calls    []call
	}{
		{"one per interval", 300 * time.Millisecond, []call{
			{1000 * s, true},
			{1000*s + 100*ms, false},
			{1000*s + 300*ms - 1, false},
			{1000*s + 300*ms, true},
			{1000*s + 301*ms, false},
			{1000*s + 2000*ms, true},
			{1000*s + 2000*ms, false},
		}},
		{"measured from the last one let through", 300 * time.Millisecond, []call{
			{0, true},
			{200 * ms, false},
			{400 * ms, true}, // not 500: refusals do not extend the wait
			{600 * ms, false},
			{700 * ms, true},
		}},
		{"first request at time zero", time.Second, []call{
			{0, true},
			{1, false},
		}},
		{"clock read slightly earlier by another caller", 300 * time.Millisecond, []call{
			{1000 * s, true},
			{1000*s - 10*ms, false},
			{1000*s - 300*ms + 1, false},
		}},
		{"clock stepped back", 300 * time.Millisecond, []call{
			{1000 * s, true},
			{900 * s, true},
			{900*s + 100*ms, false},
			{900*s + 300*ms, true},
		}},
		{"zero interval lets everything through", 0, []call{
			{0, true}, {0, true}, {1, true},
		}},
		{"negative interval lets everything through", -time.Second, []call{
			{5, true}, {5, true},
		}},
		{"extreme times", time.Second, []call{
			{math.MaxInt64, true},
			{math.MaxInt64, false},
			{math.MinInt64 + 1, true},
			{math.MaxInt64, true},
		}},
	}
	for _, tt := range tests {
		th := NewKeyframeThrottle(tt.interval)
		var refused uint64
		for i, c := range tt.calls {
			if got := th.Allow(c.now); got != c.want {
				t.Errorf("%s: call %d: Allow(%d) = %v, want %v", tt.name, i, c.now, got, c.want)
			}
			if !c.want {
				refused++
			}
		}
		if got := th.Dropped(); got != refused {
			t.Errorf("%s: Dropped() = %d, want %d", tt.name, got, refused)
		}
	}
}

// TestKeyframeThrottleConcurrent has many subscribers ask at once: one
// request goes through per interval, and every other one is counted.
func TestKeyframeThrottleConcurrent(t *testing.T) {
	const (
		goroutines = 8
		calls      = 2000
		interval   = 10 * time.Millisecond
		step       = int64(time.Millisecond) / 4
	)
	th := NewKeyframeThrottle(interval)
	var (
		clock   atomic.Int64 // shared, so that callers' times interleave
		allowed atomic.Uint64
		wg      sync.WaitGroup
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if th.Allow(clock.Add(step)) {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	total := uint64(goroutines * calls)
	if got := allowed.Load() + th.Dropped(); got != total {
		t.Errorf("allowed %d + dropped %d = %d, want %d", allowed.Load(), th.Dropped(), got, total)
	}
	// The clock covered total*step: about one request per interval. A
	// caller held up between reading the clock and asking, for longer than
	// an interval, looks like a clock stepped back and gets through too,
	// so the bound above has slack.
	span := int64(total) * step
	per := uint64(span/int64(interval)) + 1
	if a := allowed.Load(); a > 2*per || a < per/2 {
		t.Errorf("%d requests went through in %v, want about %d", a, time.Duration(span), per)
	}

	// All at the same instant: exactly one.
	th = NewKeyframeThrottle(interval)
	allowed.Store(0)
	start := make(chan struct{})
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range calls {
				if th.Allow(42) {
					allowed.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if allowed.Load() != 1 || th.Dropped() != total-1 {
		t.Errorf("at one instant: allowed %d, dropped %d; want 1, %d", allowed.Load(), th.Dropped(), total-1)
	}
}

func TestKeyframeThrottleAllocs(t *testing.T) {
	th := NewKeyframeThrottle(300 * time.Millisecond)
	now := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		now += 50 * ms
		th.Allow(now)
		th.Dropped()
	})
	if allocs != 0 {
		t.Errorf("KeyframeThrottle allocates %v times per run", allocs)
	}
}

func BenchmarkKeyframeThrottle(b *testing.B) {
	th := NewKeyframeThrottle(300 * time.Millisecond)
	var clock atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			th.Allow(clock.Add(int64(time.Microsecond)))
		}
	})
}

// A subscriber without a picture may ask again joinGap after the last
// request once its keyframe has arrived; other requests, and first-picture
// requests while the keyframe is still on its way, wait the interval.
func TestKeyframeThrottleFirstPicture(t *testing.T) {
	const base = int64(1000 * time.Second)
	th := NewKeyframeThrottle(300 * time.Millisecond)
	step := func(now int64, first, want bool) {
		t.Helper()
		var got bool
		if first {
			got = th.AllowFirst(base + now)
		} else {
			got = th.Allow(base + now)
		}
		if got != want {
			t.Fatalf("at %d ms (first picture %v): allowed %v, want %v", now/ms, first, got, want)
		}
	}
	step(0, true, true)
	step(50*ms, true, false) // the keyframe is still on its way
	th.Keyframe(base + 40*ms)
	step(60*ms, true, false)   // answered, but within joinGap
	step(100*ms, false, false) // an ordinary request waits the interval
	step(100*ms, true, true)   // answered, joinGap passed
	step(250*ms, true, false)  // no keyframe since the request at 100 ms
	th.Keyframe(base + 150*ms)
	step(199*ms, true, false)
	step(200*ms, true, true)
	step(499*ms, false, false)
	step(500*ms, false, true) // the interval still lets requests through
	// A keyframe the publisher sent before the last request does not count.
	th.Keyframe(base + 450*ms)
	step(650*ms, true, false)

	// With an interval shorter than joinGap the interval rules alone.
	short := NewKeyframeThrottle(20 * time.Millisecond)
	if !short.AllowFirst(base) || short.AllowFirst(base+10*ms) || !short.AllowFirst(base+20*ms) {
		t.Fatal("a short interval is not honoured for first-picture requests")
	}
}
