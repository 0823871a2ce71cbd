// Package signaling is the WebSocket protocol between clients (the
// browser SDK, pkg/rtcclient) and a node: it admits connections with
// client tokens, turns requests into calls on internal/session and
// internal/sfu, and sends the session's events back out. The protocol is
// written down in docs/protocol.md.
package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is the version of docs/protocol.md this package speaks.
const ProtocolVersion = 1

// MaxMessageBytes bounds one client message: a signal's 8 kB of data, or
// an SDP offer with every codec and candidate, fit well inside.
const MaxMessageBytes = 64 << 10

// Request is one client message. Which fields matter depends on Type.
type Request struct {
	Type string `json:"type"`
	// ID, when set, is echoed in the reply or error so that the client can
	// match them to the request.
	ID int64 `json:"id,omitempty"`

	// connect
	SessionID string `json:"sessionId,omitempty"`
	Token     string `json:"token,omitempty"`

	// publish
	Stream *StreamSpec `json:"stream,omitempty"`
	Offer  string      `json:"offer,omitempty"`

	// unpublish, updateStream, subscribe, forceUnpublish, forceMuteStream
	StreamID string `json:"streamId,omitempty"`
	// unpublish: why the stream ends (clientDisconnected by default;
	// mediaStopped when the camera or screen capture stopped).
	Reason string `json:"reason,omitempty"`
	// updateStream
	Property string          `json:"property,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`

	// subscribe, setMedia
	Audio *bool `json:"audio,omitempty"`
	Video *bool `json:"video,omitempty"`
	// subscribe, setPreferredResolution: the largest video the subscriber
	// wants of a simulcast stream (absent: the best layer).
	PreferredResolution *Dimensions `json:"preferredResolution,omitempty"`
	// answer, setMedia, unsubscribe, restartIce
	SubscriberID string `json:"subscriberId,omitempty"`
	SDP          string `json:"sdp,omitempty"`

	// relay (relayed sessions): one of an offer (Offer), an answer
	// (Answer), a candidate (Candidate) or an ICE-restart request
	// (Restart), for the peer connection of SubscriberID.
	Answer  string `json:"answer,omitempty"`
	Restart bool   `json:"restart,omitempty"`

	// candidate: PC is a stream id (publisher) or a subscriber id.
	PC        string     `json:"pc,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`

	// signal
	To         string  `json:"to,omitempty"`
	SignalType *string `json:"signalType,omitempty"`
	Data       *string `json:"data,omitempty"`

	// forceDisconnect, resume
	ConnectionID string `json:"connectionId,omitempty"`
	// resume
	ResumeToken string `json:"resumeToken,omitempty"`
	// forceMuteAll
	ExcludedStreamIDs []string `json:"excludedStreamIds,omitempty"`
}

// StreamSpec is what a client publishes.
type StreamSpec struct {
	Name            string      `json:"name"`
	HasAudio        bool        `json:"hasAudio"`
	HasVideo        bool        `json:"hasVideo"`
	VideoType       string      `json:"videoType,omitempty"`
	VideoDimensions *Dimensions `json:"videoDimensions,omitempty"`
	FrameRate       int         `json:"frameRate,omitempty"`
}

// Dimensions of a video.
type Dimensions struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Candidate is a trickled ICE candidate, as RTCIceCandidateInit.
type Candidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// requestTypes are the types a client may send.
var requestTypes = map[string]bool{
	"connect": true, "resume": true, "disconnect": true, "ping": true,
	"publish": true, "unpublish": true, "updateStream": true,
	"subscribe": true, "answer": true, "setMedia": true, "setPreferredResolution": true, "unsubscribe": true, "restartIce": true,
	"candidate": true, "relay": true, "signal": true,
	"forceDisconnect": true, "forceUnpublish": true, "forceMuteStream": true, "forceMuteAll": true, "disableForceMute": true,
}

// ErrMessage is wrapped by every decoding failure.
var ErrMessage = errors.New("malformed message")

// DecodeRequest parses one client message strictly: one JSON object,
// known fields only, a known type.
func DecodeRequest(b []byte) (*Request, error) {
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMessage, MaxMessageBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMessage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the object", ErrMessage)
	}
	if !requestTypes[r.Type] {
		return nil, fmt.Errorf("%w: unknown type %q", ErrMessage, r.Type)
	}
	if r.ID < 0 {
		return nil, fmt.Errorf("%w: negative id", ErrMessage)
	}
	return &r, nil
}
