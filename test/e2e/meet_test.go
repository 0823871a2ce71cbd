package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/test/live"
)

// openMeet opens a Meet room page (served by Parley itself) as a new user
// and waits for the camera preview.
func openMeet(t *testing.T, e *env, name, url string) *page {
	t.Helper()
	p := e.b.open(t, name, url)
	p.waitFor(15*time.Second, `window.meet && document.querySelector('#preview video') && document.querySelector('#preview video').videoWidth > 0`)
	// What a failing test prints of the page.
	p.must(5*time.Second, `window.H = {diagnose: () => ({
		count: document.querySelector('#count').textContent,
		connections: [...meet.connections.values()].map(c => c.name),
		tiles: [...document.querySelectorAll('.tile')].map(t => t.id + ' ' + t.className + ' ' + (t.querySelector('video') ? t.querySelector('video').videoWidth : '-')),
		chat: meet.chat.map(m => m.from + ': ' + m.text),
		recordings: meet.recordings,
		error: document.querySelector('#prejoin-error').textContent,
	})}; return null;`, nil)
	return p
}

// joinMeet types a display name and presses Enter, as a keyboard user.
func joinMeet(t *testing.T, p *page, display string) {
	t.Helper()
	p.must(5*time.Second, `document.querySelector('#display-name').value = ''; return null;`, nil)
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys("#display-name", display+kb.Enter)); err != nil {
		t.Fatalf("%s: type the name: %v", p.name, err)
	}
}

// remoteFramesAdvance waits until the page shows want remote camera tiles
// whose videos decode frames, and keep decoding.
func remoteFramesAdvance(p *page, want int) {
	p.t.Helper()
	videos := `[...document.querySelectorAll('.tile[data-stream-id]:not(.screen) video')]`
	p.waitFor(30*time.Second, videos+`.length === `+js(want)+` && `+videos+`.every(v => v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0)`)
	p.must(5*time.Second, `window.__frames = `+videos+`.map(v => v.getVideoPlaybackQuality().totalVideoFrames); return null;`, nil)
	p.waitFor(20*time.Second, videos+`.every((v, i) => v.getVideoPlaybackQuality().totalVideoFrames > window.__frames[i] + 10)`)
}

// click presses a button the way a keyboard user does: focus, then Enter.
func click(p *page, sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Focus(sel), chromedp.KeyEvent(kb.Enter)); err != nil {
		p.t.Fatalf("%s: press %s: %v", p.name, sel, err)
	}
}

// viewport sets the page's size in CSS pixels.
func viewport(t *testing.T, p *page, w, h int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatalf("%s: viewport: %v", p.name, err)
	}
}

