package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/parleyhq/parley/internal/node"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/webhook"
)

// webhookCmd manages a project's session monitoring webhook in the data
// folder's store, as `parley project` manages projects: it works whether
// or not a server runs on that folder, and a running server picks the
// change up with the next event.
func webhookCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New("webhook: want add, list, remove or log")
	}
	switch args[0] {
	case "add", "list", "remove", "log":
	default:
		return fmt.Errorf("webhook: unknown command %q; want add, list, remove or log", args[0])
	}
	fs := newFlags("parley webhook "+args[0], stderr)
	data := dataFlag(fs, getenv)
	key := fs.String("api-key", getenv("PARLEY_API_KEY"), "project (default: the first project in --data)")
	asJSON := fs.Bool("json", false, "print JSON")
	count := fs.Int("count", 100, "how many attempts to show, newest first; 0 for all (log)")
	group := fs.String("group", webhook.GroupSessionMonitoring, "sessionMonitoring, archiveStatus or broadcastStatus (add)")
	pos, err := parseMixed(fs, args[1:])
	if err != nil {
		return err
	}
	st, err := node.OpenStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := pickProject(ctx, st, *key, *data)
	if err != nil {
		return err
	}

	switch args[0] {
	case "add":
		if len(pos) != 1 {
			return errors.New("webhook add: want one URL")
		}
		h, err := webhook.Create(ctx, st, p.APIKey, *group, pos[0], time.Now())
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("project %s already has a webhook; parley webhook remove it first", p.APIKey)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(webhookJSON(h, true))
		}
		fmt.Fprintf(stdout, "id       %s\nproject  %s\ngroup    %s\nurl      %s\nsecret   %s\n", h.ID, h.APIKey, h.Group, h.URL, h.Secret)
		fmt.Fprintln(stderr, "The secret signs every request (X-Parley-Signature); it is not shown again.")
		return nil
	case "list":
		if len(pos) != 0 {
			return errors.New("webhook list: takes no argument")
		}
		hooks, err := st.Webhooks(ctx, p.APIKey)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, h := range hooks {
			if *asJSON {
				json.NewEncoder(stdout).Encode(webhookJSON(h, false))
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.ID, h.CreatedAt.Format(time.RFC3339), h.Group, h.URL)
		}
		return tw.Flush()
	case "remove":
		if len(pos) != 1 {
			return errors.New("webhook remove: want one webhook id")
		}
		if err := st.DeleteWebhook(ctx, p.APIKey, pos[0]); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "removed", pos[0])
		return nil
	case "log":
		if len(pos) > 1 {
			return errors.New("webhook log: want at most one webhook id")
		}
		var id string
		if len(pos) == 1 {
			id = pos[0]
			h, err := st.Webhook(ctx, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err != nil || h.APIKey != p.APIKey {
				return fmt.Errorf("webhook %s: %w in project %s", id, store.ErrNotFound, p.APIKey)
			}
		}
		entries, err := st.Deliveries(ctx, p.APIKey, id, *count)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, d := range entries {
			if *asJSON {
				json.NewEncoder(stdout).Encode(map[string]any{
					"id": d.ID, "webhookId": d.WebhookID, "eventId": d.EventID, "event": d.Event,
					"sessionId": d.SessionID, "attempt": d.Attempt, "status": d.Status, "error": d.Error,
					"createdAt": d.At.UnixMilli(), "durationMs": float64(d.Duration) / float64(time.Millisecond),
				})
				continue
			}
			result := strconv.Itoa(d.Status)
			if d.Error != "" {
				result = d.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\tattempt %d\t%s\t%s\t%s\n", d.At.Format(time.RFC3339Nano), d.Event,
				d.SessionID, d.Attempt, d.Duration.Round(time.Millisecond), result, d.WebhookID)
		}
		return tw.Flush()
	}
	return fmt.Errorf("webhook: unknown command %q", args[0])
}

// pickProject returns project key, or the first project when key is "".
func pickProject(ctx context.Context, st store.Store, key, data string) (store.Project, error) {
	if key != "" {
		return st.Project(ctx, key)
	}
	list, err := st.Projects(ctx)
	if err != nil {
		return store.Project{}, err
	}
	if len(list) == 0 {
		return store.Project{}, fmt.Errorf("no project in %s: run parley serve once, or parley project create", data)
	}
	return list[0], nil
}

func webhookJSON(h store.Webhook, secret bool) map[string]any {
	m := map[string]any{"id": h.ID, "apiKey": h.APIKey, "group": h.Group, "url": h.URL, "createdAt": h.CreatedAt.UnixMilli()}
	if secret {
		m["secret"] = h.Secret
	}
	return m
}
