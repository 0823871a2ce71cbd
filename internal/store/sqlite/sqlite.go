// Package sqlite is the embedded Store: one pure-Go SQLite file in the data
// folder, with versioned migrations.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is a store.Store on one SQLite file. Writes go through a single
// connection (SQLite has one writer at a time anyway, and queuing in Go is
// cheaper than retrying on SQLITE_BUSY); reads use a pool.
type Store struct {
	w, r *sql.DB
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(2, runtime.GOMAXPROCS(0)))
	return &Store{w: w, r: r}, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// migrations are applied in order, each once; never edit a released one,
// add a new one.
var migrations = []string{
	1: `
CREATE TABLE projects (
	api_key    TEXT PRIMARY KEY,
	secret     TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
	id                 TEXT PRIMARY KEY,
	api_key            TEXT NOT NULL REFERENCES projects(api_key),
	media_mode         TEXT NOT NULL,
	archive_mode       TEXT NOT NULL,
	location           TEXT NOT NULL DEFAULT '',
	e2ee               INTEGER NOT NULL DEFAULT 0,
	archive_name       TEXT NOT NULL DEFAULT '',
	archive_resolution TEXT NOT NULL DEFAULT '',
	created_at         INTEGER NOT NULL
);
CREATE INDEX sessions_api_key ON sessions(api_key, created_at);
`,
	// Webhooks and the log of their delivery attempts. Deliveries are
	// numbered by AUTOINCREMENT so that ids never go back, which is what
	// "newest first" and pruning rely on.
	2: `
CREATE TABLE webhooks (
	id          TEXT PRIMARY KEY,
	api_key     TEXT NOT NULL REFERENCES projects(api_key),
	event_group TEXT NOT NULL,
	url         TEXT NOT NULL,
	secret      TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	UNIQUE (api_key, event_group)
);
CREATE TABLE webhook_deliveries (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	webhook_id  TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	api_key     TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	event       TEXT NOT NULL,
	session_id  TEXT NOT NULL,
	attempt     INTEGER NOT NULL,
	status      INTEGER NOT NULL,
	error       TEXT NOT NULL DEFAULT '',
	at          INTEGER NOT NULL,
	duration_us INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_api_key ON webhook_deliveries(api_key, id);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
`,
	// Archives. streams is the JSON list of a manual-mode archive's
	// streams; layout the JSON layout of a composed one. Lists are newest
	// first, ties broken by rowid (the order of creation).
	3: `
CREATE TABLE archives (
	id                TEXT PRIMARY KEY,
	api_key           TEXT NOT NULL REFERENCES projects(api_key),
	session_id        TEXT NOT NULL,
	name              TEXT NOT NULL DEFAULT '',
	status            TEXT NOT NULL,
	reason            TEXT NOT NULL DEFAULT '',
	output_mode       TEXT NOT NULL,
	stream_mode       TEXT NOT NULL,
	has_audio         INTEGER NOT NULL,
	has_video         INTEGER NOT NULL,
	resolution        TEXT NOT NULL DEFAULT '',
	layout            TEXT NOT NULL DEFAULT '',
	multi_archive_tag TEXT NOT NULL DEFAULT '',
	streams           TEXT NOT NULL DEFAULT '[]',
	size              INTEGER NOT NULL DEFAULT 0,
	duration          INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
);
CREATE INDEX archives_api_key ON archives(api_key, created_at);
CREATE INDEX archives_session ON archives(session_id, created_at);
CREATE INDEX archives_status ON archives(status);
`,
	// Where each project's archives are uploaded: at most one storage per
	// project.
	4: `
CREATE TABLE archive_storage (
	api_key    TEXT PRIMARY KEY REFERENCES projects(api_key),
	type       TEXT NOT NULL,
	endpoint   TEXT NOT NULL,
	secure     INTEGER NOT NULL,
	bucket     TEXT NOT NULL,
	access_key TEXT NOT NULL,
	secret_key TEXT NOT NULL,
	region     TEXT NOT NULL DEFAULT '',
	prefix     TEXT NOT NULL DEFAULT '',
	fallback   TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
`,
	// Live-streaming broadcasts.
	5: `
CREATE TABLE broadcasts (
	id         TEXT PRIMARY KEY,
	api_key    TEXT NOT NULL REFERENCES projects(api_key),
	session_id TEXT NOT NULL,
	status     TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX broadcasts_project ON broadcasts(api_key, created_at);
CREATE INDEX broadcasts_session ON broadcasts(session_id, created_at);
`,
	// Meet rooms (a name bound to a session, with a sliding expiry) and
	// their bounded chat history.
	6: `
CREATE TABLE rooms (
	name          TEXT PRIMARY KEY,
	api_key       TEXT NOT NULL REFERENCES projects(api_key),
	session_id    TEXT NOT NULL,
	moderator_key TEXT NOT NULL,
	locked        INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	last_used     INTEGER NOT NULL
);
CREATE TABLE room_messages (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	room       TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
	session_id TEXT NOT NULL,
	sender     TEXT NOT NULL,
	text       TEXT NOT NULL,
	at         INTEGER NOT NULL
);
CREATE INDEX room_messages_room ON room_messages(room, id);
`,
	// Live: accounts, their signed-in browsers, and shows (the on-air
	// list and the video library).
	7: `
CREATE TABLE live_users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL
);
CREATE TABLE live_logins (
	token_hash TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES live_users(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX live_logins_expiry ON live_logins(expires_at);
CREATE TABLE live_shows (
	id         TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES live_users(id),
	title      TEXT NOT NULL,
	session_id TEXT NOT NULL,
	archive_id TEXT NOT NULL DEFAULT '',
	recording  TEXT NOT NULL DEFAULT '',
	location   TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	started_at INTEGER NOT NULL DEFAULT 0,
	ended_at   INTEGER NOT NULL DEFAULT 0,
	duration   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX live_shows_status ON live_shows(status, started_at);
CREATE INDEX live_shows_user ON live_shows(user_id, started_at);
`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	latest := len(migrations) - 1
	if current > latest {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d)", current, latest)
	}
	for v := current + 1; v <= latest; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion reports the applied migration level.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func isForeignKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// CreateProject implements store.Store.
