package sfu

import (
	"math"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// rewriteStep is one packet (or, with sw set, a Switch) fed to a Rewriter.
// Output values are checked relative to the first packet's, since the
// output starts at random.
type rewriteStep struct {
	sw        bool
	clockRate uint32

	seq     uint16
	ts      uint32
	arrival int64

	ok        bool
	relSeq    uint16 // output sequence number minus the first one
	relTS     uint32 // output timestamp minus the first one
	newSource bool   // the rewriter took the packet for a restart
}

func pkt(seq uint16, ts uint32, arrival int64, relSeq uint16, relTS uint32) rewriteStep {
	return rewriteStep{seq: seq, ts: ts, arrival: arrival, ok: true, relSeq: relSeq, relTS: relTS}
}

func restarted(s rewriteStep) rewriteStep {
	s.newSource = true
	return s
}

func drop(seq uint16, ts uint32, arrival int64) rewriteStep {
	return rewriteStep{seq: seq, ts: ts, arrival: arrival}
}

func sw(clockRate uint32) rewriteStep { return rewriteStep{sw: true, clockRate: clockRate} }

func TestRewriter(t *testing.T) {
	tests := []struct {
		name  string
		steps []rewriteStep
	}{
		{"in order", []rewriteStep{
			pkt(100, 1000, 0, 0, 0),
			pkt(101, 1000, 1*ms, 1, 0),
			pkt(102, 4000, 33*ms, 2, 3000),
		}},
		{"sequence and timestamp wrap", []rewriteStep{
			pkt(65534, math.MaxUint32-100, 0, 0, 0),
			pkt(65535, math.MaxUint32-100, 1*ms, 1, 0),
			pkt(0, 2899, 33*ms, 2, 3000),
			pkt(1, 2899, 34*ms, 3, 3000),
		}},
		{"loss keeps the gap, late packets fill it", []rewriteStep{
			pkt(10, 0, 0, 0, 0),
			pkt(11, 0, 1*ms, 1, 0),
			pkt(15, 6000, 2*ms, 5, 6000),
			pkt(13, 3000, 3*ms, 3, 3000),
			drop(13, 3000, 4*ms),
			pkt(12, 3000, 5*ms, 2, 3000),
			pkt(14, 6000, 6*ms, 4, 6000),
			pkt(16, 6000, 7*ms, 6, 6000),
		}},
		{"reorder across the wrap", []rewriteStep{
			pkt(65535, 0, 0, 0, 0),
			pkt(1, 3000, 1*ms, 2, 3000),
			pkt(0, 3000, 2*ms, 1, 3000),
			drop(0, 3000, 3*ms),
			drop(65535, 0, 4*ms),
			pkt(2, 3000, 5*ms, 3, 3000),
		}},
		{"duplicates", []rewriteStep{
			pkt(5, 0, 0, 0, 0),
			drop(5, 0, 1*ms),
			pkt(6, 0, 2*ms, 1, 0),
			drop(6, 0, 3*ms),
			drop(5, 0, 4*ms),
		}},
		{"older than the first packet", []rewriteStep{
			pkt(100, 0, 0, 0, 0),
			drop(99, 0, 1*ms),
			pkt(102, 0, 2*ms, 2, 0),
			drop(99, 0, 3*ms),
			pkt(101, 0, 4*ms, 1, 0),
		}},
		{"window", []rewriteStep{
			pkt(0, 0, 0, 0, 0),
			pkt(2000, 0, 1*ms, 2000, 0),
			drop(976, 0, 2*ms), // 1024 back
			pkt(977, 0, 3*ms, 977, 0),
			drop(500, 0, 4*ms),
			pkt(2001, 0, 5*ms, 2001, 0), // a lone jump back did not start a restart
		}},
		{"largest forward jump taken as loss", []rewriteStep{
			pkt(0, 0, 0, 0, 0),
			pkt(2999, 90000, 1000*ms, 2999, 90000),
		}},
		{"switch continues sequence and time", []rewriteStep{
			pkt(100, 1000, 0, 0, 0),
			pkt(101, 1000, 10*ms, 1, 0),
			sw(90000),
			pkt(5000, 777, 110*ms, 2, 9000),
			pkt(5001, 3777, 143*ms, 3, 12000),
			drop(4999, 777, 144*ms), // before the new source's first packet
			drop(102, 4000, 145*ms), // the old source
			pkt(5002, 3777, 146*ms, 4, 12000),
		}},
		{"switch with a late reference", []rewriteStep{
			pkt(100, 1000, 0, 0, 0),
			pkt(102, 4000, 40*ms, 2, 3000),
			pkt(101, 1000, 50*ms, 1, 0), // late: not the reference
			sw(90000),
			pkt(7, 0, 60*ms, 3, 3000+1800),
		}},
		{"switch advances at least one tick", []rewriteStep{
			pkt(100, 1000, 50*ms, 0, 0),
			sw(90000),
			pkt(200, 5, 50*ms, 1, 1),
			sw(48000),
			pkt(300, 5, 40*ms, 2, 2), // the clock went back
			sw(0),
			pkt(400, 5, 1000*ms, 3, 3),
		}},
		{"switch across the timestamp wrap", []rewriteStep{
			pkt(1, math.MaxUint32, 0, 0, 0),
			sw(48000),
			pkt(9, 0, 20*ms, 1, 960),
		}},
		{"switches without packets between: the last counts", []rewriteStep{
			pkt(1, 0, 0, 0, 0),
			sw(90000),
			sw(48000),
			pkt(50000, 0, 1000*ms, 1, 48000),
		}},
		{"switch to the same numbers", []rewriteStep{
			pkt(1, 0, 0, 0, 0),
			pkt(2, 3000, 33*ms, 1, 3000),
			sw(90000),
			pkt(2, 3000, 66*ms, 2, 3000+2970),
			pkt(3, 6000, 99*ms, 3, 3000+2970+3000),
		}},
		{"switch before the first packet sets the clock rate of restarts", []rewriteStep{
			sw(90000),
			pkt(100, 0, 0, 0, 0),
			pkt(101, 1800, 20*ms, 1, 1800),
			drop(40000, 99, 40*ms),
			restarted(pkt(40001, 99, 60*ms, 2, 1800+3600)), // a restart the numbers tell
			pkt(40002, 1899, 80*ms, 3, 1800+3600+1800),
			drop(40000, 99, 81*ms), // the packet that began the restart stays dropped
		}},
		{"restart without a clock rate advances one tick", []rewriteStep{
			pkt(0, 0, 0, 0, 0),
			drop(3000, 5, 1*ms), // too far forward for loss
			restarted(pkt(3001, 5, 2*ms, 1, 1)),
			pkt(3002, 6, 3*ms, 2, 2),
		}},
		{"a restart needs consecutive packets", []rewriteStep{
			pkt(100, 0, 0, 0, 0),
			drop(40000, 0, 1*ms),
			pkt(101, 0, 2*ms, 1, 0),
			drop(40001, 0, 3*ms), // 40000 came before 101: no restart
			drop(40003, 0, 4*ms),
			pkt(102, 0, 5*ms, 2, 0),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				r          Rewriter
				firstSeq   uint16
				firstTS    uint32
				started    bool
				switched   bool
				outs, srcs []uint16 // of the current source, for Reverse
				segStart   uint16   // output of the current source's first packet
				newest     uint16   // highest output so far, minus segStart
			)
			for i, s := range tt.steps {
				if s.sw {
					r.Switch(s.clockRate)
					switched = true
					continue
				}
				seq, ts, ok := r.Rewrite(s.seq, s.ts, s.arrival)
				if ok != s.ok {
					t.Fatalf("step %d: Rewrite(%d, %d) ok = %v, want %v", i, s.seq, s.ts, ok, s.ok)
				}
				if !ok {
					continue
				}
				if !started {
					firstSeq, firstTS, started = seq, ts, true
				}
				if seq-firstSeq != s.relSeq || ts-firstTS != s.relTS {
					t.Errorf("step %d: Rewrite(%d, %d) = +%d, +%d; want +%d, +%d",
						i, s.seq, s.ts, seq-firstSeq, ts-firstTS, s.relSeq, s.relTS)
				}
				if switched || s.newSource {
					// The earlier source cannot be mapped back.
					outs, srcs, segStart, newest = outs[:0], srcs[:0], seq, 0
					switched = false
				}
				outs, srcs = append(outs, seq), append(srcs, s.seq)
				newest = max(newest, seq-segStart)
				for j, out := range outs {
					src, ok := r.Reverse(out)
					want := newest-(out-segStart) < rewriteWindow
					if ok != want || ok && src != srcs[j] {
						t.Errorf("step %d: Reverse(%d) = %d, %v; want %d, %v", i, out, src, ok, srcs[j], want)
					}
				}
			}
		})
	}
}

