package sfu

import (
	"math/bits"
	"math/rand/v2"
)

const (
	// rewriteWindow is how far behind the newest packet, in sequence
	// numbers, a late packet is still forwarded and a NACK still mapped
	// back. It is a power of two so that a sequence number picks its bit
	// in the window by masking, consistently across the 16-bit wrap.
	rewriteWindow = 1024

	// maxDropout is the largest forward jump taken as loss within one
	// source; a larger jump, or a packet further back than the window,
	// is a restart candidate, as in RFC 3550 appendix A.1.
	maxDropout = 3000

	// maxInitialSeq keeps the first output sequence number below 2^15, so
	// that the stream does not wrap early: a subscriber that misses the
	// first packets around a wrap would guess the SRTP rollover counter
	// wrong and reject everything after (RFC 3711 section 3.3.1).
	maxInitialSeq = 1 << 15

	// maxTSAdvance bounds the timestamp step of a switch so that the
	// subscriber still reads it as forward (RFC 3550 compares timestamps
	// modulo 2^32).
	maxTSAdvance = 1<<31 - 1
)

// Rewriter maps a source's sequence numbers and timestamps into one
// continuous output space, so that a subscriber sees one stream even when
// the source changes (a publisher restart, a simulcast layer switch) or
// the subscription starts mid-stream.
//
// Within one source the mapping is a fixed offset: gaps are kept, so that
// the subscriber's NACKs and loss statistics stay meaningful, and a late
// packet gets the number its position calls for. A new source continues
// the output where the previous one stopped (see Switch).
//
// The zero value is ready to use; the output starts at a random sequence
// number and timestamp, as RFC 3550 section 5.1 recommends. A Rewriter is
// not safe for concurrent use: there is one per down track, driven by one
// goroutine.
type Rewriter struct {
	started   bool
	switching bool // the next packet opens a new source

	seqOffset uint16 // output minus source sequence number
	tsOffset  uint32 // output minus source timestamp

	// highest is the newest source sequence number of the current source,
	// with the output timestamp and arrival time of that packet: the
	// reference a switch continues from.
	highest     uint16
	lastTS      uint32
	lastArrival int64

	// span is how many sequence numbers before highest belong to the
	// current source and the window (at most rewriteWindow-1): anything
	// further back is older than the source's first packet or too late.
	span uint16

	// badSeq is the sequence number that, arriving next, confirms that the
	// source restarted without a Switch (RFC 3550 appendix A.1).
	badSeq    uint16
	badSeqSet bool

	clockRate uint32 // of the last Switch, for restarts seen in the numbers

	// seen has one bit per sequence number of the window, set once the
	// packet was forwarded, to drop duplicates.
	seen [rewriteWindow / 64]uint64
}

// Rewrite takes the sequence number and timestamp of a source packet and
// its arrival time (Unix nanoseconds) and returns the values to send it
// with. ok is false when the packet must be dropped: a duplicate, a packet
// older than the current source's first one (a straggler from before a
// switch) or too far behind the newest to be placed.
//
// A jump of the sequence number too large for loss (3000 forward, or past
// the window backward) is dropped too; when the next packet follows it
// directly, the source evidently restarted without a Switch and the output
// continues as after one, with the clock rate of the last Switch (or one
// tick when there was none).
func (r *Rewriter) Rewrite(seq uint16, ts uint32, arrival int64) (outSeq uint16, outTS uint32, ok bool) {
	switch {
	case !r.started:
		r.started = true
		r.begin(seq, ts, uint16(rand.Uint32N(maxInitialSeq)), rand.Uint32(), arrival)
	case r.switching:
		r.restart(seq, ts, arrival)
	default:
		// Only the packet right after a jump can confirm it.
		confirms := r.badSeqSet && seq == r.badSeq
		r.badSeqSet = false
		if d := seq - r.highest; d != 0 && d < maxDropout {
			r.advance(seq, d)
			r.lastTS = ts + r.tsOffset
			r.lastArrival = arrival
			break
		}
		if back := r.highest - seq; back < rewriteWindow {
			// A late packet, or one already forwarded (back 0 is the
			// newest again).
			if back == 0 || back > r.span || r.has(seq) {
				return 0, 0, false
			}
			r.mark(seq)
			break
		}
		if !confirms {
			r.badSeq, r.badSeqSet = seq+1, true
			return 0, 0, false
		}
		r.restart(seq, ts, arrival)
	}
	return seq + r.seqOffset, ts + r.tsOffset, true
}

