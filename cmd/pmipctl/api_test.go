package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/mgmt/mgmttest"
)

// apiServer runs the in-process domain (LMA and MAG with mn1 and mn2
// registered, LM and HAA populated) behind the management API on a unix
// socket, and returns the socket path.
func apiServer(t *testing.T) (*mgmttest.Domain, string) {
	t.Helper()
	d := mgmttest.New(t)
	d.AttachMN1()
	d.AttachMN2()
	d.PopulateDMM()
	sock := filepath.Join(t.TempDir(), "pmipd.sock")
	ln, err := mgmt.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgmt.New(d.MgmtConfig()).Serve(ctx, ln, "") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return d, sock
}

// lines splits output into lines (no trailing empty line).
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestAPICommands(t *testing.T) {
	d, sock := apiServer(t)
	for _, tc := range []struct {
		args []string
		rc   int
		out  []string
		err  string
	}{
		{[]string{"bindings"}, exitOK, []string{
			"MN           HNP                  PROXY-COA        STATE   ATT         HI  EXPIRES-IN",
			"mn1@example  2001:db8:100::/64    2001:db8:ff::11  active  IEEE 802.3  1   1h0m0s",
			"mn2@example  2001:db8:100:1::/64  2001:db8:ff::11  active  IEEE 802.3  1   1h0m0s",
		}, ""},
		{[]string{"bindings", "show", "mn2@example"}, exitOK, []string{
			"MN:              mn2@example (NAI)",
			"HNPs:            2001:db8:100:1::/64",
			"Proxy-CoA:       2001:db8:ff::11",
			"MAG link-local:  fe80::200:5eff:fe00:5213",
			"MN LL-ID:        02005e100002",
			"ATT:             3 (IEEE 802.3)",
			"HI:              1",
			"State:           active",
			"Sequence:        2",
			"Timestamp:       0x66322ec00000",
			"Lifetime:        1h0m0s (expires 2024-05-01T13:00:00Z, in 1h0m0s)",
			"Created:         2024-05-01T12:00:00Z",
		}, ""},
		{[]string{"bindings", "show", "nobody@example"}, exitFail, nil, "pmipctl bindings: no binding for MN \"nobody@example\"\n"},
		{[]string{"bul"}, exitOK, []string{
			"MN           INTERFACE  MAC                LMA             STATE       HNP                  HI  EXPIRES-IN  RETRIES",
			"mn1@example  acc1       -                  2001:db8:ff::1  registered  2001:db8:100::/64    1   1h0m0s      0",
			"mn2@example  acc2       02:00:5e:10:00:02  2001:db8:ff::1  registered  2001:db8:100:1::/64  1   1h0m0s      0",
		}, ""},
		{[]string{"locations", "--mn", "mn1@example"}, exitOK, []string{
			"MN           PREFIX             ANCHOR-MR        CURRENT-MR       SEQUENCE  EXPIRES-IN",
			"mn1@example  2001:db8:a00::/64  2001:db8:ff::21  2001:db8:ff::22  1         1h0m0s",
			"mn1@example  2001:db8:b00::/64  2001:db8:ff::22  2001:db8:ff::22  3         1h0m0s",
		}, ""},
		{[]string{"locations", "--address", "2001:db8:a00:1::99"}, exitOK, []string{
			"MN           PREFIX               ANCHOR-MR        CURRENT-MR       SEQUENCE  EXPIRES-IN",
			"mn2@example  2001:db8:a00:1::/64  2001:db8:ff::21  2001:db8:ff::21  2         1h0m0s",
		}, ""},
		{[]string{"locations", "--prefix", "2001:db8:b00::/64"}, exitOK, []string{
			"MN           PREFIX             ANCHOR-MR        CURRENT-MR       SEQUENCE  EXPIRES-IN",
			"mn1@example  2001:db8:b00::/64  2001:db8:ff::22  2001:db8:ff::22  3         1h0m0s",
		}, ""},
		{[]string{"locations", "--address", "2001:db8:c00::1"}, exitOK, []string{"no location"}, ""},
		{[]string{"pools"}, exitOK, []string{
			"POOL               MR               LENGTH  SIZE  ALLOCATED",
			"2001:db8:a00::/62  2001:db8:ff::21  /64     4     2",
			"2001:db8:b00::/63  2001:db8:ff::22  /64     2     1",
		}, ""},
		{[]string{"allocations"}, exitOK, []string{
			"MN           PREFIX               ANCHOR-MR        POOL               ALLOCATED-AT          EXPIRES-IN",
			"mn1@example  2001:db8:a00::/64    2001:db8:ff::21  2001:db8:a00::/62  2024-05-01T12:00:00Z  1h0m0s",
			"mn2@example  2001:db8:a00:1::/64  2001:db8:ff::21  2001:db8:a00::/62  2024-05-01T12:00:00Z  1h0m0s",
			"mn1@example  2001:db8:b00::/64    2001:db8:ff::22  2001:db8:b00::/63  2024-05-01T12:00:00Z  1h0m0s",
		}, ""},
		{[]string{"allocations", "--pool", "2001:db8:b00::/63"}, exitOK, []string{
			"MN           PREFIX             ANCHOR-MR        POOL               ALLOCATED-AT          EXPIRES-IN",
			"mn1@example  2001:db8:b00::/64  2001:db8:ff::22  2001:db8:b00::/63  2024-05-01T12:00:00Z  1h0m0s",
		}, ""},
		{[]string{"allocations", "--mn", "mn9@example"}, exitOK, []string{"no allocations"}, ""},
		{[]string{"peers"}, exitOK, []string{
			"ROLE  PEER             BINDINGS  STATE  MISSED  RESTART-COUNTER  RESTARTS",
			"lma   2001:db8:ff::11  2         up     0       -                0",
			"mag   2001:db8:ff::1   2         up     0       -                0",
		}, ""},
		{[]string{"counters"}, exitOK, []string{
			"ROLE  COUNTER       KEY                        VALUE",
			"lma   pba_status    0 Binding Update accepted  2",
			"lma   rx            Binding Update             2",
			"lma   tx            Binding Acknowledgement    2",
			"mag   attaches      -                          2",
			"mag   mh_received   -                          2",
			"mag   pba_accepted  -                          2",
			"mag   pba_received  -                          2",
			"mag   pbu_sent      -                          2",
			"mag   ra_sent       -                          2",
			"mag   rs_received   -                          1",
		}, ""},
		{[]string{"dataplane"}, exitOK, []string{
			"driver fake: 2 entries",
			"  prefix-route 2001:db8:100::/64 tunnel 2001:db8:ff::11",
			"  prefix-route 2001:db8:100:1::/64 tunnel 2001:db8:ff::11",
			"in sync with the roles",
		}, ""},
		// Usage errors: no request is made.
		{[]string{"locations"}, exitUsage, nil, "pmipctl locations: give exactly one of --address, --prefix and --mn\n"},
		{[]string{"locations", "--mn", "a", "--prefix", "2001:db8::/64"}, exitUsage, nil, "pmipctl locations: give exactly one of --address, --prefix and --mn\n"},
		{[]string{"bindings", "show"}, exitUsage, nil, "pmipctl bindings: show needs one MN identifier\n"},
		{[]string{"bindings", "frobnicate"}, exitUsage, nil, "pmipctl bindings: unknown action \"frobnicate\" (list, show or revoke)\n"},
		{[]string{"bindings", "revoke", "mn1@example", "--prefix", "nonsense"}, exitUsage, nil, "pmipctl bindings: --prefix \"nonsense\": not a prefix\n"},
		{[]string{"peers", "extra"}, exitUsage, nil, "pmipctl peers: unexpected argument \"extra\"\n"},
	} {
		rc, out, errs := pmipctl(append(tc.args, "--socket", sock)...)
		if rc != tc.rc || !slices.Equal(lines(out), tc.out) || !strings.HasPrefix(errs, tc.err) || (tc.err == "" && errs != "") {
			t.Errorf("pmipctl %s: exit %d\n%s\nstderr: %s\nwant exit %d\n%s\nstderr: %s", strings.Join(tc.args, " "), rc, out, errs,
				tc.rc, strings.Join(tc.out, "\n"), tc.err)
		}
	}

	// Revocation through the real MAG; then the data plane has one route.
	rc, out, errs := pmipctl("bindings", "revoke", "mn1@example", "--socket", sock)
	if rc != exitOK || out != "mn1@example 2001:db8:100::/64 at 2001:db8:ff::11: revoked (BRA status 0: success)\n" || errs != "" {
		t.Errorf("revoke: exit %d %q %q", rc, out, errs)
	}
	d.WaitBUL("mn1@example", "")
	rc, out, _ = pmipctl("dataplane", "--socket", sock)
	if want := []string{"driver fake: 1 entry", "  prefix-route 2001:db8:100:1::/64 tunnel 2001:db8:ff::11", "in sync with the roles"}; rc != exitOK || !slices.Equal(lines(out), want) {
		t.Errorf("dataplane after the revocation: exit %d\n%s", rc, out)
	}
	rc, _, errs = pmipctl("bindings", "revoke", "mn1@example", "--socket", sock)
	if rc != exitFail || errs != "pmipctl bindings: no binding of MN \"mn1@example\" to revoke (or it is already being revoked)\n" {
		t.Errorf("second revoke: exit %d %q", rc, errs)
	}
	rc, out, _ = pmipctl("bindings", "revoke", "mn2@example", "--no-wait", "--trigger", "7", "--socket", sock)
	if rc != exitOK || out != "revocation started for 1 binding(s)\n" {
		t.Errorf("revoke --no-wait: exit %d %q", rc, out)
	}
	d.WaitBUL("mn2@example", "")
	if rc, out, _ = pmipctl("bindings", "--socket", sock); rc != exitOK || out != "no bindings\n" {
		t.Errorf("bindings after the revocations: exit %d %q", rc, out)
	}
	// The data plane no longer matches what the LMA wants once someone
	// else touches it.
	if err := d.LMADP.Add(dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: netip.MustParsePrefix("2001:db8:100:9::/64"), Remote: mgmttest.MAGAddr}); err != nil {
		t.Fatal(err)
	}
	rc, out, _ = pmipctl("dataplane", "--socket", sock)
	if want := []string{"driver fake: 1 entry", "  prefix-route 2001:db8:100:9::/64 tunnel 2001:db8:ff::11",
		"unexpected (installed, not wanted by the roles):", "  prefix-route 2001:db8:100:9::/64 tunnel 2001:db8:ff::11"}; rc != exitOK || !slices.Equal(lines(out), want) {
		t.Errorf("dataplane with a stray route: exit %d\n%s", rc, out)
	}
}

