package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

type callResult struct {
	Error *struct {
		Name        string `json:"name"`
		Message     string `json:"message"`
		Constructor string `json:"constructor"`
	} `json:"error"`
	Value json.RawMessage `json:"value"`
}

// events drains what a client has received so far (waiting up to d for
// stragglers).
func events(c *rtcclient.Client, d time.Duration) []rtcclient.Event {
	var out []rtcclient.Event
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-deadline:
			return out
		}
	}
}

func TestNodeSDKSessionControls(t *testing.T) {
	dir := nodeDir(t)
	srv := live.Start(t)
	secret := srv.Secret(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A second project, to show that one project cannot touch another's
	// sessions.
	st, err := sqlite.Open(ctx, filepath.Join(srv.Data, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	otherKey, otherSecret := "7654321", "the-other-projects-secret"
	if err := st.CreateProject(ctx, store.Project{APIKey: otherKey, Secret: otherSecret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	ot := opentok.New(srv.APIKey, secret, srv.URL)
	s, err := ot.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		t.Fatal(err)
	}
	connect := func(data string) *rtcclient.Client {
		tok, err := ot.GenerateToken(s.ID, opentok.TokenOptions{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		c, err := rtcclient.Connect(ctx, srv.URL, s.ID, tok, rtcclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	a, b := connect("a"), connect("b")
	pub, err := a.Publish(ctx, rtcclient.PublishOptions{Name: "cam", Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)

	// What the Node SDK has no method for: list connections, and the
	// refusal of malformed bodies.
	jwt, _ := project.MintJWT(srv.APIKey, secret, time.Now())
	rawCall := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("X-OPENTOK-AUTH", jwt)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	base := "/v2/project/" + srv.APIKey + "/session/" + s.ID
	code, body := rawCall("GET", base+"/connection", "")
	var conns struct {
		Count int `json:"count"`
		Items []struct {
			ConnectionID    string `json:"connectionId"`
			ConnectionState string `json:"connectionState"`
			CreatedAt       int64  `json:"createdAt"`
		} `json:"items"`
	}
	if code != 200 || json.Unmarshal(body, &conns) != nil || conns.Count != 2 || conns.Items[0].ConnectionID != a.Connection.ConnectionID || conns.Items[0].CreatedAt == 0 {
		t.Errorf("list connections: %d %s", code, body)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", base + "/signal", `{"type":`},
		{"POST", base + "/mute", `{"active":"maybe"}`},
		{"PUT", base + "/stream", `{"items":"x"}`},
		{"PUT", base + "/stream", `{"items":[{"id":"` + pub.StreamID + `","layoutClassList":["has space"]}]}`},
	} {
		if code, body := rawCall(tc.method, tc.path, tc.body); code != 400 || !bytes.Contains(body, []byte(`"message"`)) {
			t.Errorf("%s %s %s: %d %s, want 400", tc.method, tc.path, tc.body, code, body)
		}
	}
	if code, _ := rawCall("GET", "/v2/project/"+otherKey+"/session/"+s.ID+"/stream", ""); code != 403 {
		t.Errorf("another project's path: %d, want 403", code)
	}

	cmd := exec.Command("node", "control-check.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+srv.URL, "PARLEY_API_KEY="+srv.APIKey, "PARLEY_API_SECRET="+secret,
		"SESSION="+s.ID, "CONN_A="+a.Connection.ConnectionID, "CONN_B="+b.Connection.ConnectionID,
		"STREAM_A="+pub.StreamID, "OTHER_KEY="+otherKey, "OTHER_SECRET="+otherSecret)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	var res map[string]callResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node printed %s: %v", out, err)
	}
	ok := func(name string) {
		t.Helper()
		if r, found := res[name]; !found || r.Error != nil {
			t.Errorf("%s: %+v", name, r.Error)
		}
	}
	fails := func(name, want string) {
		t.Helper()
		if r := res[name]; r.Error == nil || !strings.Contains(r.Error.Message, want) {
			t.Errorf("%s: got %+v, want an error containing %q", name, r.Error, want)
		}
	}
	for _, name := range []string{"signalAll", "signalB", "getStream", "listStreams", "setClassLists", "getStreamAfter", "muteStream", "muteAll", "disableForceMute", "forceDisconnectB"} {
		ok(name)
	}
	fails("signalUnknownConnection", "Session or Connection not found")
	fails("signalTooLarge", "Unexpected response")
	fails("signalBadType", "Unexpected response")
	fails("signalUnknownSession", "Session or Connection not found")
	fails("getUnknownStream", "Not Found")
	fails("setClassListsUnknown", "Not Found")
	fails("muteUnknownStream", "Not Found")
	fails("forceDisconnectUnknown", "Session or Connection not found")
	fails("otherProject", "Invalid API key or secret")

	var stream struct {
		ID              string   `json:"id"`
		VideoType       string   `json:"videoType"`
		Name            string   `json:"name"`
		LayoutClassList []string `json:"layoutClassList"`
	}
	if err := json.Unmarshal(res["getStream"].Value, &stream); err != nil || stream.ID != pub.StreamID || stream.VideoType != "camera" || stream.Name != "cam" {
		t.Errorf("getStream: %s", res["getStream"].Value)
	}
	if err := json.Unmarshal(res["getStreamAfter"].Value, &stream); err != nil || strings.Join(stream.LayoutClassList, " ") != "full focus" {
		t.Errorf("getStream after setStreamClassLists: %s", res["getStreamAfter"].Value)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(res["listStreams"].Value, &list); err != nil || len(list) != 1 {
		t.Errorf("listStreams: %s", res["listStreams"].Value)
	}

	// What the clients saw.
	evA, evB := events(a, 2*time.Second), events(b, 500*time.Millisecond)
	has := func(evs []rtcclient.Event, match func(rtcclient.Event) bool) bool {
		for _, ev := range evs {
			if match(ev) {
				return true
			}
		}
		return false
	}
	signal := func(typ, data string) func(rtcclient.Event) bool {
		return func(ev rtcclient.Event) bool {
			return ev.Type == "signal" && *ev.SignalType == typ && *ev.Data == data && ev.From == nil
		}
	}
	if !has(evA, signal("hello", "all")) || !has(evB, signal("hello", "all")) {
		t.Error("a signal to all did not reach both clients with an empty from")
	}
	if has(evA, signal("dm", "b only")) || !has(evB, signal("dm", "b only")) {
		t.Error("a signal to b reached the wrong clients")
	}
	if !has(evA, func(ev rtcclient.Event) bool { return ev.Type == "muteForced" && ev.Active != nil && *ev.Active }) ||
		!has(evA, func(ev rtcclient.Event) bool { return ev.Type == "muteForced" && ev.Active != nil && !*ev.Active }) {
		t.Error("the publisher did not get muteForced on and then off")
	}
	if !has(evB, func(ev rtcclient.Event) bool {
		return ev.Type == "streamPropertyChanged" && ev.ChangedProperty == "hasAudio" && ev.OldValue.V == true && ev.NewValue.V == false
	}) {
		t.Error("force mute did not change hasAudio for the others")
	}
	if !has(evB, func(ev rtcclient.Event) bool {
		return ev.Type == "sessionDisconnected" && ev.Reason == "forceDisconnected"
	}) {
		t.Error("b was not told it was force-disconnected")
	}
	if !has(evA, func(ev rtcclient.Event) bool {
		return ev.Type == "connectionDestroyed" && ev.Connection.ConnectionID == b.Connection.ConnectionID && ev.Reason == "forceDisconnected"
	}) {
		t.Error("a did not see b leave with reason forceDisconnected")
	}
}
