package store

import "time"

// LiveUser is an account of the Live app: a unique name (compared without
// regard to case) and a password hash.
type LiveUser struct {
	// ID is set by the store.
	ID   int64
	Name string
	// PasswordHash is a self-describing password hash (argon2id, PHC
	// string format); the password itself is never stored.
	PasswordHash string
	CreatedAt    time.Time
}

// LiveLogin is a signed-in browser of a Live user: the cookie holds a
// random token, the store only its SHA-256, so that a copy of the store
// signs nobody in.
type LiveLogin struct {
	TokenHash string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Show states, in the order a show goes through them.
const (
	// ShowPreparing: created, the presenter is connecting and publishing.
	ShowPreparing = "preparing"
	// ShowLive: on air and recording.
	ShowLive = "live"
	// ShowEnded: over; its recording, if any, is in the library.
	ShowEnded = "ended"
)

// Show is one broadcast of a Live presenter to its viewers, and, once it
// has ended, an entry of the video library.
type Show struct {
	// ID is a random lower-case string set by the app.
	ID     string
	UserID int64
	// Presenter is the presenter's name (filled in by reads).
	Presenter string
	Title     string
	SessionID string
	// ArchiveID is the show's recording, "" until it starts.
	ArchiveID string
	// Recording is the archive's last known status ("started",
	// "stopped", "available", "failed"…), "" before it starts.
	Recording string
	// Location is the hint of where the presenter was.
	Location  string
	Status    string
	CreatedAt time.Time
	// StartedAt is when it went on air, EndedAt when it ended; zero
	// before.
	StartedAt time.Time
	EndedAt   time.Time
	// Duration is the recording's length in seconds.
	Duration int
}

// ShowFilter selects shows; its zero value selects every show. Lists are
// newest first.
type ShowFilter struct {
	// Statuses, when not empty, keeps the shows in one of them.
	Statuses []string
	// Recorded keeps the shows that have a recording.
	Recorded bool
	// Presenter, when not "", keeps the shows of the presenter of that
	// name (without regard to case).
	Presenter string
	// Location, when not "", keeps the shows whose location hint
	// contains it (without regard to case).
	Location string
	// From and To, when not zero, bound the time the show went on air
	// (From included, To excluded).
	From, To time.Time
	// MinDuration and MaxDuration, when above 0, bound the duration in
	// seconds (both included).
	MinDuration, MaxDuration int
	// Offset skips that many of the newest matches; Count, when above 0,
	// returns at most that many.
	Offset, Count int
}
