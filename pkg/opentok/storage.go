package opentok

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// Archive storage types and fallbacks.
const (
	// StorageS3 is an Amazon S3 bucket, or one of any S3-compatible store.
	StorageS3 = "s3"
	// FallbackNone marks an archive failed when its upload fails.
	FallbackNone = "none"
	// FallbackOpenTok keeps an archive whose upload failed available from
	// the server's own storage.
	FallbackOpenTok = "opentok"
)

// ArchiveStorage is where a project's archives are uploaded once they
// are finished (OpenTok's upload target). An uploaded archive has the
// status "uploaded" and is the object <apiKey>/<archiveId>/archive.mp4
// (composed) or archive.zip (individual) in the bucket.
type ArchiveStorage struct {
	// Type is StorageS3.
	Type   string               `json:"type"`
	Config ArchiveStorageConfig `json:"config"`
	// Fallback is FallbackNone (the default) or FallbackOpenTok.
	Fallback string `json:"fallback,omitempty"`
	// UpdatedAt is in milliseconds since the epoch; set by the server.
	UpdatedAt int64 `json:"updatedAt,omitempty"`
}

// ArchiveStorageConfig is an S3 bucket and the credentials that may
// write to it.
type ArchiveStorageConfig struct {
	AccessKey string `json:"accessKey"`
	// SecretKey is sent, never shown back.
	SecretKey string `json:"secretKey,omitempty"`
	Bucket    string `json:"bucket"`
	// Endpoint is "host[:port]" (HTTPS) or "http(s)://host[:port]"; ""
	// means Amazon S3.
	Endpoint string `json:"endpoint,omitempty"`
	// Region and Prefix (put before every object name) are Parley's.
	Region string `json:"region,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// Updated returns UpdatedAt as a time.
func (s *ArchiveStorage) Updated() time.Time { return time.UnixMilli(s.UpdatedAt) }

// SetArchiveStorage sets the project's archive storage (PUT
// /v2/project/{key}/archive/storage). The server tries the bucket first:
// a storage it cannot write to is refused (400, the message says why).
// It returns the storage as set, without its secret key.
func (c *Client) SetArchiveStorage(ctx context.Context, s ArchiveStorage) (*ArchiveStorage, error) {
	s.UpdatedAt = 0
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var out ArchiveStorage
	if err := c.do(ctx, "PUT", c.storagePath(), "application/json", b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ArchiveStorage returns the project's archive storage, without its
// secret key; ErrNotFound when it has none.
func (c *Client) ArchiveStorage(ctx context.Context) (*ArchiveStorage, error) {
	var out ArchiveStorage
	if err := c.do(ctx, "GET", c.storagePath(), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteArchiveStorage removes the project's archive storage: archives
// finished from then on stay on the server. ErrNotFound when it has none.
func (c *Client) DeleteArchiveStorage(ctx context.Context) error {
	return c.do(ctx, "DELETE", c.storagePath(), "", nil, nil)
}

func (c *Client) storagePath() string {
	return "/v2/project/" + url.PathEscape(c.APIKey) + "/archive/storage"
}
