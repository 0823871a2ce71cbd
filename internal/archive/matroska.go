package archive

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// A recording's media file is written as it arrives, in Matroska's live
// form: the Segment and every Cluster have an unknown size, so nothing
// written needs to be revisited, and a process that dies mid-recording
// leaves a file that plays up to its last whole block. Finishing a file
// (finishMatroska) adds what players like to have but can live without:
// the duration, a Cues index and a SeekHead pointing at it. Room for the
// last two is reserved with Void elements when the file starts, so that
// finishing never moves a byte of media.

// Matroska element ids the writer and the scanner use.
const (
	idEBML        = 0x1A45DFA3
	idSegment     = 0x18538067
	idSeekHead    = 0x114D9B74
	idInfo        = 0x1549A966
	idTracks      = 0x1654AE6B
	idCluster     = 0x1F43B675
	idCues        = 0x1C53BB6B
	idTags        = 0x1254C367
	idChapters    = 0x1043A770
	idAttachments = 0x1941A469
	idVoid        = 0xEC
	idDuration    = 0x4489
	idTimecode    = 0xE7
	idSimpleBlock = 0xA3
	idBlockGroup  = 0xA0
)

// Track types of a TrackEntry.
const (
	trackTypeVideo = 1
	trackTypeAudio = 2
)

// maxClusterMs bounds a cluster's length: a block's time is a signed
// 16-bit offset from its cluster's, and shorter clusters make seeking in
// audio-only files finer.
const maxClusterMs = 5000

// durationSlot is the size of the Duration element (2-byte id, 1-byte
// size, 8-byte float) and so of the Void reserved for it.
const durationSlot = 11

// seekHeadSlot is the room reserved for a SeekHead of three entries
// (Info, Tracks, Cues: 68 bytes) and the Void that pads it.
const seekHeadSlot = 100

// trackSpec describes one track of a file.
type trackSpec struct {
	number       uint64
	kind         int // trackTypeVideo or trackTypeAudio
	codecID      string
	codecPrivate []byte
	// video
	width, height int
	// audio
	sampleRate float64
	channels   int
	codecDelay uint64 // ns
	preRoll    uint64 // ns
}

type matroskaHeader struct {
	EBML    webm.EBMLHeader `ebml:"EBML"`
	Segment segmentHead     `ebml:"Segment,size=unknown"`
}

type segmentHead struct {
	// SeekHead is reserved room for the SeekHead finishing writes.
	SeekHead []byte     `ebml:"Void"`
	Info     segmentInf `ebml:"Info"`
	Tracks   webm.Tracks
}

type segmentInf struct {
	TimecodeScale uint64    `ebml:"TimecodeScale"`
	MuxingApp     string    `ebml:"MuxingApp"`
	WritingApp    string    `ebml:"WritingApp"`
	DateUTC       time.Time `ebml:"DateUTC"`
	// Duration is reserved room for the Duration finishing writes.
	Duration []byte `ebml:"Void"`
}

// matroskaWriter appends blocks to a live Matroska file. Each block is
// one write, so that the file on disk only ever ends inside a block when
// the process died during that very write.
type matroskaWriter struct {
	w         io.Writer
	buf       bytes.Buffer
	video     uint64 // the video track's number, 0 without video
	inCluster bool
	clusterMs int64
	size      int64
}

// newMatroskaWriter writes the file header of a file of docType ("webm"
// or "matroska") with tracks to w.
func newMatroskaWriter(w io.Writer, docType string, tracks []trackSpec, now time.Time) (*matroskaWriter, error) {
	mw := &matroskaWriter{w: w}
	h := matroskaHeader{
		EBML: webm.EBMLHeader{
			EBMLVersion: 1, EBMLReadVersion: 1, EBMLMaxIDLength: 4, EBMLMaxSizeLength: 8,
			DocType: docType, DocTypeVersion: 4, DocTypeReadVersion: 2,
		},
		Segment: segmentHead{
			SeekHead: make([]byte, seekHeadSlot-2), // 1-byte id and 1-byte size
			Info: segmentInf{
				TimecodeScale: 1_000_000, // milliseconds
				MuxingApp:     "Parley", WritingApp: "Parley",
				DateUTC:  now.UTC(),
				Duration: make([]byte, durationSlot-2),
			},
		},
	}
	for _, t := range tracks {
		e := webm.TrackEntry{
			TrackNumber: t.number, TrackUID: randomUID(), CodecID: t.codecID, CodecPrivate: t.codecPrivate,
			TrackType: uint64(t.kind), CodecDelay: t.codecDelay, SeekPreRoll: t.preRoll,
		}
		if t.kind == trackTypeVideo {
			e.Video = &webm.Video{PixelWidth: uint64(t.width), PixelHeight: uint64(t.height)}
			mw.video = t.number
		} else {
			e.Audio = &webm.Audio{SamplingFrequency: t.sampleRate, Channels: uint64(t.channels)}
		}
		h.Segment.Tracks.TrackEntry = append(h.Segment.Tracks.TrackEntry, e)
	}
	if err := ebml.Marshal(&h, &mw.buf); err != nil {
		return nil, fmt.Errorf("matroska header: %w", err)
	}
	if err := mw.flush(); err != nil {
		return nil, err
	}
	return mw, nil
}

func randomUID() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])>>1 | 1 // non-zero, and fits the 63 bits some readers assume
}

type clusterStart struct {
	Cluster struct {
		Timecode uint64 `ebml:"Timecode"`
	} `ebml:"Cluster,size=unknown"`
}

type simpleBlock struct {
	Block ebml.Block `ebml:"SimpleBlock"`
}

// writeBlock appends one frame of track at ms on the file's timeline. A
// video keyframe opens a new cluster, so that every cluster of a file with
// video starts where decoding can, and so does a block too far from its
// cluster's start. Frames must come in about the order of their times:
// a block may lag its cluster's start by up to 32 s.
func (mw *matroskaWriter) writeBlock(track uint64, ms int64, keyframe bool, data []byte) error {
	rel := ms - mw.clusterMs
	newCluster := !mw.inCluster || rel > maxClusterMs || rel < -0x7FFF ||
		(keyframe && track == mw.video && rel > 0)
	if newCluster {
		var c clusterStart
		c.Cluster.Timecode = uint64(max(ms, 0))
		if err := ebml.Marshal(&c, &mw.buf); err != nil {
			return err
		}
		mw.inCluster, mw.clusterMs, rel = true, int64(c.Cluster.Timecode), ms-int64(c.Cluster.Timecode)
	}
	b := simpleBlock{ebml.Block{TrackNumber: track, Timecode: int16(rel), Keyframe: keyframe, Data: [][]byte{data}}}
	if err := ebml.Marshal(&b, &mw.buf); err != nil {
		return err
	}
	return mw.flush()
}

func (mw *matroskaWriter) flush() error {
	n, err := mw.w.Write(mw.buf.Bytes())
	mw.size += int64(n)
	mw.buf.Reset()
	return err
}
