package opentok_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/api"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/token"
	"github.com/parleyhq/parley/pkg/opentok"
)

const (
	key    = "1234567"
	secret = "a-secret-of-some-length"
)

func server(t *testing.T) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateProject(context.Background(), store.Project{APIKey: key, Secret: secret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st
}

func TestCreateSessionAndToken(t *testing.T) {
	srv, st := server(t)
	c := opentok.New(key, secret, srv.URL)
	ctx := context.Background()
	for _, o := range []opentok.SessionOptions{
		{},
		{MediaMode: opentok.Routed, ArchiveMode: opentok.ArchiveAlways, Location: "10.1.2.3", E2EE: true},
	} {
		s, err := c.CreateSession(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.Session(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantMode := session.Relayed
		if o.MediaMode == opentok.Routed {
			wantMode = session.Routed
		}
		if rec.MediaMode != wantMode || rec.Location != o.Location || rec.E2EE != o.E2EE {
			t.Fatalf("stored %+v for %+v", rec, o)
		}
		for _, t1 := range []bool{false, true} {
			tok, err := c.GenerateToken(s.ID, opentok.TokenOptions{Role: opentok.RoleSubscriber, Data: "d", T1: t1})
			if err != nil {
				t.Fatal(err)
			}
			claims, err := token.Verify(tok, s.ID, func(string) (string, error) { return secret, nil }, time.Now())
			if err != nil || claims.Role != token.RoleSubscriber || claims.Data != "d" {
				t.Fatalf("t1=%v: %+v %v", t1, claims, err)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	srv, _ := server(t)
	ctx := context.Background()
	_, err := opentok.New(key, "wrong-secret", srv.URL).CreateSession(ctx, opentok.SessionOptions{})
	if !errors.Is(err, opentok.ErrAuth) {
		t.Fatalf("wrong secret: %v", err)
	}
	_, err = opentok.New(key, secret, srv.URL).CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Relayed, ArchiveMode: opentok.ArchiveAlways})
	var e *opentok.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
		t.Fatalf("always+relayed: %v", err)
	}
	if _, err := opentok.New(key, secret, srv.URL).CreateSession(ctx, opentok.SessionOptions{MediaMode: "p2p"}); err == nil {
		t.Fatal("an unknown media mode was sent")
	}
	if _, err := opentok.New("999", secret, srv.URL).GenerateToken("1_MX4xMjM0NTY3fn4xfngxfn4", opentok.TokenOptions{}); err == nil {
		t.Fatal("a token was minted for another project's session")
	}
}