// TestRewriterLongRun goes round the window several times: a late packet
// is told from a duplicate by its own sequence number, not by one a
// window earlier that shared its place.
func TestRewriterLongRun(t *testing.T) {
	var r Rewriter
	first, _, _ := r.Rewrite(0, 0, 0)
	for seq := uint16(1); seq <= 5*rewriteWindow; seq++ {
		if _, _, ok := r.Rewrite(seq, 0, 0); !ok {
			t.Fatalf("Rewrite(%d) dropped", seq)
		}
	}
	hi := uint16(5*rewriteWindow + 10) // 9 lost
	if out, _, ok := r.Rewrite(hi, 0, 0); !ok || out != first+hi {
		t.Fatalf("Rewrite(%d) = %d, %v; want %d", hi, out, ok, first+hi)
	}
	for seq := hi - 9; seq < hi; seq++ {
		if out, _, ok := r.Rewrite(seq, 0, 0); !ok || out != first+seq {
			t.Errorf("late Rewrite(%d) = %d, %v; want %d", seq, out, ok, first+seq)
		}
		if _, _, ok := r.Rewrite(seq, 0, 0); ok {
			t.Errorf("duplicate Rewrite(%d) forwarded", seq)
		}
	}
}

func TestRewriterStartsRandom(t *testing.T) {
	seqs := map[uint16]bool{}
	tss := map[uint32]bool{}
	for range 16 {
		var r Rewriter
		seq, ts, ok := r.Rewrite(60000, 123, 0)
		if !ok {
			t.Fatal("first packet dropped")
		}
		if seq >= 1<<15 {
			t.Errorf("first sequence number %d: wraps within 2^15 packets", seq)
		}
		seqs[seq], tss[ts] = true, true
	}
	if len(seqs) < 2 || len(tss) < 2 {
		t.Errorf("16 rewriters started at %d sequence numbers and %d timestamps", len(seqs), len(tss))
	}
}

