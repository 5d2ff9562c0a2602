package metrics

import (
	"context"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	descBindings = desc("bindings", "Bindings by role and state: the LMA's binding cache entries, the MAG's binding update list entries.",
		"role", "state")
	descMessages = desc("messages_total", "Mobility messages by role, direction (sent/received), MH type and status (numeric where the role counts by status, else empty).",
		"role", "direction", "type", "status")
	descErrors = desc("errors_total", "Messages dropped and operations failed, by role and kind.",
		"role", "kind")
	descEvents = desc("events_total", "Protocol events by role.",
		"role", "event")
	descPeers = desc("peers", "Signalling peers by role and heartbeat state (RFC 5847).",
		"role", "state")
	descPeerUp = desc("peer_up", "1 if the peer is up (answers heartbeats), 0 if it is down.",
		"role", "peer")
	descDataplane = desc("dataplane_entries", "Forwarding entries read back from the data plane, by kind.",
		"driver", "kind")
	descPoolSize = desc("haa_pool_prefixes", "Prefixes in an HAA pool.",
		"pool", "mr")
	descPoolAllocated = desc("haa_pool_allocated", "Prefixes allocated from an HAA pool.",
		"pool", "mr")
	descIPsecPackets = desc("ipsec_packets_total", "Mobility Header packets through the IPsec engine by direction and result (protected, bypass).",
		"direction", "result")
)

// States listed even when no binding is in them, so that the series exist
// from the first scrape.
var (
	lmaStates = []string{lma.StateActive.String(), lma.StateDeregistered.String(), lma.StateRevoking.String()}
	magStates = []string{"pending", "registered", "refreshing", "deregistering", "leaving", "halted"}
	dpKinds   = []dataplane.Kind{dataplane.KindPrefixRoute, dataplane.KindSourceRoute, dataplane.KindAccessRoute}
)

type collector struct {
	src Sources
	m   *Metrics
}

func newCollector(src Sources, m *Metrics) *collector { return &collector{src: src, m: m} }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBindings, descMessages, descErrors, descEvents, descPeers, descPeerUp,
		descDataplane, descPoolSize, descPoolAllocated, descIPsecPackets} {
		ch <- d
	}
	for _, d := range dmmDescs() {
		ch <- d
	}
}

func (c *collector) failed(source string, err error) {
	c.m.collectErrors.WithLabelValues(source).Inc()
	c.m.log.WithError(err).WithField("source", source).Warn("metrics source failed during a scrape")
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.m.timeout)
	defer cancel()
	if c.src.LMA != nil {
		c.collectLMA(ctx, ch)
	}
	if c.src.MAG != nil {
		c.collectMAG(ch)
	}
	if c.src.Dataplane != nil {
		c.collectDataplane(ch)
	}
	if c.src.HAA != nil {
		c.collectHAA(ctx, ch)
	}
	if c.src.IPsec != nil {
		c.collectIPsec(ch)
	}
	if c.src.MR != nil {
		c.collectMR(ctx, ch)
	}
	if c.src.Punt != nil {
		c.collectPunt(ch)
	}
	if c.src.LMServer != nil {
		collectServer(ch, "lm", c.src.LMServer)
	}
	if c.src.HAAServer != nil {
		collectServer(ch, "haa", c.src.HAAServer)
	}
	if c.src.LMCache != nil {
		collectLMCache(ch, c.src.LMCache)
	}
}

// Kind turns a drop reason ("header check", "unexpected Binding
// Acknowledgement") into a label value ("header_check",
// "unexpected_binding_acknowledgement").
func Kind(reason string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(reason) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
			continue
		}
		under = true
	}
	return b.String()
}

func (c *collector) collectLMA(ctx context.Context, ch chan<- prometheus.Metric) {
	const role = "lma"
	if bs, err := c.src.LMA.Bindings(ctx); err != nil {
		c.failed("lma_bindings", err)
	} else {
		n := map[string]int{}
		for _, b := range bs {
			n[b.State.String()]++
		}
		for _, s := range lmaStates {
			gauge(ch, descBindings, float64(n[s]), role, s)
			delete(n, s)
		}
		for s, v := range n {
			gauge(ch, descBindings, float64(v), role, s)
		}
	}
	if cnt, err := c.src.LMA.Counters(ctx); err != nil {
		c.failed("lma_counters", err)
	} else {
		baName := mh.TypeBindingAck.String()
		braName := "Binding Revocation Acknowledgement"
		for t, v := range cnt.Rx {
			if t == braName && len(cnt.BRA) > 0 {
				continue // by status below
			}
			counter(ch, descMessages, v, role, "received", t, "")
		}
		for s, v := range cnt.BRA {
			counter(ch, descMessages, v, role, "received", braName, strconv.Itoa(int(s)))
		}
		for t, v := range cnt.Tx {
			if t == baName && len(cnt.PBA) > 0 {
				continue
			}
			counter(ch, descMessages, v, role, "sent", t, "")
		}
		for s, v := range cnt.PBA {
			counter(ch, descMessages, v, role, "sent", baName, strconv.Itoa(int(s)))
		}
		errs := map[string]uint64{"dataplane": cnt.DataPlaneErrors}
		for r, v := range cnt.Dropped {
			errs[Kind(r)] += v // two reasons of one kind add up (a series must be unique)
		}
		for k, v := range errs {
			counter(ch, descErrors, v, role, k)
		}
		for _, e := range []struct {
			name string
			v    uint64
		}{
			{"pbu_ignored", cnt.Ignored}, {"pbu_held", cnt.Held}, {"pbu_superseded", cnt.Superseded},
			{"pbu_without_timestamp", cnt.PBUWithoutTimestamp}, {"heartbeat_missed", cnt.HeartbeatMissed},
			{"peer_down", cnt.PeerDown}, {"peer_restart", cnt.PeerRestart}, {"bri_timeout", cnt.BRITimeouts},
		} {
			counter(ch, descEvents, e.v, role, e.name)
		}
	}
	if ps, err := c.src.LMA.Peers(ctx); err != nil {
		c.failed("lma_peers", err)
	} else {
		up, down := 0, 0
		for _, p := range ps {
			v := 1.0
			if p.Down {
				v = 0
				down++
			} else {
				up++
			}
			gauge(ch, descPeerUp, v, role, p.Addr.String())
		}
		gauge(ch, descPeers, float64(up), role, "up")
		gauge(ch, descPeers, float64(down), role, "down")
	}
}

