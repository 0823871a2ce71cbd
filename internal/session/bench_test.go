package session_test

import (
	"fmt"
	"testing"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
)

// counter is the cheapest Sink: it counts what it is sent. It is only
// called with the session's lock held, so it needs no lock of its own.
type counter struct{ n int }

func (c *counter) Send(session.Event) { c.n++ }

// BenchmarkSignalBroadcast sends one signal from a connection to a session
// of 100 connections (100 deliveries per operation).
func BenchmarkSignalBroadcast(b *testing.B) {
	s := session.New("sid", session.Routed, session.Options{})
	var from string
	for i := range 100 {
		c, err := s.Join(token.RolePublisher, fmt.Sprintf(`{"name":"user %d"}`, i), []string{"focus"}, &counter{})
		if err != nil {
			b.Fatal(err)
		}
		from = c.ID
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Signal(from, "", "chat", "hello, everyone"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoinLeave joins and leaves a session that already holds n
// connections, each publishing one stream: the joiner gets the replay of
// 2n+1 events, and the others one event each way.
func BenchmarkJoinLeave(b *testing.B) {
	for _, n := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("others=%d", n), func(b *testing.B) {
			s := session.New("sid", session.Routed, session.Options{})
			for range n {
				c, err := s.Join(token.RolePublisher, "", nil, &counter{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Publish(c.ID, defaultSpec); err != nil {
					b.Fatal(err)
				}
			}
			sink := &counter{}
			b.ReportAllocs()
			for b.Loop() {
				c, err := s.Join(token.RoleSubscriber, `{"name":"guest"}`, nil, sink)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Leave(c.ID, session.ReasonClientDisconnected); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
