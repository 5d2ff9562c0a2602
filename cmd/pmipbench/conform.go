package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/bench"
)

var conformCmd = &command{
	Name: "conform",
	Args: "--lma ADDR --mag-addr ADDR[,ADDR] [--dev IF] [flags]",
	Summary: "Run the RFC 5213 / 5846 / 5847 conformance checks against an LMA and print\n" +
		"pass, fail or n/a per check with the packets sent and received. The second\n" +
		"--mag-addr is the other MAG of the handover checks. Exit status 1 if a check failed.",
}

func init() {
	conformCmd.Run = runConform
	register(conformCmd)
}

func runConform(args []string, stdout, stderr io.Writer) int {
	c := conformCmd
	fs := newFlagSet(c, stderr)
	var mf magFlags
	mf.register(fs)
	var tg bench.Target
	unauth := fs.String("unauthorized-mag", "", "a source address the target does not accept PBUs from (154 check); added with --dev too")
	mns := fs.String("mn", "", "NAIs the target accepts, comma-separated (default: generated, the target must accept any)")
	fs.StringVar(&tg.MNFormat, "mn-format", "", "format of generated NAIs (%s: run tag, %d: number)")
	fs.StringVar(&tg.UnknownMN, "unknown-mn", "", "an NAI the target does not serve (153 check)")
	fs.StringVar(&tg.ProxyDisabledMN, "proxy-disabled-mn", "", "an NAI the target does not serve with network-based mobility (152 check)")
	revoke := fs.String("revoke-cmd", "", "shell command that makes the target revoke a binding (RFC 5846 check); gets PMIPBENCH_MN and PMIPBENCH_HNP")
	fs.DurationVar(&tg.ReplyTimeout, "reply-timeout", time.Second, "how long a reply is waited for")
	fs.DurationVar(&tg.SilenceWait, "silence", 600*time.Millisecond, "how long a message that must stay unanswered is watched")
	fs.DurationVar(&tg.ClockTolerance, "clock-tolerance", 2*time.Second, "how far the target's clock may be from ours")
	fs.BoolVar(&tg.Sequence, "sequence", false, "ordinary PBUs use the sequence-number scheme (no Timestamp)")
	only := fs.String("check", "", "run only these check ids, comma-separated")
	list := fs.Bool("list", false, "list the checks and exit")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	brief := fs.Bool("brief", false, "show the evidence of failed checks only")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return usageError(c, stderr, "unexpected argument %q", pos[0])
	}
	checks := bench.Catalogue()
	if *list {
		for _, ch := range checks {
			fmt.Fprintf(stdout, "%-28s %-40s %s\n", ch.ID, ch.Section, ch.Title)
		}
		return exitOK
	}
	if *only != "" {
		byID := map[string]bench.Check{}
		for _, ch := range checks {
			byID[ch.ID] = ch
		}
		checks = nil
		for _, id := range strings.Split(*only, ",") {
			ch, ok := byID[strings.TrimSpace(id)]
			if !ok {
				return usageError(c, stderr, "unknown check %q (see --list)", id)
			}
			checks = append(checks, ch)
		}
	}
	if err := mf.parse(); err != nil {
		return usageError(c, stderr, "%v", err)
	}
	addrs := mf.list
	var ua netip.Addr
	if *unauth != "" {
		if ua, err = netip.ParseAddr(*unauth); err != nil || !ua.Is6() {
			return usageError(c, stderr, "--unauthorized-mag %q: not an IPv6 address", *unauth)
		}
		addrs = append(append([]netip.Addr(nil), addrs...), ua)
	}
	if *mns != "" {
		for _, s := range strings.Split(*mns, ",") {
			tg.MNIDs = append(tg.MNIDs, strings.TrimSpace(s))
		}
	}
	if *revoke != "" {
		cmd := *revoke
		tg.RevokeHook = func(ctx context.Context, mn string, hnp netip.Prefix) error {
			x := exec.CommandContext(ctx, "sh", "-c", cmd)
			x.Env = append(os.Environ(), "PMIPBENCH_MN="+mn, "PMIPBENCH_HNP="+hnp.String())
			if out, err := x.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %v: %s", cmd, err, out)
			}
			return nil
		}
	}
	trs, closeAll, err := mf.open(addrs)
	if err != nil {
		fmt.Fprintf(stderr, "pmipbench conform: %v\n", err)
		return exitFail
	}
	defer closeAll()
	tg.LMA, tg.MAGs = mf.lmaAddr, trs[:len(mf.list)]
	if ua.IsValid() {
		tg.UnauthorizedMAG = trs[len(trs)-1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Conformance(ctx, tg, checks)
	if err != nil {
		fmt.Fprintf(stderr, "pmipbench conform: %v\n", err)
		return exitFail
	}
	failed := 0
	for _, r := range res {
		if r.Verdict == bench.Fail {
			failed++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Target  string         `json:"target"`
			Results []bench.Result `json:"results"`
		}{mf.lmaAddr.String(), res})
	} else {
		writeResults(stdout, res, *brief)
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}

func writeResults(w io.Writer, res []bench.Result, brief bool) {
	n := map[bench.Verdict]int{}
	for _, r := range res {
		n[r.Verdict]++
		fmt.Fprintf(w, "%-4s %-28s %s — %s\n", strings.ToUpper(string(r.Verdict)), r.ID, r.Section, r.Title)
		if r.Reason != "" {
			fmt.Fprintf(w, "     reason: %s\n", r.Reason)
		}
		for _, note := range r.Notes {
			fmt.Fprintf(w, "     note: %s\n", note)
		}
		if brief && r.Verdict != bench.Fail {
			continue
		}
		for _, e := range r.Evidence {
			fmt.Fprintf(w, "     %+8.3fms %-8s %s > %s  %s\n", float64(e.At)/1e6, e.Dir, e.From, e.To, e.Summary)
			fmt.Fprintf(w, "                %s\n", e.Hex)
		}
	}
	fmt.Fprintf(w, "%d checks: %d pass, %d fail, %d n/a\n", len(res), n[bench.Pass], n[bench.Fail], n[bench.NotApplicable])
}
