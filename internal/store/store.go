// Package store is Parley's persistence: projects, sessions, webhooks,
// archives and where they are uploaded today, broadcasts as they land.
// Store is the interface; the sqlite package is the embedded default, and
// a PostgreSQL implementation fills the same interface for several nodes.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/parleyhq/parley/internal/session"
)

// ErrNotFound is returned when the asked-for record does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when a record with that key already exists.
var ErrExists = errors.New("already exists")

// Project is an API key and its secret; every session belongs to one.
type Project struct {
	APIKey    string
	Secret    string
	Name      string
	CreatedAt time.Time
}

// Session is the durable record of a session created through the API.
// Its live state (connections, streams) is not stored here.
type Session struct {
	ID                string
	APIKey            string
	MediaMode         session.MediaMode
	ArchiveMode       session.ArchiveMode
	Location          string
	E2EE              bool
	ArchiveName       string
	ArchiveResolution string
	CreatedAt         time.Time
}

// Webhook is a callback URL of a project: the events of its group are
// POSTed there, signed with Secret.
type Webhook struct {
	ID     string
	APIKey string
	// Group is the family of events the URL receives; a project has at
	// most one webhook per group.
	Group string
	URL   string
	// Secret keys the HMAC that signs every request. It is stored in
	// clear because signing needs it.
	Secret    string
	CreatedAt time.Time
}

// Delivery is one attempt to deliver an event to a webhook.
type Delivery struct {
	// ID grows with each attempt recorded; it is set by the store.
	ID        int64
	WebhookID string
	APIKey    string
	// EventID is the same for every attempt at one event.
	EventID   string
	Event     string
	SessionID string
	// Attempt counts from 1.
	Attempt int
	// Status is the receiver's HTTP status, or 0 when none came back.
	Status int
	// Error says why the attempt failed without a status (timeout,
	// refused connection, shutdown), or is "".
	Error    string
	At       time.Time
	Duration time.Duration
}

