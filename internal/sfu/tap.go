package sfu

import (
	"errors"
	"slices"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TapFunc receives the packets of one track, as the read loop forwards
// them, with keyframe set on the first packet of a video keyframe (see
// IsKeyframe).
//
// pkt and its payload belong to the read loop and are overwritten by the
// next packet: a tap copies what it keeps. A tap runs on the read loop, so
// it must return at once — copy the packet into its own bounded queue and
// drop it when the queue is full — or every subscriber of the stream
// waits for it.
type TapFunc func(pkt *rtp.Packet, keyframe bool)

type tap struct{ fn TapFunc }

// Tap adds fn to the receiver's taps: a recorder's way to see the track's
// packets without a peer connection of its own. stop removes it; it may be
// called more than once. A read already under way when stop is called may
// still deliver one packet to fn, so fn must stay safe to call after stop.
func (r *Receiver) Tap(fn TapFunc) (stop func()) {
	t := &tap{fn: fn}
	r.mu.Lock()
	var next []*tap
	if old := r.taps.Load(); old != nil {
		next = slices.Clone(*old)
	}
	next = append(next, t)
	r.taps.Store(&next)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		old := r.taps.Load()
		if old == nil {
			return
		}
		next := slices.DeleteFunc(slices.Clone(*old), func(x *tap) bool { return x == t })
		if len(next) == 0 {
			// Back to a nil load: the read loop's cost without taps.
			r.taps.Store(nil)
			return
		}
		r.taps.Store(&next)
	}
}

// ErrNoTrack is returned by Stream.Tap for a kind the stream does not
// publish.
var ErrNoTrack = errors.New("sfu: the stream has no track of that kind")

// Tap adds fn to the taps of the stream's track of that kind (see
// Receiver.Tap).
func (st *Stream) Tap(kind webrtc.RTPCodecType, fn TapFunc) (stop func(), err error) {
	r := st.Receiver(kind)
	if r == nil {
		return nil, ErrNoTrack
	}
	return r.Tap(fn), nil
}

// RequestKeyframe asks the publisher for a video keyframe, through the
// same throttle as the subscribers' requests. A recorder starting a file
// asks for one so that the file starts on a picture, not a wait.
func (st *Stream) RequestKeyframe() {
	if r := st.Receiver(webrtc.RTPCodecTypeVideo); r != nil {
		r.RequestKeyframe()
	}
}

// Codec returns the codec of the stream's track of that kind, or false
// when the stream has none: with Tap and RequestKeyframe, what a recorder
// or a compositor needs of a stream.
func (st *Stream) Codec(kind webrtc.RTPCodecType) (webrtc.RTPCodecParameters, bool) {
	r := st.Receiver(kind)
	if r == nil {
		return webrtc.RTPCodecParameters{}, false
	}
	return r.Codec(), true
}
