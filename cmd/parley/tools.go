package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/node"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/pkg/opentok"
)

// dataFlag adds --data with the same default and variable as serve.
func dataFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	def := config.Default().Data
	if v := getenv("PARLEY_DATA"); v != "" {
		def = v
	}
	return fs.String("data", def, "data folder (env PARLEY_DATA)")
}

// parseMixed parses flags that may come before or after the positional
// arguments ("show KEY --data d" as well as "show --data d KEY"), and
// returns the positional ones.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func projectCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New("project: want create, list or show")
	}
	fs := newFlags("parley project "+args[0], stderr)
	data := dataFlag(fs, getenv)
	name := fs.String("name", "", "project name (create)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseMixed(fs, args[1:])
	if err != nil {
		return err
	}
	st, err := node.OpenStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()

	show := func(p store.Project) error {
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{
				"apiKey": p.APIKey, "apiSecret": p.Secret, "name": p.Name, "createdAt": p.CreatedAt.UnixMilli(),
			})
		}
		fmt.Fprintf(stdout, "API key     %s\nAPI secret  %s\nname        %s\ncreated     %s\n",
			p.APIKey, p.Secret, p.Name, p.CreatedAt.Format(time.RFC3339))
		return nil
	}
	switch args[0] {
	case "create":
		p, _, err := node.CreateProject(ctx, st, *data, *name)
		if err != nil {
			return err
		}
		return show(p)
	case "list":
		list, err := st.Projects(ctx)
		if err != nil {
			return err
		}
		for _, p := range list {
			if *asJSON {
				json.NewEncoder(stdout).Encode(map[string]any{"apiKey": p.APIKey, "name": p.Name, "createdAt": p.CreatedAt.UnixMilli()})
				continue
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", p.APIKey, p.CreatedAt.Format(time.RFC3339), p.Name)
		}
		return nil
	case "show":
		if len(pos) != 1 {
			return errors.New("project show: want one API key")
		}
		p, err := st.Project(ctx, pos[0])
		if err != nil {
			return err
		}
		return show(p)
	}
	return fmt.Errorf("project: unknown command %q", args[0])
}

// clientFlags are the flags of commands that act for a project.
type clientFlags struct {
	data, url, key, secret *string
}

func addClientFlags(fs *flag.FlagSet, getenv func(string) string) clientFlags {
	u := getenv("PARLEY_URL")
	if u == "" {
		u = "http://" + config.Default().Addr
	}
	return clientFlags{
		data:   dataFlag(fs, getenv),
		url:    fs.String("url", u, "server base URL (env PARLEY_URL)"),
		key:    fs.String("api-key", getenv("PARLEY_API_KEY"), "API key (default: the first project in --data)"),
		secret: fs.String("api-secret", getenv("PARLEY_API_SECRET"), "API secret"),
	}
}

// client builds an SDK client, taking credentials from the flags or, when
// none are given, from the first project in the data folder.
func (f clientFlags) client(ctx context.Context) (*opentok.Client, error) {
	key, secret := *f.key, *f.secret
	if key == "" || secret == "" {
		st, err := node.OpenStore(ctx, *f.data)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		var p store.Project
		if key != "" {
			p, err = st.Project(ctx, key)
		} else {
			var list []store.Project
			list, err = st.Projects(ctx)
			if err == nil && len(list) == 0 {
				err = fmt.Errorf("no project in %s: give --api-key and --api-secret, or run parley serve once", *f.data)
			}
			if err == nil {
				p = list[0]
			}
		}
		if err != nil {
			return nil, err
		}
		key, secret = p.APIKey, p.Secret
	}
	return opentok.New(key, secret, *f.url), nil
}

func sessionCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("session: want create")
	}
	fs := newFlags("parley session create", stderr)
	cf := addClientFlags(fs, getenv)
	mode := fs.String("media-mode", "routed", "routed or relayed")
	archive := fs.String("archive-mode", "manual", "manual or always")
	location := fs.String("location", "", "IPv4 location hint")
	e2ee := fs.Bool("e2ee", false, "end-to-end encryption")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	s, err := c.CreateSession(ctx, opentok.SessionOptions{
		MediaMode: opentok.MediaMode(*mode), ArchiveMode: opentok.ArchiveMode(*archive),
		Location: *location, E2EE: *e2ee,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"sessionId": s.ID, "mediaMode": s.MediaMode, "archiveMode": s.ArchiveMode, "apiKey": c.APIKey})
	}
	fmt.Fprintln(stdout, s.ID)
	return nil
}

func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("parley token", stderr)
	cf := addClientFlags(fs, getenv)
	sid := fs.String("session-id", "", "session the token admits to (required)")
	role := fs.String("role", "publisher", "subscriber, publisher, publisheronly or moderator")
	expire := fs.Duration("expire", 24*time.Hour, "lifetime (at most 720h)")
	data := fs.String("connection-data", "", "connection data (≤ 1024 characters)")
	layout := fs.String("layout", "", "initial layout classes, space-separated")
	t1 := fs.Bool("t1", false, "mint the legacy T1 format instead of a JWT")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sid == "" {
		return errors.New("token: --session-id is required")
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	tok, err := c.GenerateToken(*sid, opentok.TokenOptions{
		Role: opentok.Role(*role), ExpireTime: time.Now().Add(*expire), Data: *data,
		InitialLayoutClassList: strings.Fields(*layout), T1: *t1,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
