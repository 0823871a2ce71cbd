package signaling

import (
	"encoding/json"

	"github.com/parleyhq/parley/internal/session"
)

// ConnectionJSON is a connection as clients see it.
type ConnectionJSON struct {
	ConnectionID string `json:"connectionId"`
	CreationTime int64  `json:"creationTime"`
	Data         string `json:"data"`
}

// StreamJSON is a stream as clients see it.
type StreamJSON struct {
	StreamID        string         `json:"streamId"`
	Connection      ConnectionJSON `json:"connection"`
	Name            string         `json:"name"`
	HasAudio        bool           `json:"hasAudio"`
	HasVideo        bool           `json:"hasVideo"`
	HasCaptions     bool           `json:"hasCaptions"`
	VideoType       string         `json:"videoType"`
	VideoDimensions Dimensions     `json:"videoDimensions"`
	FrameRate       int            `json:"frameRate,omitempty"`
	CreationTime    int64          `json:"creationTime"`
}

// Capabilities are what a connection may do, as OpenTok.js exposes them.
type Capabilities struct {
	Publish         int `json:"publish"`
	Subscribe       int `json:"subscribe"`
	ForceDisconnect int `json:"forceDisconnect"`
	ForceUnpublish  int `json:"forceUnpublish"`
	ForceMute       int `json:"forceMute"`
}

// ICEServer is an entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Message is one server message: a reply, an error or an event.
type Message struct {
	Type string `json:"type"`
	ID   int64  `json:"id,omitempty"`

	// error
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`

	// connected
	Protocol     int             `json:"protocol,omitempty"`
	Session      *SessionJSON    `json:"session,omitempty"`
	Capabilities *Capabilities   `json:"capabilities,omitempty"`
	ICEServers   []ICEServer     `json:"iceServers,omitempty"`
	Connection   *ConnectionJSON `json:"connection,omitempty"`
	ResumeToken  string          `json:"resumeToken,omitempty"`

	// replies and events about streams and subscriptions
	Stream       *StreamJSON `json:"stream,omitempty"`
	StreamID     string      `json:"streamId,omitempty"`
	SubscriberID string      `json:"subscriberId,omitempty"`
	Answer       string      `json:"answer,omitempty"`
	Offer        string      `json:"offer,omitempty"`
	// relay, relaySubscribe: Relayed marks a subscription whose media
	// flows peer to peer; Candidate and Restart are relayed ICE messages.
	Relayed   bool       `json:"relayed,omitempty"`
	Audio     *bool      `json:"audio,omitempty"`
	Video     *bool      `json:"video,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`
	Restart   bool       `json:"restart,omitempty"`

	// destroyed events, sessionDisconnected, subscriberClosed
	Reason string `json:"reason,omitempty"`

	// streamPropertyChanged
	ChangedProperty string `json:"changedProperty,omitempty"`
	OldValue        *Value `json:"oldValue,omitempty"`
	NewValue        *Value `json:"newValue,omitempty"`

	// signal: From is null for signals sent by the server (REST).
	SignalType *string         `json:"signalType,omitempty"`
	Data       *string         `json:"data,omitempty"`
	From       *ConnectionJSON `json:"from,omitempty"`

	// muteForced
	Active *bool `json:"active,omitempty"`

	// archiveStarted, archiveStopped: the archive's id and name.
	ArchiveID string `json:"archiveId,omitempty"`
	Name      string `json:"name,omitempty"`
}

// SessionJSON describes the joined session.
type SessionJSON struct {
	SessionID string `json:"sessionId"`
	MediaMode string `json:"mediaMode"`
}

func connectionJSON(c *session.Connection) ConnectionJSON {
	return ConnectionJSON{ConnectionID: c.ID, CreationTime: c.CreationTime.UnixMilli(), Data: c.Data}
}

// ownerJSON is the connection of a stream event's owner; an event
// without one gives an empty connection, as before it was known.
func ownerJSON(c *session.Connection) ConnectionJSON {
	if c == nil {
		return ConnectionJSON{}
	}
	return connectionJSON(c)
}

func capabilities(c *session.Connection) *Capabilities {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	cp := c.Capabilities()
	return &Capabilities{
		Publish: b(cp.Publish), Subscribe: b(cp.Subscribe),
		ForceDisconnect: b(cp.ForceDisconnect), ForceUnpublish: b(cp.ForceUnpublish), ForceMute: b(cp.ForceMute),
	}
}

func streamJSON(s *session.Stream, conn ConnectionJSON) *StreamJSON {
	return &StreamJSON{
		StreamID: s.ID, Connection: conn, Name: s.Name, HasAudio: s.HasAudio, HasVideo: s.HasVideo,
		VideoType: s.VideoType, VideoDimensions: Dimensions{Width: s.VideoDimensions.Width, Height: s.VideoDimensions.Height},
		FrameRate: s.FrameRate, CreationTime: s.CreationTime.UnixMilli(),
	}
}

// Value holds a property value that must be sent even when it is false
// or zero (omitempty would drop it).
type Value struct{ V any }

// MarshalJSON implements json.Marshaler.
func (v *Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.V) }

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &v.V) }

// propertyValue turns a session value into its JSON form.
func propertyValue(v any) *Value {
	if d, ok := v.(session.VideoDimensions); ok {
		return &Value{Dimensions{Width: d.Width, Height: d.Height}}
	}
	return &Value{v}
}
