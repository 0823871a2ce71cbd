package loadtest

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}, {0.5, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("no samples: %v", got)
	}
	one := []time.Duration{7}
	if Percentile(one, 1) != 7 || Percentile(one, 99) != 7 {
		t.Error("one sample is every percentile")
	}
	// Nearest rank: of 1..10, p99 is the top value and p50 the fifth.
	if got := Percentile(d[:10], 99); got != 10*time.Millisecond {
		t.Errorf("p99 of 10 = %v", got)
	}
	if got := Percentile(d[:10], 50); got != 5*time.Millisecond {
		t.Errorf("p50 of 10 = %v", got)
	}
}

func TestLossPercent(t *testing.T) {
	for _, c := range []struct {
		name   string
		tracks []trackCount
		want   float64
	}{
		{"none", nil, 0},
		{"no loss", []trackCount{{100, 100}}, 0},
		{"some", []trackCount{{100, 90}, {100, 100}}, 5},
		{"weighted by expected", []trackCount{{1000, 900}, {0, 0}, {10, 10}}, 100 * 100.0 / 1010},
		// Duplicates on one track must not cancel the other's loss.
		{"duplicates", []trackCount{{100, 110}, {100, 80}}, 10},
		{"all lost", []trackCount{{50, 0}}, 100},
	} {
		if got := lossPercent(c.tracks); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRateAndPrint(t *testing.T) {
	if rate(10, 0) != 0 || rate(10, 2) != 5 {
		t.Error("rate")
	}
	var b bytes.Buffer
	Report{Clients: 3, Joined: 3, BitsInPerSec: 1.5e6, ErrorSamples: []string{"boom"}}.Print(&b)
	for _, want := range []string{"3 joined of 3", "1.50 Mbit/s", "error    boom"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
