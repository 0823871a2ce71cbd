package opentok_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/pkg/opentok"
)

func TestCallbacks(t *testing.T) {
	srv, _ := server(t)
	c := opentok.New(key, secret, srv.URL)
	ctx := context.Background()
	cb, err := c.RegisterCallback(ctx, opentok.GroupSessionMonitoring, "https://example.com/hook")
	if err != nil {
		t.Fatal(err)
	}
	if cb.ID == "" || cb.Group != opentok.GroupSessionMonitoring || cb.URL != "https://example.com/hook" || len(cb.Secret) != 64 || cb.Created().IsZero() {
		t.Fatalf("registered %+v", cb)
	}
	var apiErr *opentok.Error
	if _, err := c.RegisterCallback(ctx, opentok.GroupSessionMonitoring, "https://example.com/2"); !errors.As(err, &apiErr) || apiErr.Status != 409 {
		t.Fatalf("second callback: %v", err)
	}
	list, err := c.ListCallbacks(ctx)
	if err != nil || len(list) != 1 || list[0].ID != cb.ID || list[0].Secret != "" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if err := c.UnregisterCallback(ctx, cb.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.UnregisterCallback(ctx, cb.ID); !errors.Is(err, opentok.ErrNotFound) {
		t.Fatalf("second unregister: %v", err)
	}
}
