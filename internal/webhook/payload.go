package webhook

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/session"
)

// payload is the body of a session monitoring callback, field for field as
// OpenTok sends it.
type payload struct {
	SessionID string `json:"sessionId"`
	// ProjectID is a string, as in OpenTok's examples.
	ProjectID  string          `json:"projectId"`
	Event      string          `json:"event"`
	Timestamp  int64           `json:"timestamp"`
	Connection *connectionJSON `json:"connection,omitempty"`
	Stream     *streamJSON     `json:"stream,omitempty"`
	// Reason is set on the destroyed events only.
	Reason string `json:"reason,omitempty"`
}

type connectionJSON struct {
	ID        string `json:"id"`
	CreatedAt int64  `json:"createdAt"`
	Data      string `json:"data"`
}

type streamJSON struct {
	ID         string         `json:"id"`
	Connection connectionJSON `json:"connection"`
	CreatedAt  int64          `json:"createdAt"`
	Name       string         `json:"name"`
	// VideoType is absent for audio-only streams, as in OpenTok.
	VideoType string `json:"videoType,omitempty"`
}

// monitored reports whether an event of kind is delivered.
func monitored(k session.EventKind) bool {
	switch k {
	case session.EventConnectionCreated, session.EventConnectionDestroyed,
		session.EventStreamCreated, session.EventStreamDestroyed:
		return true
	}
	return false
}

// encode returns the callback body for ev of session sid in project
// apiKey, which happened at t.
func encode(sid, apiKey string, ev session.Event, t time.Time) ([]byte, error) {
	p := payload{SessionID: sid, ProjectID: apiKey, Event: string(ev.Kind), Timestamp: t.UnixMilli(), Reason: ev.Reason}
	var conn connectionJSON
	if c := ev.Connection; c != nil {
		conn = connectionJSON{ID: c.ID, CreatedAt: c.CreationTime.UnixMilli(), Data: c.Data}
	}
	switch ev.Kind {
	case session.EventConnectionCreated, session.EventConnectionDestroyed:
		p.Connection = &conn
	case session.EventStreamCreated, session.EventStreamDestroyed:
		if st := ev.Stream; st != nil {
			s := &streamJSON{ID: st.ID, Connection: conn, CreatedAt: st.CreationTime.UnixMilli(), Name: st.Name}
			if st.HasVideo {
				s.VideoType = st.VideoType
			}
			p.Stream = s
		}
	}
	return json.Marshal(p)
}
