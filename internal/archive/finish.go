package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// errNotMatroska is returned for a file that does not even hold a whole
// Matroska header: nothing in it can be played.
var errNotMatroska = errors.New("not a Matroska file with a whole header")

// mediaLayout is what scanning a live Matroska file finds.
type mediaLayout struct {
	segData  int64 // offset of the Segment's first child
	seekSlot int64 // offset of the reserved SeekHead room (Void or an earlier SeekHead), or -1
	seekSize int64
	durSlot  int64 // offset of the reserved Duration room (Void or an earlier Duration), or -1
	info     int64
	tracks   int64
	types    map[uint64]uint64 // track number → type
	clusters []clusterRef
	// end is where the last whole element ends: anything after it is
	// the torn tail of an interrupted write, or an index of an earlier
	// finishing, and is cut off.
	end int64
	// blocks counts the whole blocks; lastMs is the end of the latest of
	// them, estimated from the gaps between each track's blocks.
	blocks int
	lastMs int64
}

// clusterRef is a cluster and whether decoding can start there: its
// first video block is a keyframe (or the file has no video).
type clusterRef struct {
	pos      int64
	ms       int64
	seekable bool
}

// byteWindow reads a file through a buffer, by absolute offsets.
type byteWindow struct {
	r    io.ReaderAt
	size int64
	base int64
	buf  []byte
}

// at returns up to n bytes at off (fewer at the end of the file).
func (w *byteWindow) at(off int64, n int) []byte {
	if off >= w.base && off+int64(n) <= w.base+int64(len(w.buf)) {
		return w.buf[off-w.base : off-w.base+int64(n)]
	}
	if cap(w.buf) < 64<<10 || cap(w.buf) < n {
		w.buf = make([]byte, max(64<<10, n))
	}
	w.buf = w.buf[:cap(w.buf)]
	m, _ := w.r.ReadAt(w.buf, off)
	w.base, w.buf = off, w.buf[:m]
	return w.buf[:min(n, m)]
}

// readVint decodes an EBML variable-length integer at the start of b:
// its value (with the length marker kept when keepMarker, as element ids
// are written), its length, and whether all its value bits are set (an
// unknown size).
func readVint(b []byte, keepMarker bool) (v uint64, n int, allOnes bool, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 || len(b) < n {
		return 0, 0, false, false
	}
	v = uint64(b[0])
	if !keepMarker {
		v &= uint64(0xFF >> n)
	}
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, v&(1<<(7*n)-1) == 1<<(7*n)-1, true
}

// elemHeader is an element's id, where its data starts and how long it
// is (-1 when unknown).
type elemHeader struct {
	id   uint64
	data int64
	size int64
}

func (w *byteWindow) header(off int64) (elemHeader, bool) {
	b := w.at(off, 12)
	id, n, _, ok := readVint(b, true)
	if !ok || n > 4 {
		return elemHeader{}, false
	}
	size, m, unknown, ok := readVint(b[n:], false)
	if !ok {
		return elemHeader{}, false
	}
	h := elemHeader{id: id, data: off + int64(n+m), size: int64(size)}
	if unknown {
		h.size = -1
	}
	return h, true
}

// whole reports whether the element fits in the file.
func (w *byteWindow) whole(h elemHeader) bool {
	return h.size >= 0 && h.data+h.size <= w.size
}

func isTopLevel(id uint64) bool {
	switch id {
	case idSeekHead, idInfo, idTracks, idCluster, idCues, idTags, idChapters, idAttachments:
		return true
	}
	return false
}