func TestRewriterReverse(t *testing.T) {
	var r Rewriter
	if _, ok := r.Reverse(0); ok {
		t.Error("Reverse maps before any packet")
	}
	first, _, _ := r.Rewrite(1000, 0, 0)
	for seq := uint16(1001); seq <= 3000; seq++ {
		if seq%10 == 5 {
			continue // lost
		}
		if _, _, ok := r.Rewrite(seq, 0, 0); !ok {
			t.Fatalf("Rewrite(%d) dropped", seq)
		}
	}
	newest := first + 2000
	tests := []struct {
		name string
		out  uint16
		src  uint16
		ok   bool
	}{
		{"newest", newest, 3000, true},
		{"received", newest - 1, 2999, true},
		{"lost, mapped for the cache to tell", newest - 5, 2995, true},
		{"oldest in the window", newest - (rewriteWindow - 1), 3000 - (rewriteWindow - 1), true},
		{"past the window", newest - rewriteWindow, 0, false},
		{"first packet, long gone", first, 0, false},
		{"not sent yet", newest + 1, 0, false},
		{"far ahead", newest + 30000, 0, false},
	}
	for _, tt := range tests {
		src, ok := r.Reverse(tt.out)
		if ok != tt.ok || ok && src != tt.src {
			t.Errorf("%s: Reverse(%d) = %d, %v; want %d, %v", tt.name, tt.out, src, ok, tt.src, tt.ok)
		}
	}

	r.Switch(90000)
	if _, ok := r.Reverse(newest); ok {
		t.Error("Reverse maps the previous source while a switch is pending")
	}
	out, _, _ := r.Rewrite(7, 0, 0)
	if out != newest+1 {
		t.Fatalf("after a switch, output %d, want %d", out, newest+1)
	}
	if src, ok := r.Reverse(out); !ok || src != 7 {
		t.Errorf("Reverse(%d) = %d, %v; want 7", out, src, ok)
	}
	if _, ok := r.Reverse(newest); ok {
		t.Error("Reverse maps the previous source after a switch")
	}
}

