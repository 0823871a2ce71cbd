package opentok_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/archive/s3test"
	"github.com/parleyhq/parley/pkg/opentok"
)

func TestArchiveStorage(t *testing.T) {
	s3 := s3test.Start(t)
	s3.MakeBucket("archives")
	srv, st := server(t)
	c := opentok.New(key, secret, srv.URL)
	ctx := context.Background()

	if _, err := c.ArchiveStorage(ctx); !errors.Is(err, opentok.ErrNotFound) {
		t.Fatalf("no storage yet: %v", err)
	}
	want := opentok.ArchiveStorage{Type: opentok.StorageS3, Fallback: opentok.FallbackOpenTok,
		Config: opentok.ArchiveStorageConfig{AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: "archives",
			Endpoint: "http://" + s3.Endpoint, Prefix: "recordings"}}
	set, err := c.SetArchiveStorage(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	shown := want
	shown.Config.SecretKey, shown.UpdatedAt = "", set.UpdatedAt
	if *set != shown || set.Updated().IsZero() {
		t.Fatalf("set %+v\nwant %+v", *set, shown)
	}
	if got, err := c.ArchiveStorage(ctx); err != nil || *got != shown {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if s, err := st.ArchiveStorage(ctx, key); err != nil || s.SecretKey != s3.SecretKey {
		t.Fatalf("stored %+v, %v", s, err)
	}

	// A bucket the server cannot write to is refused, with the reason.
	wrong := want
	wrong.Config.Bucket = "missing-bucket"
	var apiErr *opentok.Error
	if _, err := c.SetArchiveStorage(ctx, wrong); !errors.As(err, &apiErr) || apiErr.Status != 400 ||
		!strings.Contains(apiErr.Message, "does not exist") {
		t.Fatalf("missing bucket: %v", err)
	}

	if err := c.DeleteArchiveStorage(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteArchiveStorage(ctx); !errors.Is(err, opentok.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
