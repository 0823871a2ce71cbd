package sdk

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

type archiveCall struct {
	Error *struct {
		Name        string `json:"name"`
		Message     string `json:"message"`
		Constructor string `json:"constructor"`
	} `json:"error"`
	Value json.RawMessage `json:"value"`
	Extra json.RawMessage `json:"extra"`
}

// nodeArchive is the archive object as the Node SDK hands it over.
type nodeArchive struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	Name       string  `json:"name"`
	Reason     string  `json:"reason"`
	SessionID  string  `json:"sessionId"`
	PartnerID  any     `json:"partnerId"`
	CreatedAt  int64   `json:"createdAt"`
	Size       int64   `json:"size"`
	Duration   float64 `json:"duration"`
	OutputMode string  `json:"outputMode"`
	StreamMode string  `json:"streamMode"`
	HasAudio   bool    `json:"hasAudio"`
	HasVideo   bool    `json:"hasVideo"`
	URL        *string `json:"url"`
	Streams    []struct {
		StreamID string `json:"streamId"`
		HasAudio bool   `json:"hasAudio"`
		HasVideo bool   `json:"hasVideo"`
	} `json:"streams"`
}

// TestNodeSDKArchives runs the official Node SDK's archive calls against
// a live server with a client publishing, error cases included.
func TestNodeSDKArchives(t *testing.T) {
	dir := nodeDir(t)
	srv := live.Start(t)
	secret := srv.Secret(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	ot := opentok.New(srv.APIKey, secret, srv.URL)
	routed, err := ot.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		t.Fatal(err)
	}
	relayed, err := ot.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Relayed})
	if err != nil {
		t.Fatal(err)
	}
	connect := func(sid string) *rtcclient.Client {
		tok, err := ot.GenerateToken(sid, opentok.TokenOptions{Data: "name=pub"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := rtcclient.Connect(ctx, srv.URL, sid, tok, rtcclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	pubClient := connect(routed.ID)
	connect(relayed.ID)
	pub, err := pubClient.Publish(ctx, rtcclient.PublishOptions{Name: "cam", Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("node", "archive-check.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+srv.URL, "PARLEY_API_KEY="+srv.APIKey, "PARLEY_API_SECRET="+secret,
		"ROUTED="+routed.ID, "RELAYED="+relayed.ID, "STREAM="+pub.StreamID)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("node printed %s: %v", out, err)
	}
	res := map[string]archiveCall{}
	for name, b := range raw {
		var r archiveCall
		if json.Unmarshal(b, &r) == nil {
			res[name] = r
		}
	}
	archiveOf := func(name string) nodeArchive {
		t.Helper()
		r := res[name]
		var a nodeArchive
		if r.Error != nil || json.Unmarshal(r.Value, &a) != nil {
			t.Fatalf("%s: %+v %s", name, r.Error, r.Value)
		}
		return a
	}
	fails := func(name, class, want string) {
		t.Helper()
		r := res[name]
		if r.Error == nil || r.Error.Constructor != class || !strings.Contains(r.Error.Message, want) {
			t.Errorf("%s: got %+v, want %s containing %q", name, r.Error, class, want)
		}
	}
	ok := func(name string) {
		t.Helper()
		if r, found := res[name]; !found || r.Error != nil {
			t.Errorf("%s: %+v", name, r.Error)
		}
	}

	started := archiveOf("start")
	if started.Status != "started" || started.Name != "node archive" || started.SessionID != routed.ID ||
		started.OutputMode != "individual" || started.StreamMode != "auto" || !started.HasAudio || !started.HasVideo ||
		started.PartnerID != float64(mustAtoi(t, srv.APIKey)) || started.URL != nil {
		t.Errorf("startArchive: %+v", started)
	}
	// 409: the callback gets (RequestError, ArchiveError) from the Node SDK.
	for _, name := range []string{"startAgain", "startRelayed"} {
		fails(name, "RequestError", "Unexpected response from OpenTok")
		var second struct{ Name, Message, Constructor string }
		json.Unmarshal(res[name].Value, &second)
		if second.Constructor != "ArchiveError" || second.Message != "Recording already in progress or session not using OpenTok Media Router" {
			t.Errorf("%s: second error %s", name, res[name].Value)
		}
	}
	fails("startBadLayout", "RequestError", "stylesheet")
	fails("startUnknown", "ArchiveError", "Session not found")
	fails("startResolution", "RequestError", "composed archives only")

	manual := archiveOf("manual")
	ok("addStream")
	if m := archiveOf("getManual"); len(m.Streams) != 1 || m.Streams[0].StreamID != pub.StreamID || !m.Streams[0].HasAudio || m.Streams[0].HasVideo {
		t.Errorf("manual archive streams after addArchiveStream(hasVideo false): %+v", m.Streams)
	}
	fails("addUnknownStream", "ArchiveError", "Archive or stream not found")
	fails("addToAuto", "ArchiveError", "Unsupported Stream Mode")
	ok("removeStream")
	fails("deleteRecording", "RequestError", "Unexpected response")

	if got := archiveOf("get"); got.ID != started.ID || got.Status != "started" || got.CreatedAt != started.CreatedAt {
		t.Errorf("getArchive: %+v", got)
	}
	var list []nodeArchive
	if r := res["list"]; r.Error != nil || json.Unmarshal(r.Value, &list) != nil || len(list) != 2 || string(r.Extra) != "2" ||
		list[0].ID != manual.ID || list[1].ID != started.ID {
		t.Errorf("listArchives: %+v %s (total %s)", r.Error, r.Value, r.Extra)
	}
	if r := res["listPage"]; r.Error != nil || json.Unmarshal(r.Value, &list) != nil || len(list) != 1 || list[0].ID != started.ID {
		t.Errorf("listArchives offset 1 count 1: %+v %s", r.Error, r.Value)
	}
	fails("getUnknown", "NotFoundError", "Archive not found")

	if stopped := archiveOf("stop"); stopped.Status != "stopped" || stopped.Reason != "user initiated" || stopped.Duration < 3 {
		t.Errorf("stopArchive: %+v", stopped)
	}
	fails("stopAgain", "ArchiveError", "not recording")
	fails("stopUnknown", "ArchiveError", "Archive not found")
	ok("stopManual")

	avail := archiveOf("available")
	if avail.Status != "available" || avail.Size == 0 || avail.URL == nil || avail.Duration < 3 || avail.Duration > 5 {
		t.Errorf("after stopping: %+v", avail)
	}
	var dl struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Bytes  int64  `json:"bytes"`
		Magic  string `json:"magic"`
	}
	// The url downloads the zip, until the archive is deleted.
	if err := json.Unmarshal(raw["download"], &dl); err != nil || dl.Status != 200 || dl.Type != "application/zip" ||
		dl.Bytes != avail.Size || dl.Magic != "504b0304" {
		t.Errorf("download: %s", raw["download"])
	}
	ok("delete")
	fails("deleteAgain", "ArchiveError", "Archive not found")
	fails("getDeleted", "NotFoundError", "Archive not found")
	if err := json.Unmarshal(raw["downloadDeleted"], &dl); err != nil || dl.Status != 404 {
		t.Errorf("download after deleting: %s", raw["downloadDeleted"])
	}

	// The composed archive: an MP4 once composed.
	composed := archiveOf("composed")
	if composed.Status != "started" || composed.OutputMode != "composed" || composed.Name != "composed" {
		t.Errorf("composed: %+v", composed)
	}
	ok("setLayout")
	if r := res["setBadLayout"]; r.Error == nil {
		t.Error("setArchiveLayout with an unknown layout type succeeded")
	}
	if c := archiveOf("composedAvailable"); c.Status != "available" || c.URL == nil || c.Duration < 3 {
		t.Errorf("the composed archive after stopping: %+v", c)
	}
	var cdl struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Magic  string `json:"magic"`
	}
	if err := json.Unmarshal(raw["composedDownload"], &cdl); err != nil || cdl.Status != 200 || cdl.Type != "video/mp4" || cdl.Magic != "ftyp" {
		t.Errorf("composed download: %s", raw["composedDownload"])
	}
	ok("deleteComposed")

	// What the publishing client saw.
	var notices []string
	for _, ev := range events(pubClient, time.Second) {
		if ev.Type == "archiveStarted" || ev.Type == "archiveStopped" {
			notices = append(notices, ev.Type+" "+ev.ArchiveID+" "+ev.Name)
		}
	}
	want := []string{"archiveStarted " + started.ID + " node archive", "archiveStarted " + manual.ID + " ",
		"archiveStopped " + started.ID + " node archive", "archiveStopped " + manual.ID + " ",
		"archiveStarted " + composed.ID + " composed", "archiveStopped " + composed.ID + " composed"}
	if strings.Join(notices, "|") != strings.Join(want, "|") {
		t.Errorf("the client saw %q, want %q", notices, want)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n
}
