package node

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/config"
)

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Profiles are served on the debug address only, never on the public one,
// and the debug listener stops with the node.
func TestDebugAddrServesProfilesApart(t *testing.T) {
	cfg := config.Default()
	cfg.Addr, cfg.DebugAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.RTCUDPPort, cfg.RTCTCPPort, cfg.TURNPort, cfg.TURNTLSPort = 0, 0, 0, -1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := New(ctx, cfg, slog.New(slog.DiscardHandler), "test")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	debug := "http://" + n.debugLn.Addr().String()
	if code := get(t, debug+"/debug/pprof/heap?debug=1"); code != http.StatusOK {
		t.Fatalf("debug address: heap profile answered %d", code)
	}
	if code := get(t, n.URL()+"/debug/pprof/heap?debug=1"); code != http.StatusNotFound {
		t.Fatalf("public address: heap profile answered %d, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := http.Get(debug + "/debug/pprof/"); err == nil {
		t.Fatal("the debug listener still answers after the node stopped")
	}
}
