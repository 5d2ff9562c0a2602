package mgmt_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/mgmt/mgmttest"
)

// setup runs the domain with mn1 and mn2 attached through the MAG and the
// DMM records populated, and an API server over all of it.
func setup(t *testing.T) (*mgmttest.Domain, *httptest.Server) {
	t.Helper()
	d := mgmttest.New(t)
	d.AttachMN1()
	d.AttachMN2()
	d.PopulateDMM()
	srv := httptest.NewServer(mgmt.New(d.MgmtConfig()))
	t.Cleanup(srv.Close)
	return d, srv
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSuffix(string(b), "\n")
}

// The exact JSON of each read endpoint over the running roles: this pins
// the field names and the values taken from the roles.
func TestEndpointsJSON(t *testing.T) {
	_, srv := setup(t)
	const (
		bnd1 = `{"mn":"mn1@example","mnid_type":"NAI","hnps":["2001:db8:100::/64"],"proxy_coa":"2001:db8:ff::11",` +
			`"link_local":"fe80::200:5eff:fe00:5213","link_layer_id":"0000","att":3,"att_name":"IEEE 802.3",` +
			`"handoff_indicator":1,"state":"active","timestamp":112365718732800,"sequence":1,"lifetime_s":3600,` +
			`"remaining_s":3600,"expires":"2024-05-01T13:00:00Z","created":"2024-05-01T12:00:00Z"}`
		bnd2 = `{"mn":"mn2@example","mnid_type":"NAI","hnps":["2001:db8:100:1::/64"],"proxy_coa":"2001:db8:ff::11",` +
			`"link_local":"fe80::200:5eff:fe00:5213","link_layer_id":"02005e100002","att":3,"att_name":"IEEE 802.3",` +
			`"handoff_indicator":1,"state":"active","timestamp":112365718732800,"sequence":2,"lifetime_s":3600,` +
			`"remaining_s":3600,"expires":"2024-05-01T13:00:00Z","created":"2024-05-01T12:00:00Z"}`
		loc1 = `{"mnid":"mn1@example","prefix":"2001:db8:a00::/64","anchor_mr":"2001:db8:ff::21","current_mr":"2001:db8:ff::22",` +
			`"lifetime_s":3600,"remaining_s":3600,"expires":"2024-05-01T13:00:00Z","updated_at":"2024-05-01T12:00:00Z","sequence":1}`
		loc3 = `{"mnid":"mn1@example","prefix":"2001:db8:b00::/64","anchor_mr":"2001:db8:ff::22","current_mr":"2001:db8:ff::22",` +
			`"lifetime_s":3600,"remaining_s":3600,"expires":"2024-05-01T13:00:00Z","updated_at":"2024-05-01T12:00:00Z","sequence":3}`
		all1 = `{"mnid":"mn1@example","prefix":"2001:db8:a00::/64","anchor_mr":"2001:db8:ff::21","pool":"2001:db8:a00::/62",` +
			`"allocated_at":"2024-05-01T12:00:00Z","lifetime_s":3600,"remaining_s":3600,"expires":"2024-05-01T13:00:00Z"}`
		all2 = `{"mnid":"mn2@example","prefix":"2001:db8:a00:1::/64","anchor_mr":"2001:db8:ff::21","pool":"2001:db8:a00::/62",` +
			`"allocated_at":"2024-05-01T12:00:00Z","lifetime_s":3600,"remaining_s":3600,"expires":"2024-05-01T13:00:00Z"}`
		all3 = `{"mnid":"mn1@example","prefix":"2001:db8:b00::/64","anchor_mr":"2001:db8:ff::22","pool":"2001:db8:b00::/63",` +
			`"allocated_at":"2024-05-01T12:00:00Z","lifetime_s":3600,"remaining_s":3600,"expires":"2024-05-01T13:00:00Z"}`
	)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/v1/bindings", 200, `{"bindings":[` + bnd1 + `,` + bnd2 + `]}`},
		{"/v1/bindings/mn2@example", 200, `{"bindings":[` + bnd2 + `]}`},
		{"/v1/bindings/mn9@example", 404, `{"error":"not_found","detail":"no binding for MN \"mn9@example\""}`},
		{"/v1/bul", 200, `{"bul":[` +
			`{"mnid":"mn1@example","interface":"acc1","lma":"2001:db8:ff::1","att":3,"att_name":"IEEE 802.3",` +
			`"hnps":["2001:db8:100::/64"],"requested":["::/0"],"state":"registered","handoff_indicator":1,` +
			`"lifetime_s":3600,"remaining_s":3600,"expires":"2024-05-01T13:00:00Z","last_accepted":"2024-05-01T12:00:00Z","retries":0},` +
			`{"mnid":"mn2@example","interface":"acc2","mac":"02:00:5e:10:00:02","mn_link_local":"fe80::2","lma":"2001:db8:ff::1",` +
			`"att":3,"att_name":"IEEE 802.3","hnps":["2001:db8:100:1::/64"],"requested":["::/0"],"state":"registered",` +
			`"handoff_indicator":1,"lifetime_s":3600,"remaining_s":3600,"expires":"2024-05-01T13:00:00Z",` +
			`"last_accepted":"2024-05-01T12:00:00Z","retries":0}]}`},
		{"/v1/locations?mn=mn1@example", 200, `{"locations":[` + loc1 + `,` + loc3 + `]}`},
		{"/v1/locations?address=2001:db8:a00::5", 200, `{"locations":[` + loc1 + `]}`},
		{"/v1/locations?prefix=2001:db8:b00::/64", 200, `{"locations":[` + loc3 + `]}`},
		{"/v1/locations?address=2001:db8:a00:3::1", 200, `{"locations":[]}`},
		{"/v1/locations?mn=nobody", 200, `{"locations":[]}`},
		{"/v1/locations", 400, `{"error":"bad_request","detail":"give exactly one of ?address=, ?prefix= or ?mn= (got 0)"}`},
		{"/v1/locations?mn=a&prefix=2001:db8::/64", 400, `{"error":"bad_request","detail":"give exactly one of ?address=, ?prefix= or ?mn= (got 2)"}`},
		{"/v1/locations?address=2001:db8::zz", 400, `{"error":"bad_request","detail":"address \"2001:db8::zz\": not an IPv6 address"}`},
		{"/v1/locations?address=192.0.2.1", 400, `{"error":"bad_request","detail":"address \"192.0.2.1\": not an IPv6 address"}`},
		{"/v1/locations?prefix=banana", 400, `{"error":"bad_request","detail":"prefix \"banana\": not an IPv6 prefix"}`},
		{"/v1/locations?prefix=2001:db8:b00::/60", 200, `{"locations":[]}`},
		{"/v1/locations?mn=", 400, `{"error":"bad_request","detail":"lm: invalid request: empty MN-ID"}`},
		{"/v1/allocations?mn=", 400, `{"error":"bad_request","detail":"haa: invalid request: empty MN-ID"}`},
		{"/v1/allocations?pool=banana", 400, `{"error":"bad_request","detail":"pool \"banana\": not a prefix"}`},
		{"/v1/pools", 200, `{"pools":[{"mr":"2001:db8:ff::21","prefix":"2001:db8:a00::/62","length":64,"size":4,"allocated":2},` +
			`{"mr":"2001:db8:ff::22","prefix":"2001:db8:b00::/63","length":64,"size":2,"allocated":1}]}`},
		{"/v1/allocations", 200, `{"allocations":[` + all1 + `,` + all2 + `,` + all3 + `]}`},
		{"/v1/allocations?pool=2001:db8:b00::/63", 200, `{"allocations":[` + all3 + `]}`},
		{"/v1/allocations?mn=mn1@example", 200, `{"allocations":[` + all1 + `,` + all3 + `]}`},
		{"/v1/allocations?pool=2001:db8:c00::/63", 404, `{"error":"not_found","detail":"no pool 2001:db8:c00::/63"}`},
		{"/v1/allocations?pool=x&mn=y", 400, `{"error":"bad_request","detail":"give at most one of ?pool= and ?mn="}`},
		{"/v1/peers", 200, `{"peers":[` +
			`{"role":"lma","address":"2001:db8:ff::11","bindings":2,"up":true,"missing_heartbeats":0,"restarts":0},` +
			`{"role":"mag","address":"2001:db8:ff::1","bindings":2,"up":true,"missing_heartbeats":0,"restarts":0}]}`},
		{"/v1/dataplane", 200, `{"driver":"fake","entries":[` +
			`{"kind":"prefix-route","prefix":"2001:db8:100::/64","remote":"2001:db8:ff::11"},` +
			`{"kind":"prefix-route","prefix":"2001:db8:100:1::/64","remote":"2001:db8:ff::11"}],` +
			`"compared":true,"missing":[],"unexpected":[]}`},
		{"/v1/nothing", 404, `{"error":"not_found","detail":"no endpoint GET /v1/nothing"}`},
	} {
		status, got := do(t, srv, "GET", tc.path, "")
		if status != tc.status || got != tc.want {
			t.Errorf("GET %s:\n got %d %s\nwant %d %s", tc.path, status, got, tc.status, tc.want)
		}
	}
	status, got := do(t, srv, "POST", "/v1/bindings", "")
	if want := `{"error":"method_not_allowed","detail":"POST /v1/bindings: method not allowed (allowed: GET)"}`; status != 405 || got != want {
		t.Errorf("POST /v1/bindings: %d %s", status, got)
	}
}

