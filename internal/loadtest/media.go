package loadtest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Codecs a load test can publish video in, with the ffmpeg encoder that
// makes its clip and the file it goes in.
var codecs = map[string]struct {
	encoder, file string
	options       func(bitrate string) []string
}{
	"vp8": {"libvpx", "clip.ivf", func(b string) []string {
		// Realtime settings, as a browser's encoder runs: no look-ahead,
		// no hidden alt-ref frames, constant rate.
		return []string{"-b:v", b, "-minrate", b, "-maxrate", b, "-bufsize", b,
			"-deadline", "realtime", "-cpu-used", "8", "-lag-in-frames", "0", "-auto-alt-ref", "0", "-error-resilient", "1"}
	}},
	"vp9": {"libvpx-vp9", "clip.ivf", func(b string) []string {
		return []string{"-b:v", b, "-minrate", b, "-maxrate", b, "-bufsize", b,
			"-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-lag-in-frames", "0", "-error-resilient", "1"}
	}},
	"h264": {"libx264", "clip.h264", func(b string) []string {
		// What WebRTC decoders expect: constrained baseline, no B-frames,
		// Annex-B with the parameter sets before every keyframe.
		return []string{"-profile:v", "baseline", "-bf", "0", "-preset", "veryfast", "-tune", "zerolatency",
			"-b:v", b, "-maxrate", b, "-bufsize", b, "-x264-params", "scenecut=0:repeat-headers=1",
			"-bsf:v", "h264_mp4toannexb"}
	}},
}

// clipSeconds is how long the clips are; they loop.
const clipSeconds = 10

// media is what the publishers send.
type media struct {
	synthetic            bool
	videoFile, audioFile string
	layerFiles           []string // simulcast layers, lowest first
	describe             string   // for the report
	dir                  string   // temporary, removed by cleanup
}

func (m *media) cleanup() {
	if m.dir != "" {
		os.RemoveAll(m.dir)
		m.dir = ""
	}
}

