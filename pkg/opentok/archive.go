package opentok

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// OutputMode says how an archive records a session's streams.
type OutputMode string

const (
	// Composed archives are one MP4 laid out from every stream, all
	// audio mixed (the OpenTok default).
	Composed OutputMode = "composed"
	// Individual archives are a zip of one file per stream, with a
	// manifest.
	Individual OutputMode = "individual"
)

// StreamMode says which streams an archive records.
type StreamMode string

const (
	StreamModeAuto   StreamMode = "auto"   // every stream of the session
	StreamModeManual StreamMode = "manual" // those added with AddArchiveStream
)

// ArchiveOptions are the options of StartArchive. The zero value records
// audio and video of every stream, composed, as OpenTok does.
type ArchiveOptions struct {
	Name string
	// AudioOff and VideoOff leave a kind of track out.
	AudioOff, VideoOff bool
	OutputMode         OutputMode
	StreamMode         StreamMode
	// Resolution is a composed archive's, such as "1280x720".
	Resolution string
	// MultiArchiveTag lets a session be recorded by several archives at
	// once: each needs its own.
	MultiArchiveTag string
	// Layout is a composed archive's layout; nil means bestFit.
	Layout *Layout
	// MaxBitrate caps a composed archive's video, in bits per second.
	MaxBitrate int
}

// Layout is the layout of a composed archive or a broadcast: Type is
// bestFit, pip, verticalPresentation, horizontalPresentation or custom
// (with Stylesheet); ScreenshareType, with bestFit, is the layout used
// while someone shares a screen.
type Layout struct {
	Type            string `json:"type"`
	Stylesheet      string `json:"stylesheet,omitempty"`
	ScreenshareType string `json:"screenshareType,omitempty"`
}

// ArchiveStream is a stream a manual-mode archive records.
type ArchiveStream struct {
	StreamID string `json:"streamId"`
	HasAudio bool   `json:"hasAudio"`
	HasVideo bool   `json:"hasVideo"`
}

// Archive is a recording, as the server describes it.
type Archive struct {
	ID        string `json:"id"`
	Status    string `json:"status"` // started, stopped, available, uploaded, failed…
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	SessionID string `json:"sessionId"`
	ProjectID int64  `json:"projectId"`
	// CreatedAt and UpdatedAt are in milliseconds since the epoch.
	CreatedAt int64 `json:"createdAt"`
	UpdatedAt int64 `json:"updatedAt"`
	// Size is in bytes; Duration in seconds.
	Size            int64           `json:"size"`
	Duration        int             `json:"duration"`
	OutputMode      OutputMode      `json:"outputMode"`
	StreamMode      StreamMode      `json:"streamMode"`
	HasAudio        bool            `json:"hasAudio"`
	HasVideo        bool            `json:"hasVideo"`
	Resolution      string          `json:"resolution"`
	Streams         []ArchiveStream `json:"streams"`
	MultiArchiveTag string          `json:"multiArchiveTag"`
	// URL is where an available archive can be downloaded, for a few
	// minutes; "" otherwise.
	URL *string `json:"url"`
}

// Created returns CreatedAt as a time.
func (a *Archive) Created() time.Time { return time.UnixMilli(a.CreatedAt) }

// StartArchive starts recording a session (POST /v2/project/{key}/archive).
func (c *Client) StartArchive(ctx context.Context, sessionID string, o ArchiveOptions) (*Archive, error) {
	body := map[string]any{"sessionId": sessionID, "hasAudio": !o.AudioOff, "hasVideo": !o.VideoOff}
	for k, v := range map[string]string{"name": o.Name, "outputMode": string(o.OutputMode), "streamMode": string(o.StreamMode),
		"resolution": o.Resolution, "multiArchiveTag": o.MultiArchiveTag} {
		if v != "" {
			body[k] = v
		}
	}
	if o.Layout != nil {
		body["layout"] = o.Layout
	}
	if o.MaxBitrate > 0 {
		body["maxBitrate"] = o.MaxBitrate
	}
	return c.archiveCall(ctx, "POST", c.archivePath(""), body)
}