// --json prints the API's answer, indented.
func TestAPICommandsJSON(t *testing.T) {
	_, sock := apiServer(t)
	rc, out, _ := pmipctl("bindings", "show", "mn1@example", "--json", "--socket", sock)
	want := `{
  "bindings": [
    {
      "mn": "mn1@example",
      "mnid_type": "NAI",
      "hnps": [
        "2001:db8:100::/64"
      ],
      "proxy_coa": "2001:db8:ff::11",
      "link_local": "fe80::200:5eff:fe00:5213",
      "link_layer_id": "0000",
      "att": 3,
      "att_name": "IEEE 802.3",
      "handoff_indicator": 1,
      "state": "active",
      "timestamp": 112365718732800,
      "sequence": 1,
      "lifetime_s": 3600,
      "remaining_s": 3600,
      "expires": "2024-05-01T13:00:00Z",
      "created": "2024-05-01T12:00:00Z"
    }
  ]
}
`
	if rc != exitOK || out != want {
		t.Errorf("bindings show --json: exit %d\n%s", rc, out)
	}
	for _, tc := range []struct {
		args []string
		path []any
		want any
	}{
		{[]string{"bindings"}, []any{"bindings", 1, "hnps", 0}, "2001:db8:100:1::/64"},
		{[]string{"bul"}, []any{"bul", 1, "mac"}, "02:00:5e:10:00:02"},
		{[]string{"locations", "--mn", "mn2@example"}, []any{"locations", 0, "anchor_mr"}, "2001:db8:ff::21"},
		{[]string{"pools"}, []any{"pools", 0, "allocated"}, 2.0},
		{[]string{"allocations", "--mn", "mn1@example"}, []any{"allocations", 1, "prefix"}, "2001:db8:b00::/64"},
		{[]string{"peers"}, []any{"peers", 1, "role"}, "mag"},
		{[]string{"counters"}, []any{"counters", 0, "name"}, "bri_timeouts"},
		{[]string{"dataplane"}, []any{"entries", 1, "prefix"}, "2001:db8:100:1::/64"},
		{[]string{"dataplane"}, []any{"compared"}, true},
	} {
		rc, out, errs := pmipctl(append(tc.args, "--json", "--socket", sock)...)
		if rc != exitOK {
			t.Errorf("%v --json: exit %d %s", tc.args, rc, errs)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("%v --json: %v\n%s", tc.args, err, out)
			continue
		}
		if got := at(t, v, tc.path...); got != tc.want {
			t.Errorf("%v --json: %v = %v, want %v", tc.args, tc.path, got, tc.want)
		}
	}
}

