package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// metricsAddr is where every daemon of the ops tests serves /metrics, on
// the loopback of its own namespace.
const metricsAddr = "127.0.0.1:9469"

// withMetrics turns metrics.listen on for the three daemons.
func withMetrics(o topoOptions) topoOptions {
	if o == nil {
		o = topoOptions{}
	}
	for _, n := range []string{"lma", "mag1", "mag2"} {
		o[n] = append(o[n], `listen: ""                # disabled`, `listen: "`+metricsAddr+`"`)
	}
	return o
}

// sample is one line of the Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metricSet is a scrape.
type metricSet []sample

// parseMetrics reads the text exposition format (comments skipped).
func parseMetrics(text string) (metricSet, error) {
	var out metricSet
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i > 0 && line[i] == '{' {
			s.name = line[:i]
			rest = line[i+1:]
			for !strings.HasPrefix(rest, "}") {
				eq := strings.Index(rest, `="`)
				if eq < 0 {
					return nil, fmt.Errorf("bad labels: %q", line)
				}
				k := rest[:eq]
				rest = rest[eq+2:]
				var v strings.Builder
				for len(rest) > 0 && rest[0] != '"' {
					if rest[0] == '\\' && len(rest) > 1 {
						rest = rest[1:]
					}
					v.WriteByte(rest[0])
					rest = rest[1:]
				}
				if rest == "" {
					return nil, fmt.Errorf("unterminated label value: %q", line)
				}
				s.labels[k] = v.String()
				rest = strings.TrimPrefix(rest[1:], ",")
			}
			rest = strings.TrimSpace(rest[1:])
		} else {
			f := strings.Fields(line)
			if len(f) < 2 {
				return nil, fmt.Errorf("bad line: %q", line)
			}
			s.name, rest = f[0], f[1]
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value: %q", line)
		}
		s.value = v
		out = append(out, s)
	}
	return out, nil
}