func (s *Store) CreateProject(ctx context.Context, p store.Project) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO projects(api_key, secret, name, created_at) VALUES (?, ?, ?, ?)`,
		p.APIKey, p.Secret, p.Name, p.CreatedAt.UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("project %s: %w", p.APIKey, store.ErrExists)
	}
	return err
}

// PutProject implements store.Store.
func (s *Store) PutProject(ctx context.Context, p store.Project) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO projects(api_key, secret, name, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(api_key) DO UPDATE SET secret = excluded.secret, name = excluded.name`,
		p.APIKey, p.Secret, p.Name, p.CreatedAt.UnixMilli())
	return err
}

// Project implements store.Store.
func (s *Store) Project(ctx context.Context, apiKey string) (store.Project, error) {
	var p store.Project
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT api_key, secret, name, created_at FROM projects WHERE api_key = ?`, apiKey).
		Scan(&p.APIKey, &p.Secret, &p.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("project %s: %w", apiKey, store.ErrNotFound)
	}
	p.CreatedAt = time.UnixMilli(created)
	return p, err
}

// Projects implements store.Store.
func (s *Store) Projects(ctx context.Context) ([]store.Project, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT api_key, secret, name, created_at FROM projects ORDER BY created_at, api_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Project
	for rows.Next() {
		var p store.Project
		var created int64
		if err := rows.Scan(&p.APIKey, &p.Secret, &p.Name, &created); err != nil {
			return nil, err
		}
		p.CreatedAt = time.UnixMilli(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions(id, api_key, media_mode, archive_mode, location, e2ee,
		archive_name, archive_resolution, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.ID, ss.APIKey, string(ss.MediaMode), string(ss.ArchiveMode), ss.Location, ss.E2EE,
		ss.ArchiveName, ss.ArchiveResolution, ss.CreatedAt.UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("session %s: %w", ss.ID, store.ErrExists)
	}
	return err
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	var ss store.Session
	var media, archive string
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, api_key, media_mode, archive_mode, location, e2ee,
		archive_name, archive_resolution, created_at FROM sessions WHERE id = ?`, id).
		Scan(&ss.ID, &ss.APIKey, &media, &archive, &ss.Location, &ss.E2EE, &ss.ArchiveName, &ss.ArchiveResolution, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, fmt.Errorf("session %s: %w", id, store.ErrNotFound)
	}
	ss.MediaMode = session.MediaMode(media)
	ss.ArchiveMode = session.ArchiveMode(archive)
	ss.CreatedAt = time.UnixMilli(created)
	return ss, err
}

