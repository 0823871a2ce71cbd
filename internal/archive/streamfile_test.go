package archive

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/test/live"
)

// TestStreamFileH264 records H.264: the file is Matroska, opens on the
// first keyframe with the parameter sets as the track's configuration,
// and keeps the audio that came before it.
func TestStreamFileH264(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	fs := newFakeStream()
	fs.codecs[webrtc.RTPCodecTypeVideo] = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}}
	sf, err := startStreamFile(streamFileConfig{root: root, name: "s.mkv", media: fs, video: videoCodecs[sfu.CodecH264],
		videoClock: 90000, audio: true, width: 320, height: 240, log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	sps := []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	stapA := []byte{0x78}
	for _, n := range [][]byte{sps, pps} {
		stapA = binary.BigEndian.AppendUint16(stapA, uint16(len(n)))
		stapA = append(stapA, n...)
	}
	audio := func(i int) {
		fs.send(webrtc.RTPCodecTypeAudio, &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 2}, Payload: opusFrame}, true)
	}
	video := func(seq uint16, ts uint32, marker bool, payload []byte) {
		fs.send(webrtc.RTPCodecTypeVideo, &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: marker, SSRC: 1},
			Payload: payload}, sfu.IsKeyframe(sfu.CodecH264, payload))
	}
	for i := range 10 {
		audio(i)
	}
	video(1, 0, false, stapA)
	video(2, 0, true, []byte{0x65, 0x88, 0x84, 0x00})
	video(3, 3000, true, []byte{0x41, 0x9a, 0x02})
	video(4, 6000, true, []byte{0x41, 0x9a, 0x04})
	video(5, 9000, true, []byte{0x41, 0x9a, 0x06})
	audio(10)
	time.Sleep(100 * time.Millisecond)
	res := sf.close()
	if !res.opened || res.err != nil {
		t.Fatalf("result %+v", res)
	}
	// 11 audio packets, 4 video frames.
	if res.info.blocks != 11+4 {
		t.Errorf("%d blocks, want 15", res.info.blocks)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "s.mkv"))
	var file struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment struct {
			Tracks webm.Tracks `ebml:"Tracks"`
		} `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(b), &file, ebml.WithIgnoreUnknown(true)); err != nil && file.Header.DocType == "" {
		t.Fatal(err)
	}
	if file.Header.DocType != "matroska" || len(file.Segment.Tracks.TrackEntry) != 2 {
		t.Fatalf("header %+v, tracks %+v", file.Header, file.Segment.Tracks)
	}
	v := file.Segment.Tracks.TrackEntry[0]
	want, _ := avcConfig(append(binary.BigEndian.AppendUint32(nil, uint32(len(sps))), append(sps, append(binary.BigEndian.AppendUint32(nil, uint32(len(pps))), pps...)...)...))
	if v.CodecID != "V_MPEG4/ISO/AVC" || !bytes.Equal(v.CodecPrivate, want.codecPrivate) || v.CodecPrivate[1] != 0x42 {
		t.Errorf("video track %+v, want avcC %x", v, want.codecPrivate)
	}
	if a := file.Segment.Tracks.TrackEntry[1]; a.CodecID != "A_OPUS" || string(a.CodecPrivate[:8]) != "OpusHead" {
		t.Errorf("audio track %+v", a)
	}
}

// TestStreamFileAV1 records real AV1 encoder output, packetized as a
// WebRTC sender does: the file is WebM whose video track has the av1C
// configuration of the first keyframe's sequence header and the size
// the sequence header gives, and it decodes whole though the recording
// joined the stream between keyframes, a keyframe's packets came out of
// order and a temporal unit came malformed (what follows it, up to the
// next keyframe, is left out).
func TestStreamFileAV1(t *testing.T) {
	ffprobe := live.Require(t, "ffprobe")
	tus := readIVF(t, encodeAV1(t, t.TempDir(), 0, "3", 30))
	if len(tus) != 90 {
		t.Fatalf("%d temporal units, want 90", len(tus))
	}
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	fs := newFakeStream()
	fs.codecs[webrtc.RTPCodecTypeVideo] = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}}
	sf, err := startStreamFile(streamFileConfig{root: root, name: "s.webm", media: fs, video: videoCodecs[sfu.CodecAV1],
		videoClock: 90000, audio: true, width: 640, height: 480, log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	var pay codecs.AV1Payloader
	vseq, aseq := uint16(65500), uint16(0)
	const joined, malformed, swapped = 5, 40, 60 // frames 30 and 60 are keyframes
	for n := joined; n < len(tus); n++ {
		payloads := pay.Payload(1200, tus[n])
		if n == malformed {
			payloads = [][]byte{{0x10, 5 << 3, 1, 2, 3}} // one metadata OBU: no frame
		}
		var pkts []*rtp.Packet
		for i, p := range payloads {
			pkts = append(pkts, &rtp.Packet{Header: rtp.Header{SequenceNumber: vseq, Timestamp: uint32(n * 3000),
				Marker: i == len(payloads)-1, SSRC: 1}, Payload: p})
			vseq++
		}
		if n == swapped {
			if len(pkts) < 2 {
				t.Fatalf("keyframe %d in %d packet", n, len(pkts))
			}
			pkts[0], pkts[1] = pkts[1], pkts[0]
		}
		for _, p := range pkts {
			fs.send(webrtc.RTPCodecTypeVideo, p, sfu.IsKeyframe(sfu.CodecAV1, p.Payload))
		}
		for ; int(aseq)*20 <= n*1000/30; aseq++ {
			fs.send(webrtc.RTPCodecTypeAudio, &rtp.Packet{Header: rtp.Header{SequenceNumber: aseq, Timestamp: uint32(aseq) * 960, SSRC: 2},
				Payload: opusFrame}, true)
		}
	}
	res := sf.close()
	if !res.opened || !res.video || res.err != nil || res.dropped != 0 {
		t.Fatalf("result %+v", res)
	}
	// Frames 5 to 29 wait for the keyframe, 40 to 59 for the next one.
	if res.skipped != 25+20 {
		t.Errorf("%d frames skipped, want 45", res.skipped)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "s.webm"))
	var file struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment struct {
			Tracks webm.Tracks `ebml:"Tracks"`
		} `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(b), &file, ebml.WithIgnoreUnknown(true)); err != nil && file.Header.DocType == "" {
		t.Fatal(err)
	}
	if file.Header.DocType != "webm" || len(file.Segment.Tracks.TrackEntry) != 2 {
		t.Fatalf("header %+v, tracks %+v", file.Header, file.Segment.Tracks)
	}
	v := file.Segment.Tracks.TrackEntry[0]
	want, _ := av1Config(tus[30])
	if v.CodecID != "V_AV1" || !bytes.Equal(v.CodecPrivate, want.codecPrivate) || v.Video == nil ||
		v.Video.PixelWidth != 320 || v.Video.PixelHeight != 240 {
		t.Errorf("video track %+v %+v, want V_AV1 320x240 with %x", v, v.Video, want.codecPrivate)
	}

	out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_name,nb_read_frames", "-of", "csv=p=0", filepath.Join(dir, "s.webm")).CombinedOutput()
	got := strings.Fields(string(out))
	t.Logf("ffprobe: %s", strings.Join(got, " "))
	// Frames 30 to 39 and 60 to 89, all decoded.
	if err != nil || len(got) != 2 || got[0] != "av1,40" || !strings.HasPrefix(got[1], "opus,") {
		t.Errorf("ffprobe: %v\n%s\nwant 40 AV1 frames decoded without errors, and the Opus track", err, out)
	}
}

