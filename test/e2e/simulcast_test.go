package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
)

// TestSimulcastInTheBrowser: a Chromium publisher with scalableVideo sends
// its 1280x720 camera as three layers; a page that prefers 320x180 decodes
// 320x180 pictures, one without a preference 1280x720, and the first moves
// up to 640x360 when it asks.
func TestSimulcastInTheBrowser(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	pub, small, best := e.harness(t, "publisher"), e.harness(t, "small"), e.harness(t, "best")
	pub.must(30*time.Second, fmt.Sprintf(`await H.connect(%s, %s, %s, {});
		await H.publish({name: 'sim', resolution: '1280x720', frameRate: 15, scalableVideo: true});`,
		js(e.srv.APIKey), js(sid), js(e.token(t, sid, opentok.RolePublisher, ""))), nil)
	small.must(20*time.Second, fmt.Sprintf(`await H.connect(%s, %s, %s, {autoSubscribe: true,
		subscribeProps: {preferredResolution: {width: 320, height: 180}}});`,
		js(e.srv.APIKey), js(sid), js(e.token(t, sid, opentok.RoleSubscriber, ""))), nil)
	best.must(20*time.Second, fmt.Sprintf(`await H.connect(%s, %s, %s, {autoSubscribe: true});`,
		js(e.srv.APIKey), js(sid), js(e.token(t, sid, opentok.RoleSubscriber, ""))), nil)

	// width waits until the page's one remote video shows pictures of that
	// width, still decoding.
	width := func(p *page, w int) {
		t.Helper()
		p.waitFor(40*time.Second, fmt.Sprintf(`Object.values(H.media()).length === 1 &&
			Object.values(H.media()).every(m => m.width === %d && m.frames > 5)`, w))
	}
	width(small, 320)
	width(best, 1280)
	var frames mediaReport
	small.must(5*time.Second, "return H.media();", &frames)
	small.must(5*time.Second, `Object.values(H.subscribers)[0].setPreferredResolution({width: 640, height: 360});`, nil)
	width(small, 640)
	decodesOthers(t, small, 1, false)
	decodesOthers(t, best, 1, false)
}
