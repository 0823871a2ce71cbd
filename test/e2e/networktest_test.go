package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/test/live"
)

// TestPublishedNetworkTest runs opentok-network-test-js, the pre-call test
// OpenTok publishes, unchanged against Parley: connectivity, then quality.
func TestPublishedNetworkTest(t *testing.T) {
	if _, err := os.Stat(networkTestLib); err != nil {
		live.Missing(t, "opentok-network-test-js is not installed in test/node; ./scripts/test installs it")
	}
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	p := e.b.open(t, "precall", e.site.URL+"/networktest.html")
	p.waitFor(10*time.Second, "window.OT && window.harnessReady")
	var res struct {
		Connectivity struct {
			Success     bool  `json:"success"`
			FailedTests []any `json:"failedTests"`
		} `json:"connectivity"`
		Quality struct {
			Audio struct {
				Bitrate         float64 `json:"bitrate"`
				Supported       bool    `json:"supported"`
				PacketLossRatio float64 `json:"packetLossRatio"`
				MOS             float64 `json:"mos"`
			} `json:"audio"`
			Video struct {
				Bitrate               float64 `json:"bitrate"`
				Supported             bool    `json:"supported"`
				RecommendedResolution string  `json:"recommendedResolution"`
				MOS                   float64 `json:"mos"`
			} `json:"video"`
		} `json:"quality"`
	}
	tok := e.token(t, sid, opentok.RolePublisher, "")
	p.must(60*time.Second, `return await runNetworkTest(`+js(e.srv.APIKey)+`, `+js(sid)+`, `+js(tok)+`);`, &res)
	t.Logf("network test: %+v", res)
	if !res.Connectivity.Success || len(res.Connectivity.FailedTests) > 0 {
		t.Errorf("connectivity: %+v", res.Connectivity)
	}
	q := res.Quality
	if !q.Audio.Supported || q.Audio.Bitrate <= 0 || q.Audio.MOS <= 0 {
		t.Errorf("audio quality: %+v", q.Audio)
	}
	if !q.Video.Supported || q.Video.Bitrate <= 0 || q.Video.RecommendedResolution == "" {
		t.Errorf("video quality: %+v", q.Video)
	}
}
