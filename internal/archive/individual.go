package archive

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
)

// source is a stream an archive records, and which of its tracks.
type source struct {
	stream     session.Stream
	connection session.Connection
	media      MediaStream
	audio      bool
	video      bool
}

// output turns the streams an archive includes into files in its working
// folder, and keeps its journal. individual is the one output there is;
// a compositor (composed archives) is meant to be another, fed the same
// way by the recording.
type output interface {
	// include starts recording src; a stream already recorded with
	// other tracks is restarted in a new file.
	include(src source) error
	// exclude stops recording a stream.
	exclude(streamID string)
	// recording counts the streams being recorded.
	recording() int
	// close stops every stream and leaves the journal complete.
	close() error
}

// individual records each stream into its own file: WebM (VP8, VP9 or
// AV1 video, Opus audio), or Matroska when the video is H.264.
type individual struct {
	root      *os.Root
	dropped   *atomic.Uint64 // the Manager's count of packets dropped
	createdAt time.Time
	log       *slog.Logger
	journal   manifest
	live      map[string]*liveFile
	stretches map[string]int // files started per stream
}

type liveFile struct {
	sf           *streamFile
	entry        int // index in journal.Files
	audio, video bool
}

func newIndividual(root *os.Root, m manifest, log *slog.Logger, dropped *atomic.Uint64) (*individual, error) {
	o := &individual{root: root, dropped: dropped, createdAt: time.UnixMilli(m.CreatedAt), log: log, journal: m,
		live: map[string]*liveFile{}, stretches: map[string]int{}}
	if o.journal.Files == nil {
		o.journal.Files = []manifestFile{}
	}
	return o, writeJournal(root, o.journal)
}

func (o *individual) recording() int { return len(o.live) }

func (o *individual) include(src source) error {
	id := src.stream.ID
	if lf, ok := o.live[id]; ok {
		if lf.audio == src.audio && lf.video == src.video {
			return nil
		}
		o.exclude(id)
	}
	e := manifestFile{
		StreamID: id, ConnectionID: src.connection.ID, ConnectionData: src.connection.Data,
		StreamName: src.stream.Name, VideoType: src.stream.VideoType,
		StartTimeOffset: time.Since(o.createdAt).Milliseconds(),
	}
	cfg := streamFileConfig{root: o.root, media: src.media, log: o.log,
		width: src.stream.VideoDimensions.Width, height: src.stream.VideoDimensions.Height}
	if cfg.width == 0 || cfg.height == 0 {
		cfg.width, cfg.height = 640, 480
	}
	if src.video {
		if c, ok := src.media.Codec(webrtc.RTPCodecTypeVideo); ok {
			vc := videoCodecs[sfu.CodecFromMime(c.MimeType)]
			if vc.codecID == "" {
				// The SFU forwards no codec the recorder lacks; a
				// future one would land here.
				e.Note = fmt.Sprintf("%s video is not recorded; the file has the audio only", c.MimeType)
			} else {
				cfg.video, cfg.videoClock = vc, c.ClockRate
				e.HasVideo, e.VideoCodec = true, vc.name
			}
		}
	}
	if src.audio {
		if _, ok := src.media.Codec(webrtc.RTPCodecTypeAudio); ok {
			cfg.audio = true
			e.HasAudio, e.AudioCodec = true, "opus"
		}
	}
	if !e.HasAudio && !e.HasVideo {
		o.log.Info("archive: nothing of the stream to record", "archive", o.journal.ID, "stream", id, "note", e.Note)
		return nil
	}
	ext := ".webm"
	if cfg.video.codecID != "" && !cfg.video.webm {
		ext = ".mkv"
	}
	n := o.stretches[id] + 1
	e.Filename = id + ext
	if n > 1 {
		e.Filename = id + "." + strconv.Itoa(n) + ext
	}
	if !fileNameRE.MatchString(e.Filename) {
		return fmt.Errorf("archive: stream id %q cannot name a file", id)
	}
	cfg.name = path.Join(o.journal.ID, e.Filename)
	o.journal.Files = append(o.journal.Files, e)
	if err := writeJournal(o.root, o.journal); err != nil {
		o.journal.Files = o.journal.Files[:len(o.journal.Files)-1]
		return err
	}
	sf, err := startStreamFile(cfg)
	if err != nil {
		o.journal.Files = o.journal.Files[:len(o.journal.Files)-1]
		return errors.Join(err, writeJournal(o.root, o.journal))
	}
	o.stretches[id] = n
	o.live[id] = &liveFile{sf: sf, entry: len(o.journal.Files) - 1, audio: src.audio, video: src.video}
	return nil
}

func (o *individual) exclude(streamID string) {
	lf, ok := o.live[streamID]
	if !ok {
		return
	}
	delete(o.live, streamID)
	res := lf.sf.close()
	o.dropped.Add(res.dropped)
	e := &o.journal.Files[lf.entry]
	if res.dropped > 0 || res.skipped > 0 {
		o.log.Warn("archive: stream recorded with gaps", "archive", o.journal.ID, "file", e.Filename,
			"dropped packets", res.dropped, "skipped frames", res.skipped)
	}
	if res.opened && res.info.blocks > 0 {
		e.Size, e.StopTimeOffset = res.info.size, e.StartTimeOffset+res.info.durationMs
		if e.HasVideo && !res.video {
			// The video never brought a keyframe with what its track
			// needs (H.264's parameter sets, AV1's sequence header):
			// the file was kept for its audio.
			e.Note = fmt.Sprintf("no %s keyframe with the video's configuration arrived; the file has the audio only", e.VideoCodec)
			e.HasVideo, e.VideoCodec = false, ""
		}
	} else {
		// Nothing whole arrived: no file, and the final manifest leaves
		// the entry out.
		if res.opened {
			o.root.Remove(path.Join(o.journal.ID, e.Filename))
		}
		e.Size, e.Note = 0, "nothing was recorded"
	}
	e.Finished = true
	if err := writeJournal(o.root, o.journal); err != nil {
		o.log.Error("archive: writing the journal", "archive", o.journal.ID, "err", err)
	}
}

func (o *individual) close() error {
	for id := range o.live {
		o.exclude(id)
	}
	return writeJournal(o.root, o.journal)
}
