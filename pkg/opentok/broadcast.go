package opentok

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
)

// BroadcastHLS asks for the HLS output of a broadcast.
type BroadcastHLS struct {
	DVR        bool `json:"dvr,omitempty"`
	LowLatency bool `json:"lowLatency,omitempty"`
}

// BroadcastRTMP is an RTMP(S) target of a broadcast; Status is the
// server's (connecting, live, offline, ended).
type BroadcastRTMP struct {
	ID         string `json:"id,omitempty"`
	ServerURL  string `json:"serverUrl"`
	StreamName string `json:"streamName"`
	Status     string `json:"status,omitempty"`
}

// BroadcastOptions are the options of StartBroadcast: at least one
// output.
type BroadcastOptions struct {
	HLS               *BroadcastHLS
	RTMP              []BroadcastRTMP
	MaxDuration       int // seconds
	MaxBitrate        int // bits per second
	Resolution        string
	Layout            *Layout
	StreamMode        StreamMode
	MultiBroadcastTag string
}

// Broadcast is a live-streaming broadcast, as the server describes it.
type Broadcast struct {
	ID            string `json:"id"`
	SessionID     string `json:"sessionId"`
	ProjectID     int64  `json:"projectId"`
	CreatedAt     int64  `json:"createdAt"`
	UpdatedAt     int64  `json:"updatedAt"`
	Status        string `json:"status"` // started or stopped
	MaxDuration   int    `json:"maxDuration"`
	MaxBitrate    int    `json:"maxBitrate"`
	Resolution    string `json:"resolution"`
	StreamMode    string `json:"streamMode"`
	BroadcastURLs *struct {
		HLS       string          `json:"hls"`
		HLSStatus string          `json:"hlsStatus"`
		RTMP      []BroadcastRTMP `json:"rtmp"`
	} `json:"broadcastUrls"`
}

// StartBroadcast starts streaming a session live.
func (c *Client) StartBroadcast(ctx context.Context, sessionID string, o BroadcastOptions) (*Broadcast, error) {
	outputs := map[string]any{}
	if o.HLS != nil {
		outputs["hls"] = o.HLS
	}
	if len(o.RTMP) > 0 {
		outputs["rtmp"] = o.RTMP
	}
	body := map[string]any{"sessionId": sessionID, "outputs": outputs}
	if o.MaxDuration > 0 {
		body["maxDuration"] = o.MaxDuration
	}
	if o.MaxBitrate > 0 {
		body["maxBitrate"] = o.MaxBitrate
	}
	if o.Resolution != "" {
		body["resolution"] = o.Resolution
	}
	if o.Layout != nil {
		body["layout"] = o.Layout
	}
	if o.StreamMode != "" {
		body["streamMode"] = o.StreamMode
	}
	if o.MultiBroadcastTag != "" {
		body["multiBroadcastTag"] = o.MultiBroadcastTag
	}
	return c.broadcastCall(ctx, "POST", c.broadcastPath(""), body)
}

// StopBroadcast stops a broadcast; its HLS playlist ends.
func (c *Client) StopBroadcast(ctx context.Context, id string) (*Broadcast, error) {
	return c.broadcastCall(ctx, "POST", c.broadcastPath(id)+"/stop", map[string]any{})
}

// GetBroadcast returns a broadcast with its outputs' statuses.
func (c *Client) GetBroadcast(ctx context.Context, id string) (*Broadcast, error) {
	return c.broadcastCall(ctx, "GET", c.broadcastPath(id), nil)
}

// ListBroadcasts returns the project's broadcasts (of one session when
// sessionID is not ""), newest first, and how many there are.
func (c *Client) ListBroadcasts(ctx context.Context, sessionID string, offset, count int) ([]Broadcast, int, error) {
	q := url.Values{}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if count > 0 {
		q.Set("count", strconv.Itoa(count))
	}
	if sessionID != "" {
		q.Set("sessionId", sessionID)
	}
	path := c.broadcastPath("")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Count int         `json:"count"`
		Items []Broadcast `json:"items"`
	}
	if err := c.do(ctx, "GET", path, "", nil, &out); err != nil {
		return nil, 0, err
	}
	return out.Items, out.Count, nil
}

// SetBroadcastLayout changes a running broadcast's layout.
func (c *Client) SetBroadcastLayout(ctx context.Context, id string, l Layout) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return c.do(ctx, "PUT", c.broadcastPath(id)+"/layout", "application/json", b, nil)
}

func (c *Client) broadcastPath(id string) string {
	p := "/v2/project/" + url.PathEscape(c.APIKey) + "/broadcast"
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}

func (c *Client) broadcastCall(ctx context.Context, method, path string, body map[string]any) (*Broadcast, error) {
	return call[Broadcast](ctx, c, method, path, body)
}