// A daemon that runs only some roles, and one that is not there.
func TestAPICommandsErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lma-only.sock")
	ln, err := mgmt.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mgmt.New(mgmt.Config{Dataplane: dataplane.NewFake()}).Serve(ctx, ln, "")
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"bul"}, "pmipctl bul: the MAG role is not running on this node (the binding update list is the MAG's)\n"},
		{[]string{"bindings"}, "pmipctl bindings: the LMA role is not running on this node (the binding cache is the LMA's)\n"},
		{[]string{"pools"}, "pmipctl pools: the HAA role is not running on this node (pools are the home address allocation function's)\n"},
		{[]string{"locations", "--mn", "x"}, "pmipctl locations: the LM role is not running on this node (locations are kept by the location management function)\n"},
	} {
		rc, out, errs := pmipctl(append(tc.args, "--socket", sock)...)
		if rc != exitFail || out != "" || errs != tc.err {
			t.Errorf("%v: exit %d %q %q, want 1 %q", tc.args, rc, out, errs, tc.err)
		}
	}
	if rc, out, _ := pmipctl("dataplane", "--socket", sock); rc != exitOK || out != "driver fake: 0 entries\n" {
		t.Errorf("dataplane without roles: %d %q", rc, out)
	}
	absent := filepath.Join(t.TempDir(), "absent.sock")
	rc, _, errs := pmipctl("peers", "--socket", absent)
	if rc != exitFail || !strings.HasPrefix(errs, "pmipctl peers: cannot reach pmipd at "+absent+": ") {
		t.Errorf("absent daemon: %d %q", rc, errs)
	}
	t.Setenv(socketEnv, absent)
	if _, _, errs := pmipctl("peers"); !strings.HasPrefix(errs, "pmipctl peers: cannot reach pmipd at "+absent+": ") {
		t.Errorf("socket from %s: %q", socketEnv, errs)
	}
	if rc, _, errs := pmipctl("peers", "--url", "http://127.0.0.1:1"); rc != exitFail || errs != "pmipctl peers: --url needs --token-file\n" {
		t.Errorf("--url without a token: %d %q", rc, errs)
	}
}