func TestRewriterElapsedTicks(t *testing.T) {
	tests := []struct {
		elapsed   int64
		clockRate uint32
		want      uint32
	}{
		{0, 90000, 1},
		{-int64(time.Second), 90000, 1},
		{1, 90000, 1},
		{int64(time.Second), 0, 1},
		{int64(time.Second), 90000, 90000},
		{20 * ms, 48000, 960},
		{33 * ms, 90000, 2970},
		{int64(time.Hour), 90000, 324000000},
		{int64(7 * time.Hour), 90000, maxTSAdvance},
		{int64(1000 * time.Second), 4_000_000_000, maxTSAdvance},
		{math.MaxInt64, 90000, maxTSAdvance},
		{math.MaxInt64, math.MaxUint32, maxTSAdvance},
	}
	for _, tt := range tests {
		if got := elapsedTicks(tt.elapsed, tt.clockRate); got != tt.want {
			t.Errorf("elapsedTicks(%d, %d) = %d, want %d", tt.elapsed, tt.clockRate, got, tt.want)
		}
	}
}

func TestRewriterAllocs(t *testing.T) {
	var r Rewriter
	seq, ts, now := uint16(0), uint32(0), int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq += 3
		ts += 3000
		now += 33 * ms
		r.Rewrite(seq, ts, now)   // in order, two lost
		r.Rewrite(seq-1, ts, now) // late
		r.Rewrite(seq-1, ts, now) // duplicate
		r.Reverse(seq)
		if seq%64 == 0 {
			r.Switch(90000)
			seq += 20000
		}
	})
	if allocs != 0 {
		t.Errorf("Rewriter allocates %v times per run", allocs)
	}
}

// rewriterModel checks a Rewriter from the outside, packet by packet,
// against the behaviour its documentation promises.
type rewriterModel struct {
	started, switching bool
	clockRate          uint32

	hiSrc, hiOut   uint16
	seqOff         uint16 // output minus source sequence number
	tsOff          uint32 // output minus source timestamp
	lastTS         uint32 // output timestamp of the newest packet
	lastArrival    int64
	segLen         int // sequence numbers from the source's first packet to hiSrc
	sent           map[uint16]bool
	prevSeq        uint16 // of the previous packet, dropped or not
	prevDroppedJmp bool   // the previous packet was dropped as a jump
}

func (m *rewriterModel) begin(seq, out uint16, ts, outTS uint32, arrival int64) {
	m.started, m.switching = true, false
	m.hiSrc, m.hiOut, m.seqOff, m.tsOff = seq, out, out-seq, outTS-ts
	m.lastTS, m.lastArrival, m.segLen = outTS, arrival, 0
	m.sent = map[uint16]bool{seq: true}
}

func (m *rewriterModel) check(t *testing.T, r *Rewriter, seq uint16, ts uint32, arrival int64) {
	t.Helper()
	out, outTS, ok := r.Rewrite(seq, ts, arrival)
	jump := false
	switch {
	case !m.started:
		if !ok || out >= maxInitialSeq {
			t.Fatalf("first packet: %d, %v", out, ok)
		}
		m.begin(seq, out, ts, outTS, arrival)
	case m.switching:
		if !ok {
			t.Fatalf("first packet after a switch dropped")
		}
		m.continued(t, seq, out, ts, outTS, arrival)
	default:
		d, back := seq-m.hiSrc, m.hiSrc-seq
		switch {
		case d != 0 && d < maxDropout:
			if !ok {
				t.Fatalf("packet %d, %d after the newest, dropped", seq, d)
			}
			if out != m.hiOut+d || outTS != ts+m.tsOff {
				t.Fatalf("packet %d, %d after the newest: got %d, %d; want %d, %d", seq, d, out, outTS, m.hiOut+d, ts+m.tsOff)
			}
			for s := m.hiSrc + 1; s != seq; s++ {
				delete(m.sent, s)
			}
			for s := range m.sent {
				if seq-s >= rewriteWindow {
					delete(m.sent, s)
				}
			}
			m.hiSrc, m.hiOut, m.lastTS, m.lastArrival = seq, out, outTS, arrival
			m.segLen += int(d)
			m.sent[seq] = true
		case back < rewriteWindow:
			placeable := back != 0 && int(back) <= m.segLen && !m.sent[seq]
			if ok != placeable {
				t.Fatalf("packet %d, %d before the newest: ok %v, want %v", seq, back, ok, placeable)
			}
			if ok && (out != m.hiOut-back || outTS != ts+m.tsOff) {
				t.Fatalf("late packet %d: got %d, %d; want %d, %d", seq, out, outTS, m.hiOut-back, ts+m.tsOff)
			}
			m.sent[seq] = m.sent[seq] || ok
		default:
			restart := m.prevDroppedJmp && seq == m.prevSeq+1
			if ok != restart {
				t.Fatalf("jump to %d from %d: ok %v, want %v", seq, m.hiSrc, ok, restart)
			}
			if ok {
				m.continued(t, seq, out, ts, outTS, arrival)
			}
			jump = !ok
		}
	}
	m.prevSeq, m.prevDroppedJmp = seq, jump && !ok
	if ok {
		if src, rok := r.Reverse(out); !rok || src != seq {
			t.Fatalf("Reverse(%d) = %d, %v; want %d", out, src, rok, seq)
		}
	}
}