func TestCounters(t *testing.T) {
	_, srv := setup(t)
	cs, err := mgmt.NewHTTPClient(srv.URL, srv.Client(), "").Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, c := range cs {
		got[c.Role+" "+c.Name+" "+c.Key] = c.Value
	}
	for k, v := range map[string]uint64{
		"lma rx Binding Update":                    2,
		"lma tx Binding Acknowledgement":           2,
		"lma pba_status 0 Binding Update accepted": 2,
		"lma dataplane_errors ":                    0,
		"mag attaches ":                            2,
		"mag pbu_sent ":                            2,
		"mag pba_accepted ":                        2,
		"mag rs_received ":                         1,
		"mag ra_sent ":                             2,
		"mag bri_received ":                        0,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("counter %q = %d (present %v), want %d", k, g, ok, v)
		}
	}
	if !slices.IsSortedFunc(cs, func(a, b mgmt.Counter) int {
		return strings.Compare(a.Role+"\x00"+a.Name+"\x00"+a.Key, b.Role+"\x00"+b.Name+"\x00"+b.Key)
	}) {
		t.Errorf("counters not sorted by role, name, key")
	}
}

// Revocation goes through the LMA to the real MAG, which answers the BRI.
func TestRevoke(t *testing.T) {
	d, srv := setup(t)
	c := mgmt.NewHTTPClient(srv.URL, srv.Client(), "")
	ctx := context.Background()

	// A prefix the MN does not hold: nothing to revoke.
	_, err := c.Revoke(ctx, "mn1@example", mgmt.RevokeRequest{Prefix: netip.MustParsePrefix("2001:db8:100:1::/64")})
	var ae *mgmt.Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" ||
		ae.Detail != `no binding of MN "mn1@example" with prefix 2001:db8:100:1::/64 to revoke (or it is already being revoked)` {
		t.Fatalf("revoke of a prefix not held: %#v", err)
	}

	resp, err := c.Revoke(ctx, "mn1@example", mgmt.RevokeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := mgmt.RevokeResponse{Started: 1, Results: []mgmt.RevokeResult{{MN: "mn1@example",
		HNPs: []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/64")}, MAG: mgmttest.MAGAddr,
		Acked: true, Status: 0, StatusName: "success", Removed: true}}}
	if !equalJSON(t, resp, want) {
		t.Fatalf("revoke:\n got %+v\nwant %+v", resp, want)
	}
	d.WaitBUL("mn1@example", "")
	bs, err := c.Bindings(ctx)
	if err != nil || len(bs) != 1 || bs[0].MN != "mn2@example" {
		t.Fatalf("bindings after the revocation: %+v %v", bs, err)
	}
	if es, _ := d.LMADP.List(); len(es) != 1 || es[0].Prefix != netip.MustParsePrefix("2001:db8:100:1::/64") {
		t.Errorf("LMA data plane after the revocation: %v", es)
	}

	_, err = c.Revoke(ctx, "mn1@example", mgmt.RevokeRequest{})
	if !errors.As(err, &ae) || ae.Code != "not_found" {
		t.Errorf("second revocation: %v", err)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"prefx":"2001:db8::/64"}`, `{"error":"bad_request","detail":"revoke request: json: unknown field \"prefx\""}`},
		{`{"prefix":"10.0.0.0/8"}`, `{"error":"bad_request","detail":"prefix 10.0.0.0/8: not an IPv6 prefix"}`},
		{`{"trigger":300}`, `{"error":"bad_request","detail":"revoke request: json: cannot unmarshal number 300 into Go struct field RevokeRequest.trigger of type uint8"}`},
	} {
		status, got := do(t, srv, "POST", "/v1/bindings/mn2@example/revoke", tc.body)
		if status != 400 || got != tc.want {
			t.Errorf("revoke %s:\n got %d %s\nwant 400 %s", tc.body, status, got, tc.want)
		}
	}
	// no_wait answers 202 at once.
	status, got := do(t, srv, "POST", "/v1/bindings/mn2@example/revoke", `{"no_wait":true,"trigger":7}`)
	if status != 202 || got != `{"started":1,"results":[]}` {
		t.Errorf("no_wait revocation: %d %s", status, got)
	}
	d.WaitBUL("mn2@example", "")
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	return mustJSON(t, a) == mustJSON(t, b)
}

// The dataplane endpoint shows what differs between the kernel and what
// the roles want.
func TestDataplaneDifference(t *testing.T) {
	d, srv := setup(t)
	stray := dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: netip.MustParsePrefix("2001:db8:100:7::/64"), Remote: mgmttest.MAGAddr}
	if err := d.LMADP.Add(stray); err != nil {
		t.Fatal(err)
	}
	if err := d.LMADP.Del(dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: netip.MustParsePrefix("2001:db8:100::/64")}); err != nil {
		t.Fatal(err)
	}
	status, got := do(t, srv, "GET", "/v1/dataplane", "")
	want := `{"driver":"fake","entries":[` +
		`{"kind":"prefix-route","prefix":"2001:db8:100:1::/64","remote":"2001:db8:ff::11"},` +
		`{"kind":"prefix-route","prefix":"2001:db8:100:7::/64","remote":"2001:db8:ff::11"}],"compared":true,` +
		`"missing":[{"kind":"prefix-route","prefix":"2001:db8:100::/64","remote":"2001:db8:ff::11"}],` +
		`"unexpected":[{"kind":"prefix-route","prefix":"2001:db8:100:7::/64","remote":"2001:db8:ff::11"}]}`
	if status != 200 || got != want {
		t.Errorf("dataplane:\n got %d %s\nwant %s", status, got, want)
	}
}

// A node running no role answers every role endpoint with 404
// role_not_running, and still checks configurations.
func TestRoleNotRunning(t *testing.T) {
	srv := httptest.NewServer(mgmt.New(mgmt.Config{}))
	defer srv.Close()
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/v1/bindings", "the LMA role is not running on this node (the binding cache is the LMA's)"},
		{"GET", "/v1/bindings/x", "the LMA role is not running on this node (the binding cache is the LMA's)"},
		{"POST", "/v1/bindings/x/revoke", "the LMA role is not running on this node (bindings are revoked by the LMA)"},
		{"GET", "/v1/bul", "the MAG role is not running on this node (the binding update list is the MAG's)"},
		{"GET", "/v1/locations?mn=x", "the LM role is not running on this node (locations are kept by the location management function)"},
		{"GET", "/v1/pools", "the HAA role is not running on this node (pools are the home address allocation function's)"},
		{"GET", "/v1/allocations", "the HAA role is not running on this node (allocations are the home address allocation function's)"},
		{"GET", "/v1/mr/nodes", "the MR role is not running on this node (attached nodes are the mobility router's)"},
		{"GET", "/v1/mr/locations", "the MR role is not running on this node (the location cache is the mobility router's)"},
		{"GET", "/v1/mr/departures", "the MR role is not running on this node (departed nodes are the mobility router's)"},
		{"GET", "/v1/peers", "the LMA or MAG role is not running on this node (peers are the LMA's MAGs and the MAG's LMAs)"},
		{"GET", "/v1/dataplane", "the data plane role is not running on this node (no data plane driver is configured)"},
	} {
		status, got := do(t, srv, tc.method, tc.path, "")
		want := `{"error":"role_not_running","detail":"` + tc.want + `"}`
		if status != 404 || got != want {
			t.Errorf("%s %s:\n got %d %s\nwant 404 %s", tc.method, tc.path, status, got, want)
		}
	}
	if status, got := do(t, srv, "GET", "/v1/counters", ""); status != 200 || got != `{"counters":[]}` {
		t.Errorf("counters: %d %s", status, got)
	}
	if status, got := do(t, srv, "POST", "/v1/config/check", "roles: [lma]\nfoo: 1\n"); status != 200 ||
		got != `{"valid":false,"problems":[{"key":"foo","reason":"unknown key"},`+
			`{"key":"transport.address","reason":"required (the node's signalling IPv6 address)"},`+
			`{"key":"lma.mags","reason":"required (at least one authorized MAG)"}]}` {
		t.Errorf("config check: %d %s", status, got)
	}
}

func TestConfigCheck(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "lma.yaml")
	yaml, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	running, err := config.Load(example)
	if err != nil {
		t.Fatal(err)
	}
	// Same file: valid, nothing changes.
	if got := mgmt.CheckConfig(yaml, running); !got.Valid || len(got.Problems) != 0 ||
		!slices.Equal(got.Changes, []string{"no changes"}) || got.NeedsRestart {
		t.Errorf("same configuration: %+v", got)
	}
	// A new pool and a new socket path: valid, the socket needs a restart.
	edited := strings.Replace(string(yaml), "    - prefix: 2001:db8:100::/48", "    - prefix: 2001:db8:300::/48\n    - prefix: 2001:db8:100::/48", 1)
	edited = strings.Replace(edited, "/run/pmipd/lma.sock", "/run/pmipd/other.sock", 1)
	srv := httptest.NewServer(mgmt.New(mgmt.Config{RunningConfig: func() *config.Config { return running }}))
	defer srv.Close()
	got, err := mgmt.NewHTTPClient(srv.URL, srv.Client(), "").CheckConfig(context.Background(), []byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	want := mgmt.ConfigCheck{Valid: true, Problems: []mgmt.Problem{}, NeedsRestart: true, Changes: []string{
		"changed: +lma.pools +management.socket",
		"pools: +2001:db8:300::/48",
		"restart needed for: +management.socket",
	}}
	if !equalJSON(t, got, want) {
		t.Errorf("edited configuration:\n got %+v\nwant %+v", got, want)
	}
	// Not YAML at all.
	if got := mgmt.CheckConfig([]byte("roles: [lma\n"), nil); got.Valid || len(got.Problems) != 1 || got.Problems[0].Key != "(file)" {
		t.Errorf("broken YAML: %+v", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatusAndReload(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "mag1.yaml")
	old, err := config.Load(example)
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := config.Parse([]byte(strings.Replace(string(yaml), "log_level: info", "log_level: debug", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	srv := httptest.NewServer(mgmt.New(mgmt.Config{
		Status: func(context.Context) (mgmt.Status, error) {
			return mgmt.Status{Node: "mag1", Roles: []string{"mag"}, Address: "2001:db8:ff::11", Driver: "fake",
				Started: mgmttest.T0, RestartCounter: 3}, nil
		},
		Reload: func() (config.Changes, error) {
			if fail.Load() {
				return config.Changes{}, errors.New("mag.lma_address: required")
			}
			return config.Diff(old, newer), nil
		},
	}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/v1/status", 200, `{"node":"mag1","roles":["mag"],"address":"2001:db8:ff::11","driver":"fake","started":"2024-05-01T12:00:00Z","restart_counter":3}`},
		{"POST", "/v1/reload", 200, `{"changes":["changed: +node.log_level"]}`},
		{"GET", "/v1/reload", 405, `{"error":"method_not_allowed","detail":"GET /v1/reload: method not allowed (allowed: POST)"}`},
	} {
		if status, got := do(t, srv, tc.method, tc.path, ""); status != tc.status || got != tc.want {
			t.Errorf("%s %s:\n got %d %s\nwant %d %s", tc.method, tc.path, status, got, tc.status, tc.want)
		}
	}
	fail.Store(true)
	_, err = mgmt.NewHTTPClient(srv.URL, srv.Client(), "").Reload(context.Background())
	var ae *mgmt.Error
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != "reload_refused" ||
		ae.Detail != "reload refused, the running configuration stays: mag.lma_address: required" {
		t.Errorf("refused reload: %#v", err)
	}
	// Without the hooks: 404.
	bare := httptest.NewServer(mgmt.New(mgmt.Config{}))
	defer bare.Close()
	if status, got := do(t, bare, "POST", "/v1/reload", ""); status != 404 || got != `{"error":"not_found","detail":"this server cannot reload a configuration"}` {
		t.Errorf("reload without a hook: %d %s", status, got)
	}
	if status, _ := do(t, bare, "GET", "/v1/status", ""); status != 404 {
		t.Errorf("status without a hook: %d", status)
	}
}
