package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var peersCmd = &command{
	Name: "peers",
	Args: "[--json] [--socket PATH]",
	Summary: "Signalling peers with their heartbeat state (RFC 5847): the LMA's MAGs and the MAG's\n" +
		"LMAs, up or down, missed heartbeats, the last restart counter.",
}

func init() {
	peersCmd.Run = runPeers
	register(peersCmd)
}

func runPeers(args []string, stdout, stderr io.Writer) int {
	c := peersCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var r struct{ Peers []mgmt.Peer }
	st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/peers", nil, &r)
	if !ok {
		return st
	}
	if len(r.Peers) == 0 {
		fmt.Fprintln(stdout, "no peers")
		return st
	}
	t := newTable(stdout, "ROLE", "PEER", "BINDINGS", "STATE", "MISSED", "RESTART-COUNTER", "RESTARTS")
	for _, p := range r.Peers {
		state := "down"
		if p.Up {
			state = "up"
		}
		if p.HeartbeatUnsupported {
			state += " (no heartbeat support)"
		}
		rc := "-"
		if p.RestartCounter != nil {
			rc = strconv.FormatUint(uint64(*p.RestartCounter), 10)
		}
		t.row(p.Role, p.Address.String(), strconv.Itoa(p.Bindings), state, strconv.Itoa(p.MissingHeartbeats), rc, strconv.Itoa(p.Restarts))
	}
	t.flush()
	return st
}