// get returns the value of the series name{k1="v1",...} whose labels are
// exactly the given ones.
func (m metricSet) get(name string, kv ...string) (float64, bool) {
	for _, s := range m {
		if s.name != name || len(s.labels) != len(kv)/2 {
			continue
		}
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if v, ok := s.labels[kv[i]]; !ok || v != kv[i+1] {
				match = false
				break
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

// series lists the series of one metric (for failure messages).
func (m metricSet) series(name string) string {
	var out []string
	for _, s := range m {
		if s.name != name {
			continue
		}
		var ls []string
		for k, v := range s.labels {
			ls = append(ls, fmt.Sprintf("%s=%q", k, v))
		}
		sort.Strings(ls)
		out = append(out, fmt.Sprintf("%s{%s} %v", s.name, strings.Join(ls, ","), s.value))
	}
	return strings.Join(out, "\n")
}

// scrape fetches /metrics from addr inside ns (the socket is opened in
// the namespace; the exchange is plain HTTP/1.1).
func scrape(t *testing.T, ns *netnstest.NS, addr string) metricSet {
	t.Helper()
	var conn net.Conn
	if err := ns.Do(func() (err error) { conn, err = net.DialTimeout("tcp", addr, 2*time.Second); return }); err != nil {
		t.Fatalf("metrics of %s at %s: %v", ns.Name, addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: pmipd\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("metrics of %s: %v", ns.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics of %s: %s %v\n%s", ns.Name, resp.Status, err, b)
	}
	m, err := parseMetrics(string(b))
	if err != nil {
		t.Fatalf("metrics of %s: %v", ns.Name, err)
	}
	return m
}

// want is one expected series and its exact value.
type want struct {
	name   string
	labels []string
	value  float64
}

func checkMetrics(t *testing.T, who string, m metricSet, wants []want) {
	t.Helper()
	for _, w := range wants {
		v, ok := m.get(w.name, w.labels...)
		switch {
		case !ok:
			t.Errorf("%s: no series %s%q; have:\n%s", who, w.name, w.labels, m.series(w.name))
		case v != w.value:
			t.Errorf("%s: %s%q = %v, want %v", who, w.name, w.labels, v, w.value)
		}
	}
}

// pmipctl runs the pmipctl built beside pmipd against a daemon's socket.
func (tp *topo) pmipctl(t *testing.T, d *daemon, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(tp.dir, "pmipctl"), append(args, "--socket", d.sock)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pmipctl %s (%s): %v\n%s", strings.Join(args, " "), d.name, err, out)
	}
	return string(out)
}

func (tp *topo) pmipctlJSON(t *testing.T, d *daemon, v any, args ...string) {
	t.Helper()
	out := tp.pmipctl(t, d, append(args, "--json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("pmipctl %s --json (%s): %v\n%s", strings.Join(args, " "), d.name, err, out)
	}
}

// TestOps attaches the MN at MAG1 and reads the outcome the way an
// operator does: Prometheus metrics of the LMA and MAG1 (bindings,
// messages by type and status, events, peers, data plane entries) and
// pmipctl bindings / bul / dataplane / peers / counters / status /
// reload against the running daemons, with exact values.
func TestOps(t *testing.T) {
	start := time.Now()
	tp := newTopo(t, withMetrics(nil))

	// Before any MN: the series exist with zeros.
	m := scrape(t, tp.lma, metricsAddr)
	checkMetrics(t, "LMA before", m, []want{
		{"pmip_bindings", []string{"role", "lma", "state", "active"}, 0},
	})

	mnAddr, hnp := tp.attach(t)
	t.Logf("MN %v, HNP %v", mnAddr, hnp)
	var st struct {
		Driver string `json:"driver"`
	}
	tp.lmaD.get(t, "/v1/status", &st)
	drv := st.Driver

	// The LMA: one active binding, one PBU received, one PBA sent with
	// status 0, a prefix route to MAG1, MAG1 up.
	m = scrape(t, tp.lma, metricsAddr)
	checkMetrics(t, "LMA", m, []want{
		{"pmip_bindings", []string{"role", "lma", "state", "active"}, 1},
		{"pmip_bindings", []string{"role", "lma", "state", "deregistered"}, 0},
		{"pmip_bindings", []string{"role", "lma", "state", "revoking"}, 0},
		{"pmip_messages_total", []string{"role", "lma", "direction", "received", "type", "Binding Update", "status", ""}, 1},
		{"pmip_messages_total", []string{"role", "lma", "direction", "sent", "type", "Binding Acknowledgement", "status", "0"}, 1},
		{"pmip_errors_total", []string{"role", "lma", "kind", "dataplane"}, 0},
		{"pmip_events_total", []string{"role", "lma", "event", "pbu_held"}, 0},
		{"pmip_peers", []string{"role", "lma", "state", "up"}, 1},
		{"pmip_peers", []string{"role", "lma", "state", "down"}, 0},
		{"pmip_peer_up", []string{"role", "lma", "peer", mag1Addr.String()}, 1},
		{"pmip_dataplane_entries", []string{"driver", drv, "kind", "prefix-route"}, 1},
	})
	// MAG1: one registered BUL entry, one PBU sent, one PBA received and
	// accepted, one attach; its uplink rule and access route.
	m1 := scrape(t, tp.mag1, metricsAddr)
	checkMetrics(t, "MAG1", m1, []want{
		{"pmip_bindings", []string{"role", "mag", "state", "registered"}, 1},
		{"pmip_bindings", []string{"role", "mag", "state", "pending"}, 0},
		{"pmip_messages_total", []string{"role", "mag", "direction", "sent", "type", "Binding Update", "status", ""}, 1},
		{"pmip_messages_total", []string{"role", "mag", "direction", "received", "type", "Binding Acknowledgement", "status", ""}, 1},
		{"pmip_events_total", []string{"role", "mag", "event", "attach"}, 1},
		{"pmip_events_total", []string{"role", "mag", "event", "pba_accepted"}, 1},
		{"pmip_events_total", []string{"role", "mag", "event", "pba_rejected"}, 0},
		{"pmip_events_total", []string{"role", "mag", "event", "pbu_retransmitted"}, 0},
		{"pmip_errors_total", []string{"role", "mag", "kind", "dropped"}, 0},
		{"pmip_dataplane_entries", []string{"driver", drv, "kind", "source-route"}, 1},
		{"pmip_dataplane_entries", []string{"driver", drv, "kind", "access-route"}, 1},
	})
	// MAG2 has seen nothing.
	checkMetrics(t, "MAG2", scrape(t, tp.mag2, metricsAddr), []want{
		{"pmip_bindings", []string{"role", "mag", "state", "registered"}, 0},
		{"pmip_messages_total", []string{"role", "mag", "direction", "sent", "type", "Binding Update", "status", ""}, 0},
	})
	if _, ok := m.get("go_goroutines"); !ok {
		t.Errorf("LMA metrics lack the Go runtime collector (go_goroutines)")
	}

	// pmipctl against the running daemons.
	var bs struct {
		Bindings []struct {
			MN          string         `json:"mn"`
			MNIDType    string         `json:"mnid_type"`
			HNPs        []netip.Prefix `json:"hnps"`
			ProxyCoA    netip.Addr     `json:"proxy_coa"`
			LinkLocal   netip.Addr     `json:"link_local"`
			LinkLayerID string         `json:"link_layer_id"`
			ATT         uint8          `json:"att"`
			ATTName     string         `json:"att_name"`
			HI          uint8          `json:"handoff_indicator"`
			State       string         `json:"state"`
			Held        bool           `json:"held"`
			Timestamp   uint64         `json:"timestamp"`
			Sequence    uint16         `json:"sequence"`
			Lifetime    int64          `json:"lifetime_s"`
			Remaining   int64          `json:"remaining_s"`
			Expires     time.Time      `json:"expires"`
			Created     time.Time      `json:"created"`
		} `json:"bindings"`
	}
	tp.pmipctlJSON(t, tp.lmaD, &bs, "bindings")
	if len(bs.Bindings) != 1 {
		t.Fatalf("pmipctl bindings: %+v", bs)
	}
	b := bs.Bindings[0]
	// The LLA option carries the MAG's RFC 6543 link-local address; the
	// MN's link-layer identifier is its MAC.
	if b.MN != mnID || b.MNIDType != "NAI" || len(b.HNPs) != 1 || b.HNPs[0] != hnp || b.ProxyCoA != mag1Addr ||
		b.LinkLocal != netip.MustParseAddr("fe80::200:5eff:fe00:5213") || b.LinkLayerID != "020000000101" ||
		b.ATT != 3 || b.ATTName != "IEEE 802.3" || b.HI != 1 || b.State != "active" || b.Held || b.Sequence != 1 || b.Lifetime != 120 ||
		b.Remaining < 100 || b.Remaining > 120 || b.Timestamp == 0 || !b.Expires.After(b.Created) ||
		b.Expires.Sub(b.Created) < 119*time.Second || b.Expires.Sub(b.Created) > 121*time.Second {
		t.Errorf("pmipctl bindings --json: %+v", b)
	}
	t.Logf("pmipctl bindings: %+v", b)
	table := tp.pmipctl(t, tp.lmaD, "bindings")
	if !strings.Contains(table, mnID) || !strings.Contains(table, hnp.String()) || !strings.Contains(table, mag1Addr.String()) {
		t.Errorf("pmipctl bindings table:\n%s", table)
	}

	var bul struct {
		BUL []struct {
			MNID        string         `json:"mnid"`
			Interface   string         `json:"interface"`
			MAC         string         `json:"mac"`
			MNLinkLocal netip.Addr     `json:"mn_link_local"`
			LMA         netip.Addr     `json:"lma"`
			ATT         uint8          `json:"att"`
			ATTName     string         `json:"att_name"`
			HNPs        []netip.Prefix `json:"hnps"`
			Requested   []netip.Prefix `json:"requested"`
			State       string         `json:"state"`
			HI          uint8          `json:"handoff_indicator"`
			Lifetime    int64          `json:"lifetime_s"`
			Remaining   int64          `json:"remaining_s"`
			Expires     *time.Time     `json:"expires"`
			LastAccept  *time.Time     `json:"last_accepted"`
			Retries     int            `json:"retries"`
		} `json:"bul"`
	}
	tp.pmipctlJSON(t, tp.mag1D, &bul, "bul")
	if len(bul.BUL) != 1 {
		t.Fatalf("pmipctl bul: %+v", bul)
	}
	e := bul.BUL[0]
	// The MN asked for any prefix (ALL_ZERO HNP, RFC 5213 §6.9.1.1). Its
	// link-local address is known only when the MAG heard a packet from
	// it before the registration (the first frame from the MN may come
	// earlier, from ::); then it is its EUI-64 one.
	if ll := e.MNLinkLocal; ll.IsValid() && ll != netip.MustParseAddr("fe80::ff:fe00:101") {
		t.Errorf("pmipctl bul --json: MN link-local %v, want none or fe80::ff:fe00:101", ll)
	}
	if e.MNID != mnID || e.Interface != "acc" || e.MAC != mnMAC ||
		e.LMA != lmaAddr || e.ATT != 3 || e.ATTName != "IEEE 802.3" || fmt.Sprint(e.Requested) != "[::/0]" ||
		len(e.HNPs) != 1 || e.HNPs[0] != hnp || e.State != "registered" || e.HI != 1 || e.Lifetime != 120 ||
		e.Remaining < 100 || e.Remaining > 120 || e.Expires == nil || e.LastAccept == nil || e.Retries != 0 {
		t.Errorf("pmipctl bul --json: %+v", e)
	}
	t.Logf("pmipctl bul: %+v", e)

	type entry struct {
		Kind   string       `json:"kind"`
		Prefix netip.Prefix `json:"prefix"`
		Remote netip.Addr   `json:"remote"`
		Dev    string       `json:"dev"`
	}
	type dataplane struct {
		Driver     string  `json:"driver"`
		Entries    []entry `json:"entries"`
		Compared   bool    `json:"compared"`
		Missing    []entry `json:"missing"`
		Unexpected []entry `json:"unexpected"`
	}
	host := func(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, 128) }
	for _, x := range []struct {
		d        *daemon
		compared bool // the role's wanted entries are compared with the kernel's
		entries  []entry
	}{
		{tp.lmaD, true, []entry{{Kind: "decap", Prefix: host(lmaAddr), Dev: "core"},
			{Kind: "prefix-route", Prefix: hnp, Remote: mag1Addr}}},
		{tp.mag1D, true, []entry{{Kind: "decap", Prefix: host(mag1Addr), Dev: "core"},
			{Kind: "source-route", Prefix: hnp, Remote: lmaAddr, Dev: "acc"},
			{Kind: "access-route", Prefix: hnp, Dev: "acc"}}},
	} {
		var dp dataplane
		tp.pmipctlJSON(t, x.d, &dp, "dataplane")
		if dp.Driver != drv || dp.Compared != x.compared || len(dp.Missing) != 0 || len(dp.Unexpected) != 0 ||
			fmt.Sprint(dp.Entries) != fmt.Sprint(x.entries) {
			t.Errorf("pmipctl dataplane --json (%s): %+v\nwant driver %s, compared %v, entries %+v", x.d.name, dp, drv, x.compared, x.entries)
		}
	}

	var peers struct {
		Peers []struct {
			Role     string     `json:"role"`
			Address  netip.Addr `json:"address"`
			Bindings int        `json:"bindings"`
			Up       bool       `json:"up"`
		} `json:"peers"`
	}
	out := tp.pmipctl(t, tp.lmaD, "peers", "--json")
	if err := json.Unmarshal([]byte(out), &peers); err != nil || len(peers.Peers) != 1 || peers.Peers[0].Role != "lma" ||
		peers.Peers[0].Address != mag1Addr || peers.Peers[0].Bindings != 1 || !peers.Peers[0].Up {
		t.Errorf("pmipctl peers --json (LMA): %v %s", err, out)
	}
	var ctr struct {
		Counters []counter `json:"counters"`
	}
	out = tp.pmipctl(t, tp.mag1D, "counters", "--json")
	if err := json.Unmarshal([]byte(out), &ctr); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, c := range ctr.Counters {
		got[c.Role+"/"+c.Name] = c.Value
	}
	for k, v := range map[string]uint64{"mag/attaches": 1, "mag/pbu_sent": 1, "mag/pba_accepted": 1, "mag/pba_rejected": 0} {
		if got[k] != v {
			t.Errorf("pmipctl counters (MAG1): %s = %d, want %d", k, got[k], v)
		}
	}
	var status struct {
		Node  string   `json:"node"`
		Roles []string `json:"roles"`
	}
	out = tp.pmipctl(t, tp.mag1D, "status", "--json")
	if err := json.Unmarshal([]byte(out), &status); err != nil || status.Node != "mag1" || len(status.Roles) != 1 || status.Roles[0] != "mag" {
		t.Errorf("pmipctl status --json (MAG1): %v %s", err, out)
	}
	// A reload of the unchanged file changes nothing.
	out = tp.pmipctl(t, tp.lmaD, "reload", "--json")
	var rr struct {
		Changes []string `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &rr); err != nil || len(rr.Changes) != 1 || rr.Changes[0] != "no changes" {
		t.Errorf("pmipctl reload --json: %v %s", err, out)
	}
	t.Logf("pmipctl reload: %s", strings.TrimSpace(out))
	// pmipdemo show (scripts/demo.sh) reads the same API.
	for _, x := range []struct {
		d         *daemon
		what      string
		wantWords []string
	}{
		{tp.lmaD, "bindings", []string{mnID, hnp.String(), mag1Addr.String(), "active"}},
		{tp.mag1D, "bul", []string{mnID, "acc", lmaAddr.String(), hnp.String(), "registered"}},
		{tp.mag1D, "dataplane", []string{"source-route", "access-route", hnp.String()}},
		{tp.lmaD, "counters", []string{"pba_status", "0 Binding Update accepted"}},
	} {
		out, err := exec.Command(tp.pmipdemo, "show", "-socket", x.d.sock, x.what).CombinedOutput()
		if err != nil {
			t.Errorf("pmipdemo show %s (%s): %v\n%s", x.what, x.d.name, err, out)
			continue
		}
		for _, w := range x.wantWords {
			if !strings.Contains(string(out), w) {
				t.Errorf("pmipdemo show %s (%s) lacks %q:\n%s", x.what, x.d.name, w, out)
			}
		}
	}
	// The MAG does not keep a binding cache: pmipctl says so and fails.
	cmd := exec.Command(filepath.Join(tp.dir, "pmipctl"), "bindings", "--socket", tp.mag1D.sock)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "role") {
		t.Errorf("pmipctl bindings against a MAG: %v %s", err, out)
	}
	t.Logf("ops test done in %v", time.Since(start).Round(time.Millisecond))
}
