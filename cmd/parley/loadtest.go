package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/parleyhq/parley/internal/loadtest"
)

// loadtestCmd runs `parley loadtest`: flags become a loadtest.Plan. Live
// totals go to stderr, the report to stdout.
func loadtestCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("parley loadtest", stderr)
	cf := addClientFlags(fs, getenv)
	sessions := fs.Int("sessions", 1, "routed sessions")
	video := fs.Int("video-publishers", 1, "video publishers per session")
	audio := fs.Int("audio-publishers", 0, "audio publishers per session")
	subs := fs.Int("subscribers", 2, "subscribers per session, each receiving every publisher of it")
	duration := fs.Duration("duration", 10*time.Second, "how long media flows once everyone has joined")
	joinRate := fs.Float64("join-rate", 10, "clients started per second")
	bitrate := fs.Int("bitrate", 500_000, "video bits per second of each video publisher")
	fps := fs.Int("fps", 30, "video frames per second")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sessions < 1 || *video < 0 || *audio < 0 || *subs < 0 || *duration <= 0 || *joinRate <= 0 || *bitrate <= 0 || *fps <= 0 {
		return errors.New("loadtest: counts must not be negative, --sessions at least 1, and durations and rates positive")
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	// Ctrl-C ends the run early but still disconnects everyone and
	// reports what was measured.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, loadtest.Plan{
		URL: *cf.url, API: c,
		Sessions: *sessions, VideoPublishers: *video, AudioPublishers: *audio, Subscribers: *subs,
		Duration: *duration, JoinRate: *joinRate, Bitrate: *bitrate, FPS: *fps,
		Progress: stderr,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	rep.Print(stdout)
	return nil
}
