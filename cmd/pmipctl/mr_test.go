package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var mrT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func mrPfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mrIP(s string) netip.Addr    { return netip.MustParseAddr(s) }

// fakeMR is an mgmt.MRProvider with fixed state (none when empty).
type fakeMR struct{ empty bool }

func (f fakeMR) MNs(context.Context) ([]mr.MN, error) {
	if f.empty {
		return nil, nil
	}
	return []mr.MN{
		{MN: "mn1@example", Attached: true, MAG: mrIP("2001:db8:ff::11"), LinkLocal: mrIP("fe80::1"),
			Prefixes: []mr.MNPrefix{{Prefix: mrPfx("2001:db8:b00::/64"), AnchorMR: mrIP("2001:db8:ff::22"), Deprecated: true},
				{Prefix: mrPfx("2001:db8:a00::/64"), AnchorMR: mrIP("2001:db8:ff::21")}},
			Moved: true, PreviousMR: mrIP("2001:db8:ff::22"), Expires: mrT0.Add(30 * time.Minute)},
		{MN: "mn0@example", Link: "acc1", Moved: true},
		{MN: "mn4@example", Attached: true, Link: "acc2", Prefixes: []mr.MNPrefix{{Prefix: mrPfx("2001:db8:a00:4::/64"), AnchorMR: mrIP("2001:db8:ff::21")}},
			Expires: mrT0.Add(time.Hour)},
	}, nil
}

func (f fakeMR) Locations(context.Context) ([]mr.CachedLocation, error) {
	if f.empty {
		return nil, nil
	}
	return []mr.CachedLocation{
		{Location: mr.Location{Prefix: mrPfx("2001:db8:b00:7::/64"), AnchorMR: mrIP("2001:db8:ff::22"), CurrentMR: mrIP("2001:db8:ff::23")},
			Source: "query", Expires: mrT0.Add(time.Hour)},
		{Location: mr.Location{Prefix: mrPfx("2001:db8:c00::/64"), AnchorMR: mrIP("2001:db8:ff::23"), CurrentMR: mrIP("2001:db8:ff::23")},
			Source: "fallback", Expires: mrT0.Add(10*time.Minute + 5*time.Second)},
	}, nil
}

func (f fakeMR) Correspondents(context.Context) (map[netip.Prefix][]netip.Addr, error) {
	if f.empty {
		return map[netip.Prefix][]netip.Addr{}, nil
	}
	return map[netip.Prefix][]netip.Addr{
		mrPfx("2001:db8:a00::/64"):   {mrIP("2001:db8:ff::31"), mrIP("2001:db8:ff::23")},
		mrPfx("2001:db8:a00:4::/64"): {mrIP("2001:db8:ff::31")},
	}, nil
}

func (f fakeMR) Departures(context.Context) ([]mr.Departed, error) {
	if f.empty {
		return nil, nil
	}
	return []mr.Departed{
		{MN: "mn2@example", Prefixes: []netip.Prefix{mrPfx("2001:db8:a00:2::/64")}, NewMR: mrIP("2001:db8:ff::22"),
			Forwarding: []netip.Prefix{mrPfx("2001:db8:a00:2::/64")}},
		{MN: "mn3@example", Prefixes: []netip.Prefix{mrPfx("2001:db8:a00:3::/64"), mrPfx("2001:db8:b00:3::/64")}, Holding: true},
	}, nil
}

func (f fakeMR) Held(context.Context) ([]netip.Prefix, error) {
	if f.empty {
		return nil, nil
	}
	return []netip.Prefix{mrPfx("2001:db8:a00:3::/64"), mrPfx("2001:db8:b00:3::/64")}, nil
}

// mrServer serves cfg on a unix socket and returns its path.
func mrServer(t *testing.T, cfg mgmt.Config) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "pmipd.sock")
	ln, err := mgmt.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgmt.New(cfg).Serve(ctx, ln, "") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

