package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/bench"
	"github.com/pmipdmm/pmipdmm/mh"
)

var loadCmd = &command{
	Name: "load",
	Args: "[--target lma|lm|haa] --lma ADDR --mag-addr ADDR[,ADDR...] [--mags N] [--dev IF] [--duration D | --count N] [flags]",
	Summary: "Emulate MAGs and MNs against an LMA: registration, re-registration, handovers\n" +
		"(HI=3 or HI=4), de-registration; report throughput, latency percentiles, the PBA\n" +
		"status histogram and time-outs. An MR of deployment A answers PBUs as an LMA:\n" +
		"drive it with --target lma. --target lm drives an LM (location updates = PBU with\n" +
		"D flag and Serving MAAR, moves, Location Queries by address, prefix, MN-ID) and\n" +
		"--target haa an HAA (allocations, holdings queries), both as in docs/wire-format.md;\n" +
		"then --lma is the LM's or HAA's address and the MAG addresses are the emulated MRs.",
}

func init() {
	loadCmd.Run = runLoad
	register(loadCmd)
}

func parseMix(s string) (bench.Mix, error) {
	var m bench.Mix
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("--mix %q: want rereg=N,handover=N,dereg=N", s)
		}
		switch k {
		case "rereg":
			m.Reregister = n
		case "handover":
			m.Handover = n
		case "dereg":
			m.Deregister = n
		default:
			return m, fmt.Errorf("--mix: unknown operation %q (rereg, handover, dereg)", k)
		}
	}
	if m == (bench.Mix{}) {
		return m, fmt.Errorf("--mix %q: all weights zero", s)
	}
	return m, nil
}

// parseDMMMix parses --mix for --target lm (update, move, query-addr,
// query-prefix, query-mnid) or haa (allocate, holdings).
func parseDMMMix(target, s string) (bench.DMMMix, error) {
	var m bench.DMMMix
	if s == "" {
		return m, nil // the target's default
	}
	want := "update=N,move=N,query-addr=N,query-prefix=N,query-mnid=N"
	if target == bench.TargetHAA {
		want = "allocate=N,holdings=N"
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("--mix %q: want %s", s, want)
		}
		var w *int
		switch {
		case target == bench.TargetLM && k == "update":
			w = &m.Update
		case target == bench.TargetLM && k == "move":
			w = &m.Move
		case target == bench.TargetLM && k == "query-addr":
			w = &m.QueryAddr
		case target == bench.TargetLM && k == "query-prefix":
			w = &m.QueryPrefix
		case target == bench.TargetLM && k == "query-mnid":
			w = &m.QueryMNID
		case target == bench.TargetHAA && k == "allocate":
			w = &m.Allocate
		case target == bench.TargetHAA && k == "holdings":
			w = &m.Holdings
		default:
			return m, fmt.Errorf("--mix: %q is no operation of --target %s (%s)", k, target, want)
		}
		*w = n
	}
	if m == (bench.DMMMix{}) {
		return m, fmt.Errorf("--mix %q: all weights zero", s)
	}
	return m, nil
}

