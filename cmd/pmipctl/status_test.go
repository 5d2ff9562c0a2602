package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/mgmt/mgmttest"
)

func TestStatusAndReload(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "lma.yaml")
	old, err := config.Load(example)
	if err != nil {
		t.Fatal(err)
	}
	newer := *old
	newer.Management.Socket = "/run/pmipd/other.sock"
	var refuse atomic.Bool
	sock := filepath.Join(t.TempDir(), "pmipd.sock")
	ln, err := mgmt.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mgmt.New(mgmt.Config{
		Status: func(context.Context) (mgmt.Status, error) {
			return mgmt.Status{Node: "lma", Roles: []string{"lma"}, Address: "2001:db8:ff::2", Driver: "seg6",
				DriverReason: "auto: ip6_tunnel module absent", Started: mgmttest.T0, RestartCounter: 7}, nil
		},
		Reload: func() (config.Changes, error) {
			if refuse.Load() {
				return config.Changes{}, errors.New("lma.mags: required (at least one authorized MAG)")
			}
			return config.Diff(old, &newer), nil
		},
	}).Serve(ctx, ln, "")

	rc, out, _ := pmipctl("status", "--socket", sock)
	want := []string{
		"Node:             lma",
		"Roles:            lma",
		"Address:          2001:db8:ff::2",
		"Data plane:       seg6 (auto: ip6_tunnel module absent)",
		"Started:          2024-05-01T12:00:00Z",
		"Restart counter:  7",
	}
	if rc != exitOK || !slices.Equal(lines(out), want) {
		t.Errorf("status: exit %d\n%s", rc, out)
	}
	rc, out, _ = pmipctl("reload", "--socket", sock)
	want = []string{
		"configuration reloaded",
		"  changed: +management.socket",
		"  restart needed for: +management.socket",
		"some changes take effect only after a restart",
	}
	if rc != exitOK || !slices.Equal(lines(out), want) {
		t.Errorf("reload: exit %d\n%s", rc, out)
	}
	refuse.Store(true)
	rc, out, errs := pmipctl("reload", "--socket", sock)
	if rc != exitFail || out != "" || errs != "pmipctl reload: reload refused, the running configuration stays: lma.mags: required (at least one authorized MAG)\n" {
		t.Errorf("refused reload: exit %d %q %q", rc, out, errs)
	}
}
