package archive

import (
	"time"

	"github.com/pion/rtp"
)

// packet is a recorder's copy of one tapped RTP packet.
type packet struct {
	video    bool
	seq      uint16
	ts       uint32
	ssrc     uint32
	marker   bool
	keyframe bool
	// at is when it arrived, on the recording's clock (time since the
	// file's start).
	at      time.Duration
	payload []byte
}

// frame is one video frame rebuilt from its packets.
type frame struct {
	data     []byte
	ts       uint32
	ssrc     uint32
	keyframe bool
	at       time.Duration
	// afterLoss is set when packets were given up on since the previous
	// frame: a frame that is not a keyframe then depends on a picture
	// the file does not have.
	afterLoss bool
}

// assemblerWindow is how many packets a frame may span and how far out of
// order packets may come: ≈ 0.5 s of a 4 Mbps picture.
const assemblerWindow = 512

// assemblerWait is how long a missing packet is waited for (a NACK and
// its answer) before the frames it belongs to are given up.
const assemblerWait = 500 * time.Millisecond

// assembler rebuilds the frames of one video track from its packets,
// which may come out of order (a retransmission answering a NACK) or not
// at all. Frames come out in order; a frame missing a packet is dropped
// once waiting for it is pointless, and the next frame is marked
// afterLoss.
type assembler struct {
	depacketizer func() rtp.Depacketizer
	// release, if set, gets each packet back once the assembler is done
	// with it.
	release    func(*packet)
	slots      [assemblerWindow]*packet
	head       uint16 // the first sequence number not yet consumed
	highest    uint16
	started    bool
	consumed   bool // a frame came out, or was given up
	lost       bool
	stuckSince time.Duration // when the head stopped advancing; -1 when it is not stuck
}

func newAssembler(depacketizer func() rtp.Depacketizer) *assembler {
	return &assembler{depacketizer: depacketizer, stuckSince: -1}
}

func (a *assembler) slot(seq uint16) **packet { return &a.slots[seq%assemblerWindow] }

// push adds p and appends the frames it completes to out.
func (a *assembler) push(p *packet, out []frame) []frame {
	if !a.started {
		a.started, a.head, a.highest = true, p.seq, p.seq
	}
	if d := int16(p.seq - a.head); d < 0 {
		if a.consumed || -int(d) >= assemblerWindow/2 {
			return out // late: its frame was consumed or given up
		}
		// Before anything came out, a packet older than the first one
		// seen is the start of the stream arriving out of order.
		a.head = p.seq
	}
	if d := int16(p.seq - a.highest); d > 0 {
		a.highest = p.seq
	}
	// A packet too far ahead: what is before its window is given up.
	for uint16(p.seq-a.head) >= assemblerWindow {
		a.drop(a.head)
		a.head++
		a.lost, a.consumed = true, true
	}
	if *a.slot(p.seq) != nil {
		return out // a duplicate
	}
	*a.slot(p.seq) = p
	return a.emit(p.at, out)
}

// tick gives up on missing packets waited for too long, at now.
func (a *assembler) tick(now time.Duration, out []frame) []frame {
	return a.emit(now, out)
}

func (a *assembler) drop(seq uint16) {
	if p := *a.slot(seq); p != nil {
		*a.slot(seq) = nil
		if a.release != nil {
			a.release(p)
		}
	}
}

// emit consumes the complete frames at the head, and gives up on the
// head's frame when it has waited assemblerWait.
func (a *assembler) emit(now time.Duration, out []frame) []frame {
	for a.started {
		// Padding (packets whose payload is empty: a sender probing the
		// bandwidth, without RTX) takes sequence numbers but belongs to
		// no frame: it is passed over, and is no loss.
		for p := *a.slot(a.head); p != nil && len(p.payload) == 0; p = *a.slot(a.head) {
			a.drop(a.head)
			a.head++
		}
		end, complete := a.frameAt(a.head)
		if complete && !a.consumed && !a.depacketizer().IsPartitionHead((*a.slot(a.head)).payload) {
			// The first frame seen lacks its start: it may still come,
			// out of order; if not, the frame is given up below.
			complete = false
		}
		if complete {
			out = a.consume(end, out)
			a.stuckSince = -1
			continue
		}
		if a.head == a.highest+1 {
			return out // nothing buffered
		}
		if a.stuckSince < 0 {
			a.stuckSince = now
		}
		if now-a.stuckSince < assemblerWait {
			return out
		}
		// Give up the frame at the head (or the gap, when the head's
		// packet itself is missing) and go on with what follows.
		a.skip()
		a.stuckSince = now
	}
	return out
}

// frameAt finds the frame starting at seq: complete when its packets
// from seq to the last one (the one with the marker bit, or the one
// before the next frame's first) are all there; end is one past it.
func (a *assembler) frameAt(seq uint16) (end uint16, complete bool) {
	first := *a.slot(seq)
	if first == nil {
		return seq, false
	}
	for i := seq; ; i++ {
		p := *a.slot(i)
		if p == nil || uint16(i-seq) >= assemblerWindow {
			return i, false
		}
		if p.ts != first.ts {
			return i, true // the next frame began with nothing missing
		}
		if p.marker {
			return i + 1, true
		}
	}
}

// skip drops the packets of the head's frame, or the missing run at the
// head, up to the next packet present with another timestamp.
func (a *assembler) skip() {
	a.lost, a.consumed = true, true
	first := *a.slot(a.head)
	for a.head != a.highest+1 {
		p := *a.slot(a.head)
		if p != nil && (first == nil || p.ts != first.ts) {
			return
		}
		a.drop(a.head)
		a.head++
	}
}

// consume turns the packets from the head to end into a frame.
func (a *assembler) consume(end uint16, out []frame) []frame {
	a.consumed = true
	first := *a.slot(a.head)
	d := a.depacketizer()
	f := frame{ts: first.ts, ssrc: first.ssrc, keyframe: first.keyframe, at: first.at, afterLoss: a.lost}
	ok := d.IsPartitionHead(first.payload)
	for seq := a.head; seq != end; seq++ {
		if ok {
			b, err := d.Unmarshal((*a.slot(seq)).payload)
			ok = err == nil
			f.data = append(f.data, b...)
		}
		a.drop(seq)
	}
	a.head = end
	if !ok || len(f.data) == 0 {
		// A frame whose start was never seen (the recording began in
		// its middle) or that does not parse: the next one depends on it.
		a.lost = true
		return out
	}
	a.lost = false
	return append(out, f)
}
