package opentok

import (
	"context"
	"encoding/json"
	"net/url"
)

// Signal sends a signal from the server to every connection of a session,
// or to one connection when connectionID is not "". Clients get it with
// from = null. data is at most 8 kB, as for client signals.
func (c *Client) Signal(ctx context.Context, sessionID, connectionID, typ, data string) error {
	b, err := json.Marshal(map[string]string{"type": typ, "data": data})
	if err != nil {
		return err
	}
	path := "/v2/project/" + url.PathEscape(c.APIKey) + "/session/" + url.PathEscape(sessionID)
	if connectionID != "" {
		path += "/connection/" + url.PathEscape(connectionID)
	}
	return c.do(ctx, "POST", path+"/signal", "application/json", b, nil)
}