// TestStreamFileAudioWhenVideoNeverStarts: an H.264 stream that never
// sends a keyframe still leaves its audio.
func TestStreamFileAudioWhenVideoNeverStarts(t *testing.T) {
	dir := t.TempDir()
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	fs := newFakeStream()
	fs.codecs[webrtc.RTPCodecTypeVideo] = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}}
	sf, err := startStreamFile(streamFileConfig{root: root, name: "s.mkv", media: fs, video: videoCodecs[sfu.CodecH264],
		videoClock: 90000, audio: true, log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		fs.send(webrtc.RTPCodecTypeAudio, &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 2}, Payload: opusFrame}, true)
		fs.send(webrtc.RTPCodecTypeVideo, &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: true, SSRC: 1}, Payload: []byte{0x41, 0x9a}}, false)
	}
	time.Sleep(50 * time.Millisecond)
	res := sf.close()
	if !res.opened || res.video || res.info.blocks != 20 {
		t.Fatalf("result %+v, want 20 audio blocks and no video track", res)
	}
	if fs.keyframes.Load() == 0 {
		t.Error("no keyframe was asked for")
	}
}

// TestIndividualVideoNeverStarts: the manifest of an AV1 stream whose
// video never brought a sequence header with a keyframe says the file
// has the audio only, so that nothing (a composition) looks for its
// video.
func TestIndividualVideoNeverStarts(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	const id = "5b1c3c1e-4a57-4c1e-9a4e-1d2f3a4b5c6d"
	if err := root.Mkdir(id, 0o750); err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Uint64
	o, err := newIndividual(root, manifest{ID: id, CreatedAt: time.Now().UnixMilli()}, discardLog(), &dropped)
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeStream()
	fs.codecs[webrtc.RTPCodecTypeVideo] = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}}
	if err := o.include(source{stream: session.Stream{ID: "s1"}, media: fs, audio: true, video: true}); err != nil {
		t.Fatal(err)
	}
	if e := o.journal.Files[0]; !e.HasVideo || e.VideoCodec != "AV1" || e.Filename != "s1.webm" {
		t.Fatalf("while recording: %+v, want AV1 video in s1.webm", e)
	}
	for i := range 20 {
		fs.send(webrtc.RTPCodecTypeAudio, &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 2}, Payload: opusFrame}, true)
		// Inter frames only: one OBU_FRAME each.
		fs.send(webrtc.RTPCodecTypeVideo, &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: true, SSRC: 1},
			Payload: append([]byte{0x10}, av1InterFrame...)}, false)
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	e := o.journal.Files[0]
	if e.HasVideo || e.VideoCodec != "" || !e.HasAudio || e.Size == 0 || !strings.Contains(e.Note, "AV1 keyframe") {
		t.Errorf("manifest entry %+v, want the audio only, with a note", e)
	}
}