// scanMatroska reads the layout of a live Matroska file of size bytes.
func scanMatroska(r io.ReaderAt, size int64) (mediaLayout, error) {
	w := &byteWindow{r: r, size: size}
	l := mediaLayout{seekSlot: -1, durSlot: -1, info: -1, tracks: -1, types: map[uint64]uint64{}}
	h, ok := w.header(0)
	if !ok || h.id != idEBML || !w.whole(h) {
		return l, errNotMatroska
	}
	seg, ok := w.header(h.data + h.size)
	if !ok || seg.id != idSegment {
		return l, errNotMatroska
	}
	l.segData = seg.data
	segEnd := size
	if seg.size >= 0 {
		segEnd = min(size, seg.data+seg.size)
	}
	l.end = seg.data
	last := map[uint64][2]int64{} // track → its last two block times

	off := seg.data
	for off < segEnd {
		h, ok := w.header(off)
		if !ok {
			break
		}
		if h.id == idCluster {
			next, whole := l.scanCluster(w, off, h, segEnd, last)
			if !whole {
				break
			}
			off = next
			continue
		}
		if !w.whole(h) {
			break
		}
		switch h.id {
		case idVoid:
			// Before Info, a Void is the room reserved for the SeekHead,
			// or what pads an earlier finishing's SeekHead.
			switch {
			case l.info >= 0:
			case l.seekSlot < 0:
				l.seekSlot, l.seekSize = off, h.data+h.size-off
			case off == l.seekSlot+l.seekSize:
				l.seekSize += h.data + h.size - off
			}
		case idSeekHead:
			l.seekSlot, l.seekSize = off, h.data+h.size-off
		case idInfo:
			l.info = off
			l.scanInfo(w, h)
		case idTracks:
			l.tracks = off
			if err := l.readTracks(w, off, h); err != nil {
				return l, err
			}
		case idCues:
			// An index from an earlier finishing: it is rebuilt.
			return l.done(last), nil
		}
		off = h.data + h.size
		l.end = off
	}
	if l.info < 0 || l.tracks < 0 {
		return l, errNotMatroska
	}
	return l.done(last), nil
}

func (l mediaLayout) done(last map[uint64][2]int64) mediaLayout {
	for _, t := range last {
		end := t[1]
		if t[0] >= 0 && t[1] > t[0] {
			end += min(t[1]-t[0], 100) // one more frame, as players count it
		} else {
			end += 20
		}
		l.lastMs = max(l.lastMs, end)
	}
	return l
}

func (l *mediaLayout) scanInfo(w *byteWindow, info elemHeader) {
	for off := info.data; off < info.data+info.size; {
		h, ok := w.header(off)
		if !ok || !w.whole(h) {
			return
		}
		if (h.id == idVoid && h.data+h.size-off == durationSlot) || h.id == idDuration {
			l.durSlot = off
		}
		off = h.data + h.size
	}
}

func (l *mediaLayout) readTracks(w *byteWindow, off int64, h elemHeader) error {
	var t struct {
		Tracks webm.Tracks `ebml:"Tracks"`
	}
	raw := append([]byte(nil), w.at(off, int(h.data+h.size-off))...)
	if err := ebml.Unmarshal(bytes.NewReader(raw), &t, ebml.WithIgnoreUnknown(true)); err != nil {
		return fmt.Errorf("%w: tracks: %v", errNotMatroska, err)
	}
	for _, e := range t.Tracks.TrackEntry {
		l.types[e.TrackNumber] = e.TrackType
	}
	return nil
}

// scanCluster reads the cluster at off and returns where the next
// top-level element starts; whole is false when the file ends inside it
// (its whole blocks still count).
func (l *mediaLayout) scanCluster(w *byteWindow, off int64, ch elemHeader, segEnd int64, last map[uint64][2]int64) (next int64, whole bool) {
	end := segEnd
	if ch.size >= 0 {
		end = min(segEnd, ch.data+ch.size)
	}
	c := clusterRef{pos: off}
	var blocks, videoBlocks int
	hasVideo := false
	for _, typ := range l.types {
		hasVideo = hasVideo || typ == trackTypeVideo
	}
	p := ch.data
	for p < end {
		h, ok := w.header(p)
		if !ok {
			break
		}
		if isTopLevel(h.id) {
			end = p // an unknown-size cluster ends where a top-level element starts
			break
		}
		if !w.whole(h) {
			break
		}
		switch h.id {
		case idTimecode:
			var v int64
			for _, b := range w.at(h.data, int(h.size)) {
				v = v<<8 | int64(b)
			}
			c.ms = v
		case idSimpleBlock:
			b := w.at(h.data, int(min(h.size, 12)))
			track, n, _, ok := readVint(b, false)
			if !ok || len(b) < n+3 {
				break
			}
			ms := c.ms + int64(int16(binary.BigEndian.Uint16(b[n:])))
			key := b[n+2]&0x80 != 0
			if l.types[track] == trackTypeVideo {
				if videoBlocks == 0 {
					c.seekable = key
				}
				videoBlocks++
			}
			if prev, seen := last[track]; seen {
				last[track] = [2]int64{prev[1], ms}
			} else {
				last[track] = [2]int64{-1, ms}
			}
			blocks++
			l.blocks++
		}
		p = h.data + h.size
		l.end = p
	}
	if !hasVideo {
		c.seekable = blocks > 0
	}
	if blocks > 0 {
		l.clusters = append(l.clusters, c)
	}
	return end, p >= end
}

