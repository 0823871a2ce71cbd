package loadtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	// Buckets are monotonic, exact below 128 µs, and each value's bucket
	// holds it within 1/64.
	prev := -1
	for us := int64(0); us < 1<<20; us += 1 + us/97 {
		b := bucketOf(us)
		if b < prev {
			t.Fatalf("bucket of %d µs is %d, below the previous %d", us, b, prev)
		}
		prev = b
		v := bucketValue(b)
		if us < 128 && v != float64(us) {
			t.Fatalf("%d µs reads back as %v", us, v)
		}
		if err := (v - float64(us)) / float64(max(us, 1)); err > 1.0/64 || err < -1.0/64 {
			t.Fatalf("%d µs reads back as %v (%.2f %%)", us, v, 100*err)
		}
	}
	if bucketOf(-5) != 0 {
		t.Error("a negative duration is not bucket 0")
	}
	if b := bucketOf(1 << 40); b != histBuckets-1 {
		t.Errorf("a huge value is in bucket %d, want the last, %d", b, histBuckets-1)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	var h histogram
	var exact []time.Duration
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		// Mostly about half a millisecond, with a tail to 200 ms.
		d := time.Duration(300+rng.IntN(400)) * time.Microsecond
		if rng.IntN(100) == 0 {
			d = time.Duration(rng.IntN(200)) * time.Millisecond
		}
		h.add(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	c := h.snapshot()
	if c.count() != 20000 {
		t.Fatalf("count %d", c.count())
	}
	for _, p := range []float64{1, 50, 90, 99, 99.9, 100} {
		got, want := c.percentile(p), Percentile(exact, p)
		if diff := float64(got-want) / float64(want); diff > 0.02 || diff < -0.02 {
			t.Errorf("p%v = %v, exact %v", p, got, want)
		}
	}
	var empty histCounts
	if empty.percentile(50) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestHistogramIntervals(t *testing.T) {
	var h histogram
	for range 100 {
		h.add(time.Millisecond)
	}
	a := h.snapshot()
	for range 10 {
		h.add(50 * time.Millisecond)
	}
	b := h.snapshot()
	d := b.minus(&a)
	if d.count() != 10 || d.percentile(50) < 49*time.Millisecond || d.percentile(50) > 51*time.Millisecond {
		t.Errorf("between the snapshots: %d samples, p50 %v", d.count(), d.percentile(50))
	}
	s := a.plus(&d)
	if s != b {
		t.Error("a + (b − a) ≠ b")
	}
}
