package sfu

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
		if len(f.GetMetric()) != 1 {
			t.Errorf("%s: %d series", f.GetName(), len(f.GetMetric()))
		}
	}
	want := []string{"parley_sfu_batched_packets_total", "parley_sfu_send_calls_total", "parley_sfu_send_dropped_total", "parley_sfu_streams"}
	if !slices.Equal(names, want) {
		t.Fatalf("metrics %v, want %v", names, want)
	}
}