// Switch tells the rewriter that the next packet comes from a new source
// (a new SSRC, a restarted publisher, another simulcast layer, or the same
// source after the caller skipped packets, as when resuming a paused
// track). That packet gets the sequence number following the last one
// sent, and a timestamp advanced from the last one sent by the wall-clock
// time between the two packets' arrivals at clockRate (at least one
// tick), so that playout stays smooth. The previous source's packets can
// no longer be mapped back by Reverse. Rewrite does not see SSRCs: the
// caller keeps stragglers of the previous source away from it; on its own
// it only drops those that fall before the new source's first packet.
//
// Before the first packet, Switch only records the clock rate used for a
// restart detected in the sequence numbers.
func (r *Rewriter) Switch(clockRate uint32) {
	r.clockRate = clockRate
	r.switching = r.started
}

// Reverse maps a sequence number sent to the subscriber back to the
// source's, to answer its NACKs. ok is false unless outSeq belongs to the
// current source and lies within the window behind the newest packet;
// numbers of lost packets in that range do map, since the packet may still
// turn up in the source's cache.
func (r *Rewriter) Reverse(outSeq uint16) (srcSeq uint16, ok bool) {
	if !r.started || r.switching {
		return 0, false
	}
	srcSeq = outSeq - r.seqOffset
	if r.highest-srcSeq > r.span {
		return 0, false
	}
	return srcSeq, true
}

// begin starts the mapping of a source whose first packet (seq, ts) gets
// (outSeq, outTS).
func (r *Rewriter) begin(seq uint16, ts uint32, outSeq uint16, outTS uint32, arrival int64) {
	r.switching = false
	r.badSeqSet = false
	r.seqOffset = outSeq - seq
	r.tsOffset = outTS - ts
	r.highest = seq
	r.lastTS = outTS
	r.lastArrival = arrival
	r.span = 0
	r.seen = [rewriteWindow / 64]uint64{}
	r.mark(seq)
}

// restart continues the output with a new source's first packet.
func (r *Rewriter) restart(seq uint16, ts uint32, arrival int64) {
	outTS := r.lastTS + elapsedTicks(arrival-r.lastArrival, r.clockRate)
	r.begin(seq, ts, r.highest+r.seqOffset+1, outTS, arrival)
}

// advance moves the newest packet forward by d to seq: the sequence
// numbers skipped are lost so far, so their bits are cleared for a late
// arrival to pass.
func (r *Rewriter) advance(seq, d uint16) {
	if d >= rewriteWindow {
		r.seen = [rewriteWindow / 64]uint64{}
	} else {
		for s := r.highest + 1; s != seq; s++ {
			r.unmark(s)
		}
	}
	r.highest = seq
	r.span = min(r.span+d, rewriteWindow-1) // d < maxDropout: no overflow
	r.mark(seq)
}

func (r *Rewriter) has(seq uint16) bool {
	i := seq % rewriteWindow
	return r.seen[i/64]&(1<<(i%64)) != 0
}

func (r *Rewriter) mark(seq uint16) {
	i := seq % rewriteWindow
	r.seen[i/64] |= 1 << (i % 64)
}

func (r *Rewriter) unmark(seq uint16) {
	i := seq % rewriteWindow
	r.seen[i/64] &^= 1 << (i % 64)
}

// elapsedTicks converts the time between two packets, in nanoseconds, to
// at least one tick of a clockRate clock, and at most maxTSAdvance.
func elapsedTicks(elapsed int64, clockRate uint32) uint32 {
	if elapsed <= 0 || clockRate == 0 {
		return 1
	}
	hi, lo := bits.Mul64(uint64(elapsed), uint64(clockRate))
	if hi >= 1e9 {
		return maxTSAdvance // the quotient would not fit in 64 bits
	}
	q, _ := bits.Div64(hi, lo, 1e9)
	return uint32(min(max(q, 1), maxTSAdvance))
}