// Index elements finishing writes.
type cueTrackPos struct {
	CueTrack           uint64 `ebml:"CueTrack"`
	CueClusterPosition uint64 `ebml:"CueClusterPosition"`
}

type cuePoint struct {
	CueTime           uint64        `ebml:"CueTime"`
	CueTrackPositions []cueTrackPos `ebml:"CueTrackPositions"`
}

type cuesElem struct {
	Cues struct {
		CuePoint []cuePoint `ebml:"CuePoint"`
	} `ebml:"Cues"`
}

type seekEntry struct {
	SeekID       []byte `ebml:"SeekID"`
	SeekPosition uint64 `ebml:"SeekPosition,size=8"`
}

type seekHeadElem struct {
	SeekHead struct {
		Seek []seekEntry `ebml:"Seek"`
	} `ebml:"SeekHead"`
}

// mediaInfo is what finishing tells of a file.
type mediaInfo struct {
	size       int64
	durationMs int64
	blocks     int
}

// finishMatroska makes a live Matroska file whole: it cuts off a torn
// tail, appends a Cues index of the clusters decoding can start from, and
// fills the reserved room with the Duration and a SeekHead. It is what
// stopping a recording does, and what recovery does after a crash; doing
// it twice gives the same file.
func finishMatroska(f *os.File) (mediaInfo, error) {
	st, err := f.Stat()
	if err != nil {
		return mediaInfo{}, err
	}
	l, err := scanMatroska(f, st.Size())
	if err != nil {
		return mediaInfo{}, err
	}
	if err := f.Truncate(l.end); err != nil {
		return mediaInfo{}, err
	}
	size := l.end

	// Cue points name the video track, the one decoding starts from, or
	// the first track of a file without video.
	var cueTrack uint64
	for _, n := range slices.Sorted(maps.Keys(l.types)) {
		if cueTrack == 0 || (l.types[n] == trackTypeVideo && l.types[cueTrack] != trackTypeVideo) {
			cueTrack = n
		}
	}
	var cues cuesElem
	for _, c := range l.clusters {
		if c.seekable {
			cues.Cues.CuePoint = append(cues.Cues.CuePoint, cuePoint{CueTime: uint64(max(c.ms, 0)),
				CueTrackPositions: []cueTrackPos{{CueTrack: cueTrack, CueClusterPosition: uint64(c.pos - l.segData)}}})
		}
	}
	cuesAt := int64(-1)
	if len(cues.Cues.CuePoint) > 0 {
		var buf bytes.Buffer
		if err := ebml.Marshal(&cues, &buf); err != nil {
			return mediaInfo{}, err
		}
		if _, err := f.WriteAt(buf.Bytes(), l.end); err != nil {
			return mediaInfo{}, err
		}
		cuesAt, size = l.end, l.end+int64(buf.Len())
	}

	if l.durSlot >= 0 {
		d := make([]byte, 0, durationSlot)
		d = append(d, 0x44, 0x89, 0x88)
		d = binary.BigEndian.AppendUint64(d, math.Float64bits(float64(l.lastMs)))
		if _, err := f.WriteAt(d, l.durSlot); err != nil {
			return mediaInfo{}, err
		}
	}
	if l.seekSlot >= 0 {
		var sh seekHeadElem
		add := func(id []byte, at int64) {
			if at >= 0 {
				sh.SeekHead.Seek = append(sh.SeekHead.Seek, seekEntry{SeekID: id, SeekPosition: uint64(at - l.segData)})
			}
		}
		add([]byte{0x15, 0x49, 0xA9, 0x66}, l.info)
		add([]byte{0x16, 0x54, 0xAE, 0x6B}, l.tracks)
		add([]byte{0x1C, 0x53, 0xBB, 0x6B}, cuesAt)
		var buf bytes.Buffer
		if err := ebml.Marshal(&sh, &buf); err != nil {
			return mediaInfo{}, err
		}
		// The room left is padded with a Void of a 1-byte size (at most
		// 126 bytes of data: 127 would read as "unknown").
		if pad := l.seekSize - int64(buf.Len()); pad == 0 || (pad >= 2 && pad-2 < 0x7F) {
			if pad > 0 {
				buf.Write([]byte{idVoid, byte(0x80 | (pad - 2))})
				buf.Write(make([]byte, pad-2))
			}
			if _, err := f.WriteAt(buf.Bytes(), l.seekSlot); err != nil {
				return mediaInfo{}, err
			}
		}
	}
	if err := f.Sync(); err != nil {
		return mediaInfo{}, err
	}
	return mediaInfo{size: size, durationMs: l.lastMs, blocks: l.blocks}, nil
}
