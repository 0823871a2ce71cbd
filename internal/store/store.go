// Package store is Parley's persistence: projects, sessions and webhooks
// today, archives and broadcasts as they land. Store is the interface; the
// sqlite package is the embedded default, and a PostgreSQL implementation
// fills the same interface for several nodes.
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

	// Close releases the store.
	Close() error
}