// continued checks the first packet of a new source.
func (m *rewriterModel) continued(t *testing.T, seq, out uint16, ts, outTS uint32, arrival int64) {
	t.Helper()
	adv := outTS - m.lastTS
	if out != m.hiOut+1 || adv != elapsedTicks(arrival-m.lastArrival, m.clockRate) || adv == 0 || adv > maxTSAdvance {
		t.Fatalf("new source: got %d, +%d; want %d, +%d", out, adv, m.hiOut+1, elapsedTicks(arrival-m.lastArrival, m.clockRate))
	}
	m.begin(seq, out, ts, outTS, arrival)
}

func (m *rewriterModel) checkReverse(t *testing.T, r *Rewriter, out uint16) {
	t.Helper()
	src, ok := r.Reverse(out)
	back := m.hiOut - out
	want := m.started && !m.switching && int(back) <= min(m.segLen, rewriteWindow-1)
	if ok != want || ok && src != out-m.seqOff {
		t.Fatalf("Reverse(%d) = %d, %v; want %d, %v", out, src, ok, out-m.seqOff, want)
	}
}

func FuzzRewriter(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{
		0x20, 0, 0, 0x0b, 0xb8, 0x21, 0, 0, 0, 0, 0x45, 0, 5, 0x0b, 0xb8, // in order, loss
		0x61, 0, 3, 0, 0, 0x02, 0, 2, 0, 0, // late, duplicate
		0x03, 0, 0, 0, 0, 0x8f, 0x9c, 0x40, 0x0b, 0xb8, 0x2f, 0, 0, 0x0b, 0xb8, // switch, new source
	})
	f.Add([]byte{
		0x81, 0xff, 0xfe, 0, 0, 0x21, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, // across the wrap
		0x81, 0x80, 0x00, 0, 0, 0x21, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, // restart
	})
	rates := [...]uint32{0, 8000, 48000, 90000}
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			r    Rewriter
			m    rewriterModel
			seq  uint16
			jump uint16 // the last jump's, to come back to it later
			ts   uint32
			now  int64
		)
		for ; len(data) >= 5; data = data[5:] {
			k := data[0]
			a := uint16(data[1])<<8 | uint16(data[2])
			b := uint32(data[3])<<8 | uint32(data[4])
			// The low bits move the clock, mostly forward.
			step := int64(k&0x0f) * 7 * ms
			if k&0x10 != 0 && k&0x0f == 0x0f {
				step = -step
			}
			now += step
			switch k >> 5 {
			case 0:
				r.Switch(rates[a&3])
				m.clockRate, m.switching = rates[a&3], m.started
				continue
			case 1:
				seq++
			case 2:
				seq += a % 64 // a gap, or a duplicate
			case 3:
				seq -= a % (rewriteWindow + 64) // late, or too late
			case 4:
				seq, jump = a, a // anywhere: a restart, a straggler
			case 5:
				m.checkReverse(t, &r, a)
				m.checkReverse(t, &r, m.hiOut-a%(rewriteWindow+8))
				continue
			case 6:
				seq = m.hiSrc + 1 + a%4 // back to the current source
			case 7:
				jump++
				seq = jump // on from the last jump
			}
			ts += b
			m.check(t, &r, seq, ts, now)
		}
	})
}

func BenchmarkRewrite(b *testing.B) {
	var r Rewriter
	seq, ts, now := uint16(0), uint32(0), int64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		if seq%4 == 0 {
			ts += 3000
			now += 33 * ms
		}
		if _, _, ok := r.Rewrite(seq, ts, now); !ok {
			b.Fatal("dropped")
		}
	}
}

func BenchmarkRewriteReordered(b *testing.B) {
	var r Rewriter
	seq, now := uint16(0), int64(0)
	b.ReportAllocs()
	for b.Loop() {
		// Pairs swapped: every other packet is late.
		seq++
		s := seq
		if seq%2 == 1 {
			s++
		} else {
			s--
		}
		now += ms
		if _, _, ok := r.Rewrite(s, 0, now); !ok && seq > 2 {
			b.Fatal("dropped")
		}
	}
}
