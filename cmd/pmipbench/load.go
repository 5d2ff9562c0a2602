package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	name: "load",
	args: "--lma ADDR --mag-addr ADDR[,ADDR...] [--mags N] [--dev IF] [--duration D | --count N] [flags]",
	summary: "Emulate MAGs and MNs against an LMA: registration, re-registration, handovers\n" +
		"(HI=3 or HI=4), de-registration; report throughput, latency percentiles, the PBA\n" +
		"status histogram and time-outs.",
}

func init() {
	loadCmd.run = runLoad
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
	mix := fs.String("mix", "rereg=70,handover=20,dereg=10", "what a registered MN does next, by weight")
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
	if cfg.Mix, err = parseMix(*mix); err != nil {
		return usageError(c, stderr, "%v", err)
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
