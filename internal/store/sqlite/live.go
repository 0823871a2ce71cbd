package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

// CreateLiveUser implements store.Store.
func (s *Store) CreateLiveUser(ctx context.Context, u store.LiveUser) (store.LiveUser, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO live_users(name, password_hash, created_at) VALUES (?, ?, ?)`,
		u.Name, u.PasswordHash, u.CreatedAt.UnixMilli())
	if isUnique(err) {
		return u, fmt.Errorf("user %s: %w", u.Name, store.ErrExists)
	}
	if err != nil {
		return u, err
	}
	u.ID, err = res.LastInsertId()
	return u, err
}

func scanLiveUser(sc interface{ Scan(...any) error }) (store.LiveUser, error) {
	var u store.LiveUser
	var created int64
	err := sc.Scan(&u.ID, &u.Name, &u.PasswordHash, &created)
	u.CreatedAt = time.UnixMilli(created)
	return u, err
}

// LiveUserByName implements store.Store.
func (s *Store) LiveUserByName(ctx context.Context, name string) (store.LiveUser, error) {
	u, err := scanLiveUser(s.r.QueryRowContext(ctx, `SELECT id, name, password_hash, created_at FROM live_users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	return u, err
}

// CreateLiveLogin implements store.Store.
func (s *Store) CreateLiveLogin(ctx context.Context, l store.LiveLogin) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM live_logins WHERE expires_at <= ?`, l.CreatedAt.UnixMilli()); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO live_logins(token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		l.TokenHash, l.UserID, l.CreatedAt.UnixMilli(), l.ExpiresAt.UnixMilli())
	if isForeignKey(err) {
		return fmt.Errorf("user %d: %w", l.UserID, store.ErrNotFound)
	}
	if isUnique(err) {
		return fmt.Errorf("login: %w", store.ErrExists)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

// LiveLoginUser implements store.Store.
func (s *Store) LiveLoginUser(ctx context.Context, tokenHash string, now time.Time) (store.LiveUser, error) {
	u, err := scanLiveUser(s.r.QueryRowContext(ctx, `SELECT u.id, u.name, u.password_hash, u.created_at
		FROM live_logins l JOIN live_users u ON u.id = l.user_id WHERE l.token_hash = ? AND l.expires_at > ?`,
		tokenHash, now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("login: %w", store.ErrNotFound)
	}
	return u, err
}

// DeleteLiveLogin implements store.Store.
func (s *Store) DeleteLiveLogin(ctx context.Context, tokenHash string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM live_logins WHERE token_hash = ?`, tokenHash)
	return err
}

const showColumns = `s.id, s.user_id, u.name, s.title, s.session_id, s.archive_id, s.recording, s.location, s.status,
	s.created_at, s.started_at, s.ended_at, s.duration`

// millis is t in ms since the epoch, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOf(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func scanShow(sc interface{ Scan(...any) error }) (store.Show, error) {
	var sh store.Show
	var created, started, ended int64
	err := sc.Scan(&sh.ID, &sh.UserID, &sh.Presenter, &sh.Title, &sh.SessionID, &sh.ArchiveID, &sh.Recording, &sh.Location,
		&sh.Status, &created, &started, &ended, &sh.Duration)
	sh.CreatedAt, sh.StartedAt, sh.EndedAt = time.UnixMilli(created), timeOf(started), timeOf(ended)
	return sh, err
}

// CreateShow implements store.Store.
func (s *Store) CreateShow(ctx context.Context, sh store.Show) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO live_shows(id, user_id, title, session_id, archive_id, recording, location, status,
		created_at, started_at, ended_at, duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sh.ID, sh.UserID, sh.Title, sh.SessionID, sh.ArchiveID, sh.Recording, sh.Location, sh.Status,
		sh.CreatedAt.UnixMilli(), millis(sh.StartedAt), millis(sh.EndedAt), sh.Duration)
	if isUnique(err) {
		return fmt.Errorf("show %s: %w", sh.ID, store.ErrExists)
	}
	if isForeignKey(err) {
		return fmt.Errorf("user %d: %w", sh.UserID, store.ErrNotFound)
	}
	return err
}

// Show implements store.Store.
func (s *Store) Show(ctx context.Context, id string) (store.Show, error) {
	sh, err := scanShow(s.r.QueryRowContext(ctx, `SELECT `+showColumns+` FROM live_shows s JOIN live_users u ON u.id = s.user_id WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return sh, fmt.Errorf("show %s: %w", id, store.ErrNotFound)
	}
	return sh, err
}

// UpdateShow implements store.Store.
func (s *Store) UpdateShow(ctx context.Context, sh store.Show) error {
	res, err := s.w.ExecContext(ctx, `UPDATE live_shows SET archive_id = ?, recording = ?, status = ?, started_at = ?, ended_at = ?, duration = ?
		WHERE id = ?`, sh.ArchiveID, sh.Recording, sh.Status, millis(sh.StartedAt), millis(sh.EndedAt), sh.Duration, sh.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("show %s: %w", sh.ID, store.ErrNotFound)
	}
	return nil
}

// Shows implements store.Store.
func (s *Store) Shows(ctx context.Context, f store.ShowFilter) ([]store.Show, int, error) {
	where := []string{"1 = 1"}
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if len(f.Statuses) > 0 {
		cond := "s.status IN (?" + strings.Repeat(", ?", len(f.Statuses)-1) + ")"
		var a []any
		for _, st := range f.Statuses {
			a = append(a, st)
		}
		add(cond, a...)
	}
	if f.Recorded {
		add("s.archive_id != ''")
	}
	if f.Presenter != "" {
		add("u.name = ?", f.Presenter)
	}
	if f.Location != "" {
		// instr, not LIKE: the hint is searched as it is typed, without
		// LIKE's wildcards.
		add("instr(lower(s.location), lower(?)) > 0", f.Location)
	}
	if !f.From.IsZero() {
		add("s.started_at >= ?", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("s.started_at < ?", f.To.UnixMilli())
	}
	if f.MinDuration > 0 {
		add("s.duration >= ?", f.MinDuration)
	}
	if f.MaxDuration > 0 {
		add("s.duration <= ?", f.MaxDuration)
	}
	cond := strings.Join(where, " AND ")
	from := ` FROM live_shows s JOIN live_users u ON u.id = s.user_id WHERE ` + cond
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*)`+from, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+showColumns+from+` ORDER BY s.started_at DESC, s.created_at DESC, s.rowid DESC LIMIT ? OFFSET ?`,
		append(args, limitOf(f.Count), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []store.Show{}
	for rows.Next() {
		sh, err := scanShow(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, sh)
	}
	return out, total, rows.Err()
}
