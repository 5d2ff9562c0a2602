package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var statusCmd = &command{
	Name:    "status",
	Args:    "[--json] [--socket PATH]",
	Summary: "The daemon: node name, roles, address, data plane driver, start time, restart counter.",
}

var reloadCmd = &command{
	Name: "reload",
	Args: "[--json] [--socket PATH]",
	Summary: "Have pmipd re-read and apply its configuration file, as SIGHUP does, and print what\n" +
		"changed. An invalid file is refused (exit status 1) and the running configuration stays.",
}

func init() {
	statusCmd.Run = runStatus
	register(statusCmd)
	reloadCmd.Run = runReload
	register(reloadCmd)
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	c := statusCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var s mgmt.Status
	st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/status", nil, &s)
	if !ok {
		return st
	}
	driver := s.Driver
	if s.DriverReason != "" {
		driver += " (" + s.DriverReason + ")"
	}
	t := newTable(stdout, "Node:", s.Node)
	t.row("Roles:", dash(strings.Join(s.Roles, ", ")))
	t.row("Address:", dash(s.Address))
	t.row("Data plane:", dash(driver))
	if s.IPsec != "" {
		t.row("IPsec:", s.IPsec+" ("+s.IPsecReason+")")
	}
	t.row("Started:", timeStr(s.Started))
	t.row("Restart counter:", strconv.FormatUint(uint64(s.RestartCounter), 10))
	t.flush()
	return st
}

func runReload(args []string, stdout, stderr io.Writer) int {
	c := reloadCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var r mgmt.ReloadResult
	st, ok := f.call(c, stdout, stderr, http.MethodPost, "/v1/reload", nil, &r)
	if !ok {
		return st
	}
	fmt.Fprintln(stdout, "configuration reloaded")
	for _, l := range r.Changes {
		fmt.Fprintln(stdout, "  "+l)
	}
	if r.NeedsRestart {
		fmt.Fprintln(stdout, "some changes take effect only after a restart")
	}
	return st
}
