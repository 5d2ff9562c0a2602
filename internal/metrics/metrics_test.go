package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/mgmt/mgmttest"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

// scrape GETs /metrics from srv and returns the sample lines (no
// comments).
func scrape(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// family returns the sample lines of one metric family (name followed by
// "{" or " ").
func family(lines []string, name string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			out = append(out, l)
		}
	}
	return out
}

func wantFamily(t *testing.T, lines []string, name string, want ...string) {
	t.Helper()
	if got := family(lines, name); !slices.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

var (
	lmaAddr = netip.MustParseAddr("2001:db8:ff::1")
	magAddr = netip.MustParseAddr("2001:db8:ff::11")
	t0      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
)

// lmaOnly runs an LMA alone on an in-memory network, with a node at
// magAddr the test sends from.
func lmaOnly(t *testing.T) (*lma.LMA, *dataplane.Fake, *transport.Mem, *clock.Fake) {
	t.Helper()
	netw := transport.NewNetwork()
	clk := clock.NewFake(t0)
	dp := dataplane.NewFake()
	tr, err := netw.Attach(lmaAddr)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lma.New(lma.Config{Address: lmaAddr, Pools: []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/56")},
		MNs: map[string]lma.MNPolicy{"mn1@example": {}}, TimestampBasedApproachInUse: true, HeartbeatInterval: -1,
		Transport: tr, DataPlane: dp, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		tr.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	node, err := netw.Attach(magAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	return l, dp, node, clk
}

func pbu(mn string, now time.Time) []byte {
	bu := &mh.BindingUpdate{Sequence: 1, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 100}
	bu.Options = mh.Options{
		&mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}, mh.NewNAI(mn),
		&mh.HandoffIndicator{Value: mh.HIAttachNewInterface}, &mh.AccessTechnologyType{Value: mh.ATT8023},
		&mh.Timestamp{Value: mh.TimestampValue(now)},
	}
	b, err := bu.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// waitPBAs waits until n messages are waiting at node and returns their
// statuses.
func waitPBAs(t *testing.T, node *transport.Mem, n int) []mh.Status {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for node.Pending() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d PBAs arrived", node.Pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
	ps := make([]transport.Packet, n)
	k, err := node.Receive(ps)
	if err != nil || k != n {
		t.Fatalf("receive: %d %v", k, err)
	}
	var out []mh.Status
	for _, p := range ps[:k] {
		m, err := mh.Parse(p.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.(*mh.BindingAck).Status)
	}
	return out
}

// An MN registered with a PBU from the mh codec, an unknown MN refused,
// two broken messages: the scrape shows each of them.
func TestLMAMetrics(t *testing.T) {
	l, dp, node, clk := lmaOnly(t)
	m := New(Sources{LMA: l, Dataplane: dp})
	srv := httptest.NewServer(m.Mux())
	defer srv.Close()

	// Before anything: the series exist at zero.
	lines := scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_bindings",
		`pmip_bindings{role="lma",state="active"} 0`,
		`pmip_bindings{role="lma",state="deregistered"} 0`,
		`pmip_bindings{role="lma",state="revoking"} 0`)
	wantFamily(t, lines, "pmip_messages_total")
	wantFamily(t, lines, "pmip_peers", `pmip_peers{role="lma",state="down"} 0`, `pmip_peers{role="lma",state="up"} 0`)

	for _, b := range [][]byte{pbu("mn1@example", clk.Now()), pbu("mn9@example", clk.Now())} {
		if err := node.Send(lmaAddr, b); err != nil {
			t.Fatal(err)
		}
	}
	if got := waitPBAs(t, node, 2); !slices.Equal(got, []mh.Status{mh.StatusAccepted, 153}) {
		t.Fatalf("PBA statuses %v, want [0 153]", got)
	}
	for _, b := range [][]byte{{59, 0}, {59, 1, 5, 0, 0, 0, 0, 0}} { // too short; header length past the end
		if err := node.Send(lmaAddr, b); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := l.Counters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Dropped) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drops: %v", c.Dropped)
		}
		time.Sleep(time.Millisecond)
	}

	lines = scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_bindings",
		`pmip_bindings{role="lma",state="active"} 1`,
		`pmip_bindings{role="lma",state="deregistered"} 0`,
		`pmip_bindings{role="lma",state="revoking"} 0`)
	wantFamily(t, lines, "pmip_messages_total",
		`pmip_messages_total{direction="received",role="lma",status="",type="Binding Update"} 2`,
		`pmip_messages_total{direction="sent",role="lma",status="0",type="Binding Acknowledgement"} 1`,
		`pmip_messages_total{direction="sent",role="lma",status="153",type="Binding Acknowledgement"} 1`)
	wantFamily(t, lines, "pmip_errors_total",
		`pmip_errors_total{kind="dataplane",role="lma"} 0`,
		`pmip_errors_total{kind="malformed",role="lma"} 1`,
		`pmip_errors_total{kind="short",role="lma"} 1`)
	wantFamily(t, lines, "pmip_peers", `pmip_peers{role="lma",state="down"} 0`, `pmip_peers{role="lma",state="up"} 1`)
	wantFamily(t, lines, "pmip_peer_up", `pmip_peer_up{peer="2001:db8:ff::11",role="lma"} 1`)
	wantFamily(t, lines, "pmip_dataplane_entries",
		`pmip_dataplane_entries{driver="fake",kind="access-route"} 0`,
		`pmip_dataplane_entries{driver="fake",kind="prefix-route"} 1`,
		`pmip_dataplane_entries{driver="fake",kind="source-route"} 0`)
	wantFamily(t, lines, "pmip_events_total",
		`pmip_events_total{event="bri_timeout",role="lma"} 0`,
		`pmip_events_total{event="heartbeat_missed",role="lma"} 0`,
		`pmip_events_total{event="pbu_held",role="lma"} 0`,
		`pmip_events_total{event="pbu_ignored",role="lma"} 0`,
		`pmip_events_total{event="pbu_superseded",role="lma"} 0`,
		`pmip_events_total{event="pbu_without_timestamp",role="lma"} 0`,
		`pmip_events_total{event="peer_down",role="lma"} 0`,
		`pmip_events_total{event="peer_restart",role="lma"} 0`)
	// The lifetime (100 units of 4 s) runs out: the binding and its route go.
	clk.Advance(401 * time.Second)
	deadline = time.Now().Add(5 * time.Second)
	for {
		bs, _ := l.Bindings(context.Background())
		if len(bs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("binding did not expire: %+v", bs)
		}
		time.Sleep(time.Millisecond)
	}
	lines = scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_bindings",
		`pmip_bindings{role="lma",state="active"} 0`,
		`pmip_bindings{role="lma",state="deregistered"} 0`,
		`pmip_bindings{role="lma",state="revoking"} 0`)
	wantFamily(t, lines, "pmip_dataplane_entries",
		`pmip_dataplane_entries{driver="fake",kind="access-route"} 0`,
		`pmip_dataplane_entries{driver="fake",kind="prefix-route"} 0`,
		`pmip_dataplane_entries{driver="fake",kind="source-route"} 0`)
}

