package node

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/pkg/opentok"
)

// BenchmarkCreateSession measures sessions created per second through the
// whole path: an SDK client minting its project JWT, HTTP over loopback,
// authentication, form parsing and the SQLite insert.
func BenchmarkCreateSession(b *testing.B) {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = filepath.Join(b.TempDir(), "data")
	cfg.RTCUDPPort, cfg.RTCTCPPort, cfg.TURNPort = 0, 0, 0
	ctx, cancel := context.WithCancel(context.Background())
	n, err := New(ctx, cfg, slog.New(slog.DiscardHandler), "bench")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	c := opentok.New(n.Project.APIKey, n.Project.Secret, n.URL())
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
