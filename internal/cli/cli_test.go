package cli_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/cli"
)

// call is what a test command saw when it ran.
type call struct {
	args           []string
	stdout, stderr io.Writer
}

// newApp returns an App with three commands registered out of order:
// "greet" parses -loud and one positional argument with the package's
// helpers, "fail" returns ExitFail, "multi" has a two-line summary. The
// calls of "fail" are recorded in calls.
func newApp(indent bool) (*cli.App, *[]call) {
	app := &cli.App{Name: "prog", NameWidth: 7, IndentSummary: indent, HelpTopic: "flags"}
	var calls []call
	greet := &cli.Command{Name: "greet", Args: "NAME [--loud]", Summary: "Say hello to NAME."}
	greet.Run = func(args []string, stdout, stderr io.Writer) int {
		fs := app.NewFlagSet(greet, stderr)
		loud := fs.Bool("loud", false, "shout")
		pos, err := cli.ParseArgs(fs, args)
		if err != nil {
			return cli.FlagExit(err)
		}
		if len(pos) != 1 {
			return app.UsageError(greet, stderr, fmt.Sprintf("one name expected, got %d", len(pos)))
		}
		msg := "hello " + pos[0]
		if *loud {
			msg = strings.ToUpper(msg)
		}
		fmt.Fprintln(stdout, msg)
		return cli.ExitOK
	}
	app.Register(&cli.Command{Name: "multi", Args: "", Summary: "First line.\nSecond line.", Run: func([]string, io.Writer, io.Writer) int { return cli.ExitOK }})
	app.Register(greet)
	app.Register(&cli.Command{Name: "fail", Args: "[X...]", Summary: "Always fails.", Run: func(args []string, stdout, stderr io.Writer) int {
		calls = append(calls, call{args, stdout, stderr})
		fmt.Fprintln(stderr, "prog fail: it failed")
		return cli.ExitFail
	}})
	return app, &calls
}

const usageIndented = `usage: prog <command> [arguments]

commands:
  fail    Always fails.
  greet   Say hello to NAME.
  multi   First line.
          Second line.

Run 'prog help <command>' for a command's flags.
`

const usageFlush = `usage: prog <command> [arguments]

commands:
  fail    Always fails.
  greet   Say hello to NAME.
  multi   First line.
Second line.

Run 'prog help <command>' for a command's flags.
`

const greetUsage = `usage: prog greet NAME [--loud]

Say hello to NAME.

flags:
  -loud
    	shout
`

