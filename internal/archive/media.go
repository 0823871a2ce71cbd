package archive

import (
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
)

// Media is where recorders find a stream's packets: the node's SFU, or a
// stand-in in tests.
type Media interface {
	// Stream returns the media of a published stream.
	Stream(id string) (MediaStream, bool)
}

// MediaStream is one published stream's media.
type MediaStream interface {
	// Codec returns the codec of the stream's track of that kind, or
	// false when the stream has none.
	Codec(kind webrtc.RTPCodecType) (webrtc.RTPCodecParameters, bool)
	// Tap adds a tap to the track of that kind (see sfu.Receiver.Tap).
	Tap(kind webrtc.RTPCodecType, fn sfu.TapFunc) (stop func(), err error)
	// RequestKeyframe asks the publisher for a video keyframe.
	RequestKeyframe()
}

// SFUMedia is the Media of a node: its SFU's streams.
func SFUMedia(s *sfu.SFU) Media { return sfuMedia{s} }

type sfuMedia struct{ s *sfu.SFU }

func (m sfuMedia) Stream(id string) (MediaStream, bool) {
	st, ok := m.s.Stream(id)
	if !ok {
		return nil, false
	}
	return st, true
}
