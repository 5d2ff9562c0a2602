package main

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var poolsCmd = &command{
	Name:    "pools",
	Args:    "[--json] [--socket PATH]",
	Summary: "The HAA's prefix pools (DMM): the MR each is anchored at, its size and how much is allocated.",
}

var allocationsCmd = &command{
	Name:    "allocations",
	Args:    "[--pool P | --mn M] [--json] [--socket PATH]",
	Summary: "The HAA's allocations (DMM): every prefix held, or those of one pool or one mobile node.",
}

func init() {
	poolsCmd.Run = runPools
	register(poolsCmd)
	allocationsCmd.Run = runAllocations
	register(allocationsCmd)
}

func runPools(args []string, stdout, stderr io.Writer) int {
	c := poolsCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var r struct{ Pools []mgmt.Pool }
	st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/pools", nil, &r)
	if !ok {
		return st
	}
	if len(r.Pools) == 0 {
		fmt.Fprintln(stdout, "no pools")
		return st
	}
	t := newTable(stdout, "POOL", "MR", "LENGTH", "SIZE", "ALLOCATED")
	for _, p := range r.Pools {
		t.row(p.Prefix.String(), p.MR.String(), "/"+strconv.Itoa(p.Length), strconv.FormatUint(p.Size, 10), strconv.Itoa(p.Allocated))
	}
	t.flush()
	return st
}

func runAllocations(args []string, stdout, stderr io.Writer) int {
	c := allocationsCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pool := fs.String("pool", "", "only the allocations of this pool")
	mn := fs.String("mn", "", "only the prefixes this mobile node holds (MN-ID)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var q mgmt.AllocationQuery
	if *pool != "" && *mn != "" {
		return usageError(c, stderr, "give at most one of --pool and --mn")
	}
	if *pool != "" {
		if q.Pool, err = netip.ParsePrefix(*pool); err != nil {
			return usageError(c, stderr, fmt.Sprintf("--pool %q: not a prefix", *pool))
		}
	}
	q.MN = *mn
	var r struct{ Allocations []mgmt.Allocation }
	st, ok := f.call(c, stdout, stderr, http.MethodGet, mgmt.AllocationsPath(q), nil, &r)
	if !ok {
		return st
	}
	if len(r.Allocations) == 0 {
		fmt.Fprintln(stdout, "no allocations")
		return st
	}
	t := newTable(stdout, "MN", "PREFIX", "ANCHOR-MR", "POOL", "ALLOCATED-AT", "EXPIRES-IN")
	for _, a := range r.Allocations {
		t.row(a.MNID, a.Prefix.String(), a.AnchorMR.String(), a.Pool.String(), timeStr(a.AllocatedAt), secs(a.Remaining))
	}
	t.flush()
	return st
}
