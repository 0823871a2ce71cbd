package opentok

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// GroupSessionMonitoring is the callback group of the connectionCreated,
// connectionDestroyed, streamCreated and streamDestroyed events of every
// session of the project.
const GroupSessionMonitoring = "sessionMonitoring"

// Callback is a URL the server POSTs a project's events to.
type Callback struct {
	ID    string `json:"id"`
	Group string `json:"group"`
	URL   string `json:"url"`
	// CreatedAt is in milliseconds since the epoch.
	CreatedAt int64 `json:"createdAt"`
	// Secret signs the requests (Parley's X-Parley-Signature header); only
	// RegisterCallback returns it.
	Secret string `json:"secret,omitempty"`
}

// Created returns CreatedAt as a time.
func (c *Callback) Created() time.Time { return time.UnixMilli(c.CreatedAt) }

// RegisterCallback makes callbackURL the project's callback for group
// (GroupSessionMonitoring).
func (c *Client) RegisterCallback(ctx context.Context, group, callbackURL string) (*Callback, error) {
	body, err := json.Marshal(map[string]string{"group": group, "url": callbackURL})
	if err != nil {
		return nil, err
	}
	var cb Callback
	if err := c.do(ctx, "POST", c.callbackPath(""), "application/json", body, &cb); err != nil {
		return nil, err
	}
	return &cb, nil
}

// ListCallbacks returns the project's callbacks, without their secrets.
func (c *Client) ListCallbacks(ctx context.Context) ([]Callback, error) {
	var out []Callback
	if err := c.do(ctx, "GET", c.callbackPath(""), "", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// UnregisterCallback removes callback id.
func (c *Client) UnregisterCallback(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", c.callbackPath(id), "", nil, nil)
}

func (c *Client) callbackPath(id string) string {
	p := "/v2/project/" + url.PathEscape(c.APIKey) + "/callback"
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}
