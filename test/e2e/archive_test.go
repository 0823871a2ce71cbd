package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
)

// connectRecordingArchives connects page p with archiveStarted and
// archiveStopped handlers set before connecting (so that the replay a
// joiner gets is seen too), recording each as "type id name" in
// window.archiveEvents.
func connectRecordingArchives(t *testing.T, e *env, p *page, sid string) {
	t.Helper()
	tok := e.token(t, sid, opentok.RolePublisher, "")
	p.must(20*time.Second, fmt.Sprintf(`
		window.archiveEvents = [];
		const s = OT.initSession(%s, %s);
		const note = (ev) => archiveEvents.push(ev.type + ' ' + ev.id + ' ' + ev.name);
		s.on({archiveStarted: note, archiveStopped: note});
		await new Promise((resolve, reject) => s.connect(%s, (err) => err ? reject(err) : resolve()));`,
		js(e.srv.APIKey), js(sid), js(tok)), nil)
}

// TestArchiveEventsInTheBrowser: pages get OpenTok.js's archiveStarted
// and archiveStopped with the archive's id and name, a late joiner
// included.
func TestArchiveEventsInTheBrowser(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	early, late := e.harness(t, "early"), e.harness(t, "late")
	connectRecordingArchives(t, e, early, sid)

	ctx := context.Background()
	a, err := e.ot.StartArchive(ctx, sid, opentok.ArchiveOptions{Name: "class", OutputMode: opentok.Individual})
	if err != nil {
		t.Fatal(err)
	}
	started := "archiveStarted " + a.ID + " class"
	early.waitFor(10*time.Second, fmt.Sprintf("archiveEvents.join('|') === %s", js(started)))
	connectRecordingArchives(t, e, late, sid)
	late.waitFor(10*time.Second, fmt.Sprintf("archiveEvents.join('|') === %s", js(started)))

	if _, err := e.ot.StopArchive(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	both := js(started + "|archiveStopped " + a.ID + " class")
	for _, p := range []*page{early, late} {
		p.waitFor(10*time.Second, "archiveEvents.join('|') === "+both)
	}
}
