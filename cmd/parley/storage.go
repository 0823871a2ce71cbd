package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
)

const storageUsage = `usage:
  parley storage set --bucket B --access-key K --secret-key S [--endpoint E] [--region R] [--prefix P] [--fallback none|opentok]
                          upload the project's finished archives to an S3 bucket
  parley storage show     show where the project's archives are uploaded
  parley storage remove   keep the project's archives on the server again
(through the REST API of the server at --url; -h lists the flags)
`

// storageCmd sets, shows and removes a project's archive storage through
// the REST API, so that the server tries the bucket before it takes it.
func storageCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, storageUsage)
		return errors.New("storage: want set, show or remove")
	}
	switch args[0] {
	case "set", "show", "remove":
	default:
		fmt.Fprint(stderr, storageUsage)
		return fmt.Errorf("storage: unknown command %q; want set, show or remove", args[0])
	}
	fs := newFlags("parley storage "+args[0], stderr)
	cf := addClientFlags(fs, getenv)
	asJSON := fs.Bool("json", false, "print JSON")
	var cfg opentok.ArchiveStorageConfig
	var fallback string
	if args[0] == "set" {
		fs.StringVar(&cfg.Bucket, "bucket", "", "bucket the archives go to (required)")
		fs.StringVar(&cfg.AccessKey, "access-key", getenv("PARLEY_STORAGE_ACCESS_KEY"),
			"access key of credentials that may write to the bucket (env PARLEY_STORAGE_ACCESS_KEY)")
		fs.StringVar(&cfg.SecretKey, "secret-key", getenv("PARLEY_STORAGE_SECRET_KEY"),
			"its secret key (env PARLEY_STORAGE_SECRET_KEY, which other users of the machine cannot see)")
		fs.StringVar(&cfg.Endpoint, "endpoint", "", `store: "host[:port]" (HTTPS) or "http(s)://host[:port]"; default Amazon S3`)
		fs.StringVar(&cfg.Region, "region", "", "the bucket's region (default: as the store says)")
		fs.StringVar(&cfg.Prefix, "prefix", "", "folder in the bucket before <apiKey>/<archiveId>/")
		fs.StringVar(&fallback, "fallback", opentok.FallbackNone,
			"when an upload fails: none (the archive fails) or opentok (it stays on the server)")
	}
	pos, err := parseMixed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("storage %s: takes no argument, only flags", args[0])
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}

	show := func(s *opentok.ArchiveStorage) error {
		if *asJSON {
			return json.NewEncoder(stdout).Encode(s)
		}
		fmt.Fprintf(stdout, "project   %s\ntype      %s\nendpoint  %s\nbucket    %s\naccess    %s\n", c.APIKey, s.Type,
			s.Config.Endpoint, s.Config.Bucket, s.Config.AccessKey)
		if s.Config.Region != "" {
			fmt.Fprintf(stdout, "region    %s\n", s.Config.Region)
		}
		if s.Config.Prefix != "" {
			fmt.Fprintf(stdout, "prefix    %s\n", s.Config.Prefix)
		}
		fmt.Fprintf(stdout, "fallback  %s\nupdated   %s\n", s.Fallback, s.Updated().Format(time.RFC3339))
		return nil
	}
	switch args[0] {
	case "set":
		if cfg.Bucket == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
			return errors.New("storage set: --bucket, --access-key and --secret-key are required")
		}
		s, err := c.SetArchiveStorage(ctx, opentok.ArchiveStorage{Type: opentok.StorageS3, Config: cfg, Fallback: fallback})
		if err != nil {
			return err
		}
		return show(s)
	case "show":
		s, err := c.ArchiveStorage(ctx)
		if errors.Is(err, opentok.ErrNotFound) {
			return fmt.Errorf("project %s has no archive storage: its archives stay on the server", c.APIKey)
		}
		if err != nil {
			return err
		}
		return show(s)
	default: // remove
		err := c.DeleteArchiveStorage(ctx)
		if errors.Is(err, opentok.ErrNotFound) {
			return fmt.Errorf("project %s has no archive storage", c.APIKey)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed the archive storage of project %s: its next archives stay on the server\n", c.APIKey)
		return nil
	}
}
