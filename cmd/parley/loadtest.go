package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/parleyhq/parley/internal/loadtest"
)

// loadtestCmd runs `parley loadtest`: flags become a loadtest.Plan. The
// progress bar, live totals and notes go to stderr, the report to stdout.
func loadtestCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("parley loadtest", stderr)
	cf := addClientFlags(fs, getenv)
	sessions := fs.Int("sessions", 1, "routed sessions")
	video := fs.Int("video-publishers", 1, "video publishers per session")
	audio := fs.Int("audio-publishers", 0, "audio-only publishers per session")
	subs := fs.Int("subscribers", 2, "subscribers per session, each receiving every publisher of it")
	withAudio := fs.Bool("with-audio", false, "video publishers send Opus audio too (a camera and a microphone, as in a meeting)")
	duration := fs.Duration("duration", 10*time.Second, "how long media flows once everyone has joined")
	joinRate := fs.Float64("join-rate", 10, "clients started per second")
	joinTimeout := fs.Duration("join-timeout", 10*time.Second, "time one client has to connect and publish or subscribe")
	codec := fs.String("codec", "vp8", "video codec of the clip: vp8, vp9 or h264")
	width := fs.Int("width", 640, "video width")
	height := fs.Int("height", 480, "video height")
	bitrate := fs.Int("bitrate", 500_000, "video bits per second of each video publisher")
	fps := fs.Int("fps", 30, "video frames per second")
	gop := fs.Duration("keyframe-interval", 2*time.Second, "time between the clip's keyframes")
	videoFile := fs.String("video-file", "", "play this video file instead of making a clip (IVF: VP8, VP9, AV1; or .h264 Annex-B)")
	audioFile := fs.String("audio-file", "", "play this Ogg Opus file instead of making a clip (one packet per page)")
	clipDir := fs.String("clip-dir", "", "keep the clips in this folder and play them again in later runs with the same settings")
	synthetic := fs.Bool("synthetic", false, "send synthetic VP8- and Opus-shaped packets instead of clips (no ffmpeg needed)")
	simulcast := fs.Bool("simulcast", false, "publish each video as three simulcast layers (quarter, half and full size at 10, 30 and 100 % of --bitrate)")
	pacing := fs.Float64("pacing", 2.5, "space out each video clip's packets at this many times its bitrate, as browsers' pacers do (0 = send each frame's packets at once)")
	pick := fs.String("simulcast-pick", "spread", "with --simulcast, the layer subscribers ask for: spread (subscriber i takes layer i mod 3), best or lowest")
	serverPID := fs.Int("server-pid", 0, "process id of a server on this machine: report its CPU and memory from /proc")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	chart := fs.String("chart", "", "draw packets/s, loss, delay (and server CPU) over time into this file, an SVG or PNG image by its extension: .svg or .png")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	if *sessions < 1 || *video < 0 || *audio < 0 || *subs < 0 || *duration <= 0 || *joinRate <= 0 || *joinTimeout <= 0 ||
		*bitrate <= 0 || *fps <= 0 || *width <= 0 || *height <= 0 || *gop <= 0 {
		return errors.New("loadtest: counts must not be negative, --sessions at least 1, and sizes, durations and rates positive")
	}
	if *video+*audio == 0 {
		return errors.New("loadtest: no publishers: give --video-publishers or --audio-publishers")
	}
	if *chart != "" {
		// Refused before the run rather than after it.
		if _, err := chartRenderer(*chart); err != nil {
			return err
		}
	}
	plan := loadtest.Plan{
		URL:      *cf.url,
		Sessions: *sessions, VideoPublishers: *video, AudioPublishers: *audio, Subscribers: *subs, WithAudio: *withAudio,
		Duration: *duration, JoinRate: *joinRate, JoinTimeout: *joinTimeout,
		Codec: strings.ToLower(*codec), Width: *width, Height: *height, Bitrate: *bitrate, FPS: *fps, GOP: *gop,
		VideoFile: *videoFile, AudioFile: *audioFile, ClipDir: *clipDir, Synthetic: *synthetic, Simulcast: *simulcast, SimulcastPick: *pick, Pacing: *pacing,
		ServerPID: *serverPID,
		Progress:  stderr, Terminal: isTerminal(stderr),
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	plan.API = c
	// Ctrl-C ends the run early but still disconnects everyone and
	// reports what was measured.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, plan)
	if err != nil {
		return err
	}
	if *chart != "" {
		if err := writeChart(*chart, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	rep.Print(stdout)
	if *chart != "" {
		fmt.Fprintf(stdout, "chart      %s\n", *chart)
	}
	return nil
}

// chartRenderer returns what draws a chart into the file at path: SVG for
// a .svg name, PNG for a .png one, whatever the case of the extension.
func chartRenderer(path string) (func(loadtest.Report, io.Writer) error, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		return loadtest.Report.WriteSVG, nil
	case ".png":
		return loadtest.Report.WritePNG, nil
	}
	return nil, fmt.Errorf("loadtest: --chart %s: charts are drawn as SVG or PNG: name the file .svg or .png", path)
}

// writeChart writes the report's chart in the format the file's extension
// names, whole or not at all.
func writeChart(path string, rep loadtest.Report) error {
	render, err := chartRenderer(path)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("loadtest: chart: %w", err)
	}
	err = render(rep, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("loadtest: chart: %w", err)
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device), where
// progress is redrawn in place rather than printed line after line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
