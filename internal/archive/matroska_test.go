package archive

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// vp8Keyframe and vp8Interframe are the starts of VP8 frames: enough for
// a demuxer (and for IsKeyframe), not for a decoder.
var (
	vp8Keyframe   = []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 1, 2, 3, 4, 5, 6}
	vp8Interframe = []byte{0x51, 0x42, 0x00, 7, 8, 9, 10, 11}
	opusFrame     = []byte{0xfc, 0xff, 0xfe, 1, 2, 3, 4, 5}
)

// writeTestFile writes seconds of 30 fps video (a keyframe a second) and
// 50 packets a second of audio, interleaved by time, and returns the
// file's bytes and the number of blocks.
func writeTestFile(t *testing.T, path string, seconds int) ([]byte, int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := newMatroskaWriter(f, "webm", []trackSpec{
		{number: 1, kind: trackTypeVideo, codecID: "V_VP8", width: 320, height: 240},
		{number: 2, kind: trackTypeAudio, codecID: "A_OPUS", codecPrivate: opusHead(), sampleRate: 48000, channels: 2},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	// Times in ms; video every 33 or 34 ms, audio every 20 ms.
	v, a := 0, 0
	for end := seconds * 1000; v*1000/30 < end || a*20 < end; {
		vt, at := int64(v*1000/30), int64(a*20)
		if vt <= at && int(vt) < end {
			frame := vp8Interframe
			if v%30 == 0 {
				frame = vp8Keyframe
			}
			if err := w.writeBlock(1, vt, v%30 == 0, frame); err != nil {
				t.Fatal(err)
			}
			v++
		} else {
			if err := w.writeBlock(2, at, true, opusFrame); err != nil {
				t.Fatal(err)
			}
			a++
		}
		blocks++
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, blocks
}

func finishFile(t *testing.T, path string) mediaInfo {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := finishMatroska(f)
	if err != nil {
		t.Fatalf("finish %s: %v", path, err)
	}
	return info
}

func TestMatroskaFinish(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.webm")
	live, blocks := writeTestFile(t, path, 4)

	l, err := scanMatroska(bytes.NewReader(live), int64(len(live)))
	if err != nil {
		t.Fatal(err)
	}
	if l.blocks != blocks || l.end != int64(len(live)) {
		t.Fatalf("live file: %d blocks ending at %d, want %d ending at %d", l.blocks, l.end, blocks, len(live))
	}
	if l.seekSlot < 0 || l.seekSize != seekHeadSlot || l.durSlot < 0 {
		t.Fatalf("reserved room not found: seek %d (%d bytes), duration %d", l.seekSlot, l.seekSize, l.durSlot)
	}
	var seekable int
	for _, c := range l.clusters {
		if c.seekable {
			seekable++
		}
	}
	// A cluster per keyframe (one a second), none longer than 5 s.
	if len(l.clusters) != 4 || seekable != 4 {
		t.Errorf("%d clusters, %d starting on a keyframe; want 4 and 4", len(l.clusters), seekable)
	}

	info := finishFile(t, path)
	if info.blocks != blocks || info.durationMs < 3980 || info.durationMs > 4020 {
		t.Errorf("finished: %+v, want %d blocks and ≈ 4000 ms", info, blocks)
	}
	first, _ := os.ReadFile(path)
	if !bytes.Equal(first[l.seekSlot+seekHeadSlot:l.durSlot], live[l.seekSlot+seekHeadSlot:l.durSlot]) {
		t.Error("finishing changed bytes outside the reserved room")
	}
	if !bytes.Equal(first[l.durSlot+durationSlot:len(live)], live[l.durSlot+durationSlot:]) {
		t.Error("finishing moved media bytes")
	}
	// Finishing again changes nothing.
	again := finishFile(t, path)
	second, _ := os.ReadFile(path)
	if again != info || !bytes.Equal(first, second) {
		t.Errorf("finishing twice: %+v then %+v, files equal: %v", info, again, bytes.Equal(first, second))
	}
	probe(t, path, 4.0, blocks)
}

// TestMatroskaTornTail cuts a live file at many places, as a crash
// would, and finishes each: every whole block before the cut is kept, the
// torn rest is cut off, and the file plays.
func TestMatroskaTornTail(t *testing.T) {
	dir := t.TempDir()
	live, _ := writeTestFile(t, filepath.Join(dir, "full.webm"), 3)
	full, err := scanMatroska(bytes.NewReader(live), int64(len(live)))
	if err != nil {
		t.Fatal(err)
	}
	header := int(full.clusters[0].pos) // the first cluster starts after the header
	for i, cut := range []int{len(live) - 1, len(live) - 5, len(live) * 2 / 3, len(live) / 2, header + 60, header - 1, int(full.segData) + 20} {
		path := filepath.Join(dir, strconv.Itoa(i)+".webm")
		if err := os.WriteFile(path, live[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(path, os.O_RDWR, 0)
		info, err := finishMatroska(f)
		f.Close()
		if cut < header {
			// Inside the header: nothing to play.
			if err == nil {
				t.Errorf("cut at %d, inside the header: finished with %+v", cut, info)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		// The whole blocks before the cut are exactly those kept.
		want, _ := scanMatroska(bytes.NewReader(live[:cut]), int64(cut))
		if info.blocks != want.blocks || info.blocks == 0 {
			t.Errorf("cut at %d: %d blocks kept, want %d", cut, info.blocks, want.blocks)
		}
		probe(t, path, -1, info.blocks)
	}
}

// probe checks a file with ffprobe, when there is one: it reads without
// error, with the packets and (unless wantSeconds < 0) the duration
// expected.
func probe(t *testing.T, path string, wantSeconds float64, wantPackets int) {
	t.Helper()
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		return
	}
	out, err := exec.Command(ffprobe, "-v", "error", "-count_packets", "-show_entries",
		"format=duration,format_name:stream=codec_name,nb_read_packets", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var res struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			CodecName string `json:"codec_name"`
			Packets   string `json:"nb_read_packets"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe: %s", out)
	}
	packets := 0
	for _, s := range res.Streams {
		n, _ := strconv.Atoi(s.Packets)
		packets += n
	}
	if packets != wantPackets {
		t.Errorf("%s: ffprobe read %d packets, want %d (%s)", filepath.Base(path), packets, wantPackets, out)
	}
	if wantSeconds >= 0 {
		d, _ := strconv.ParseFloat(res.Format.Duration, 64)
		if d < wantSeconds-0.1 || d > wantSeconds+0.1 {
			t.Errorf("%s: ffprobe duration %v, want %v", filepath.Base(path), d, wantSeconds)
		}
	}
}
