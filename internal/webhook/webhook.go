// Package webhook delivers session monitoring callbacks: the
// connectionCreated, connectionDestroyed, streamCreated and streamDestroyed
// events of every session, POSTed to the URL its project registered with
// the payloads OpenTok sends, signed, in order per session, and retried
// with backoff.
//
// A Dispatcher follows sessions from session.Options.OnCreate. Its
// observers only queue events, so that a slow or dead receiver never slows
// a session; one goroutine per session with queued events delivers them in
// order. Every attempt is recorded in the store's delivery log.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/internal/store"
)

// GroupSessionMonitoring is the group of the connection and stream events
// of every session of a project. A project has at most one webhook per
// group.
const GroupSessionMonitoring = "sessionMonitoring"

// GroupArchiveStatus is the group of archive status changes: every change
// of every archive of a project, with the archive object as payload.
const GroupArchiveStatus = "archiveStatus"

// GroupBroadcastStatus is the group of broadcast status changes: a
// broadcast starting and stopping, and each of its outputs (HLS, every
// RTMP target) changing status, with the broadcast object as payload.
const GroupBroadcastStatus = "broadcastStatus"

// MaxURLLen is the longest webhook URL accepted, in bytes.
const MaxURLLen = 2048

// ErrInvalidURL is wrapped by the errors of CheckURL.
var ErrInvalidURL = errors.New("webhook: invalid URL")

// ErrUnknownGroup is returned by Create for a group other than
// GroupSessionMonitoring, GroupArchiveStatus and GroupBroadcastStatus.
var ErrUnknownGroup = errors.New("webhook: unknown group; want " + GroupSessionMonitoring + ", " + GroupArchiveStatus +
	" or " + GroupBroadcastStatus)

// CheckURL accepts absolute http and https URLs of at most MaxURLLen bytes.
func CheckURL(raw string) error {
	if len(raw) > MaxURLLen {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidURL, MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: %q: want an http or https URL", ErrInvalidURL, raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidURL, raw)
	}
	return nil
}

// Creator is the part of store.Store that Create needs.
type Creator interface {
	CreateWebhook(ctx context.Context, w store.Webhook) error
}

// Create registers rawURL as project apiKey's webhook for group (""
// means GroupSessionMonitoring) and returns it with its signing secret,
// which is shown to the caller this once. It fails with ErrInvalidURL,
// ErrUnknownGroup, store.ErrExists when the project already has a webhook
// for the group, or store.ErrNotFound for an unknown project.
func Create(ctx context.Context, st Creator, apiKey, group, rawURL string, now time.Time) (store.Webhook, error) {
	if group == "" {
		group = GroupSessionMonitoring
	}
	if group != GroupSessionMonitoring && group != GroupArchiveStatus && group != GroupBroadcastStatus {
		return store.Webhook{}, fmt.Errorf("%w: got %q", ErrUnknownGroup, group)
	}
	if err := CheckURL(rawURL); err != nil {
		return store.Webhook{}, err
	}
	w := store.Webhook{
		ID:        uuid.NewString(),
		APIKey:    apiKey,
		Group:     group,
		URL:       rawURL,
		Secret:    NewSecret(),
		CreatedAt: now.Truncate(time.Millisecond),
	}
	if err := st.CreateWebhook(ctx, w); err != nil {
		return store.Webhook{}, err
	}
	return w, nil
}

// NewSecret returns a fresh signing secret: 32 random bytes in hex.
func NewSecret() string {
	var b [32]byte
	// crypto/rand.Read never fails: it aborts the program instead.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