// SetArchiveLayout changes a composed archive's layout while it records.
func (c *Client) SetArchiveLayout(ctx context.Context, id string, l Layout) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return c.do(ctx, "PUT", c.archivePath(id)+"/layout", "application/json", b, nil)
}

// SetStreamLayoutClasses replaces the layout class lists of streams of a
// session (the classes that custom layouts select on, and that mark the
// focus of the presentation layouts): classes maps stream ids to lists.
func (c *Client) SetStreamLayoutClasses(ctx context.Context, sessionID string, classes map[string][]string) error {
	type item struct {
		ID              string   `json:"id"`
		LayoutClassList []string `json:"layoutClassList"`
	}
	var body struct {
		Items []item `json:"items"`
	}
	for id, l := range classes {
		if l == nil {
			l = []string{}
		}
		body.Items = append(body.Items, item{id, l})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.do(ctx, "PUT", "/v2/project/"+url.PathEscape(c.APIKey)+"/session/"+url.PathEscape(sessionID)+"/stream", "application/json", b, nil)
}

// StopArchive stops recording; the archive comes back stopped, and
// becomes available once its files are written.
func (c *Client) StopArchive(ctx context.Context, id string) (*Archive, error) {
	return c.archiveCall(ctx, "POST", c.archivePath(id)+"/stop", map[string]any{})
}

// GetArchive returns an archive.
func (c *Client) GetArchive(ctx context.Context, id string) (*Archive, error) {
	return c.archiveCall(ctx, "GET", c.archivePath(id), nil)
}

// ListArchivesOptions page and filter ListArchives; zero values mean the
// server's defaults (from the newest, 50).
type ListArchivesOptions struct {
	Offset, Count int
	SessionID     string
}

// ListArchives returns the project's archives, newest first, and how many
// there are in all.
func (c *Client) ListArchives(ctx context.Context, o ListArchivesOptions) ([]Archive, int, error) {
	q := url.Values{}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	if o.Count > 0 {
		q.Set("count", strconv.Itoa(o.Count))
	}
	if o.SessionID != "" {
		q.Set("sessionId", o.SessionID)
	}
	path := c.archivePath("")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Count int       `json:"count"`
		Items []Archive `json:"items"`
	}
	if err := c.do(ctx, "GET", path, "", nil, &out); err != nil {
		return nil, 0, err
	}
	return out.Items, out.Count, nil
}

// DeleteArchive deletes an archive and its files.
func (c *Client) DeleteArchive(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", c.archivePath(id), "", nil, nil)
}

// AddArchiveStream adds a stream, or changes its tracks, in a
// manual-mode archive.
func (c *Client) AddArchiveStream(ctx context.Context, id, streamID string, hasAudio, hasVideo bool) error {
	b, err := json.Marshal(map[string]any{"addStream": streamID, "hasAudio": hasAudio, "hasVideo": hasVideo})
	if err != nil {
		return err
	}
	return c.do(ctx, "PATCH", c.archivePath(id)+"/streams", "application/json", b, nil)
}

// RemoveArchiveStream removes a stream from a manual-mode archive.
func (c *Client) RemoveArchiveStream(ctx context.Context, id, streamID string) error {
	b, err := json.Marshal(map[string]any{"removeStream": streamID})
	if err != nil {
		return err
	}
	return c.do(ctx, "PATCH", c.archivePath(id)+"/streams", "application/json", b, nil)
}

func (c *Client) archiveCall(ctx context.Context, method, path string, body map[string]any) (*Archive, error) {
	return call[Archive](ctx, c, method, path, body)
}

// call sends body (nil: none) as JSON and decodes the answer into a T.
func call[T any](ctx context.Context, c *Client, method, path string, body map[string]any) (*T, error) {
	var b []byte
	contentType := ""
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
		contentType = "application/json"
	}
	var out T
	if err := c.do(ctx, method, path, contentType, b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) archivePath(id string) string {
	p := "/v2/project/" + url.PathEscape(c.APIKey) + "/archive"
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}
