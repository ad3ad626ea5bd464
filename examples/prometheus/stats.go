package main

import (
	"github.com/fullduplex/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// NewGroupCollector returns a Collector that reads g.Stats at each scrape:
//
//	websocket_group_members              gauge
//	websocket_group_queued_messages      gauge
//	websocket_group_queued_bytes         gauge
//	websocket_group_drops_total          counter
//
// labels are constant labels for its series, such as {"group": "room"}
// to tell several Groups apart; nil for none. Stats takes each member's
// lock in turn, which suits a scrape, not a hook.
func NewGroupCollector(g *websocket.Group, labels prometheus.Labels) prometheus.Collector {
	return &groupCollector{g: g,
		members:     prometheus.NewDesc("websocket_group_members", "Connections in the Group now.", nil, labels),
		queued:      prometheus.NewDesc("websocket_group_queued_messages", "Messages waiting to be written to the Group's members, all members together.", nil, labels),
		queuedBytes: prometheus.NewDesc("websocket_group_queued_bytes", "Payload bytes of the messages waiting (a message shared by members counts for each).", nil, labels),
		drops:       prometheus.NewDesc("websocket_group_drops_total", "Members the Group dropped since it was made: queue full or write timeout.", nil, labels),
	}
}

type groupCollector struct {
	g                                   *websocket.Group
	members, queued, queuedBytes, drops *prometheus.Desc
}

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.members
	ch <- c.queued
	ch <- c.queuedBytes
	ch <- c.drops
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.g.Stats()
	ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(s.Members))
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(c.queuedBytes, prometheus.GaugeValue, float64(s.QueuedBytes))
	ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(s.Dropped))
}

// NewPollerCollector returns a Collector that reads p.Stats at each scrape:
//
//	websocket_poller_connections         gauge
//	websocket_poller_workers             gauge
//	websocket_poller_busy_workers        gauge
//	websocket_poller_ready_connections   gauge
//	websocket_poller_drops_total{reason} counter
//
// Busy against workers is how loaded the pool is; ready connections that
// stay high mean handlers hold the workers too long. labels are constant
// labels for its series, as for NewGroupCollector.
func NewPollerCollector(p *websocket.Poller, labels prometheus.Labels) prometheus.Collector {
	return &pollerCollector{p: p,
		conns:   prometheus.NewDesc("websocket_poller_connections", "Connections the Poller serves now.", nil, labels),
		workers: prometheus.NewDesc("websocket_poller_workers", "Workers the Poller has started (at most PollerOptions.Workers).", nil, labels),
		busy:    prometheus.NewDesc("websocket_poller_busy_workers", "Workers taking a turn or running a handler now.", nil, labels),
		ready:   prometheus.NewDesc("websocket_poller_ready_connections", "Connections with input, waiting for a worker.", nil, labels),
		drops:   prometheus.NewDesc("websocket_poller_drops_total", "Connections the Poller dropped since it was made, by reason.", []string{"reason"}, labels),
	}
}

type pollerCollector struct {
	p                                  *websocket.Poller
	conns, workers, busy, ready, drops *prometheus.Desc
}

func (c *pollerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.workers
	ch <- c.busy
	ch <- c.ready
	ch <- c.drops
}

// pollerDropReasons are the reasons a Poller drops for, exported at 0
// until they happen.
var pollerDropReasons = []websocket.DropReason{websocket.DropQueueFull, websocket.DropWriteTimeout, websocket.DropMessageTimeout, websocket.DropNoPong}

func (c *pollerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stats()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.Conns))
	ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(s.Workers))
	ch <- prometheus.MustNewConstMetric(c.busy, prometheus.GaugeValue, float64(s.Busy))
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, float64(s.Ready))
	for _, r := range pollerDropReasons {
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(s.Dropped[r]), string(r))
		delete(s.Dropped, r) // Stats returns a copy
	}
	for r, n := range s.Dropped { // a reason newer than this file
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(n), string(r))
	}
}