// prepareMedia makes the clips the plan's publishers play, with ffmpeg,
// into a temporary folder, or into Plan.ClipDir, where a clip made once
// is found again by its name (which holds a hash of how it was made) and
// needs no ffmpeg the next time. Without ffmpeg (or its VP8 or Opus
// encoder) a VP8 plan falls back to synthetic packets and says so on
// notes; other codecs have no synthetic form and fail.
func prepareMedia(ctx context.Context, p *Plan, notes func(string)) (*media, error) {
	if p.Synthetic {
		return &media{synthetic: true, describe: fmt.Sprintf("synthetic VP8-shaped packets (%d fps, %s, a keyframe every %v) and Opus-shaped packets",
			p.FPS, bits(float64(p.Bitrate)), p.GOP)}, nil
	}
	m := &media{videoFile: p.VideoFile, audioFile: p.AudioFile}
	var parts []string
	var clips []clip
	c := codecs[p.Codec]
	if p.VideoFile != "" {
		parts = append(parts, "video from "+p.VideoFile)
	} else if p.VideoPublishers > 0 {
		videoClip := func(w, h, bitrate int, path *string) clip {
			gop := strconv.Itoa(max(1, int(p.GOP.Seconds()*float64(p.FPS))))
			args := []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", w, h, p.FPS),
				"-t", strconv.Itoa(clipSeconds), "-pix_fmt", "yuv420p", "-g", gop, "-keyint_min", gop, "-c:v", c.encoder}
			return clip{
				name:    fmt.Sprintf("%s-%dx%d-%dfps-%dbps-%s%s", p.Codec, w, h, p.FPS, bitrate, p.GOP, filepath.Ext(c.file)),
				args:    append(args, c.options(strconv.Itoa(bitrate))...),
				encoder: c.encoder, path: path,
			}
		}
		if !p.Simulcast {
			clips = append(clips, videoClip(p.Width, p.Height, p.Bitrate, &m.videoFile))
			parts = append(parts, fmt.Sprintf("%s clip (%dx%d %d fps, %s, a keyframe every %v, ffmpeg testsrc2, %d s looped)",
				strings.ToUpper(p.Codec), p.Width, p.Height, p.FPS, bits(float64(p.Bitrate)), p.GOP, clipSeconds))
		} else {
			m.layerFiles = make([]string, len(simulcastLayers))
			var layers []string
			for i, l := range simulcastLayers {
				w, h, b := p.Width/l.scale, p.Height/l.scale, int(float64(p.Bitrate)*l.share)
				clips = append(clips, videoClip(w, h, b, &m.layerFiles[i]))
				layers = append(layers, fmt.Sprintf("%dx%d %s", w, h, bits(float64(b))))
			}
			parts = append(parts, fmt.Sprintf("%s simulcast clips (%s; %d fps, a keyframe every %v, ffmpeg testsrc2, %d s looped)",
				strings.ToUpper(p.Codec), strings.Join(layers, ", "), p.FPS, p.GOP, clipSeconds))
		}
	}
	if p.AudioFile != "" {
		parts = append(parts, "audio from "+p.AudioFile)
	} else if p.AudioPublishers > 0 || p.VideoPublishers > 0 && p.WithAudio {
		// Pink noise: no two 20 ms packets of the loop are alike, so each
		// one's send time is found again by its content.
		clips = append(clips, clip{
			name: "opus-32k.ogg",
			args: []string{"-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:amplitude=0.1",
				"-t", strconv.Itoa(clipSeconds), "-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-application", "voip",
				"-page_duration", "20000"},
			encoder: "libopus", path: &m.audioFile,
		})
		parts = append(parts, fmt.Sprintf("Opus clip (mono, 32 kbit/s, 20 ms packets, %d s looped)", clipSeconds))
	}
	m.describe = strings.Join(parts, " + ")

	dir := p.ClipDir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("loadtest: clip folder: %w", err)
		}
	}
	var missing []clip
	for _, cl := range clips {
		*cl.path = ""
		if dir != "" {
			path := filepath.Join(dir, cl.fileName())
			if _, err := os.Stat(path); err == nil {
				*cl.path = path
				continue
			}
		}
		missing = append(missing, cl)
	}
	if len(missing) == 0 {
		return m, nil
	}

	ffmpeg := p.FFmpeg
	if ffmpeg == "" {
		ffmpeg = "ffmpeg"
	}
	path, err := exec.LookPath(ffmpeg)
	var encs map[string]bool
	if err == nil {
		encs, err = encoders(ctx, path)
	}
	for _, cl := range missing {
		if err == nil && !encs[cl.encoder] {
			err = fmt.Errorf("%s has no %s encoder", path, cl.encoder)
		}
	}
	if err != nil {
		if p.Codec != "vp8" || p.Simulcast {
			return nil, fmt.Errorf("loadtest: --codec %s (simulcast %v) needs ffmpeg with %s and libopus to make its clips: %w", p.Codec, p.Simulcast, c.encoder, err)
		}
		notes(fmt.Sprintf("cannot make clips (%v): sending synthetic packets instead; install ffmpeg with libvpx and libopus for real VP8 and Opus, or pass --synthetic", err))
		return &media{synthetic: true, describe: "synthetic VP8-shaped and Opus-shaped packets (no ffmpeg)"}, nil
	}
	if dir == "" {
		if m.dir, err = os.MkdirTemp("", "parley-loadtest-"); err != nil {
			return nil, err
		}
		dir = m.dir
	}
	began := time.Now()
	for _, cl := range missing {
		// Written aside and renamed: a clip in the folder is whole.
		final := filepath.Join(dir, cl.fileName())
		tmp := filepath.Join(dir, ".tmp-"+cl.fileName())
		if err := runFFmpeg(ctx, path, append(slices.Clone(cl.args), "-f", formatOf(final), tmp)); err != nil {
			os.Remove(tmp)
			m.cleanup()
			return nil, err
		}
		if err := os.Rename(tmp, final); err != nil {
			m.cleanup()
			return nil, err
		}
		*cl.path = final
	}
	notes(fmt.Sprintf("clips made with %s in %.1f s", path, time.Since(began).Seconds()))
	return m, nil
}

// clip is one file ffmpeg makes: the arguments before the output, the
// encoder they need, and where its path goes.
type clip struct {
	name    string // what it is, readable, with the extension
	args    []string
	encoder string
	path    *string
}

// fileName is the clip's name with a hash of its arguments, so that a
// clip folder never hands out a clip made another way (another ffmpeg
// option, a later version of this code).
func (c clip) fileName() string {
	h := sha256.Sum256([]byte(strings.Join(c.args, "\x00")))
	ext := filepath.Ext(c.name)
	return fmt.Sprintf("%s-%x%s", strings.TrimSuffix(c.name, ext), h[:4], ext)
}

// formatOf is ffmpeg's name of the container a clip file is in: said
// outright, since the file is written under a temporary name.
func formatOf(path string) string {
	switch filepath.Ext(path) {
	case ".ivf":
		return "ivf"
	case ".h264":
		return "h264"
	}
	return "ogg"
}

// encoders lists the encoders ffmpeg has.
func encoders(ctx context.Context, ffmpeg string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-encoders").Output()
	if err != nil {
		return nil, fmt.Errorf("%s -encoders: %w", ffmpeg, err)
	}
	encs := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 2 {
			encs[f[1]] = true
		}
	}
	return encs, nil
}

// runFFmpeg runs one encode, bounded in time.
func runFFmpeg(ctx context.Context, ffmpeg string, args []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	all := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	out, err := exec.CommandContext(ctx, ffmpeg, all...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = "took over 2 minutes"
		}
		return fmt.Errorf("loadtest: making a clip with ffmpeg: %w: %s", err, msg)
	}
	return nil
}
