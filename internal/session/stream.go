package session

import (
	"time"
	"unicode/utf8"
)

// Video types of a stream, as OpenTok.js names them.
const (
	VideoTypeCamera = "camera"
	VideoTypeScreen = "screen"
	VideoTypeCustom = "custom"
)

// Stream properties a publisher may change with UpdateStream; each change
// reaches every connection as a streamPropertyChanged event under this name.
const (
	PropertyHasAudio        = "hasAudio"
	PropertyHasVideo        = "hasVideo"
	PropertyHasCaptions     = "hasCaptions"
	PropertyVideoDimensions = "videoDimensions"
	PropertyVideoType       = "videoType"
)

// MaxStreamNameLen is the longest stream name accepted, in characters.
// OpenTok documents no limit; this one matches the limit on connection
// data, so that a name can never dwarf the rest of a stream's description.
const MaxStreamNameLen = 1024

// DefaultMaxStreamsPerConnection applies when
// Options.MaxStreamsPerConnection is 0. A client publishes a camera and
// perhaps a screen; 4 leaves room without letting one client flood the
// session.
const DefaultMaxStreamsPerConnection = 4

// VideoDimensions is the size of a stream's video in pixels.
type VideoDimensions struct {
	Width  int
	Height int
}

// StreamSpec is what a publisher asks for.
type StreamSpec struct {
	// ID, when set, is the id the stream gets: the media plane prepares a
	// stream before the session announces it, under an id chosen first.
	// It must be unused, at most 64 URL-safe characters. Empty means a
	// fresh UUID.
	ID          string
	Name        string
	HasAudio    bool
	HasVideo    bool
	HasCaptions bool
	// VideoType is VideoTypeCamera, VideoTypeScreen or VideoTypeCustom;
	// empty means camera.
	VideoType       string
	VideoDimensions VideoDimensions
	FrameRate       int
}

// Stream is one published audio/video source of a connection.
type Stream struct {
	// ID is random, unique and URL-safe: a lower-case UUID.
	ID           string
	ConnectionID string
	Name         string
	HasAudio     bool
	HasVideo     bool
	HasCaptions  bool
	VideoType    string

	VideoDimensions VideoDimensions
	FrameRate       int
	// CreationTime has millisecond precision.
	CreationTime time.Time
	// LayoutClassList starts as the publishing connection's list and is
	// changed by SetStreamLayoutClassList. Never nil.
	LayoutClassList []string
	// MutedByForce is set while the stream's audio is off because a
	// moderator or the server forced it; the publisher turning its audio
	// back on, or DisableForceMute, clears it. HasAudio is false whenever
	// MutedByForce is true.
	MutedByForce bool
}

// clone returns a copy of st that shares no memory with it.
func (st *Stream) clone() *Stream {
	cp := *st
	cp.LayoutClassList = cloneList(st.LayoutClassList)
	return &cp
}

// validate checks a spec and returns its video type with the default
// applied.
func (sp *StreamSpec) validate() (videoType string, err error) {
	videoType = sp.VideoType
	if videoType == "" {
		videoType = VideoTypeCamera
	}
	if !validVideoType(videoType) {
		return "", errorf(CodeBadRequest, "video type %q: want camera, screen or custom", sp.VideoType)
	}
	if !utf8.ValidString(sp.Name) {
		return "", errorf(CodeBadRequest, "stream name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(sp.Name); n > MaxStreamNameLen {
		return "", errorf(CodeBadRequest, "stream name is %d characters long, the limit is %d", n, MaxStreamNameLen)
	}
	if err := validDimensions(sp.VideoDimensions); err != nil {
		return "", err
	}
	if sp.FrameRate < 0 {
		return "", errorf(CodeBadRequest, "frame rate %d is negative", sp.FrameRate)
	}
	return videoType, nil
}

func validVideoType(t string) bool {
	return t == VideoTypeCamera || t == VideoTypeScreen || t == VideoTypeCustom
}

func validDimensions(d VideoDimensions) error {
	if d.Width < 0 || d.Height < 0 {
		return errorf(CodeBadRequest, "video dimensions %dx%d: negative size", d.Width, d.Height)
	}
	return nil
}

// setProperty applies an UpdateStream change to st and returns the value it
// replaced; changed is false when value equals the current one.
func (st *Stream) setProperty(prop string, value any) (old any, changed bool, err error) {
	switch prop {
	case PropertyHasAudio, PropertyHasVideo, PropertyHasCaptions:
		v, ok := value.(bool)
		if !ok {
			return nil, false, errorf(CodeBadRequest, "%s: want a bool, got %T", prop, value)
		}
		field := &st.HasAudio
		switch prop {
		case PropertyHasVideo:
			field = &st.HasVideo
		case PropertyHasCaptions:
			field = &st.HasCaptions
		}
		if *field == v {
			return v, false, nil
		}
		old, *field = *field, v
		// The publisher may unmute itself after a force mute, as in
		// OpenTok; from then on its audio is its own again.
		if prop == PropertyHasAudio && v {
			st.MutedByForce = false
		}
		return old, true, nil
	case PropertyVideoDimensions:
		v, ok := value.(VideoDimensions)
		if !ok {
			return nil, false, errorf(CodeBadRequest, "%s: want VideoDimensions, got %T", prop, value)
		}
		if err := validDimensions(v); err != nil {
			return nil, false, err
		}
		if st.VideoDimensions == v {
			return v, false, nil
		}
		old, st.VideoDimensions = st.VideoDimensions, v
		return old, true, nil
	case PropertyVideoType:
		v, ok := value.(string)
		if !ok {
			return nil, false, errorf(CodeBadRequest, "%s: want a string, got %T", prop, value)
		}
		if !validVideoType(v) {
			return nil, false, errorf(CodeBadRequest, "video type %q: want camera, screen or custom", v)
		}
		if st.VideoType == v {
			return v, false, nil
		}
		old, st.VideoType = st.VideoType, v
		return old, true, nil
	}
	return nil, false, errorf(CodeBadRequest, "stream property %q cannot be changed", prop)
}

// MaxLayoutClassListLen is the longest layout class list accepted, joined
// with spaces, in bytes; it is the limit tokens carry.
const MaxLayoutClassListLen = 1024

// validLayoutClassList checks a list set through the REST API. Classes
// travel joined with spaces, so none may be empty or hold white space.
func validLayoutClassList(classes []string) error {
	total := 0
	for i, c := range classes {
		if c == "" {
			return errorf(CodeBadRequest, "layout class %d is empty", i)
		}
		if !utf8.ValidString(c) {
			return errorf(CodeBadRequest, "layout class %d is not valid UTF-8", i)
		}
		for _, r := range c {
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' {
				return errorf(CodeBadRequest, "layout class %q holds white space", c)
			}
		}
		total += len(c)
		if i > 0 {
			total++
		}
	}
	if total > MaxLayoutClassListLen {
		return errorf(CodeBadRequest, "layout class list is %d bytes long, the limit is %d", total, MaxLayoutClassListLen)
	}
	return nil
}

// ValidLayoutClassList reports whether classes may be a stream's layout
// class list, so that a caller changing several streams can check them
// all before changing any.
func ValidLayoutClassList(classes []string) error { return validLayoutClassList(classes) }
