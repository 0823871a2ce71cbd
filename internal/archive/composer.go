package archive

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// composer runs ffmpeg to make composed archives' MP4s, one at a time: a
// composition takes the cores it can get, and several at once would only
// make each later.
type composer struct {
	ffmpeg string
	dir    string // the archive folder, as ffmpeg opens it
	log    *slog.Logger
	turn   chan struct{}
}

// newComposer finds ffmpeg (the name or path given, "" for "ffmpeg");
// nil when there is none.
func newComposer(ffmpeg, dir string, log *slog.Logger) *composer {
	if ffmpeg == "" {
		ffmpeg = "ffmpeg"
	}
	p, err := exec.LookPath(ffmpeg)
	if err != nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	return &composer{ffmpeg: p, dir: abs, log: log, turn: make(chan struct{}, 1)}
}

// compose makes name (in root) from the files of archive id's working
// folder by plan. ffmpeg writes beside it and the result is renamed, so
// name exists whole or not at all; ctx ending kills ffmpeg.
func (c *composer) compose(ctx context.Context, root *os.Root, id string, plan compositionPlan, name string) error {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.turn }()

	script := path.Join(id, "composition.graph")
	tmp := name + ".tmp"
	args, graph := plan.args(filepath.Join(c.dir, id), filepath.Join(c.dir, tmp), filepath.Join(c.dir, script))
	if err := root.WriteFile(script, []byte(graph), 0o640); err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, c.ffmpeg, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		root.Remove(tmp)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	f, err := root.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		return err
	}
	c.log.Info("archive composed", "archive", id, "recorded", plan.duration().Round(time.Millisecond),
		"took", time.Since(start).Round(time.Millisecond), "files", len(plan.files), "placements", len(plan.placements))
	return nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
