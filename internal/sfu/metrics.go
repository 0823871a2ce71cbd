package sfu

import "github.com/prometheus/client_golang/prometheus"

var (
	streamsDesc = prometheus.NewDesc("parley_sfu_streams",
		"Streams published to the SFU.", nil, nil)
	batchedDesc = prometheus.NewDesc("parley_sfu_batched_packets_total",
		"Packets forwarded to subscribers through batched sends (sendmmsg).", nil, nil)
	callsDesc = prometheus.NewDesc("parley_sfu_send_calls_total",
		"System calls that sent batched packets: batched packets over calls is the mean batch.", nil, nil)
	droppedDesc = prometheus.NewDesc("parley_sfu_send_dropped_total",
		"Batched packets the kernel refused (or the socket closed under), dropped as a network would.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *SFU) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamsDesc
	ch <- batchedDesc
	ch <- callsDesc
	ch <- droppedDesc
}

// Collect implements prometheus.Collector.
func (s *SFU) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	n := len(s.streams)
	s.mu.Unlock()
	packets, calls, dropped := s.batch.stats()
	ch <- prometheus.MustNewConstMetric(streamsDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(batchedDesc, prometheus.CounterValue, float64(packets))
	ch <- prometheus.MustNewConstMetric(callsDesc, prometheus.CounterValue, float64(calls))
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(dropped))
}