// The whole domain: LMA and MAG, a revocation answered by the MAG, the
// HAA pools.
func TestDomainMetrics(t *testing.T) {
	d := mgmttest.New(t)
	d.AttachMN1()
	d.AttachMN2()
	d.PopulateDMM()
	chans, err := d.LMA.Revoke(context.Background(), "mn1@example", netip.Prefix{}, 1)
	if err != nil || len(chans) != 1 {
		t.Fatal(chans, err)
	}
	if r := <-chans[0]; !r.Acked || r.Status != 0 || !r.Removed {
		t.Fatalf("revocation: %+v", r)
	}
	d.WaitBUL("mn1@example", "")

	m := New(Sources{LMA: d.LMA, MAG: d.MAG, HAA: d.HAA, Dataplane: d.MAGDP})
	srv := httptest.NewServer(m.Mux())
	defer srv.Close()
	lines := scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_bindings",
		`pmip_bindings{role="lma",state="active"} 1`,
		`pmip_bindings{role="lma",state="deregistered"} 0`,
		`pmip_bindings{role="lma",state="revoking"} 0`,
		`pmip_bindings{role="mag",state="deregistering"} 0`,
		`pmip_bindings{role="mag",state="halted"} 0`,
		`pmip_bindings{role="mag",state="leaving"} 0`,
		`pmip_bindings{role="mag",state="pending"} 0`,
		`pmip_bindings{role="mag",state="refreshing"} 0`,
		`pmip_bindings{role="mag",state="registered"} 1`)
	wantFamily(t, lines, "pmip_messages_total",
		`pmip_messages_total{direction="received",role="lma",status="",type="Binding Update"} 2`,
		`pmip_messages_total{direction="received",role="lma",status="0",type="Binding Revocation Acknowledgement"} 1`,
		`pmip_messages_total{direction="received",role="mag",status="",type="Binding Acknowledgement"} 2`,
		`pmip_messages_total{direction="received",role="mag",status="",type="Binding Revocation Indication"} 1`,
		`pmip_messages_total{direction="received",role="mag",status="",type="Router Solicitation"} 1`,
		`pmip_messages_total{direction="received",role="mag",status="request",type="Heartbeat"} 0`,
		`pmip_messages_total{direction="received",role="mag",status="response",type="Heartbeat"} 0`,
		`pmip_messages_total{direction="sent",role="lma",status="",type="Binding Revocation Indication"} 1`,
		`pmip_messages_total{direction="sent",role="lma",status="0",type="Binding Acknowledgement"} 2`,
		`pmip_messages_total{direction="sent",role="mag",status="",type="Binding Revocation Acknowledgement"} 1`,
		`pmip_messages_total{direction="sent",role="mag",status="",type="Binding Update"} 2`,
		`pmip_messages_total{direction="sent",role="mag",status="",type="Router Advertisement"} 3`, // 2 at registration, 1 withdrawing mn1's prefix
		`pmip_messages_total{direction="sent",role="mag",status="request",type="Heartbeat"} 0`,
		`pmip_messages_total{direction="sent",role="mag",status="response",type="Heartbeat"} 0`)
	for _, l := range []string{
		`pmip_events_total{event="attach",role="mag"} 2`,
		`pmip_events_total{event="pba_accepted",role="mag"} 2`,
		`pmip_events_total{event="pba_rejected",role="mag"} 0`,
		`pmip_errors_total{kind="dropped",role="mag"} 0`,
		`pmip_peer_up{peer="2001:db8:ff::1",role="mag"} 1`,
		`pmip_peer_up{peer="2001:db8:ff::11",role="lma"} 1`,
	} {
		if !slices.Contains(lines, l) {
			t.Errorf("missing %s", l)
		}
	}
	// The MAG's data plane: the uplink source route and the access route
	// of mn2 (mn1's went with the revocation).
	wantFamily(t, lines, "pmip_dataplane_entries",
		`pmip_dataplane_entries{driver="fake",kind="access-route"} 1`,
		`pmip_dataplane_entries{driver="fake",kind="prefix-route"} 0`,
		`pmip_dataplane_entries{driver="fake",kind="source-route"} 1`)
	wantFamily(t, lines, "pmip_haa_pool_prefixes",
		`pmip_haa_pool_prefixes{mr="2001:db8:ff::21",pool="2001:db8:a00::/62"} 4`,
		`pmip_haa_pool_prefixes{mr="2001:db8:ff::22",pool="2001:db8:b00::/63"} 2`)
	wantFamily(t, lines, "pmip_haa_pool_allocated",
		`pmip_haa_pool_allocated{mr="2001:db8:ff::21",pool="2001:db8:a00::/62"} 2`,
		`pmip_haa_pool_allocated{mr="2001:db8:ff::22",pool="2001:db8:b00::/63"} 1`)
}

