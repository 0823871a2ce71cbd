package session_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
)

func TestSignal(t *testing.T) {
	everyone := []string{"A", "B", "C"}
	sig := func(typ, data, from string) string { return fmt.Sprintf("signal %q %q from %s", typ, data, from) }
	tests := []struct {
		name           string
		from, to       string
		typ, data      string
		code           int
		want, observed []string
		recipients     []string // nil: everyone
	}{
		{name: "to all, sender included", from: "A", typ: "chat", data: "hi"},
		{name: "to one", from: "A", to: "B", typ: "chat", data: "hi", recipients: []string{"B"}},
		{name: "to itself", from: "A", to: "A", typ: "chat", data: "hi", recipients: []string{"A"}},
		{name: "subscriber may signal", from: "C", typ: "chat", data: "hi"},
		{name: "from the server to all", typ: "chat", data: "hi"},
		{name: "from the server to one", to: "C", typ: "chat", data: "hi", recipients: []string{"C"}},
		{name: "empty type and data", from: "A"},
		{name: "every allowed character", from: "A", typ: "azAZ09-_~"},
		{name: "type of 128 characters", from: "A", typ: strings.Repeat("t", 128)},
		{name: "type of 129 characters", from: "A", typ: strings.Repeat("t", 129), code: 400},
		{name: "space in type", from: "A", typ: "a b", code: 400},
		{name: "colon in type", from: "A", typ: "signal:chat", code: 400},
		{name: "slash in type", from: "A", typ: "a/b", code: 400},
		{name: "non-ASCII type", from: "A", typ: "café", code: 400},
		{name: "data of 8192 bytes", from: "A", typ: "t", data: strings.Repeat("d", 8192)},
		{name: "data of 8192 bytes in 2-byte characters", from: "A", typ: "t", data: strings.Repeat("é", 4096)},
		{name: "data of 8193 bytes", from: "A", typ: "t", data: strings.Repeat("d", 8193), code: 413},
		{name: "data not UTF-8", from: "A", typ: "t", data: "\xff", code: 400},
		{name: "unknown recipient", from: "A", to: "nope", typ: "t", code: 404},
		{name: "unknown sender", from: "nope", typ: "t", code: 404},
		{name: "unknown sender to one", from: "nope", to: "B", typ: "t", code: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, session.Options{})
			f.join("A", token.RolePublisher)
			f.join("B", token.RoleModerator)
			f.join("C", token.RoleSubscriber)

			var want map[string][]string
			observed := []string{}
			if tt.code == 0 {
				from := "server"
				if tt.from != "" {
					from = tt.from
				}
				line := sig(tt.typ, tt.data, from)
				recipients := tt.recipients
				if recipients == nil {
					recipients = everyone
					observed = []string{line}
				} else {
					observed = []string{line + " to=" + recipients[0]}
				}
				want = each(recipients, line)
			}
			f.run([]step{{
				name:     "signal",
				do:       func(f *fixture) error { return f.s.Signal(f.id(tt.from), f.id(tt.to), tt.typ, tt.data) },
				code:     tt.code,
				want:     want,
				observed: observed,
			}})
		})
	}
}

func TestSignalSender(t *testing.T) {
	f := newFixture(t, session.Options{})
	a := f.join("A", token.RolePublisher)
	f.join("B", token.RolePublisher)
	f.drain()
	if err := f.s.Signal(a.ID, f.id("B"), "t", "d"); err != nil {
		t.Fatal(err)
	}
	ev := f.recs["B"].take()
	if len(ev) != 1 || ev[0].Connection == nil || ev[0].Connection.ID != a.ID || ev[0].Connection.Data != "data-A" {
		t.Fatalf("B received %+v, want one signal from A with A's data", ev)
	}
	if ev[0].Target != f.id("B") {
		t.Errorf("Target = %q, want B's id", ev[0].Target)
	}
	if err := f.s.Signal("", "", "t", "d"); err != nil {
		t.Fatal(err)
	}
	if ev := f.recs["B"].take(); len(ev) != 1 || ev[0].Connection != nil || ev[0].Target != "" {
		t.Errorf("a signal from the server to all arrived as %+v; want no sender and no target", ev)
	}
}