func (c *collector) collectMAG(ch chan<- prometheus.Metric) {
	const role = "mag"
	n := map[string]int{}
	for _, e := range c.src.MAG.BUL() {
		n[e.State]++
	}
	for _, s := range magStates {
		gauge(ch, descBindings, float64(n[s]), role, s)
		delete(n, s)
	}
	for s, v := range n {
		gauge(ch, descBindings, float64(v), role, s)
	}

	cnt := c.src.MAG.Counters()
	bu, ba := mh.TypeBindingUpdate.String(), mh.TypeBindingAck.String()
	hb := mh.TypeHeartbeat.String()
	for _, m := range []struct {
		dir, typ, status string
		v                uint64
	}{
		{"sent", bu, "", cnt.PBUSent},
		{"received", ba, "", cnt.PBAReceived},
		{"sent", hb, "request", cnt.HeartbeatRequestsSent},
		{"received", hb, "request", cnt.HeartbeatRequestsRecv},
		{"sent", hb, "response", cnt.HeartbeatResponsesSent},
		{"received", hb, "response", cnt.HeartbeatResponsesRecv},
		{"received", "Binding Revocation Indication", "", cnt.BRIReceived},
		{"sent", "Binding Revocation Acknowledgement", "", cnt.BRASent},
		{"received", "Router Solicitation", "", cnt.RSReceived},
		{"sent", "Router Advertisement", "", cnt.RASent},
	} {
		counter(ch, descMessages, m.v, role, m.dir, m.typ, m.status)
	}
	for _, e := range []struct {
		kind string
		v    uint64
	}{
		{"dropped", cnt.MHDropped}, {"dataplane", cnt.DataplaneErrors}, {"send", cnt.SendErr}, {"ra_send", cnt.RAErrors},
	} {
		counter(ch, descErrors, e.v, role, e.kind)
	}
	for _, e := range []struct {
		name string
		v    uint64
	}{
		{"attach", cnt.Attaches}, {"detach", cnt.Detaches},
		{"pbu_retransmitted", cnt.PBURetransmitted}, {"pbu_rate_limited", cnt.PBURateLimited},
		{"pba_accepted", cnt.PBAAccepted}, {"pba_rejected", cnt.PBARejected}, {"pba_ignored", cnt.PBAIgnored},
		{"deregistration", cnt.Deregistrations}, {"binding_expired", cnt.Expired},
		{"peer_down", cnt.PeersDown}, {"peer_restart", cnt.PeerRestarts},
	} {
		counter(ch, descEvents, e.v, role, e.name)
	}

	up, down := 0, 0
	for _, p := range c.src.MAG.Peers() {
		v := 0.0
		if p.Reachable {
			v = 1
			up++
		} else {
			down++
		}
		gauge(ch, descPeerUp, v, role, p.Address.String())
	}
	gauge(ch, descPeers, float64(up), role, "up")
	gauge(ch, descPeers, float64(down), role, "down")
}

func (c *collector) collectDataplane(ch chan<- prometheus.Metric) {
	es, err := c.src.Dataplane.List()
	if err != nil {
		c.failed("dataplane", err)
		return
	}
	driver := c.src.Dataplane.Name()
	n := map[dataplane.Kind]int{}
	for _, e := range es {
		n[e.Kind]++
	}
	for _, k := range dpKinds {
		gauge(ch, descDataplane, float64(n[k]), driver, k.String())
		delete(n, k)
	}
	for k, v := range n {
		gauge(ch, descDataplane, float64(v), driver, k.String())
	}
}

func (c *collector) collectHAA(ctx context.Context, ch chan<- prometheus.Metric) {
	for _, p := range c.src.HAA.Config().Pools {
		n := p.Length
		if n == 0 {
			n = 64
		}
		size := 0.0
		if bits := n - p.Prefix.Bits(); bits >= 0 {
			size = float64(uint64(1) << min(bits, 63))
		}
		gauge(ch, descPoolSize, size, p.Prefix.String(), p.MR.String())
		as, err := c.src.HAA.Allocations(ctx, p.Prefix)
		if err != nil {
			c.failed("haa", err)
			continue
		}
		gauge(ch, descPoolAllocated, float64(len(as)), p.Prefix.String(), p.MR.String())
	}
}

func (c *collector) collectIPsec(ch chan<- prometheus.Metric) {
	s := c.src.IPsec.Snapshot()
	counter(ch, descIPsecPackets, s.InProtected, "in", "protected")
	counter(ch, descIPsecPackets, s.InBypass, "in", "bypass")
	counter(ch, descIPsecPackets, s.OutProtected, "out", "protected")
	counter(ch, descIPsecPackets, s.OutBypass, "out", "bypass")
	for k, v := range s.InDropped {
		counter(ch, descErrors, v, "ipsec", "ipsec_in_"+k)
	}
	for k, v := range s.OutDropped {
		counter(ch, descErrors, v, "ipsec", "ipsec_out_"+k)
	}
	counter(ch, descErrors, s.Other, "ipsec", "ipsec_other")
}
