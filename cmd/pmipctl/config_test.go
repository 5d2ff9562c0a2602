package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// config check works without a daemon.
func TestConfigCheckOffline(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "mag1.yaml")
	if rc, out, errs := pmipctl("config", "check", example); rc != exitOK || out != example+": valid\n" || errs != "" {
		t.Errorf("valid file: %d %q %q", rc, out, errs)
	}
	bad := writeFile(t, "bad.yaml", "roles: [lma]\ntransport:\n  adress: 2001:db8::1\nlma:\n  mags: []\n")
	rc, out, _ := pmipctl("config", "check", bad)
	want := []string{
		bad + ": invalid configuration",
		`  transport.adress: unknown key (did you mean "address"?)`,
		"  transport.address: required (the node's signalling IPv6 address)",
		"  lma.mags: required (at least one authorized MAG)",
	}
	if rc != exitFail || !slices.Equal(lines(out), want) {
		t.Errorf("invalid file: exit %d\n%s\nwant\n%s", rc, out, strings.Join(want, "\n"))
	}
	rc, out, _ = pmipctl("config", "check", bad, "--json")
	var got mgmt.ConfigCheck
	if err := json.Unmarshal([]byte(out), &got); err != nil || rc != exitFail || got.Valid || len(got.Problems) != 3 ||
		got.Problems[0] != (mgmt.Problem{Key: "transport.adress", Reason: `unknown key (did you mean "address"?)`}) {
		t.Errorf("invalid file --json: exit %d %+v %v", rc, got, err)
	}
	for _, tc := range []struct {
		args []string
		rc   int
		err  string
	}{
		{[]string{"config"}, exitUsage, "pmipctl config: the only action is check\n"},
		{[]string{"config", "check"}, exitUsage, "pmipctl config: check needs one configuration file\n"},
		{[]string{"config", "check", filepath.Join(t.TempDir(), "absent.yaml")}, exitFail, "pmipctl config: open "},
	} {
		if rc, _, errs := pmipctl(tc.args...); rc != tc.rc || !strings.HasPrefix(errs, tc.err) {
			t.Errorf("%v: exit %d %q", tc.args, rc, errs)
		}
	}
}

// With --daemon (or --socket), the running daemon checks the file and
// compares it with its configuration.
func TestConfigCheckDaemon(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "mag1.yaml")
	running, err := config.Load(example)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "pmipd.sock")
	ln, err := mgmt.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mgmt.New(mgmt.Config{RunningConfig: func() *config.Config { return running }}).Serve(ctx, ln, "")

	yaml, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	edited := writeFile(t, "mag1.yaml", strings.Replace(string(yaml), "log_level: info", "log_level: debug", 1))
	rc, out, errs := pmipctl("config", "check", edited, "--socket", sock)
	want := []string{edited + ": valid", "  changed: +node.log_level"}
	if rc != exitOK || !slices.Equal(lines(out), want) {
		t.Errorf("daemon check: exit %d\n%s%s\nwant\n%s", rc, out, errs, strings.Join(want, "\n"))
	}
	t.Setenv(socketEnv, sock)
	rc, out, _ = pmipctl("config", "check", edited, "--daemon", "--json")
	var got mgmt.ConfigCheck
	if err := json.Unmarshal([]byte(out), &got); err != nil || rc != exitOK || !got.Valid || !slices.Equal(got.Changes, []string{"changed: +node.log_level"}) {
		t.Errorf("daemon check --json: exit %d %+v %v", rc, got, err)
	}
}