// Archive is a recording of a session (opentok-rest.md §4.9). Status is
// one of OpenTok's words: "started", "stopped", "available", "uploaded",
// "failed" (see internal/archive for the lifecycle).
type Archive struct {
	// ID is a lower-case UUID.
	ID        string
	APIKey    string
	SessionID string
	Name      string
	Status    string
	// Reason says why an archive stopped or failed, in OpenTok's words
	// ("user initiated", "maximum duration exceeded", "failure", …).
	Reason string
	// OutputMode is "composed" or "individual"; StreamMode "auto" or
	// "manual".
	OutputMode string
	StreamMode string
	HasAudio   bool
	HasVideo   bool
	// Resolution is a composed archive's, such as "1280x720"; "" for
	// individual ones.
	Resolution string
	// Layout is a composed archive's layout as JSON ({type, stylesheet,
	// screenshareType}), "" when it has none.
	Layout string
	// MultiArchiveTag tells simultaneous archives of one session apart.
	MultiArchiveTag string
	// Streams are the streams a manual-mode archive records.
	Streams []ArchiveStream
	// Size is the size in bytes of what can be downloaded, 0 until then.
	Size int64
	// Duration is how long the archive recorded, in whole seconds.
	Duration  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ArchiveStream is a stream a manual-mode archive records, and which of
// its tracks.
type ArchiveStream struct {
	StreamID string `json:"streamId"`
	HasAudio bool   `json:"hasAudio"`
	HasVideo bool   `json:"hasVideo"`
}

// ArchiveStorage is where a project's finished archives are uploaded
// (OpenTok's archive storage, or upload target): a bucket of an
// S3-compatible store.
type ArchiveStorage struct {
	APIKey string
	// Type is the kind of store; "s3" is the only one.
	Type string
	// Endpoint is the store's host[:port]; Secure says whether it is
	// reached over HTTPS.
	Endpoint string
	Secure   bool
	Bucket   string
	// AccessKey and SecretKey sign the requests (AWS signature v4).
	// SecretKey is stored in clear because signing needs it; it is never
	// shown back.
	AccessKey string
	SecretKey string
	// Region is the bucket's, "" to let the store say.
	Region string
	// Prefix, when not "", goes before every object name.
	Prefix string
	// Fallback says what becomes of an archive whose upload failed:
	// "opentok" keeps it available from Parley's own storage, "none"
	// marks it failed.
	Fallback  string
	UpdatedAt time.Time
}

// ArchiveFilter selects archives; its zero value selects every archive.
// Broadcast is the durable record of a live-streaming broadcast. The
// fields a query selects on are columns; the rest (outputs, layout,
// limits, the outputs' statuses) is Data, JSON whose shape
// internal/broadcast owns.
type Broadcast struct {
	// ID is a lower-case UUID.
	ID        string
	APIKey    string
	SessionID string
	// Status is "started" or "stopped".
	Status    string
	Data      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BroadcastFilter selects broadcasts, as ArchiveFilter does archives.
type BroadcastFilter struct {
	APIKey        string
	SessionID     string
	Statuses      []string
	Offset, Count int
}

type ArchiveFilter struct {
	// APIKey, when not "", keeps the archives of one project.
	APIKey string
	// SessionID, when not "", keeps the archives of one session.
	SessionID string
	// Statuses, when not empty, keeps the archives in one of them.
	Statuses []string
	// Offset skips that many of the newest matches; Count, when above 0,
	// returns at most that many.
	Offset, Count int
}

// Room is a Meet room: a readable name bound to a session while the room
// is in use. A room idle for longer than the app's expiry is bound to a
// new session on its next join.
type Room struct {
	Name      string
	APIKey    string
	SessionID string
	// ModeratorKey is the secret of the room's moderator link.
	ModeratorKey string
	// Locked rooms admit no newcomers but moderators.
	Locked    bool
	CreatedAt time.Time
	// LastUsed is the time of the latest join.
	LastUsed time.Time
}

// ChatMessage is one message of a room's chat, kept for late joiners.
type ChatMessage struct {
	// ID grows with each message stored; it is set by the store.
	ID   int64
	Room string
	// SessionID is the room's session when the message was sent: a room
	// rebound to a new session starts with an empty history.
	SessionID string
	From      string
	Text      string
	At        time.Time
}

// Store persists Parley's records. Implementations are safe for
// concurrent use.
type Store interface {
	// CreateProject adds p; ErrExists if its API key is taken.
	CreateProject(ctx context.Context, p Project) error
	// PutProject creates p or replaces the secret and name of the project
	// with its API key.
	PutProject(ctx context.Context, p Project) error
	// Project returns the project with that API key, or ErrNotFound.
	Project(ctx context.Context, apiKey string) (Project, error)
	// Projects lists every project, oldest first.
	Projects(ctx context.Context) ([]Project, error)

	// CreateSession adds s; ErrExists if its id is taken.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with that id, or ErrNotFound.
	Session(ctx context.Context, id string) (Session, error)
	// CountSessions counts the sessions of a project, or of all projects
	// when apiKey is "".
	CountSessions(ctx context.Context, apiKey string) (int, error)

	// CreateWebhook adds w; ErrExists if its id is taken or its project
	// already has a webhook of its group, ErrNotFound if the project does
	// not exist.
	CreateWebhook(ctx context.Context, w Webhook) error
	// Webhook returns the webhook with that id, or ErrNotFound.
	Webhook(ctx context.Context, id string) (Webhook, error)
	// Webhooks lists the webhooks of a project, oldest first.
	Webhooks(ctx context.Context, apiKey string) ([]Webhook, error)
	// DeleteWebhook removes webhook id of project apiKey and its delivery
	// log; ErrNotFound if the project has no such webhook.
	DeleteWebhook(ctx context.Context, apiKey, id string) error
	// AddDelivery records an attempt and returns its id; ErrNotFound if
	// its webhook no longer exists.
	AddDelivery(ctx context.Context, d Delivery) (int64, error)
	// PruneDeliveries keeps the keep most recent attempts of a project and
	// deletes the others.
	PruneDeliveries(ctx context.Context, apiKey string, keep int) error
	// Deliveries lists the attempts of a project, newest first, at most
	// limit of them (0 means all); webhookID, when not "", keeps those of
	// one webhook.
	Deliveries(ctx context.Context, apiKey, webhookID string, limit int) ([]Delivery, error)

	// CreateArchive adds a; ErrExists if its id is taken, ErrNotFound if
	// its project does not exist.
	CreateArchive(ctx context.Context, a Archive) error
	// Archive returns the archive with that id, or ErrNotFound.
	Archive(ctx context.Context, id string) (Archive, error)
	// Archives returns the archives f selects, newest first (the order of
	// creation breaking ties), and how many match without Offset and Count.
	Archives(ctx context.Context, f ArchiveFilter) ([]Archive, int, error)
	// UpdateArchive replaces what changes over an archive's life — status,
	// reason, streams, size, duration, updated time — of the archive with
	// a's id; ErrNotFound if there is none.
	UpdateArchive(ctx context.Context, a Archive) error
	// DeleteArchive removes archive id of project apiKey; ErrNotFound if
	// the project has no such archive.
	DeleteArchive(ctx context.Context, apiKey, id string) error

	// PutArchiveStorage sets (creates or replaces) the archive storage of
	// project s.APIKey; ErrNotFound if the project does not exist.
	PutArchiveStorage(ctx context.Context, s ArchiveStorage) error
	// ArchiveStorage returns the archive storage of project apiKey, or
	// ErrNotFound when it has none.
	ArchiveStorage(ctx context.Context, apiKey string) (ArchiveStorage, error)
	// DeleteArchiveStorage removes the archive storage of project apiKey;
	// ErrNotFound if it has none.
	DeleteArchiveStorage(ctx context.Context, apiKey string) error

	// CreateBroadcast adds b; ErrExists if its id is taken, ErrNotFound
	// if its project does not exist.
	CreateBroadcast(ctx context.Context, b Broadcast) error
	// Broadcast returns the broadcast with that id, or ErrNotFound.
	Broadcast(ctx context.Context, id string) (Broadcast, error)
	// Broadcasts lists the broadcasts f selects, newest first, and how
	// many match in all.
	Broadcasts(ctx context.Context, f BroadcastFilter) ([]Broadcast, int, error)
	// UpdateBroadcast replaces the status, data and update time of
	// broadcast b.ID; ErrNotFound if there is none.
	UpdateBroadcast(ctx context.Context, b Broadcast) error

	// ClaimRoom binds room r.Name to r unless it is bound to a room used
	// after staleBefore, in one transaction: of two joiners opening a new
	// room at once, one binds it and the other reads the winner's. Either
	// way the room's LastUsed becomes r.LastUsed, and the room as stored
	// is returned (its SessionID is r's when r won). Rebinding clears the
	// chat history and the lock.
	ClaimRoom(ctx context.Context, r Room, staleBefore time.Time) (Room, error)
	// Room returns the room of that name, or ErrNotFound.
	Room(ctx context.Context, name string) (Room, error)
	// TouchRoom sets the last use of room name; ErrNotFound if none.
	TouchRoom(ctx context.Context, name string, at time.Time) error
	// DeleteRooms removes the rooms last used before idleBefore, and
	// their chat, and says how many.
	DeleteRooms(ctx context.Context, idleBefore time.Time) (int, error)
	// SetRoomLocked locks or unlocks room name; ErrNotFound if none.
	SetRoomLocked(ctx context.Context, name string, locked bool) error
	// AddChatMessage stores m, keeps the keep newest messages of its room
	// and returns m with its id; ErrNotFound if the room does not exist.
	AddChatMessage(ctx context.Context, m ChatMessage, keep int) (ChatMessage, error)
	// ChatMessages returns the latest limit messages of room name sent in
	// session sessionID, oldest first.
	ChatMessages(ctx context.Context, name, sessionID string, limit int) ([]ChatMessage, error)

	// CreateLiveUser adds u and returns it with its id; ErrExists if
	// its name is taken (without regard to case).
	CreateLiveUser(ctx context.Context, u LiveUser) (LiveUser, error)
	// LiveUserByName returns the user of that name (without regard to
	// case), or ErrNotFound.
	LiveUserByName(ctx context.Context, name string) (LiveUser, error)
	// CreateLiveLogin adds l and forgets the logins expired before
	// l.CreatedAt; ErrNotFound if its user does not exist.
	CreateLiveLogin(ctx context.Context, l LiveLogin) error
	// LiveLoginUser returns the user of the login with that token hash
	// if it has not expired at now, or ErrNotFound.
	LiveLoginUser(ctx context.Context, tokenHash string, now time.Time) (LiveUser, error)
	// DeleteLiveLogin forgets a login; forgetting an unknown one is no
	// error.
	DeleteLiveLogin(ctx context.Context, tokenHash string) error
	// CreateShow adds s; ErrExists if its id is taken, ErrNotFound if
	// its user does not exist.
	CreateShow(ctx context.Context, s Show) error
	// Show returns the show with that id, with its presenter's name, or
	// ErrNotFound.
	Show(ctx context.Context, id string) (Show, error)
	// UpdateShow replaces what changes over a show's life — archive id,
	// recording status, status, start and end times, duration — of show
	// s.ID; ErrNotFound if there is none.
	UpdateShow(ctx context.Context, s Show) error
	// Shows returns the shows f selects, newest first, and how many
	// match without Offset and Count.
	Shows(ctx context.Context, f ShowFilter) ([]Show, int, error)

	// Close releases the store.
	Close() error
}