func TestMRCommand(t *testing.T) {
	// The daemon's clock is 10 min past mrT0.
	sock := mrServer(t, mgmt.Config{MR: fakeMR{}, Clock: clock.NewFake(mrT0.Add(10 * time.Minute))})
	empty := mrServer(t, mgmt.Config{MR: fakeMR{empty: true}})
	none := mrServer(t, mgmt.Config{})
	for _, tc := range []struct {
		args []string
		sock string
		rc   int
		out  []string
		err  string
	}{
		{[]string{"mr", "nodes"}, sock, exitOK, []string{
			"MN           STATE      ACCESS               PREVIOUS-MR      EXPIRES-IN  PREFIX               ANCHOR-MR        DEPRECATED",
			"mn0@example  attaching  link acc1            unknown          -           -                    -                -",
			"mn1@example  attached   mag 2001:db8:ff::11  2001:db8:ff::22  20m0s       2001:db8:b00::/64    2001:db8:ff::22  yes",
			"                                                                          2001:db8:a00::/64    2001:db8:ff::21  no",
			"mn4@example  attached   link acc2            -                50m0s       2001:db8:a00:4::/64  2001:db8:ff::21  no",
		}, ""},
		{[]string{"mr", "locations"}, sock, exitOK, []string{
			"PREFIX               ANCHOR-MR        CURRENT-MR       SOURCE    EXPIRES-IN",
			"2001:db8:b00:7::/64  2001:db8:ff::22  2001:db8:ff::23  query     50m0s",
			"2001:db8:c00::/64    2001:db8:ff::23  2001:db8:ff::23  fallback  5s",
			"",
			"PREFIX               CORRESPONDENT-MRS (redirected when the node moves on)",
			"2001:db8:a00::/64    2001:db8:ff::23,2001:db8:ff::31",
			"2001:db8:a00:4::/64  2001:db8:ff::31",
		}, ""},
		{[]string{"mr", "departures"}, sock, exitOK, []string{
			"MN           PREFIXES                                 NEW-MR           HOLDING  FORWARDING",
			"mn2@example  2001:db8:a00:2::/64                      2001:db8:ff::22  no       2001:db8:a00:2::/64",
			"mn3@example  2001:db8:a00:3::/64,2001:db8:b00:3::/64  unknown          yes      -",
			"",
			"held in the punt path: 2001:db8:a00:3::/64,2001:db8:b00:3::/64",
		}, ""},
		{[]string{"mr", "nodes"}, empty, exitOK, []string{"no nodes"}, ""},
		{[]string{"mr", "locations"}, empty, exitOK, []string{"no cached locations", "", "no correspondents' MRs to redirect"}, ""},
		{[]string{"mr", "departures"}, empty, exitOK, []string{"no departed nodes", "", "no prefix held in the punt path"}, ""},
		{[]string{"mr", "nodes"}, none, exitFail, nil,
			"pmipctl mr: the MR role is not running on this node (attached nodes are the mobility router's)\n"},
		{[]string{"mr", "departures"}, none, exitFail, nil,
			"pmipctl mr: the MR role is not running on this node (departed nodes are the mobility router's)\n"},
		// Usage errors: no request is made.
		{[]string{"mr"}, none, exitUsage, nil, "pmipctl mr: give an action: nodes, locations or departures\n"},
		{[]string{"mr", "bindings"}, none, exitUsage, nil, "pmipctl mr: unknown action \"bindings\" (nodes, locations or departures)\n"},
		{[]string{"mr", "nodes", "extra"}, none, exitUsage, nil, "pmipctl mr: unexpected argument \"extra\"\n"},
	} {
		rc, out, errs := pmipctl(append(tc.args, "--socket", tc.sock)...)
		if rc != tc.rc || !slices.Equal(lines(out), tc.out) || !strings.HasPrefix(errs, tc.err) || (tc.err == "" && errs != "") {
			t.Errorf("pmipctl %s: exit %d\n%s\nstderr: %s\nwant exit %d\n%s\nstderr: %s", strings.Join(tc.args, " "), rc, out, errs,
				tc.rc, strings.Join(tc.out, "\n"), tc.err)
		}
	}

	// --json prints the API's answer.
	for _, tc := range []struct {
		args []string
		path []any
		want any
	}{
		{[]string{"mr", "nodes"}, []any{"nodes", 1, "prefixes", 0, "deprecated"}, true},
		{[]string{"mr", "nodes"}, []any{"nodes", 1, "remaining_s"}, 1200.0},
		{[]string{"mr", "nodes"}, []any{"nodes", 0, "link"}, "acc1"},
		{[]string{"mr", "locations"}, []any{"locations", 0, "current_mr"}, "2001:db8:ff::23"},
		{[]string{"mr", "locations"}, []any{"correspondents", 0, "mrs", 1}, "2001:db8:ff::31"},
		{[]string{"mr", "departures"}, []any{"departures", 0, "new_mr"}, "2001:db8:ff::22"},
		{[]string{"mr", "departures"}, []any{"held", 1}, "2001:db8:b00:3::/64"},
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
	rc, out, _ := pmipctl("mr", "departures", "--json", "--socket", empty)
	if want := "{\n  \"departures\": [],\n  \"held\": []\n}\n"; rc != exitOK || out != want {
		t.Errorf("mr departures --json with none: exit %d\n%s", rc, out)
	}
}
