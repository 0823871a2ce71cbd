package opentok

import (
	"context"
	"net/url"
)

// Connection is a client connected to a session, as the server lists it.
type Connection struct {
	ConnectionID    string `json:"connectionId"`
	ConnectionState string `json:"connectionState"`
	// CreatedAt is in milliseconds since the epoch.
	CreatedAt int64 `json:"createdAt"`
}

// ListConnections returns the connections of a session
// (GET /v2/project/{key}/session/{id}/connection). A session nobody is
// connected to answers ErrNotFound.
func (c *Client) ListConnections(ctx context.Context, sessionID string) ([]Connection, error) {
	var out struct {
		Count int          `json:"count"`
		Items []Connection `json:"items"`
	}
	path := "/v2/project/" + url.PathEscape(c.APIKey) + "/session/" + url.PathEscape(sessionID) + "/connection"
	if err := c.do(ctx, "GET", path, "", nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}
