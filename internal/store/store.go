// Package store is Parley's persistence: projects and sessions today,
// archives and broadcasts as they land. Store is the interface; the
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

	// Close releases the store.
	Close() error
}