// CountSessions implements store.Store.
func (s *Store) CountSessions(ctx context.Context, apiKey string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE ? = '' OR api_key = ?`, apiKey, apiKey).Scan(&n)
	return n, err
}

// CreateWebhook implements store.Store.
func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO webhooks(id, api_key, event_group, url, secret, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, w.ID, w.APIKey, w.Group, w.URL, w.Secret, w.CreatedAt.UnixMilli())
	switch {
	case isUnique(err):
		return fmt.Errorf("webhook %s of project %s: %w", w.Group, w.APIKey, store.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("project %s: %w", w.APIKey, store.ErrNotFound)
	}
	return err
}

const webhookColumns = `id, api_key, event_group, url, secret, created_at`

func scanWebhook(sc interface{ Scan(...any) error }) (store.Webhook, error) {
	var w store.Webhook
	var created int64
	err := sc.Scan(&w.ID, &w.APIKey, &w.Group, &w.URL, &w.Secret, &created)
	w.CreatedAt = time.UnixMilli(created)
	return w, err
}

// Webhook implements store.Store.
func (s *Store) Webhook(ctx context.Context, id string) (store.Webhook, error) {
	w, err := scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	return w, err
}

// Webhooks implements store.Store.
func (s *Store) Webhooks(ctx context.Context, apiKey string) ([]store.Webhook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE api_key = ?
		ORDER BY created_at, id`, apiKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook implements store.Store. The delivery log of the webhook
// goes with it (ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, apiKey, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ? AND api_key = ?`, id, apiKey)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// AddDelivery implements store.Store.
func (s *Store) AddDelivery(ctx context.Context, d store.Delivery) (int64, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO webhook_deliveries(webhook_id, api_key, event_id, event,
		session_id, attempt, status, error, at, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.WebhookID, d.APIKey, d.EventID, d.Event, d.SessionID, d.Attempt, d.Status, d.Error,
		d.At.UnixMilli(), d.Duration.Microseconds())
	if isForeignKey(err) {
		return 0, fmt.Errorf("webhook %s: %w", d.WebhookID, store.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// PruneDeliveries implements store.Store.
func (s *Store) PruneDeliveries(ctx context.Context, apiKey string, keep int) error {
	// The subquery finds the newest attempt beyond the keep most recent
	// ones; with fewer attempts it is NULL and nothing goes.
	_, err := s.w.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE api_key = ? AND id <= (
		SELECT id FROM webhook_deliveries WHERE api_key = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
		apiKey, apiKey, max(keep, 0))
	return err
}

// Deliveries implements store.Store.
func (s *Store) Deliveries(ctx context.Context, apiKey, webhookID string, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		limit = -1 // no limit, in SQLite's terms
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, webhook_id, api_key, event_id, event, session_id, attempt,
		status, error, at, duration_us FROM webhook_deliveries
		WHERE api_key = ? AND (? = '' OR webhook_id = ?) ORDER BY id DESC LIMIT ?`,
		apiKey, webhookID, webhookID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var d store.Delivery
		var at, us int64
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.APIKey, &d.EventID, &d.Event, &d.SessionID, &d.Attempt,
			&d.Status, &d.Error, &at, &us); err != nil {
			return nil, err
		}
		d.At, d.Duration = time.UnixMilli(at), time.Duration(us)*time.Microsecond
		out = append(out, d)
	}
	return out, rows.Err()
}

// CreateArchive implements store.Store.
func (s *Store) CreateArchive(ctx context.Context, a store.Archive) error {
	streams, err := archiveStreams(a.Streams)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO archives(id, api_key, session_id, name, status, reason,
		output_mode, stream_mode, has_audio, has_video, resolution, layout, multi_archive_tag, streams,
		size, duration, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.APIKey, a.SessionID, a.Name, a.Status, a.Reason, a.OutputMode, a.StreamMode, a.HasAudio,
		a.HasVideo, a.Resolution, a.Layout, a.MultiArchiveTag, streams, a.Size, a.Duration,
		a.CreatedAt.UnixMilli(), a.UpdatedAt.UnixMilli())
	switch {
	case isUnique(err):
		return fmt.Errorf("archive %s: %w", a.ID, store.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("project %s: %w", a.APIKey, store.ErrNotFound)
	}
	return err
}

// archiveStreams is the JSON form of a stream list; never null, so that
// the column reads back as a list.
func archiveStreams(l []store.ArchiveStream) (string, error) {
	if l == nil {
		l = []store.ArchiveStream{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}

const archiveColumns = `id, api_key, session_id, name, status, reason, output_mode, stream_mode, has_audio,
	has_video, resolution, layout, multi_archive_tag, streams, size, duration, created_at, updated_at`

func scanArchive(sc interface{ Scan(...any) error }) (store.Archive, error) {
	var a store.Archive
	var streams string
	var created, updated int64
	err := sc.Scan(&a.ID, &a.APIKey, &a.SessionID, &a.Name, &a.Status, &a.Reason, &a.OutputMode, &a.StreamMode,
		&a.HasAudio, &a.HasVideo, &a.Resolution, &a.Layout, &a.MultiArchiveTag, &streams, &a.Size, &a.Duration,
		&created, &updated)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(streams), &a.Streams); err != nil {
		return a, fmt.Errorf("archive %s: streams: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	return a, nil
}

// Archive implements store.Store.
func (s *Store) Archive(ctx context.Context, id string) (store.Archive, error) {
	a, err := scanArchive(s.r.QueryRowContext(ctx, `SELECT `+archiveColumns+` FROM archives WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("archive %s: %w", id, store.ErrNotFound)
	}
	return a, err
}

// Archives implements store.Store.
func (s *Store) Archives(ctx context.Context, f store.ArchiveFilter) ([]store.Archive, int, error) {
	cond, args := listFilter(f.APIKey, f.SessionID, f.Statuses)
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM archives WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+archiveColumns+` FROM archives WHERE `+cond+`
		ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`, append(args, limitOf(f.Count), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []store.Archive
	for rows.Next() {
		a, err := scanArchive(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// UpdateArchive implements store.Store.
func (s *Store) UpdateArchive(ctx context.Context, a store.Archive) error {
	streams, err := archiveStreams(a.Streams)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE archives SET status = ?, reason = ?, streams = ?, size = ?,
		duration = ?, updated_at = ? WHERE id = ?`,
		a.Status, a.Reason, streams, a.Size, a.Duration, a.UpdatedAt.UnixMilli(), a.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("archive %s: %w", a.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteArchive implements store.Store.
func (s *Store) DeleteArchive(ctx context.Context, apiKey, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM archives WHERE id = ? AND api_key = ?`, id, apiKey)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("archive %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// PutArchiveStorage implements store.Store.
func (s *Store) PutArchiveStorage(ctx context.Context, as store.ArchiveStorage) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO archive_storage(api_key, type, endpoint, secure, bucket, access_key,
		secret_key, region, prefix, fallback, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(api_key) DO UPDATE SET type = excluded.type, endpoint = excluded.endpoint,
		secure = excluded.secure, bucket = excluded.bucket, access_key = excluded.access_key,
		secret_key = excluded.secret_key, region = excluded.region, prefix = excluded.prefix,
		fallback = excluded.fallback, updated_at = excluded.updated_at`,
		as.APIKey, as.Type, as.Endpoint, as.Secure, as.Bucket, as.AccessKey, as.SecretKey, as.Region, as.Prefix,
		as.Fallback, as.UpdatedAt.UnixMilli())
	if isForeignKey(err) {
		return fmt.Errorf("project %s: %w", as.APIKey, store.ErrNotFound)
	}
	return err
}

// ArchiveStorage implements store.Store.
func (s *Store) ArchiveStorage(ctx context.Context, apiKey string) (store.ArchiveStorage, error) {
	var as store.ArchiveStorage
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT api_key, type, endpoint, secure, bucket, access_key, secret_key, region,
		prefix, fallback, updated_at FROM archive_storage WHERE api_key = ?`, apiKey).
		Scan(&as.APIKey, &as.Type, &as.Endpoint, &as.Secure, &as.Bucket, &as.AccessKey, &as.SecretKey, &as.Region,
			&as.Prefix, &as.Fallback, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return as, fmt.Errorf("archive storage of project %s: %w", apiKey, store.ErrNotFound)
	}
	as.UpdatedAt = time.UnixMilli(updated)
	return as, err
}

// DeleteArchiveStorage implements store.Store.
func (s *Store) DeleteArchiveStorage(ctx context.Context, apiKey string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM archive_storage WHERE api_key = ?`, apiKey)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("archive storage of project %s: %w", apiKey, store.ErrNotFound)
	}
	return nil
}

// CreateBroadcast implements store.Store.
func (s *Store) CreateBroadcast(ctx context.Context, b store.Broadcast) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO broadcasts(id, api_key, session_id, status, data, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, b.ID, b.APIKey, b.SessionID, b.Status, string(b.Data),
		b.CreatedAt.UnixMilli(), b.UpdatedAt.UnixMilli())
	switch {
	case isUnique(err):
		return fmt.Errorf("broadcast %s: %w", b.ID, store.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("project %s: %w", b.APIKey, store.ErrNotFound)
	}
	return err
}

const broadcastColumns = `id, api_key, session_id, status, data, created_at, updated_at`

func scanBroadcast(sc interface{ Scan(...any) error }) (store.Broadcast, error) {
	var b store.Broadcast
	var data string
	var created, updated int64
	if err := sc.Scan(&b.ID, &b.APIKey, &b.SessionID, &b.Status, &data, &created, &updated); err != nil {
		return b, err
	}
	b.Data = []byte(data)
	b.CreatedAt, b.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	return b, nil
}

// Broadcast implements store.Store.
func (s *Store) Broadcast(ctx context.Context, id string) (store.Broadcast, error) {
	b, err := scanBroadcast(s.r.QueryRowContext(ctx, `SELECT `+broadcastColumns+` FROM broadcasts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("broadcast %s: %w", id, store.ErrNotFound)
	}
	return b, err
}

// Broadcasts implements store.Store.
func (s *Store) Broadcasts(ctx context.Context, f store.BroadcastFilter) ([]store.Broadcast, int, error) {
	cond, args := listFilter(f.APIKey, f.SessionID, f.Statuses)
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM broadcasts WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+broadcastColumns+` FROM broadcasts WHERE `+cond+`
		ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`, append(args, limitOf(f.Count), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []store.Broadcast
	for rows.Next() {
		b, err := scanBroadcast(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, b)
	}
	return out, total, rows.Err()
}

// UpdateBroadcast implements store.Store.
func (s *Store) UpdateBroadcast(ctx context.Context, b store.Broadcast) error {
	res, err := s.w.ExecContext(ctx, `UPDATE broadcasts SET status = ?, data = ?, updated_at = ? WHERE id = ?`,
		b.Status, string(b.Data), b.UpdatedAt.UnixMilli(), b.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("broadcast %s: %w", b.ID, store.ErrNotFound)
	}
	return nil
}

const roomColumns = `name, api_key, session_id, moderator_key, locked, created_at, last_used`

func scanRoom(sc interface{ Scan(...any) error }) (store.Room, error) {
	var r store.Room
	var created, used int64
	if err := sc.Scan(&r.Name, &r.APIKey, &r.SessionID, &r.ModeratorKey, &r.Locked, &created, &used); err != nil {
		return r, err
	}
	r.CreatedAt, r.LastUsed = time.UnixMilli(created), time.UnixMilli(used)
	return r, nil
}

// ClaimRoom implements store.Store.
func (s *Store) ClaimRoom(ctx context.Context, r store.Room, staleBefore time.Time) (store.Room, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Room{}, err
	}
	defer tx.Rollback()
	// A fresh binding is kept (only its last use moves); a stale one, or
	// none, becomes r.
	_, err = tx.ExecContext(ctx, `INSERT INTO rooms(`+roomColumns+`) VALUES (?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT(name) DO UPDATE SET
			api_key       = CASE WHEN rooms.last_used < ? THEN excluded.api_key ELSE rooms.api_key END,
			session_id    = CASE WHEN rooms.last_used < ? THEN excluded.session_id ELSE rooms.session_id END,
			moderator_key = CASE WHEN rooms.last_used < ? THEN excluded.moderator_key ELSE rooms.moderator_key END,
			locked        = CASE WHEN rooms.last_used < ? THEN 0 ELSE rooms.locked END,
			created_at    = CASE WHEN rooms.last_used < ? THEN excluded.created_at ELSE rooms.created_at END,
			last_used     = excluded.last_used`,
		r.Name, r.APIKey, r.SessionID, r.ModeratorKey, r.CreatedAt.UnixMilli(), r.LastUsed.UnixMilli(),
		staleBefore.UnixMilli(), staleBefore.UnixMilli(), staleBefore.UnixMilli(), staleBefore.UnixMilli(), staleBefore.UnixMilli())
	if isForeignKey(err) {
		return store.Room{}, fmt.Errorf("project %s: %w", r.APIKey, store.ErrNotFound)
	}
	if err != nil {
		return store.Room{}, err
	}
	got, err := scanRoom(tx.QueryRowContext(ctx, `SELECT `+roomColumns+` FROM rooms WHERE name = ?`, r.Name))
	if err != nil {
		return store.Room{}, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM room_messages WHERE room = ? AND session_id != ?`, got.Name, got.SessionID); err != nil {
		return store.Room{}, err
	}
	return got, tx.Commit()
}

// Room implements store.Store.
func (s *Store) Room(ctx context.Context, name string) (store.Room, error) {
	r, err := scanRoom(s.r.QueryRowContext(ctx, `SELECT `+roomColumns+` FROM rooms WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("room %s: %w", name, store.ErrNotFound)
	}
	return r, err
}

func (s *Store) updateRoom(ctx context.Context, name, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("room %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// TouchRoom implements store.Store.
func (s *Store) TouchRoom(ctx context.Context, name string, at time.Time) error {
	return s.updateRoom(ctx, name, `UPDATE rooms SET last_used = ? WHERE name = ?`, at.UnixMilli(), name)
}

// DeleteRooms implements store.Store. Their messages go with them (ON
// DELETE CASCADE).
func (s *Store) DeleteRooms(ctx context.Context, idleBefore time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM rooms WHERE last_used < ?`, idleBefore.UnixMilli())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// SetRoomLocked implements store.Store.
func (s *Store) SetRoomLocked(ctx context.Context, name string, locked bool) error {
	return s.updateRoom(ctx, name, `UPDATE rooms SET locked = ? WHERE name = ?`, locked, name)
}

// AddChatMessage implements store.Store.
func (s *Store) AddChatMessage(ctx context.Context, m store.ChatMessage, keep int) (store.ChatMessage, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return m, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO room_messages(room, session_id, sender, text, at) VALUES (?, ?, ?, ?, ?)`,
		m.Room, m.SessionID, m.From, m.Text, m.At.UnixMilli())
	if isForeignKey(err) {
		return m, fmt.Errorf("room %s: %w", m.Room, store.ErrNotFound)
	}
	if err != nil {
		return m, err
	}
	if m.ID, err = res.LastInsertId(); err != nil {
		return m, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM room_messages WHERE room = ? AND id <= (
		SELECT id FROM room_messages WHERE room = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, m.Room, m.Room, max(keep, 1)); err != nil {
		return m, err
	}
	return m, tx.Commit()
}

// ChatMessages implements store.Store.
func (s *Store) ChatMessages(ctx context.Context, name, sessionID string, limit int) ([]store.ChatMessage, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, room, session_id, sender, text, at FROM (
		SELECT * FROM room_messages WHERE room = ? AND session_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id`,
		name, sessionID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.ChatMessage{}
	for rows.Next() {
		var m store.ChatMessage
		var at int64
		if err := rows.Scan(&m.ID, &m.Room, &m.SessionID, &m.From, &m.Text, &at); err != nil {
			return nil, err
		}
		m.At = time.UnixMilli(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// listFilter is the WHERE condition (and its arguments) of a list of
// archives or broadcasts: of one project, one session, some statuses,
// each when given.
func listFilter(apiKey, sessionID string, statuses []string) (string, []any) {
	where := []string{"1 = 1"}
	var args []any
	if apiKey != "" {
		where, args = append(where, "api_key = ?"), append(args, apiKey)
	}
	if sessionID != "" {
		where, args = append(where, "session_id = ?"), append(args, sessionID)
	}
	if len(statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(statuses)-1)+")")
		for _, st := range statuses {
			args = append(args, st)
		}
	}
	return strings.Join(where, " AND "), args
}

// limitOf is a list's LIMIT: count, or none (-1 in SQLite's terms) when
// count is not above 0.
func limitOf(count int) int {
	if count <= 0 {
		return -1
	}
	return count
}
