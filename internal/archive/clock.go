package archive

import "time"

// maxClockDrift is how far a track's RTP clock may stray from the arrival
// times before the track is re-anchored on them: a sender that restarts
// its timestamps (a new encoder, a replaced track) would otherwise put its
// frames minutes away.
const maxClockDrift = 5 * time.Second

// trackClock places a track's frames on the file's timeline, in
// milliseconds. The first frame is placed at its arrival time; the others
// at the distance their RTP timestamps say, which keeps the sender's
// rhythm however the network bunched the packets. Audio and video of a
// stream thus line up as they arrived, to within the network's jitter on
// their first packets.
type trackClock struct {
	rate     int64 // RTP clock rate, Hz
	anchored bool
	ssrc     uint32
	last     uint32 // the last RTP timestamp seen
	ticks    int64  // ticks since the anchor (unwrapped)
	anchorMs int64
	lastMs   int64
}

func newTrackClock(rate uint32) *trackClock {
	if rate == 0 {
		rate = 90000
	}
	return &trackClock{rate: int64(rate), lastMs: -1}
}

// place returns the time in ms of a frame with RTP timestamp ts that
// arrived at at, and whether it is later than the track's previous frame
// (an earlier or equal one is a duplicate or came too late to write).
func (c *trackClock) place(ts, ssrc uint32, at time.Duration) (int64, bool) {
	arrival := at.Milliseconds()
	if !c.anchored || ssrc != c.ssrc {
		c.anchor(ts, ssrc, arrival)
	} else {
		c.ticks += int64(int32(ts - c.last))
		c.last = ts
	}
	ms := c.anchorMs + c.ticks*1000/c.rate
	if d := time.Duration(ms-arrival) * time.Millisecond; d > maxClockDrift || d < -maxClockDrift {
		c.anchor(ts, ssrc, arrival)
		ms = c.anchorMs
	}
	if ms <= c.lastMs {
		return ms, false
	}
	c.lastMs = ms
	return ms, true
}

// anchor places timestamp ts at arrival, or just after the track's last
// frame if that is later, so that time never runs backwards in a track.
func (c *trackClock) anchor(ts, ssrc uint32, arrival int64) {
	c.anchored, c.ssrc, c.last, c.ticks = true, ssrc, ts, 0
	c.anchorMs = max(arrival, c.lastMs+1)
}
