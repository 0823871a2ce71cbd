// Package archive records sessions (OpenTok's archives): it starts and
// stops recordings, writes each included stream's media straight from
// the SFU's packets into files, packs them into a zip with a manifest,
// serves it through signed, expiring links, and on start-up finishes the
// recordings a crash interrupted.
//
// An archive's life, as its status says it (opentok-rest.md §4.9):
//
//	started ──stop, limit, shutdown──> stopped ──zip written──> available
//	   │                                  └──nothing recorded──> failed
//	   └──crash, then restart: finished from what was written──> available or failed
//
// Individual archives are a zip of one file per stream and a manifest.
// Composed archives (one picture laid out from every stream, all audio
// mixed) are recorded the same way, with a composition journal beside
// the files, and made into one MP4 by ffmpeg once they stop (see
// composition.go).
package archive

import (
	"regexp"

	"github.com/parleyhq/parley/internal/layout"
	"github.com/parleyhq/parley/internal/refusal"
)

// Statuses of an archive, in OpenTok's words.
const (
	StatusStarted   = "started"
	StatusStopped   = "stopped"
	StatusAvailable = "available"
	StatusUploaded  = "uploaded"
	StatusFailed    = "failed"
)

// Reasons an archive stopped or failed, in OpenTok's words.
const (
	ReasonUserInitiated = "user initiated"
	ReasonMaxDuration   = "maximum duration exceeded"
	ReasonIdle          = "maximum idle time exceeded"
	ReasonSessionEnded  = "session ended"
	ReasonFailure       = "failure"
)

// Output and stream modes.
const (
	OutputComposed   = "composed"
	OutputIndividual = "individual"
	StreamModeAuto   = "auto"
	StreamModeManual = "manual"
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

// ErrComposedUnavailable is the refusal of a composed archive by a node
// that has no ffmpeg to compose it.
var ErrComposedUnavailable = &Error{Kind: ErrInvalid,
	Msg: "composed archives need ffmpeg on the server, which it does not have; use outputMode individual"}

// Options are what a start asks for. The zero value is not valid: use
// DefaultOptions and change what the request sets.
type Options struct {
	Name       string
	HasAudio   bool
	HasVideo   bool
	OutputMode string
	StreamMode string
	// Resolution, Layout, MaxBitrate and QuantizationParameter are
	// composed archives' (0 and "" mean unset).
	Resolution            string
	Layout                *Layout
	MaxBitrate            int
	QuantizationParameter int
	MultiArchiveTag       string
}

// Layout is a composed archive's layout (see internal/layout).
type Layout = layout.Spec

// DefaultOptions are OpenTok's defaults: audio and video, composed, auto.
func DefaultOptions() Options {
	return Options{HasAudio: true, HasVideo: true, OutputMode: OutputComposed, StreamMode: StreamModeAuto}
}

// Limits on the free-form options.
const (
	MaxNameLen = 1024
	MaxTagLen  = 256
)

var resolutions = map[string]bool{
	"640x480": true, "480x640": true, "1280x720": true, "720x1280": true, "1920x1080": true, "1080x1920": true,
}

var layoutTypes = map[string]bool{
	"bestFit": true, "pip": true, "verticalPresentation": true, "horizontalPresentation": true, "custom": true,
}

// Validate checks o as OpenTok does; the error wraps ErrInvalid.
func (o *Options) Validate() error {
	switch {
	case !o.HasAudio && !o.HasVideo:
		return refuse(ErrInvalid, "hasAudio and hasVideo cannot both be false")
	case o.OutputMode != OutputComposed && o.OutputMode != OutputIndividual:
		return refuse(ErrInvalid, "outputMode %q: want composed or individual", o.OutputMode)
	case o.StreamMode != StreamModeAuto && o.StreamMode != StreamModeManual:
		return refuse(ErrInvalid, "streamMode %q: want auto or manual", o.StreamMode)
	case o.Resolution != "" && !resolutions[o.Resolution]:
		return refuse(ErrInvalid, "resolution %q: want 640x480, 480x640, 1280x720, 720x1280, 1920x1080 or 1080x1920", o.Resolution)
	case o.Resolution != "" && o.OutputMode == OutputIndividual:
		return refuse(ErrInvalid, "resolution applies to composed archives only")
	case o.MaxBitrate != 0 && (o.MaxBitrate < 100_000 || o.MaxBitrate > 6_000_000):
		return refuse(ErrInvalid, "maxBitrate %d: want 100000 to 6000000", o.MaxBitrate)
	case o.QuantizationParameter != 0 && (o.QuantizationParameter < 15 || o.QuantizationParameter > 40):
		return refuse(ErrInvalid, "quantizationParameter %d: want 15 to 40", o.QuantizationParameter)
	case o.MaxBitrate != 0 && o.QuantizationParameter != 0:
		return refuse(ErrInvalid, "maxBitrate and quantizationParameter exclude each other")
	case (o.MaxBitrate != 0 || o.QuantizationParameter != 0) && o.OutputMode == OutputIndividual:
		return refuse(ErrInvalid, "maxBitrate and quantizationParameter apply to composed archives only")
	case len(o.Name) > MaxNameLen:
		return refuse(ErrInvalid, "name longer than %d bytes", MaxNameLen)
	case len(o.MultiArchiveTag) > MaxTagLen:
		return refuse(ErrInvalid, "multiArchiveTag longer than %d bytes", MaxTagLen)
	}
	if l := o.Layout; l != nil {
		switch {
		case !layoutTypes[l.Type]:
			return refuse(ErrInvalid, "layout type %q: want bestFit, pip, verticalPresentation, horizontalPresentation or custom", l.Type)
		case (l.Type == "custom") != (l.Stylesheet != ""):
			return refuse(ErrInvalid, "a layout stylesheet goes with, and only with, layout type custom")
		case l.ScreenshareType != "" && (l.Type != "bestFit" || !layoutTypes[l.ScreenshareType] || l.ScreenshareType == "custom"):
			return refuse(ErrInvalid, "screenshareType needs layout type bestFit and one of pip, verticalPresentation, horizontalPresentation, bestFit")
		}
		if _, err := layout.Parse(*l); err != nil {
			return refuse(ErrInvalid, "%v", err)
		}
	}
	return nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidID reports whether id has the form of an archive id: a lower-case
// hyphenated UUID. Only such ids ever name a file or a folder.
func ValidID(id string) bool { return uuidRE.MatchString(id) }