func TestObserverHistograms(t *testing.T) {
	m := New(Sources{})
	var o Observer = m
	o.ObserveHandover(30 * time.Millisecond)
	o.ObserveHandover(2 * time.Second)
	o.ObserveLMQuery(200 * time.Microsecond)
	Nop.ObserveHandover(time.Hour) // records nothing anywhere
	srv := httptest.NewServer(m.Mux())
	defer srv.Close()
	lines := scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_handover_duration_seconds_bucket",
		`pmip_handover_duration_seconds_bucket{le="0.001"} 0`,
		`pmip_handover_duration_seconds_bucket{le="0.0025"} 0`,
		`pmip_handover_duration_seconds_bucket{le="0.005"} 0`,
		`pmip_handover_duration_seconds_bucket{le="0.01"} 0`,
		`pmip_handover_duration_seconds_bucket{le="0.025"} 0`,
		`pmip_handover_duration_seconds_bucket{le="0.05"} 1`,
		`pmip_handover_duration_seconds_bucket{le="0.1"} 1`,
		`pmip_handover_duration_seconds_bucket{le="0.25"} 1`,
		`pmip_handover_duration_seconds_bucket{le="0.5"} 1`,
		`pmip_handover_duration_seconds_bucket{le="1"} 1`,
		`pmip_handover_duration_seconds_bucket{le="2.5"} 2`,
		`pmip_handover_duration_seconds_bucket{le="5"} 2`,
		`pmip_handover_duration_seconds_bucket{le="10"} 2`,
		`pmip_handover_duration_seconds_bucket{le="+Inf"} 2`)
	wantFamily(t, lines, "pmip_handover_duration_seconds_sum", `pmip_handover_duration_seconds_sum 2.03`)
	wantFamily(t, lines, "pmip_handover_duration_seconds_count", `pmip_handover_duration_seconds_count 2`)
	wantFamily(t, lines, "pmip_lm_query_duration_seconds_bucket",
		`pmip_lm_query_duration_seconds_bucket{le="5e-05"} 0`,
		`pmip_lm_query_duration_seconds_bucket{le="0.0001"} 0`,
		`pmip_lm_query_duration_seconds_bucket{le="0.00025"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.0005"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.001"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.0025"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.005"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.01"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.025"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.05"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.1"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.25"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="0.5"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="1"} 1`,
		`pmip_lm_query_duration_seconds_bucket{le="+Inf"} 1`)
	wantFamily(t, lines, "pmip_lm_query_duration_seconds_count", `pmip_lm_query_duration_seconds_count 1`)
	// No role: no role metric at all.
	for _, f := range []string{"pmip_bindings", "pmip_messages_total", "pmip_peers", "pmip_dataplane_entries"} {
		wantFamily(t, lines, f)
	}
}

