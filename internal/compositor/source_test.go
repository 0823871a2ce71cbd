package compositor

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/parleyhq/parley/internal/sfu"
)

// testSource stands in for an SFU stream: it plays encoded files as RTP in
// real time, in a loop, to its taps, with the SFU's keyframe marks. A
// keyframe request makes the video start over from its first frame (a
// keyframe).
type testSource struct {
	video, audio *testTrack
	keyframes    atomic.Int64 // requests seen
	restart      atomic.Bool
	restartAudio atomic.Bool

	quit chan struct{}
	wg   sync.WaitGroup
}

type testTrack struct {
	params  webrtc.RTPCodecParameters
	codec   sfu.Codec
	frames  [][]byte // encoded frames (access units, Opus packets)
	samples uint32   // clock ticks per frame
	pay     rtp.Payloader

	mu   sync.Mutex
	taps map[int]sfu.TapFunc
	next int
	// lossEvery, when set, loses every lossEvery-th packet, as a network
	// does.
	lossEvery int
	sent      int
}

// newTestSource plays video and audio (either may be nil) until the test
// ends.
func newTestSource(t testing.TB, video, audio *testTrack) *testSource {
	s := &testSource{video: video, audio: audio, quit: make(chan struct{})}
	for _, tr := range []*testTrack{video, audio} {
		if tr != nil {
			s.wg.Add(1)
			go s.play(tr)
		}
	}
	t.Cleanup(s.stop)
	return s
}

func (s *testSource) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.wg.Wait()
}

func (s *testSource) track(kind webrtc.RTPCodecType) *testTrack {
	if kind == webrtc.RTPCodecTypeVideo {
		return s.video
	}
	return s.audio
}

func (s *testSource) Codec(kind webrtc.RTPCodecType) (webrtc.RTPCodecParameters, bool) {
	if tr := s.track(kind); tr != nil {
		return tr.params, true
	}
	return webrtc.RTPCodecParameters{}, false
}

func (s *testSource) Tap(kind webrtc.RTPCodecType, fn sfu.TapFunc) (func(), error) {
	tr := s.track(kind)
	if tr == nil {
		return nil, sfu.ErrNoTrack
	}
	tr.mu.Lock()
	id := tr.next
	tr.next++
	if tr.taps == nil {
		tr.taps = make(map[int]sfu.TapFunc)
	}
	tr.taps[id] = fn
	tr.mu.Unlock()
	return func() {
		tr.mu.Lock()
		delete(tr.taps, id)
		tr.mu.Unlock()
	}, nil
}

func (s *testSource) RequestKeyframe() {
	s.keyframes.Add(1)
	s.restart.Store(true)
}

// switchVideo makes the video play the frames of tr from their start, as
// a publisher changing its resolution does (on a keyframe).
func (s *testSource) switchVideo(tr *testTrack) {
	s.video.mu.Lock()
	s.video.frames = tr.frames
	s.video.mu.Unlock()
	s.restart.Store(true)
}

// switchAudio makes the audio play the packets of tr from their start
// (whose first packet the decoder takes afresh, as Opus codes it on its
// own).
func (s *testSource) switchAudio(tr *testTrack) {
	s.audio.mu.Lock()
	s.audio.frames = tr.frames
	s.audio.mu.Unlock()
	s.restartAudio.Store(true)
}

// tapped reports whether the track has taps.
func (tr *testTrack) tapped() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.taps) > 0
}

// play sends tr's frames at their rate, against the clock.
func (s *testSource) play(tr *testTrack) {
	defer s.wg.Done()
	pt := uint8(tr.params.PayloadType)
	pz := rtp.NewPacketizer(1200, pt, 0x1234+uint32(tr.codec), tr.pay, rtp.NewRandomSequencer(), tr.params.ClockRate)
	period := time.Duration(tr.samples) * time.Second / time.Duration(tr.params.ClockRate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	due := time.Now()
	var pkt rtp.Packet
	for i := 0; ; i++ {
		select {
		case <-s.quit:
			return
		case <-timer.C:
		}
		if (tr == s.video && s.restart.Swap(false)) || (tr == s.audio && s.restartAudio.Swap(false)) {
			i = 0
		}
		tr.mu.Lock()
		frame := tr.frames[i%len(tr.frames)]
		for _, p := range pz.Packetize(frame, tr.samples) {
			pkt = *p // one packet value, reused as the SFU's read loop does
			tr.sent++
			if tr.lossEvery > 0 && tr.sent%tr.lossEvery == 0 {
				continue
			}
			key := sfu.IsKeyframe(tr.codec, pkt.Payload)
			for _, fn := range tr.taps {
				fn(&pkt, key)
			}
		}
		tr.mu.Unlock()
		due = due.Add(period)
		if time.Since(due) > time.Second {
			due = time.Now()
		}
		timer.Reset(time.Until(due))
	}
}

// ivfTrack loads an IVF file (VP8 or VP9) made at fps.
func ivfTrack(t testing.TB, path string, fps int) *testTrack {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, hdr, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := &testTrack{samples: uint32(90000 / fps)}
	switch hdr.FourCC {
	case "VP80":
		tr.codec, tr.pay = sfu.CodecVP8, &codecs.VP8Payloader{EnablePictureID: true}
		tr.params = videoParams(webrtc.MimeTypeVP8, 100, "")
	case "VP90":
		tr.codec, tr.pay = sfu.CodecVP9, &codecs.VP9Payloader{}
		tr.params = videoParams(webrtc.MimeTypeVP9, 98, "profile-id=0")
	default:
		t.Fatalf("IVF codec %q", hdr.FourCC)
	}
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tr.frames = append(tr.frames, frame)
	}
	return tr
}

// h264Track loads an H.264 Annex-B file of single-slice pictures made at
// fps, one access unit per frame.
func h264Track(t testing.TB, path string, fps int) *testTrack {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := h264reader.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := &testTrack{
		samples: uint32(90000 / fps), codec: sfu.CodecH264, pay: &codecs.H264Payloader{},
		params: videoParams(webrtc.MimeTypeH264, 102, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
	}
	var au []byte
	for {
		nal, err := r.NextNAL()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if nal.UnitType == h264reader.NalUnitTypeAUD || nal.UnitType == h264reader.NalUnitTypeSEI {
			continue
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, nal.Data...)
		if nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr || nal.UnitType == h264reader.NalUnitTypeCodedSliceNonIdr {
			tr.frames = append(tr.frames, au)
			au = nil
		}
	}
	return tr
}

// opusTrack loads an Ogg Opus file of one 20 ms packet per page.
func opusTrack(t testing.TB, path string) *testTrack {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := &testTrack{
		samples: 960, codec: sfu.CodecOpus, pay: &codecs.OpusPayloader{},
		params: webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
			PayloadType:        109,
		},
	}
	for {
		page, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if typ, ok := hdr.HeaderType(page); ok && (typ == oggreader.HeaderOpusTags || typ == oggreader.HeaderOpusID) {
			continue
		}
		tr.frames = append(tr.frames, page)
	}
	if len(tr.frames) == 0 {
		t.Fatal("no Opus packets in " + path)
	}
	return tr
}

func videoParams(mime string, pt int, fmtp string) webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp},
		PayloadType:        webrtc.PayloadType(pt),
	}
}
