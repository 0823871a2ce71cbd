package compositor

import (
	"reflect"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// pictureGrace is how long the last picture of a source stays on the
// canvas after its decoder died.
const pictureGrace = time.Second

// input is one source the compositor decodes: its feeds (one decoder per
// kind), its latest picture and its audio ring.
type input struct {
	c   *Compositor
	id  string
	src Source

	mu    sync.Mutex // guards video and audio
	video *feed      // its picture slot is what the clock paints
	audio *feed      // its ring is what the clock mixes
}

func newInput(c *Compositor, id string, src Source) *input {
	return &input{c: c, id: id, src: src}
}

// pictures returns the slot of the input's current video feed, or nil.
func (in *input) pictures() *pictureSlot {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.video == nil {
		return nil
	}
	return in.video.pic
}

// samples returns the ring of the input's current audio feed, or nil.
func (in *input) samples() *pcmRing {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.audio == nil {
		return nil
	}
	return in.audio.ring
}

// setKinds starts or stops the input's feeds so that exactly the asked
// kinds are decoded.
func (in *input) setKinds(video, audio bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case video && in.video == nil:
		in.video = startFeed(in, webrtc.RTPCodecTypeVideo)
	case !video && in.video != nil:
		in.video.stop()
		in.video = nil
	}
	switch {
	case audio && in.audio == nil:
		in.audio = startFeed(in, webrtc.RTPCodecTypeAudio)
	case !audio && in.audio != nil:
		in.audio.stop()
		in.audio = nil
	}
}

// stop stops the input's feeds; their goroutines and processes end on
// their own, and Close waits for them.
func (in *input) stop() {
	in.setKinds(false, false)
}

func (in *input) stats() SourceStats {
	in.mu.Lock()
	video, audio := in.video, in.audio
	in.mu.Unlock()
	var s SourceStats
	if video != nil {
		s.Pictures, s.Width, s.Height = video.pic.counts()
	}
	if audio != nil {
		s.AudioUnderruns, s.AudioDropped = audio.ring.counts()
	}
	for _, f := range [...]*feed{video, audio} {
		if f != nil {
			s.PacketsDropped += f.dropped.Load()
			s.Restarts += f.restarts.Load()
		}
	}
	return s
}

// sameSource reports whether a and b are the same Source. Values of a
// type that cannot be compared (which == would panic on) are taken for the
// same: an ID names one stream.
func sameSource(a, b Source) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if !ta.Comparable() {
		return true
	}
	return a == b
}

// pictureSlot holds the latest picture of a video feed, double buffered: the
// decoder's reader fills back and swaps it with front, the clock paints
// front.
type pictureSlot struct {
	mu       sync.Mutex
	front    *picture
	back     *picture
	has      bool      // front holds a picture
	up       bool      // a decoder is running
	downAt   time.Time // when the last decoder stopped unexpectedly
	pictures int64
}

// buffer returns the picture the reader fills next, sized w×h. Only the
// reader calls it, and it keeps the picture until swap.
func (s *pictureSlot) buffer(w, h int) *picture {
	s.mu.Lock()
	p := s.back
	s.back = nil
	s.mu.Unlock()
	if p == nil || p.w != w || p.h != h {
		p = newPicture(w, h)
	}
	return p
}

// swap makes p the picture on show and keeps the previous one for the
// next buffer call.
func (s *pictureSlot) swap(p *picture) {
	s.mu.Lock()
	s.back, s.front = s.front, p
	s.has = true
	s.pictures++
	s.mu.Unlock()
}

// setUp records that a decoder started (up) or stopped; a decoder that
// stopped unexpectedly leaves its picture on show for pictureGrace.
func (s *pictureSlot) setUp(up bool, now time.Time) {
	s.mu.Lock()
	switch {
	case s.up && !up:
		s.downAt = now
	case !s.up && up && now.Sub(s.downAt) > pictureGrace:
		s.has = false // already off the canvas: keep it off until a new picture
	}
	s.up = up
	s.mu.Unlock()
}

// lock returns the picture to paint at now, or nil, with the slot locked
// until unlock.
func (s *pictureSlot) lock(now time.Time) *picture {
	s.mu.Lock()
	if !s.has || (!s.up && now.Sub(s.downAt) > pictureGrace) {
		return nil
	}
	return s.front
}

func (s *pictureSlot) unlock() { s.mu.Unlock() }

func (s *pictureSlot) counts() (n int64, w, h int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.has {
		w, h = s.front.w, s.front.h
	}
	return s.pictures, w, h
}
