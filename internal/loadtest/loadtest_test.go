package loadtest

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/node"
	"github.com/parleyhq/parley/pkg/opentok"
)

// lockedBuffer lets the progress goroutine write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRunAgainstNode runs a short load test against an in-process node:
// one session, one video publisher, two subscribers.
func TestRunAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and media clients")
	}
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.RTCUDPPort, cfg.RTCTCPPort, cfg.TURNPort, cfg.TURNTLSPort = 0, 0, 0, -1
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.New(ctx, cfg, slog.New(slog.DiscardHandler), "test")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	var progress lockedBuffer
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	rep, err := Run(rctx, Plan{
		URL: n.URL(), API: opentok.New(n.Project.APIKey, n.Project.Secret, n.URL()),
		Sessions: 1, VideoPublishers: 1, Subscribers: 2,
		Duration: 2 * time.Second, Bitrate: 300_000, FPS: 15,
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if rep.Joined != 3 || rep.Errors != 0 {
		t.Errorf("joined %d, errors %d %v", rep.Joined, rep.Errors, rep.ErrorSamples)
	}
	if rep.PacketsIn == 0 || rep.PacketsOut == 0 || rep.BitsInPerSec == 0 || rep.BitsOutPerSec == 0 {
		t.Errorf("packets in %d, out %d; bits/s in %.0f, out %.0f", rep.PacketsIn, rep.PacketsOut, rep.BitsInPerSec, rep.BitsOutPerSec)
	}
	if rep.LossPercent >= 5 {
		t.Errorf("loss %.2f %%", rep.LossPercent)
	}
	if rep.JoinP50Ms <= 0 || rep.DelayP99Ms <= 0 {
		t.Errorf("join p50 %v ms, delay p99 %v ms", rep.JoinP50Ms, rep.DelayP99Ms)
	}
	if !strings.Contains(progress.String(), "joined 3/3") {
		t.Errorf("progress:\n%s", progress.String())
	}
}