func run(app *cli.App, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := app.Run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

func TestUsageLayout(t *testing.T) {
	for _, tc := range []struct {
		indent bool
		want   string
	}{{true, usageIndented}, {false, usageFlush}} {
		app, _ := newApp(tc.indent)
		var b bytes.Buffer
		app.Usage(&b)
		if b.String() != tc.want {
			t.Errorf("IndentSummary %v: usage\n%s\nwant\n%s", tc.indent, b.String(), tc.want)
		}
	}
	// The column is NameWidth wide; a longer name pushes its summary right.
	app := &cli.App{Name: "x", NameWidth: 3, IndentSummary: true, HelpTopic: "arguments"}
	app.Register(&cli.Command{Name: "ab", Summary: "s1\ns2"})
	app.Register(&cli.Command{Name: "abcde", Summary: "s3"})
	var b bytes.Buffer
	app.Usage(&b)
	want := "usage: x <command> [arguments]\n\ncommands:\n  ab  s1\n      s2\n  abcde s3\n\nRun 'x help <command>' for a command's arguments.\n"
	if b.String() != want {
		t.Errorf("usage %q, want %q", b.String(), want)
	}
}

func TestRunDispatch(t *testing.T) {
	app, calls := newApp(true)
	var out, errb bytes.Buffer
	if rc := app.Run([]string{"fail", "a", "--b", "--", "c"}, &out, &errb); rc != cli.ExitFail {
		t.Errorf("fail: exit %d, want %d", rc, cli.ExitFail)
	}
	if len(*calls) != 1 {
		t.Fatalf("fail ran %d times", len(*calls))
	}
	c := (*calls)[0]
	if !slices.Equal(c.args, []string{"a", "--b", "--", "c"}) || c.stdout != &out || c.stderr != &errb {
		t.Errorf("fail got args %q, stdout %p stderr %p; want the arguments after its name and the writers %p %p", c.args, c.stdout, c.stderr, &out, &errb)
	}
	if out.String() != "" || errb.String() != "prog fail: it failed\n" {
		t.Errorf("fail: stdout %q stderr %q", out.String(), errb.String())
	}

	for _, tc := range []struct {
		args      []string
		rc        int
		out, errs string
	}{
		{[]string{"greet", "bob"}, cli.ExitOK, "hello bob\n", ""},
		// flags before, between and after the positional arguments
		{[]string{"greet", "--loud", "bob"}, cli.ExitOK, "HELLO BOB\n", ""},
		{[]string{"greet", "bob", "-loud"}, cli.ExitOK, "HELLO BOB\n", ""},
		{[]string{"greet", "-loud=false", "bob"}, cli.ExitOK, "hello bob\n", ""},
		{[]string{"greet", "--", "--loud"}, cli.ExitOK, "hello --loud\n", ""},
		// usage errors: the command's own, a bad flag, a bad flag value
		{[]string{"greet"}, cli.ExitUsage, "", "prog greet: one name expected, got 0\nusage: prog greet NAME [--loud]\n"},
		{[]string{"greet", "a", "b"}, cli.ExitUsage, "", "prog greet: one name expected, got 2\nusage: prog greet NAME [--loud]\n"},
		{[]string{"greet", "bob", "--quiet"}, cli.ExitUsage, "", "flag provided but not defined: -quiet\n" + greetUsage},
		{[]string{"greet", "--loud=maybe", "bob"}, cli.ExitUsage, "", "invalid boolean value \"maybe\" for -loud: parse error\n" + greetUsage},
		// -h of a command: its usage on stderr, exit 0
		{[]string{"greet", "-h"}, cli.ExitOK, "", greetUsage},
		{[]string{"greet", "bob", "--help"}, cli.ExitOK, "", greetUsage},
	} {
		rc, out, errs := run(app, tc.args...)
		if rc != tc.rc || out != tc.out || errs != tc.errs {
			t.Errorf("%q: exit %d stdout %q stderr %q\nwant exit %d stdout %q stderr %q", tc.args, rc, out, errs, tc.rc, tc.out, tc.errs)
		}
	}
}

func TestRunHelpAndUsageErrors(t *testing.T) {
	app, calls := newApp(true)
	for _, tc := range []struct {
		args      []string
		rc        int
		out, errs string
	}{
		{nil, cli.ExitUsage, "", usageIndented},
		{[]string{}, cli.ExitUsage, "", usageIndented},
		{[]string{"help"}, cli.ExitOK, usageIndented, ""},
		{[]string{"-h"}, cli.ExitOK, usageIndented, ""},
		{[]string{"-help"}, cli.ExitOK, usageIndented, ""},
		{[]string{"--help"}, cli.ExitOK, usageIndented, ""},
		// help COMMAND: the command's -h, all of it on stdout
		{[]string{"help", "greet"}, cli.ExitOK, greetUsage, ""},
		{[]string{"--help", "greet", "ignored"}, cli.ExitOK, greetUsage, ""},
		{[]string{"help", "nope"}, cli.ExitUsage, "", "prog: unknown command \"nope\"\n"},
		{[]string{"-h", "nope", "x"}, cli.ExitUsage, "", "prog: unknown command \"nope\"\n"},
		{[]string{"nope"}, cli.ExitUsage, "", "prog: unknown command \"nope\"\n\n" + usageIndented},
		{[]string{"nope", "--help"}, cli.ExitUsage, "", "prog: unknown command \"nope\"\n\n" + usageIndented},
		{[]string{"--bogus"}, cli.ExitUsage, "", "prog: unknown command \"--bogus\"\n\n" + usageIndented},
		{[]string{"HELP"}, cli.ExitUsage, "", "prog: unknown command \"HELP\"\n\n" + usageIndented},
		{[]string{""}, cli.ExitUsage, "", "prog: unknown command \"\"\n\n" + usageIndented},
	} {
		rc, out, errs := run(app, tc.args...)
		if rc != tc.rc || out != tc.out || errs != tc.errs {
			t.Errorf("%q: exit %d stdout %q stderr %q\nwant exit %d stdout %q stderr %q", tc.args, rc, out, errs, tc.rc, tc.out, tc.errs)
		}
	}
	// help fail runs fail with -h and stdout as both of its outputs; its
	// exit status is returned as it is.
	var out bytes.Buffer
	if rc := app.Run([]string{"help", "fail"}, &out, io.Discard); rc != cli.ExitFail {
		t.Errorf("help fail: exit %d, want %d", rc, cli.ExitFail)
	}
	if len(*calls) != 1 || !slices.Equal((*calls)[0].args, []string{"-h"}) || (*calls)[0].stdout != &out || (*calls)[0].stderr != &out {
		t.Errorf("help fail: calls %+v", *calls)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	app, _ := newApp(true)
	defer func() {
		if r := recover(); r != "prog: command registered twice: greet" {
			t.Errorf("recovered %v", r)
		}
	}()
	app.Register(&cli.Command{Name: "greet"})
	t.Error("no panic")
}

func TestZeroApp(t *testing.T) {
	app := &cli.App{Name: "z"}
	if rc, out, errs := run(app, "x"); rc != cli.ExitUsage || out != "" || !strings.HasPrefix(errs, "z: unknown command \"x\"\n\nusage: z <command> [arguments]\n\ncommands:\n\nRun") {
		t.Errorf("zero App: exit %d %q %q", rc, out, errs)
	}
	ran := false
	app.Register(&cli.Command{Name: "x", Run: func([]string, io.Writer, io.Writer) int { ran = true; return 7 }})
	if rc, _, _ := run(app, "x"); rc != 7 || !ran {
		t.Errorf("x: exit %d ran %v", rc, ran)
	}
}

func TestUsageErrorIsNotAFormat(t *testing.T) {
	app := &cli.App{Name: "prog"}
	c := &cli.Command{Name: "cmd", Args: "[--p P]"}
	var b bytes.Buffer
	if rc := app.UsageError(c, &b, `--p "50%d": not a prefix`); rc != cli.ExitUsage {
		t.Errorf("exit %d", rc)
	}
	if want := "prog cmd: --p \"50%d\": not a prefix\nusage: prog cmd [--p P]\n"; b.String() != want {
		t.Errorf("%q, want %q", b.String(), want)
	}
}

func TestNewFlagSet(t *testing.T) {
	app := &cli.App{Name: "prog"}
	c := &cli.Command{Name: "cmd", Args: "FILE", Summary: "Line one.\nLine two."}
	var b bytes.Buffer
	fs := app.NewFlagSet(c, &b)
	fs.Int("n", 3, "how many")
	if fs.Name() != "prog cmd" || fs.ErrorHandling() != flag.ContinueOnError {
		t.Errorf("name %q handling %v", fs.Name(), fs.ErrorHandling())
	}
	if err := fs.Parse([]string{"-n", "x"}); err == nil {
		t.Fatal("-n x parsed")
	}
	want := "invalid value \"x\" for flag -n: parse error\n" +
		"usage: prog cmd FILE\n\nLine one.\nLine two.\n\nflags:\n  -n int\n    \thow many (default 3)\n"
	if b.String() != want {
		t.Errorf("output %q\nwant %q", b.String(), want)
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		json bool
		n    int
	}{
		{nil, nil, false, 0},
		{[]string{"a.pcap"}, []string{"a.pcap"}, false, 0},
		{[]string{"--json", "a.pcap"}, []string{"a.pcap"}, true, 0},
		{[]string{"a.pcap", "--json"}, []string{"a.pcap"}, true, 0},
		{[]string{"a.pcap", "-json=false", "b"}, []string{"a.pcap", "b"}, false, 0},
		{[]string{"a", "-n", "5", "b", "-json", "c"}, []string{"a", "b", "c"}, true, 5},
		{[]string{"-n", "-5", "a"}, []string{"a"}, false, -5},
		{[]string{"--", "--json"}, []string{"--json"}, false, 0},
		{[]string{"a", "--", "--json", "--"}, []string{"a", "--json", "--"}, false, 0},
		{[]string{"-json", "--", "-x", "y"}, []string{"-x", "y"}, true, 0},
		{[]string{"-"}, []string{"-"}, false, 0},
		{[]string{"-", "-json"}, []string{"-"}, true, 0},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		j := fs.Bool("json", false, "")
		n := fs.Int("n", 0, "")
		pos, err := cli.ParseArgs(fs, tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !slices.Equal(pos, tc.pos) || *j != tc.json || *n != tc.n {
			t.Errorf("%q: pos %q json %v n %d, want %q %v %d", tc.args, pos, *j, *n, tc.pos, tc.json, tc.n)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		help bool
		exit int
	}{
		{[]string{"a", "-h"}, true, cli.ExitOK},
		{[]string{"--help", "a"}, true, cli.ExitOK},
		{[]string{"a", "--bogus"}, false, cli.ExitUsage},
		{[]string{"-n"}, false, cli.ExitUsage},
		{[]string{"a", "-n", "x"}, false, cli.ExitUsage},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Int("n", 0, "")
		pos, err := cli.ParseArgs(fs, tc.args)
		if err == nil || pos != nil {
			t.Errorf("%q: pos %q err %v, want an error", tc.args, pos, err)
			continue
		}
		if errors.Is(err, flag.ErrHelp) != tc.help || cli.FlagExit(err) != tc.exit {
			t.Errorf("%q: err %v, FlagExit %d; want help %v exit %d", tc.args, err, cli.FlagExit(err), tc.help, tc.exit)
		}
	}
}

func TestFlagExit(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{flag.ErrHelp, cli.ExitOK},
		{fmt.Errorf("wrapped: %w", flag.ErrHelp), cli.ExitOK},
		{errors.New("flag provided but not defined: -x"), cli.ExitUsage},
	} {
		if got := cli.FlagExit(tc.err); got != tc.want {
			t.Errorf("FlagExit(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if cli.ExitOK != 0 || cli.ExitFail != 1 || cli.ExitUsage != 2 {
		t.Errorf("exit statuses %d %d %d, want 0 1 2", cli.ExitOK, cli.ExitFail, cli.ExitUsage)
	}
}