// screenshot writes a PNG of the page into $PARLEY_SCREENSHOTS (docs/
// keeps the ones the README shows), when that is set.
func screenshot(t *testing.T, p *page, file string, w, h int64) {
	t.Helper()
	dir := os.Getenv("PARLEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	viewport(t, p, w, h)
	time.Sleep(500 * time.Millisecond) // let the layout settle for the picture
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMeet runs the meeting app as its users do: three people in one room
// see each other, chat (a late joiner gets the history), share a screen,
// record, and a moderator mutes everyone and locks the room.
func TestMeet(t *testing.T) {
	live.Require(t, "ffmpeg") // composed recordings
	e := newEnv(t)

	// "/" starts a new room with a readable name.
	ann := openMeet(t, e, "ann", e.srv.URL+"/")
	var path string
	ann.must(5*time.Second, `return location.pathname;`, &path)
	room, ok := strings.CutPrefix(path, "/room/")
	if !ok || strings.Count(room, "-") != 2 {
		t.Fatalf("/ led to %q, want /room/word-word-word", path)
	}
	roomURL := e.srv.URL + path

	// The tile layout picks the grid with the largest tiles.
	var grids []string
	ann.must(5*time.Second, `const { bestGrid } = await import('/meet/static/layout.js');
		return [[1, 1280, 700, 16/9], [2, 1280, 700, 16/9], [3, 1280, 700, 16/9], [3, 375, 600, 4/3], [4, 1920, 1000, 16/9], [7, 1920, 1000, 16/9], [0, 100, 100, 1]]
			.map(([n, w, h, a]) => { const g = bestGrid(n, w, h, a, 8); return g.cols + 'x' + g.rows + ' ' + g.w + 'x' + g.h; });`, &grids)
	want := []string{"1x1 1244x700", "2x1 636x357", "2x2 615x346", "1x3 259x194", "2x2 881x496", "3x3 583x328", "0x0 0x0"}
	if strings.Join(grids, ",") != strings.Join(want, ",") {
		t.Errorf("bestGrid = %q, want %q", grids, want)
	}
	// The pre-join screen lists devices and shows the microphone level.
	ann.waitFor(10*time.Second, `document.querySelector('#mic-select').options.length > 0 && document.querySelector('#camera-select').options.length > 0`)
	ann.waitFor(15*time.Second, `document.querySelector('#mic-level').value > 0`)
	ann.must(5*time.Second, `document.querySelector('#display-name').value = 'Ann Lee'; return null;`, nil)
	screenshot(t, ann, "meet-prejoin.png", 1280, 800)

	joinMeet(t, ann, "Ann Lee")
	ann.waitFor(15*time.Second, `meet.joined && meet.joined.moderator && !document.querySelector('#room').hidden && meet.publisher.stream`)

	bob := openMeet(t, e, "bob", roomURL)
	joinMeet(t, bob, "Bob")
	cat := openMeet(t, e, "cat", roomURL)
	joinMeet(t, cat, "Cat")
	for _, p := range []*page{bob, cat} {
		p.waitFor(15*time.Second, `meet.joined && meet.joined.role === 'publisher' && !meet.joined.moderator`)
	}
	// Everyone sees the other two, live; the display name is remembered.
	for _, p := range []*page{ann, bob, cat} {
		remoteFramesAdvance(p, 2)
		p.waitFor(5*time.Second, `document.querySelector('#count').textContent === '3 participants'`)
	}
	var remembered string
	bob.must(5*time.Second, `return localStorage.getItem('parley.meet.name');`, &remembered)
	if remembered != "Bob" {
		t.Fatalf("remembered name %q", remembered)
	}
	screenshot(t, ann, "meet-room.png", 1280, 800)

	// The participant list names everyone; the invite link is the room's.
	click(bob, "#people-button")
	bob.waitFor(5*time.Second, `[...document.querySelectorAll('#people li')].map(li => li.textContent).join('|').match(/Ann Lee.*\|.*Bob \(you\)|Bob \(you\).*Ann Lee/) && document.querySelectorAll('#people li').length === 3`)
	click(bob, "#copy-invite")
	bob.waitFor(5*time.Second, `document.querySelector('#invite-link').value === location.origin + location.pathname`)
	click(bob, "#panel-close")

	// Speaker view puts a remote camera on stage; grid view takes it off.
	click(ann, "#view-button")
	ann.waitFor(5*time.Second, `document.querySelector('#stage .tile[data-stream-id]:not(.screen)') && document.querySelector('#view-button').getAttribute('aria-pressed') === 'true'`)
	click(ann, "#view-button")
	ann.waitFor(5*time.Second, `!document.querySelector('#stage .tile') && !document.querySelector('#stage-area').classList.contains('staged')`)

	// A 1920 px desktop: the grid is centred and nothing overflows.
	viewport(t, ann, 1920, 1080)
	ann.waitFor(10*time.Second, `document.documentElement.scrollWidth <= 1920 && [...document.querySelectorAll('#tiles .tile')].every(el => { const r = el.getBoundingClientRect(); return r.left >= 0 && r.right <= 1920 && r.width > 500; })`)
	viewport(t, ann, 1280, 800)

	// On a 375 px wide phone the room fits: no sideways scrolling, every
	// tile and button inside the screen.
	viewport(t, cat, 375, 740)
	cat.waitFor(10*time.Second, `document.documentElement.scrollWidth <= 375 && [...document.querySelectorAll('.tile, .toolbar button')].filter(el => el.checkVisibility()).every(el => { const r = el.getBoundingClientRect(); return r.left >= 0 && r.right <= 375 && r.bottom <= 740 && r.width > 0; })`)
	screenshot(t, cat, "meet-phone.png", 375, 740)

	// Chat reaches everyone, and a late joiner gets the history.
	click(ann, "#chat-button")
	ann.must(5*time.Second, `document.querySelector('#chat-input').value = 'hello from Ann'; return null;`, nil)
	click(ann, "#chat-send")
	for _, p := range []*page{ann, bob, cat} {
		p.waitFor(10*time.Second, `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes('hello from Ann') && li.textContent.includes('Ann Lee'))`)
	}
	bob.waitFor(5*time.Second, `document.querySelector('#unread').textContent === '1'`)
	dan := openMeet(t, e, "dan", roomURL)
	joinMeet(t, dan, "Dan")
	dan.waitFor(15*time.Second, `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes('hello from Ann'))`)
	click(dan, "#leave-button")
	dan.waitFor(10*time.Second, `!document.querySelector('#left').hidden`)
	for _, p := range []*page{ann, bob, cat} {
		p.waitFor(15*time.Second, `document.querySelector('#count').textContent === '3 participants' && document.querySelectorAll('.tile[data-stream-id]').length === 2`)
	}

	// Bob shares his screen: it goes on stage for the others.
	click(bob, "#screen-button")
	bob.waitFor(20*time.Second, `meet.screen && meet.screen.stream`)
	for _, p := range []*page{ann, cat} {
		p.waitFor(20*time.Second, `(() => { const v = document.querySelector('#stage .tile.screen video'); return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 5; })()`)
	}
	click(bob, "#screen-button")
	for _, p := range []*page{ann, cat} {
		p.waitFor(15*time.Second, `!document.querySelector('.tile.screen') && !document.querySelector('#stage-area').classList.contains('staged')`)
	}

	// Recording: Ann (moderator) records; the recording lists for
	// everyone and plays.
	click(ann, "#recordings-button")
	click(ann, "#rec-toggle")
	ann.waitFor(15*time.Second, `document.querySelector('#recordings li[data-status="started"]') && !document.querySelector('#recording-badge').hidden`)
	cat.waitFor(15*time.Second, `!document.querySelector('#recording-badge').hidden`)
	time.Sleep(3 * time.Second) // something to record
	click(ann, "#rec-toggle")
	ann.waitFor(60*time.Second, `document.querySelector('#recordings li[data-status="available"] .play')`)
	click(bob, "#recordings-button")
	bob.waitFor(15*time.Second, `document.querySelector('#recordings li[data-status="available"] a.download')`)
	// Only moderators see the recording controls.
	bob.must(5*time.Second, `if (document.querySelector('#rec-toggle').checkVisibility() || document.querySelector('#recordings .delete')) throw new Error('recording controls shown to a publisher'); return null;`, nil)
	click(ann, `#recordings li[data-status="available"] .play`)
	ann.waitFor(20*time.Second, `document.querySelector('#player').readyState >= 2 && document.querySelector('#player').videoWidth > 0`)
	var recURL string
	ann.must(5*time.Second, `return meet.recordings[0].url;`, &recURL)
	if !strings.HasPrefix(recURL, "/") {
		t.Fatalf("recording url %q is not on the page's origin", recURL)
	}
	click(ann, "#player-close")
	// An individual recording: a download, no player.
	ann.must(5*time.Second, `document.querySelector('#rec-mode').value = 'individual'; return null;`, nil)
	click(ann, "#rec-toggle")
	ann.waitFor(15*time.Second, `document.querySelector('#recordings li[data-status="started"]')`)
	time.Sleep(2 * time.Second) // something to record
	click(ann, "#rec-toggle")
	bob.waitFor(60*time.Second, `meet.recordings.length === 2 && meet.recordings.every(r => r.status === 'available') && document.querySelectorAll('#recordings a.download').length === 2 && document.querySelectorAll('#recordings .play').length === 1`)
	// Deleting (after a confirmation) takes it off everyone's list.
	ann.waitFor(30*time.Second, `document.querySelectorAll('#recordings li[data-status="available"] .delete').length === 2`)
	click(ann, `#recordings li[data-status="available"] .delete`)
	bob.waitFor(15*time.Second, `meet.recordings.length === 1 && document.querySelectorAll('#recordings li').length === 1`)

	// Mute all: everyone but Ann is muted.
	click(ann, "#mute-all-button")
	for _, p := range []*page{bob, cat} {
		p.waitFor(10*time.Second, `meet.publisher.stream.hasAudio === false && document.querySelector('#mic-button').getAttribute('aria-pressed') === 'false'`)
	}
	ann.waitFor(10*time.Second, `document.querySelectorAll('.tile[data-stream-id].audio-off').length === 2`)
	ann.must(5*time.Second, `if (!meet.publisher.stream.hasAudio) throw new Error('the moderator muted herself'); return null;`, nil)

	// Lock: a newcomer is refused, with the reason shown.
	click(ann, "#lock-button")
	cat.waitFor(10*time.Second, `!document.querySelector('#locked-badge').hidden`)
	eve := openMeet(t, e, "eve", roomURL)
	joinMeet(t, eve, "Eve")
	eve.waitFor(10*time.Second, `document.querySelector('#prejoin-error').textContent.includes('locked') && !document.querySelector('#prejoin').hidden`)

	// End all: everyone is disconnected and told why.
	click(ann, "#end-button")
	for _, p := range []*page{bob, cat} {
		p.waitFor(15*time.Second, `!document.querySelector('#left').hidden && document.querySelector('#left-text').textContent.includes('moderator ended')`)
	}
	ann.waitFor(10*time.Second, `!document.querySelector('#left').hidden`)
}

// TestMeetNetworkTest runs the pre-join screen's network test (the module
// served beside the SDK, with the published pre-call test's API) through
// Parley's media router.
func TestMeetNetworkTest(t *testing.T) {
	e := newEnv(t)
	p := openMeet(t, e, "precall", e.srv.URL+"/room/net-check")
	click(p, "#nettest-run")
	p.waitFor(60*time.Second, `meet.networkTest && meet.networkTest.state !== 'running'`)
	var res struct {
		State        string `json:"state"`
		Error        string `json:"error"`
		Verdict      string `json:"verdict"`
		Connectivity struct {
			Success     bool  `json:"success"`
			FailedTests []any `json:"failedTests"`
		} `json:"connectivity"`
		Quality struct {
			Audio struct {
				Bitrate   float64 `json:"bitrate"`
				Supported bool    `json:"supported"`
				MOS       float64 `json:"mos"`
			} `json:"audio"`
			Video struct {
				Bitrate               float64 `json:"bitrate"`
				Supported             bool    `json:"supported"`
				RecommendedResolution string  `json:"recommendedResolution"`
				MOS                   float64 `json:"mos"`
			} `json:"video"`
		} `json:"quality"`
	}
	p.must(5*time.Second, `return meet.networkTest;`, &res)
	t.Logf("network test: %+v", res)
	if res.State != "done" || !res.Connectivity.Success || len(res.Connectivity.FailedTests) > 0 {
		t.Fatalf("connectivity: %+v", res)
	}
	q := res.Quality
	if !q.Audio.Supported || q.Audio.Bitrate <= 0 || q.Audio.MOS < 2.4 {
		t.Errorf("audio: %+v", q.Audio)
	}
	if !q.Video.Supported || q.Video.Bitrate <= 0 || q.Video.RecommendedResolution == "" || q.Video.MOS <= 1 {
		t.Errorf("video: %+v", q.Video)
	}
	var shown string
	p.must(5*time.Second, `return document.querySelector('#nettest-status').textContent + ' | ' + document.querySelector('#nettest-results').textContent;`, &shown)
	if !strings.Contains(shown, res.Verdict+" connection") || !strings.Contains(shown, "kbps") {
		t.Errorf("the page shows %q", shown)
	}
	screenshot(t, p, "meet-prejoin-nettest.png", 1280, 800)
}

// TestNetworkTestModule loads the network test module from another origin,
// as an application would, and checks its argument errors and its
// connectivity test, passing and failing.
func TestNetworkTestModule(t *testing.T) {
	e := newEnv(t)
	p := e.b.open(t, "module", e.site.URL+"/network-test-module.html")
	p.waitFor(10*time.Second, "window.OT && window.harnessReady")
	var args struct {
		Names  []string `json:"names"`
		Want   []string `json:"want"`
		Global bool     `json:"global"`
	}
	p.must(5*time.Second, `return checkArguments();`, &args)
	if strings.Join(args.Names, ",") != strings.Join(args.Want, ",") || !args.Global {
		t.Fatalf("argument errors %v, want %v (global set: %v)", args.Names, args.Want, args.Global)
	}
	type result struct {
		Success     bool `json:"success"`
		FailedTests []struct {
			Type  string `json:"type"`
			Error struct {
				Name string `json:"name"`
			} `json:"error"`
		} `json:"failedTests"`
	}
	sid := e.session(t, opentok.Routed)
	var ok result
	p.must(30*time.Second, `return await runConnectivity(`+js(e.srv.APIKey)+`, `+js(sid)+`, `+js(e.token(t, sid, opentok.RolePublisher, ""))+`);`, &ok)
	if !ok.Success || len(ok.FailedTests) != 0 {
		t.Fatalf("connectivity: %+v", ok)
	}
	// A forged token fails messaging, and so media.
	var bad result
	p.must(30*time.Second, `return await runConnectivity(`+js(e.srv.APIKey)+`, `+js(sid)+`, 'T1==forged');`, &bad)
	types := []string{}
	for _, f := range bad.FailedTests {
		types = append(types, f.Type+":"+f.Error.Name)
	}
	if bad.Success || !strings.Contains(strings.Join(types, ","), "messaging:") || !strings.Contains(strings.Join(types, ","), "media:FailedMessagingServerTestError") {
		t.Fatalf("forged token: %+v", types)
	}
}
