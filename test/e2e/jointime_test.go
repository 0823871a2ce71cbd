package e2e

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
)

// BenchmarkJoinTime measures, in a real page, the time from
// session.connect() to the first decoded frame of a remote stream that is
// already being published. Each run is one join of a fresh session
// object; the report gives the median and the worst of the runs.
//
//	go test -run '^$' -bench JoinTime -benchtime 10x ./test/e2e/
func BenchmarkJoinTime(b *testing.B) {
	e := newEnv(b)
	sid := e.session(b, opentok.Routed)
	pub := e.harness(b, "publisher")
	pub.must(20*time.Second, fmt.Sprintf(`await H.connect(%s, %s, %s); await H.publish({resolution: '640x480'});`,
		js(e.srv.APIKey), js(sid), js(e.token(b, sid, opentok.RolePublisher, ""))), nil)
	joiner := e.harness(b, "joiner")
	var times []float64
	b.ResetTimer()
	for range b.N {
		tok := e.token(b, sid, opentok.RoleSubscriber, "")
		var ms float64
		joiner.must(30*time.Second, fmt.Sprintf(`
			for (const s of Object.values(H.subscribers)) { s.element && s.element.remove(); }
			H.subscribers = {};
			const t0 = performance.now();
			await H.connect(%s, %s, %s, {autoSubscribe: true});
			while (!Object.values(H.media()).some(m => m.frames > 0)) {
				await new Promise(r => setTimeout(r, 2));
			}
			const ms = performance.now() - t0;
			H.session.disconnect();
			return ms;`, js(e.srv.APIKey), js(sid), js(tok)), &ms)
		times = append(times, ms)
	}
	b.StopTimer()
	sort.Float64s(times)
	b.ReportMetric(times[len(times)/2], "median-ms")
	b.ReportMetric(times[len(times)-1], "worst-ms")
	b.Logf("join times (ms): %.0f", times)
}