// failingLMA answers nothing.
type failingLMA struct{}

var errDown = errors.New("loop stopped")

func (failingLMA) Bindings(context.Context) ([]lma.Binding, error) { return nil, errDown }
func (failingLMA) Counters(context.Context) (lma.Counters, error)  { return lma.Counters{}, errDown }
func (failingLMA) Peers(context.Context) ([]lma.Peer, error)       { return nil, errDown }

// A source that fails is left out of the scrape and counted; the others
// are still served.
func TestFailingSource(t *testing.T) {
	var counters ipsec.Counters
	m := New(Sources{LMA: failingLMA{}, IPsec: &counters, Dataplane: dataplane.NewFake()})
	srv := httptest.NewServer(m.Mux())
	defer srv.Close()
	lines := scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_bindings")
	wantFamily(t, lines, "pmip_ipsec_packets_total",
		`pmip_ipsec_packets_total{direction="in",result="bypass"} 0`,
		`pmip_ipsec_packets_total{direction="in",result="protected"} 0`,
		`pmip_ipsec_packets_total{direction="out",result="bypass"} 0`,
		`pmip_ipsec_packets_total{direction="out",result="protected"} 0`)
	for _, l := range []string{
		`pmip_errors_total{kind="ipsec_in_replay",role="ipsec"} 0`,
		`pmip_errors_total{kind="ipsec_out_policy",role="ipsec"} 0`,
		`pmip_errors_total{kind="ipsec_other",role="ipsec"} 0`,
		`pmip_dataplane_entries{driver="fake",kind="prefix-route"} 0`,
	} {
		if !slices.Contains(lines, l) {
			t.Errorf("missing %s", l)
		}
	}
	for _, src := range []string{"lma_bindings", "lma_counters", "lma_peers"} {
		var pb dto.Metric
		if err := m.collectErrors.WithLabelValues(src).Write(&pb); err != nil {
			t.Fatal(err)
		}
		if v := pb.GetCounter().GetValue(); v != 1 {
			t.Errorf("collect errors of %s: %v, want 1", src, v)
		}
	}
}

func TestKind(t *testing.T) {
	for in, want := range map[string]string{
		"short": "short", "header check": "header_check", "unexpected Binding Acknowledgement": "unexpected_binding_acknowledgement",
		"BRA matching no BRI": "bra_matching_no_bri", "  odd--reason!! ": "odd_reason",
	} {
		if got := Kind(in); got != want {
			t.Errorf("Kind(%q) = %q, want %q", in, got, want)
		}
	}
}

// Serve answers /metrics only, and stops with its context.
func TestServe(t *testing.T) {
	m := New(Sources{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	if lines := scrape(t, url); len(family(lines, "pmip_handover_duration_seconds_count")) != 1 {
		t.Errorf("scrape over TCP: %v", lines)
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /: %s", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