// BenchmarkRecordStream measures the work of recording one stream: per
// op, one second of a 30 fps VP8 stream of 1 Mbps (four 1 KB packets a
// frame) and 50 Opus packets, from the tap's copy to the block written
// to disk. ns/op is thus the CPU time a recorded stream costs per second:
// 1e7 ns/op would be 1 % of a core.
func BenchmarkRecordStream(b *testing.B) {
	root, err := os.OpenRoot(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	fs := newFakeStream()
	sf := newStreamFile(streamFileConfig{root: root, name: "s.webm", media: fs, video: videoCodecs[sfu.CodecVP8],
		videoClock: 90000, audio: true, width: 640, height: 480, log: discardLog()})
	video, audio := sf.tap(true), sf.tap(false)
	payload := make([]byte, 1000)
	opus := make([]byte, 80)
	var vseq, aseq uint16
	var frame, apkt uint32
	b.ReportAllocs()
	b.SetBytes(30*4*1000 + 50*80)
	b.ResetTimer()
	for range b.N {
		// Arrival times follow the media's, as on a live stream: the
		// recorder's clock starts a second earlier at each second.
		sf.origin = sf.origin.Add(-time.Second)
		for f := 0; f < 30; f++ {
			key := frame%60 == 0
			for i := range 4 {
				payload[0] = 0
				if i == 0 {
					payload[0] = 0x10
					payload[1] = 0x01
					if key {
						payload[1] = 0x00
					}
				}
				video(&rtp.Packet{Header: rtp.Header{SequenceNumber: vseq, Timestamp: frame * 3000, Marker: i == 3, SSRC: 1}, Payload: payload}, key && i == 0)
				sf.handle(<-sf.queue)
				vseq++
			}
			frame++
			for apkt*20 < frame*1000/30 {
				audio(&rtp.Packet{Header: rtp.Header{SequenceNumber: aseq, Timestamp: apkt * 960, SSRC: 2}, Payload: opus}, true)
				sf.handle(<-sf.queue)
				aseq++
				apkt++
			}
		}
	}
	b.StopTimer()
	sf.finish()
	if sf.result.err != nil || sf.written == 0 {
		b.Fatalf("%+v, %d blocks", sf.result, sf.written)
	}
}

// BenchmarkTap measures what a recorder costs the SFU's read loop per
// packet: the tap's copy into its queue (a goroutine drains it, as the
// recorder does).
func BenchmarkTap(b *testing.B) {
	sf := newStreamFile(streamFileConfig{media: newFakeStream(), log: discardLog()})
	tap := sf.tap(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case p := <-sf.queue:
				releasePacket(p)
			case <-sf.stop:
				return
			}
		}
	}()
	pkt := &rtp.Packet{Header: rtp.Header{SequenceNumber: 1, Timestamp: 3000, SSRC: 1}, Payload: make([]byte, 1100)}
	b.ReportAllocs()
	b.SetBytes(1100)
	b.ResetTimer()
	for i := range b.N {
		pkt.SequenceNumber = uint16(i)
		tap(pkt, false)
	}
	b.StopTimer()
	close(sf.stop)
	<-done
	b.ReportMetric(float64(sf.dropped.Load())/float64(b.N)*100, "%dropped")
}
