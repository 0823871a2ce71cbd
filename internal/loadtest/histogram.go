package loadtest

import (
	"math"
	mbits "math/bits"
	"sync/atomic"
	"time"
)

// A histogram counts durations in buckets of microseconds: exact below
// 128 µs, then 64 buckets per power of two, so that a percentile read
// from it is within 1.6 % of the sample's value. Its memory does not grow
// with the samples, adding is lock-free (every subscriber's reading
// goroutine adds), and two snapshots subtract to the counts between them,
// which gives the per-second percentiles of the timeline.
type histogram struct {
	counts [histBuckets]atomic.Uint64
}

const (
	histSub     = 64 // buckets per power of two
	histMaxExp  = 22 // top bucket starts near 2^28 µs, over four minutes
	histBuckets = histSub*histMaxExp + 2*histSub
	histMaxUs   = 2*histSub<<histMaxExp - 1
)

// histCounts is a histogram's counts at one moment.
type histCounts [histBuckets]uint64

// bucketOf is the bucket of us microseconds: for us ≥ 64, with e the
// shift that brings us into [64, 128), bucket 64·e + (us >> e).
func bucketOf(us int64) int {
	if us < 0 {
		us = 0
	}
	if us > histMaxUs {
		us = histMaxUs
	}
	if us < histSub {
		return int(us)
	}
	e := mbits.Len64(uint64(us)) - 7
	return histSub*e + int(us>>e)
}

// bucketValue is the middle of bucket i, in microseconds.
func bucketValue(i int) float64 {
	if i < 2*histSub {
		return float64(i)
	}
	e := i/histSub - 1
	low := int64(i%histSub+histSub) << e
	return float64(low) + float64(int64(1)<<e)/2
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucketOf(d.Microseconds())].Add(1)
}

func (h *histogram) snapshot() histCounts {
	var c histCounts
	for i := range h.counts {
		c[i] = h.counts[i].Load()
	}
	return c
}

// minus is c − o, bucket by bucket: the samples added between snapshot o
// and snapshot c.
func (c *histCounts) minus(o *histCounts) histCounts {
	var d histCounts
	for i := range c {
		d[i] = c[i] - o[i]
	}
	return d
}

// plus is c + o, bucket by bucket.
func (c *histCounts) plus(o *histCounts) histCounts {
	var d histCounts
	for i := range c {
		d[i] = c[i] + o[i]
	}
	return d
}

func (c *histCounts) count() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// percentile is the p-th percentile (0–100) by nearest rank, as the
// middle of the bucket that holds it; 0 for no samples.
func (c *histCounts) percentile(p float64) time.Duration {
	n := c.count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, v := range c {
		seen += v
		if seen >= rank {
			return time.Duration(bucketValue(i) * float64(time.Microsecond))
		}
	}
	return time.Duration(bucketValue(histBuckets-1) * float64(time.Microsecond))
}
