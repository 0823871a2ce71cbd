package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/node"
	"github.com/parleyhq/parley/internal/store"
)

func TestWebhookCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	if _, err := runCmd(t, nil, "webhook", "list", "--data", data); err == nil || !strings.Contains(err.Error(), "no project") {
		t.Fatalf("list without a project: %v", err)
	}
	var keys []string
	for _, name := range []string{"first", "second"} {
		out, err := runCmd(t, nil, "project", "create", "--name", name, "--data", data, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ APIKey string }
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, p.APIKey)
	}
	env := map[string]string{"PARLEY_DATA": data}

	// add goes to the first project unless --api-key says otherwise.
	out, err := runCmd(t, env, "webhook", "add", "https://example.com/hook", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ ID, APIKey, URL, Secret, Group string }
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.APIKey != keys[0] || len(h.Secret) != 64 || h.Group != "sessionMonitoring" {
		t.Fatalf("add: %s %v", out, err)
	}
	out, err = runCmd(t, env, "webhook", "add", "--api-key", keys[1], "http://127.0.0.1:9999/h")
	if err != nil || !strings.Contains(out, "secret ") || !strings.Contains(out, keys[1]) {
		t.Fatalf("add to the second project: %q %v", out, err)
	}

	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"a second webhook", []string{"webhook", "add", "https://example.com/2"}, "already has"},
		{"bad URL", []string{"webhook", "add", "--api-key", keys[1], "ftp://x"}, "http or https"},
		{"no URL", []string{"webhook", "add"}, "want one URL"},
		{"unknown project", []string{"webhook", "list", "--api-key", "4242"}, "not found"},
		{"another project's webhook", []string{"webhook", "remove", "--api-key", keys[1], h.ID}, "not found"},
		{"another project's log", []string{"webhook", "log", "--api-key", keys[1], h.ID}, "not found"},
		{"unknown subcommand", []string{"webhook", "frobnicate"}, "unknown command"},
		{"nothing", []string{"webhook"}, "want add"},
	}
	for _, tt := range tests {
		if _, err := runCmd(t, env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}

	out, err = runCmd(t, env, "webhook", "list")
	if err != nil || !strings.HasPrefix(out, h.ID+" ") || !strings.Contains(out, "https://example.com/hook") || strings.Contains(out, h.Secret) {
		t.Fatalf("list: %q %v", out, err)
	}

	// The log shows what the store recorded, newest first.
	ctx := context.Background()
	st, err := node.OpenStore(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	for i, status := range []int{0, 200} {
		d := store.Delivery{WebhookID: h.ID, APIKey: keys[0], EventID: "e", Event: "connectionCreated", SessionID: "1_s",
			Attempt: i + 1, Status: status, At: time.Now(), Duration: 3 * time.Millisecond}
		if status == 0 {
			d.Error = "timeout after 5s"
		}
		if _, err := st.AddDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out, err = runCmd(t, env, "webhook", "log", h.ID)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.Contains(lines[0], "attempt 2") || !strings.Contains(lines[0], "200") ||
		!strings.Contains(lines[1], "timeout after 5s") {
		t.Fatalf("log: %q %v", out, err)
	}
	out, err = runCmd(t, env, "webhook", "log", "--count", "1", "--json")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"attempt":2`) {
		t.Fatalf("log --count 1 --json: %q %v", out, err)
	}

	if out, err := runCmd(t, env, "webhook", "remove", h.ID); err != nil || !strings.Contains(out, h.ID) {
		t.Fatalf("remove: %q %v", out, err)
	}
	if out, err := runCmd(t, env, "webhook", "list"); err != nil || out != "" {
		t.Fatalf("list after remove: %q %v", out, err)
	}
	if _, err := runCmd(t, env, "webhook", "remove", h.ID); err == nil {
		t.Fatal("removed a webhook twice")
	}
}
