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

func TestListConnections(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateProject(ctx, store.Project{APIKey: key, Secret: secret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	reg := session.NewRegistry(session.Options{})
	a := api.New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil)
	a.Sessions = reg
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := opentok.New(key, secret, srv.URL)
	s, err := c.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListConnections(ctx, s.ID); !errors.Is(err, opentok.ErrNotFound) {
		t.Fatalf("nobody connected: %v, want ErrNotFound", err)
	}
	var ids []string
	for range 2 {
		_, conn, err := reg.Join(s.ID, session.Routed, token.RoleSubscriber, "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, conn.ID)
	}
	list, err := c.ListConnections(ctx, s.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, conn := range list {
		if (conn.ConnectionID != ids[0] && conn.ConnectionID != ids[1]) || conn.ConnectionState != "Connected" || conn.CreatedAt == 0 {
			t.Errorf("connection %+v", conn)
		}
	}
}