func runLoad(args []string, stdout, stderr io.Writer) int {
	c := loadCmd
	fs := newFlagSet(c, stderr)
	var mf magFlags
	mf.register(fs)
	cfg := bench.LoadConfig{}
	fs.IntVar(&cfg.MNs, "mns", 1000, "number of emulated mobile nodes")
	fs.StringVar(&cfg.MNFormat, "mn-format", "mn%d@pmipbench", "NAI of MN i (fmt verb %d)")
	fs.IntVar(&cfg.MNBase, "mn-base", 0, "number of the first MN")
	fs.Float64Var(&cfg.Rate, "rate", 0, "PBUs per second (0: as fast as the window allows)")
	fs.IntVar(&cfg.Window, "window", 256, "PBUs outstanding at most")
	fs.DurationVar(&cfg.Duration, "duration", 0, "run for this long")
	fs.Uint64Var(&cfg.Count, "count", 0, "stop after this many PBUs")
	fs.DurationVar(&cfg.Timeout, "timeout", time.Second, "wait this long for a PBA")
	target := fs.String("target", "lma", "what --lma is: lma (an LMA, or an MR of deployment A), lm or haa")
	mix := fs.String("mix", "", "what a registered MN does next, by weight: lma rereg=70,handover=20,dereg=10;\n"+
		"lm update=20,move=10,query-addr=30,query-prefix=20,query-mnid=20; haa allocate=20,holdings=80")
	pfxs := fs.String("prefixes", "2001:db8:f000::/36", "--target lm: MN i's prefix is the i-th /64 of this")
	hi := fs.Uint("handover-hi", 3, "handover semantics: 3 (new MAG sends HI=3) or 4 (old MAG de-registers, new MAG sends HI=4)")
	life := fs.Uint("lifetime", 150, "requested lifetime, in 4 s units")
	att := fs.Uint("att", 4, "Access Technology Type")
	fs.BoolVar(&cfg.Sequence, "sequence", false, "sequence-number scheme (no Timestamp option)")
	fs.BoolVar(&cfg.NoCleanup, "no-cleanup", false, "leave the MNs registered at the end")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the operation choice")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of pmipbench itself to this file")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return usageError(c, stderr, "unexpected argument %q", pos[0])
	}
	if err := mf.parse(); err != nil {
		return usageError(c, stderr, "%v", err)
	}
	var dmix bench.DMMMix
	var dpfx netip.Prefix
	switch *target {
	case "lma":
		if *mix == "" {
			*mix = "rereg=70,handover=20,dereg=10"
		}
		if cfg.Mix, err = parseMix(*mix); err != nil {
			return usageError(c, stderr, "%v", err)
		}
	case bench.TargetLM, bench.TargetHAA:
		if dmix, err = parseDMMMix(*target, *mix); err != nil {
			return usageError(c, stderr, "%v", err)
		}
		if dpfx, err = netip.ParsePrefix(*pfxs); err != nil {
			return usageError(c, stderr, "--prefixes: %v", err)
		}
	default:
		return usageError(c, stderr, "--target %q: lma, lm or haa", *target)
	}
	if *hi != 3 && *hi != 4 {
		return usageError(c, stderr, "--handover-hi %d: 3 or 4", *hi)
	}
	if *life == 0 || *life > 0xffff || *att > 255 {
		return usageError(c, stderr, "--lifetime 1..65535 and --att 0..255")
	}
	if cfg.Duration <= 0 && cfg.Count == 0 {
		return usageError(c, stderr, "give --duration or --count")
	}
	cfg.HandoverHI, cfg.Lifetime, cfg.ATT = mh.HandoffIndicatorValue(*hi), uint16(*life), mh.ATT(*att)
	cfg.LMA = mf.lmaAddr
	trs, closeAll, err := mf.open(mf.list)
	if err != nil {
		fmt.Fprintf(stderr, "pmipbench load: %v\n", err)
		return exitFail
	}
	defer closeAll()
	cfg.MAGs = trs
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "pmipbench load: %v\n", err)
			return exitFail
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "pmipbench load: %v\n", err)
			return exitFail
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *target != "lma" {
		return runDMMLoad(ctx, bench.DMMLoadConfig{Target: *target, Server: cfg.LMA, MRs: trs, MNs: cfg.MNs, MNFormat: cfg.MNFormat,
			MNBase: cfg.MNBase, Prefixes: dpfx, Rate: cfg.Rate, Window: cfg.Window, Duration: cfg.Duration, Count: cfg.Count,
			Timeout: cfg.Timeout, Mix: dmix, Lifetime: cfg.Lifetime, ATT: cfg.ATT, Seed: cfg.Seed}, *asJSON, stdout, stderr)
	}
	rep, err := bench.Load(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pmipbench load: %v\n", err)
		return exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		writeLoadReport(stdout, rep)
	}
	return exitOK
}

