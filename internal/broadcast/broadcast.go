// Package broadcast streams sessions live (OpenTok's broadcasts): a live
// compositor (internal/compositor) lays the session's streams out by a
// layout and encodes them to H.264 + AAC once; the result goes to an HLS
// playlist Parley serves and to up to five RTMP(S) targets, each through
// an ffmpeg of its own that copies it. The layout and the streams change
// while it runs without the outputs noticing; an RTMP target that fails
// is reported and retried while the others go on.
//
// A broadcast's life:
//
//	started ──stop, maxDuration, 60 s without a stream, shutdown──> stopped
//
// Each output has its own status (broadcastUrls.hlsStatus and
// rtmp[].status): connecting → live (HLS: connecting → ready → live) →
// ended, offline while an RTMP target is retried, error when HLS fails.
package broadcast

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/parleyhq/parley/internal/layout"
	"github.com/parleyhq/parley/internal/refusal"
)

// Statuses of a broadcast.
const (
	Started = "started"
	Stopped = "stopped"
)

// Limits OpenTok documents.
const (
	MaxRTMP            = 5
	MinMaxDuration     = 60
	MaxMaxDuration     = 36000
	DefaultMaxDuration = 14400
	MaxTagLen          = 256
)

// The refusals of the Manager (see package refusal): these kinds,
// wrapped in an Error with a message for the caller.
var (
	ErrInvalid    = refusal.Invalid    // 400
	ErrForbidden  = refusal.Forbidden  // 403
	ErrNotFound   = refusal.NotFound   // 404
	ErrStreamMode = refusal.StreamMode // 405
	ErrConflict   = refusal.Conflict   // 409
)

// Error is a refusal.
type Error = refusal.Error

var refuse = refusal.New

// HLS are the options of the HLS output.
type HLS struct {
	DVR        bool `json:"dvr"`
	LowLatency bool `json:"lowLatency"`
}

// RTMP is one RTMP(S) target.
type RTMP struct {
	ID         string `json:"id,omitempty"`
	ServerURL  string `json:"serverUrl"`
	StreamName string `json:"streamName"`
	// Status is set by the broadcast: connecting, live, offline, ended.
	Status string `json:"status,omitempty"`
}

// Options are what a start asks for.
type Options struct {
	HLS               *HLS
	RTMP              []RTMP
	MaxDuration       int // seconds; 0 → DefaultMaxDuration
	MaxBitrate        int // bps; 0 → by resolution
	Resolution        string
	Layout            *layout.Spec
	StreamMode        string // auto or manual
	MultiBroadcastTag string
	HasAudio          bool
	HasVideo          bool
}

var resolutions = map[string]bool{
	"640x480": true, "480x640": true, "1280x720": true, "720x1280": true, "1920x1080": true, "1080x1920": true,
}

var (
	rtmpIDRE   = regexp.MustCompile(`^[A-Za-z0-9_.~-]{0,64}$`)
	streamRE   = regexp.MustCompile(`^[\x21-\x7e]{1,512}$`)
	hostnameRE = regexp.MustCompile(`^[A-Za-z0-9.\[\]:_-]{1,255}$`)
)

// Validate checks o as OpenTok does, and every RTMP target's URL; the
// error wraps ErrInvalid.
func (o *Options) Validate() error {
	switch {
	case o.HLS == nil && len(o.RTMP) == 0:
		return refuse(ErrInvalid, "outputs: want hls, rtmp or both")
	case len(o.RTMP) > MaxRTMP:
		return refuse(ErrInvalid, "outputs.rtmp: at most %d targets", MaxRTMP)
	case o.HLS != nil && o.HLS.DVR && o.HLS.LowLatency:
		return refuse(ErrInvalid, "outputs.hls: dvr and lowLatency exclude each other")
	case o.MaxDuration != 0 && (o.MaxDuration < MinMaxDuration || o.MaxDuration > MaxMaxDuration):
		return refuse(ErrInvalid, "maxDuration %d: want %d to %d seconds", o.MaxDuration, MinMaxDuration, MaxMaxDuration)
	case o.MaxBitrate != 0 && (o.MaxBitrate < 100_000 || o.MaxBitrate > 6_000_000):
		return refuse(ErrInvalid, "maxBitrate %d: want 100000 to 6000000", o.MaxBitrate)
	case o.Resolution != "" && !resolutions[o.Resolution]:
		return refuse(ErrInvalid, "resolution %q: want 640x480, 480x640, 1280x720, 720x1280, 1920x1080 or 1080x1920", o.Resolution)
	case o.StreamMode != "auto" && o.StreamMode != "manual":
		return refuse(ErrInvalid, "streamMode %q: want auto or manual", o.StreamMode)
	case len(o.MultiBroadcastTag) > MaxTagLen:
		return refuse(ErrInvalid, "multiBroadcastTag longer than %d bytes", MaxTagLen)
	case !o.HasAudio && !o.HasVideo:
		return refuse(ErrInvalid, "hasAudio and hasVideo cannot both be false")
	}
	if o.Layout != nil {
		if _, err := layout.Parse(*o.Layout); err != nil {
			return refuse(ErrInvalid, "%v", err)
		}
	}
	ids := map[string]bool{}
	for i, r := range o.RTMP {
		if err := checkRTMP(r); err != nil {
			return refuse(ErrInvalid, "outputs.rtmp[%d]: %v", i, err)
		}
		if r.ID != "" && ids[r.ID] {
			return refuse(ErrInvalid, "outputs.rtmp[%d]: id %q is used twice", i, r.ID)
		}
		ids[r.ID] = true
	}
	return nil
}