// The TCP API with a token file.
func TestAPICommandsTCP(t *testing.T) {
	d := mgmttest.New(t)
	d.AttachMN1()
	ln, err := mgmt.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mgmt.New(d.MgmtConfig()).Serve(ctx, ln, "tok3n")
	dir := t.TempDir()
	good, bad, open := filepath.Join(dir, "good"), filepath.Join(dir, "bad"), filepath.Join(dir, "open")
	for p, c := range map[string]string{good: "tok3n\n", bad: "nope\n", open: "tok3n\n"} {
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	rc, out, errs := pmipctl("bindings", "--url", url, "--token-file", good)
	if rc != exitOK || len(lines(out)) != 2 || !strings.HasPrefix(lines(out)[1], "mn1@example  2001:db8:100::/64") {
		t.Errorf("with the token: %d %q %q", rc, out, errs)
	}
	if rc, _, errs := pmipctl("bindings", "--url", url, "--token-file", bad); rc != exitFail || errs != "pmipctl bindings: a valid bearer token is required\n" {
		t.Errorf("wrong token: %d %q", rc, errs)
	}
	if rc, _, errs := pmipctl("bindings", "--url", url, "--token-file", open); rc != exitFail || !strings.Contains(errs, "lets other users read or write it") {
		t.Errorf("world-readable token file: %d %q", rc, errs)
	}
}