func runDMMLoad(ctx context.Context, cfg bench.DMMLoadConfig, asJSON bool, stdout, stderr io.Writer) int {
	rep, err := bench.DMMLoad(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pmipbench load: %v\n", err)
		return exitFail
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return exitOK
	}
	r := &rep.LoadReport
	fmt.Fprintf(stdout, "target %s: %d MRs, %d MNs, window %d, rate %s\n", r.Target, r.MAGs, r.MNs, r.Window, rateText(r.Rate))
	fmt.Fprintf(stdout, "elapsed %.3f s: sent %d, answered %d (accepted %d, rejected %d), timeouts %d, unmatched %d, send errors %d, wrong answers %d\n",
		r.Elapsed.Seconds(), r.Sent, r.Answered, r.Accepted, r.Rejected, r.Timeouts, r.Unmatched, r.SendErrors, rep.Wrong)
	if rep.WrongExample != "" {
		fmt.Fprintf(stdout, "first wrong answer: %s\n", rep.WrongExample)
	}
	fmt.Fprintf(stdout, "throughput %.0f answers/s\n", r.Throughput)
	l := r.Latency
	fmt.Fprintf(stdout, "latency: min %s  p50 %s  p90 %s  p99 %s  max %s  mean %s\n", ms(l.Min), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), ms(l.Mean))
	fmt.Fprintln(stdout, "operations:")
	for _, op := range []bench.DMMOp{bench.OpLMUpdate, bench.OpLMMove, bench.OpQueryAddress, bench.OpQueryPrefix, bench.OpQueryMNID, bench.OpHAAAllocate, bench.OpHAAHoldings} {
		if c, ok := r.Ops[op.String()]; ok {
			fmt.Fprintf(stdout, "  %-15s sent %d, answered %d, timeouts %d\n", op, c.Sent, c.Answered, c.Timeouts)
		}
	}
	fmt.Fprintln(stdout, "status:")
	for _, s := range r.Status {
		fmt.Fprintf(stdout, "  %-14s %3d %-40s %d\n", s.Message, s.Code, s.Name, s.Count)
	}
	return exitOK
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

func writeLoadReport(w io.Writer, r *bench.LoadReport) {
	fmt.Fprintf(w, "target %s: %d MAGs, %d MNs, window %d, rate %s, %s scheme, handover HI=%d\n",
		r.Target, r.MAGs, r.MNs, r.Window, rateText(r.Rate), r.Scheme, r.HandoverHI)
	fmt.Fprintf(w, "elapsed %.3f s: sent %d, answered %d (accepted %d, rejected %d), timeouts %d, unmatched %d, send errors %d\n",
		r.Elapsed.Seconds(), r.Sent, r.Answered, r.Accepted, r.Rejected, r.Timeouts, r.Unmatched, r.SendErrors)
	fmt.Fprintf(w, "throughput %.0f PBA/s\n", r.Throughput)
	l := r.Latency
	fmt.Fprintf(w, "latency: min %s  p50 %s  p90 %s  p99 %s  max %s  mean %s\n", ms(l.Min), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), ms(l.Mean))
	fmt.Fprintln(w, "operations:")
	for _, op := range []string{"register", "reregister", "handover", "handover-dereg", "deregister"} {
		if c, ok := r.Ops[op]; ok {
			fmt.Fprintf(w, "  %-15s sent %d, answered %d, timeouts %d\n", op, c.Sent, c.Answered, c.Timeouts)
		}
	}
	fmt.Fprintln(w, "PBA status:")
	for _, s := range r.Status {
		fmt.Fprintf(w, "  %3d %-40s %d\n", s.Code, s.Name, s.Count)
	}
	if r.HeartbeatsAnswered > 0 {
		fmt.Fprintf(w, "heartbeat requests answered: %d\n", r.HeartbeatsAnswered)
	}
	if r.Cleanup.Sent > 0 {
		fmt.Fprintf(w, "cleanup: %d de-registrations, answered %d, timeouts %d, in %.3f s\n", r.Cleanup.Sent, r.Cleanup.Answered, r.Cleanup.Timeouts, r.CleanupElapsed.Seconds())
	}
}

func rateText(r float64) string {
	if r == 0 {
		return "unpaced"
	}
	return fmt.Sprintf("%.0f/s", r)
}