// checkRTMP accepts rtmp:// and rtmps:// URLs with a host and no
// credentials in odd places, and a stream name of visible ASCII.
func checkRTMP(r RTMP) error {
	if !rtmpIDRE.MatchString(r.ID) {
		return errors.New("id: at most 64 letters, digits and -_.~")
	}
	if len(r.ServerURL) > 1024 {
		return errors.New("serverUrl longer than 1024 bytes")
	}
	u, err := url.Parse(r.ServerURL)
	if err != nil {
		return fmt.Errorf("serverUrl: %v", err)
	}
	if u.Scheme != "rtmp" && u.Scheme != "rtmps" {
		return errors.New("serverUrl: want an rtmp:// or rtmps:// URL")
	}
	if u.Host == "" || !hostnameRE.MatchString(u.Host) {
		return errors.New("serverUrl: want a host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("serverUrl: no query or fragment")
	}
	if strings.IndexFunc(r.ServerURL, unicode.IsSpace) >= 0 {
		return errors.New("serverUrl: no spaces")
	}
	if !streamRE.MatchString(r.StreamName) {
		return errors.New("streamName: 1 to 512 visible ASCII characters")
	}
	// The name is appended to the URL's path: together they must still
	// be a URL of the same server (a lone "%" is not).
	if t, err := url.Parse(r.target()); err != nil || t.Host != u.Host || t.Scheme != u.Scheme {
		return errors.New("streamName: it makes the RTMP URL invalid (a % must start a %XX escape)")
	}
	return nil
}

// target is where an RTMP output pushes: the server URL and the stream
// name as ffmpeg takes them.
func (r RTMP) target() string {
	return strings.TrimSuffix(r.ServerURL, "/") + "/" + r.StreamName
}

// URLs are a broadcast's outputs as the REST API shows them.
type URLs struct {
	HLS       string `json:"hls,omitempty"`
	HLSStatus string `json:"hlsStatus,omitempty"`
	RTMP      []RTMP `json:"rtmp"`
}

// Settings are the HLS options as the REST API shows them.
type Settings struct {
	HLS *HLS `json:"hls,omitempty"`
}

// StreamRef is a stream a manual-mode broadcast includes.
type StreamRef struct {
	StreamID string `json:"streamId"`
	HasAudio bool   `json:"hasAudio"`
	HasVideo bool   `json:"hasVideo"`
}

// Broadcast is a broadcast's record: the object of opentok-rest.md §5.6
// less what depends on the request (the HLS URL's host), plus the
// layout.
type Broadcast struct {
	ID                string      `json:"id"`
	SessionID         string      `json:"sessionId"`
	APIKey            string      `json:"-"`
	CreatedAt         int64       `json:"createdAt"`
	UpdatedAt         int64       `json:"updatedAt"`
	Status            string      `json:"status"`
	Reason            string      `json:"reason,omitempty"`
	MaxDuration       int         `json:"maxDuration"`
	MaxBitrate        int         `json:"maxBitrate"`
	Resolution        string      `json:"resolution"`
	StreamMode        string      `json:"streamMode"`
	HasAudio          bool        `json:"hasAudio"`
	HasVideo          bool        `json:"hasVideo"`
	MultiBroadcastTag string      `json:"multiBroadcastTag,omitempty"`
	Layout            layout.Spec `json:"layout"`
	HLS               *HLS        `json:"hlsOptions,omitempty"`
	HLSStatus         string      `json:"hlsStatus,omitempty"`
	RTMP              []RTMP      `json:"rtmp"`
	Streams           []StreamRef `json:"streams"`
}

// HLSPath is where a node serves a broadcast's playlist.
func HLSPath(id string) string { return "/v2/broadcasts/" + id + "/hls/" + PlaylistName }

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidID reports whether id has the form of a broadcast id.
func ValidID(id string) bool { return uuidRE.MatchString(id) }
