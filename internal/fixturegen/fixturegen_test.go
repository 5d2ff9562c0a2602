package fixturegen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/mh"
)

// committedDir is the committed corpus, relative to this package.
const committedDir = "../../interop/fixtures"

// TestSamples decodes every sample: valid ones decode, re-encode byte for
// byte and checksum right; malformed ones fail with the documented error.
func TestSamples(t *testing.T) {
	for _, f := range Corpus() {
		for i := range f.Samples {
			s := &f.Samples[i]
			t.Run(f.Name+"/"+s.Name, func(t *testing.T) {
				if _, _, _, err := s.Check(); err != nil {
					t.Fatal(err)
				}
				if s.Description == "" || !s.Src.IsValid() || !s.Dst.IsValid() {
					t.Errorf("sample lacks a description or addresses")
				}
				if (s.Transport == UDP4) != (s.Src.Is4() && s.Dst.Is4()) {
					t.Errorf("transport %s with addresses %s -> %s", s.Transport, s.Src, s.Dst)
				}
			})
		}
	}
}

// TestTypedFormsUsed: a sample must be built from the typed form of its
// message and options whenever package mh has one (GenericMessage and
// RawOption only for what has none).
func TestTypedFormsUsed(t *testing.T) {
	typedMsg := map[mh.Type]bool{}
	for _, ty := range mh.TypedMessages() {
		typedMsg[ty] = true
	}
	for _, f := range Corpus() {
		for _, s := range f.Samples {
			if s.Malformed() {
				continue
			}
			if g, ok := s.Msg.(*mh.GenericMessage); ok && typedMsg[g.Type] {
				t.Errorf("%s: built as GenericMessage but MH type %d (%s) has a typed form", s.Name, g.Type, g.Type)
			}
			for _, o := range s.Msg.MHBase().Options {
				if r, ok := o.(*mh.RawOption); ok {
					if _, raw := mh.NewOption(r.Type).(*mh.RawOption); !raw {
						t.Errorf("%s: option %d (%s) built as RawOption but it has a typed form", s.Name, r.Type, r.Type)
					}
				}
			}
		}
	}
}

// TestCoverage fails when a typed message or option of package mh has no
// sample in the corpus that decodes to it.
func TestCoverage(t *testing.T) {
	msgs, optsSeen := coverage(t)
	for _, ty := range mh.TypedMessages() {
		if !msgs[ty] {
			t.Errorf("typed message %d (%s) has no sample in the corpus", ty, ty)
		}
	}
	for _, ty := range mh.TypedOptions() {
		if !optsSeen[ty] {
			t.Errorf("typed option %d (%s) has no sample in the corpus", ty, ty)
		}
	}
	checkDMMCoverage(t)
}

// coverage returns the typed message types and typed option types that
// the corpus' valid samples decode to.
func coverage(t *testing.T) (map[mh.Type]bool, map[mh.OptionType]bool) {
	msgs := map[mh.Type]bool{}
	opts := map[mh.OptionType]bool{}
	for _, f := range Corpus() {
		for i := range f.Samples {
			s := &f.Samples[i]
			if s.Malformed() {
				continue
			}
			m, _, _, err := s.Check()
			if err != nil {
				t.Fatal(err)
			}
			if _, generic := m.(*mh.GenericMessage); !generic {
				msgs[m.MHType()] = true
			}
			for _, o := range m.MHBase().Options {
				if _, raw := o.(*mh.RawOption); !raw {
					opts[o.OptionType()] = true
				}
			}
		}
	}
	return msgs, opts
}

// TestAlignment: in every message our encoder built, every option sits on
// its alignment (RFC 6275 §6.2.1), counted from the start of the MH, and
// the message is a multiple of 8 octets. tshark does not check this.
func TestAlignment(t *testing.T) {
	n := 0
	for _, f := range Corpus() {
		for i := range f.Samples {
			s := &f.Samples[i]
			if s.Malformed() {
				continue
			}
			m, wire, _, err := s.Check()
			if err != nil {
				t.Fatal(err)
			}
			if len(wire)%8 != 0 {
				t.Errorf("%s: %d octets, not a multiple of 8", s.Name, len(wire))
			}
			if issues := mh.CheckAlignment(wire); len(issues) != 0 {
				t.Errorf("%s: mh.CheckAlignment: %v", s.Name, issues)
			}
			// The options end where the message ends (KeepLayout after
			// decoding), so their offsets are found from the end.
			off := len(wire)
			for _, o := range m.MHBase().Options {
				off -= o.MarshalLen()
			}
			for _, o := range m.MHBase().Options {
				if al := o.Alignment(); al.X > 1 && off%int(al.X) != int(al.Y) {
					t.Errorf("%s: option %s at offset %d is not on %s", s.Name, o.OptionType(), off, al)
				}
				if wire[off] != byte(o.OptionType()) {
					t.Fatalf("%s: offset walk lost: octet %d is %d, want option %d", s.Name, off, wire[off], o.OptionType())
				}
				n++
				off += o.MarshalLen()
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d options checked", n)
	}
}

// TestPcapsReadBack reads each generated pcap with pcapio and finds every
// sample's Mobility Header, transport and addresses in order.
func TestPcapsReadBack(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range Corpus() {
		recs, err := pcapio.ReadMobilityHeaders(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(f.Samples) {
			t.Fatalf("%s: %d Mobility Headers read back, want %d", f.Name, len(recs), len(f.Samples))
		}
		var pkts []Packet
		js, err := os.ReadFile(filepath.Join(dir, f.JSONName()))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, &pkts); err != nil {
			t.Fatalf("%s: %v", f.JSONName(), err)
		}
		if len(pkts) != len(f.Samples) {
			t.Fatalf("%s: %d entries, want %d", f.JSONName(), len(pkts), len(f.Samples))
		}
		for i, r := range recs {
			s := &f.Samples[i]
			wire, _ := s.Wire()
			if r.Frame != i+1 || r.Src != s.Src || r.Dst != s.Dst || r.Transport != string(s.Transport) || !bytes.Equal(r.MH, wire) {
				t.Errorf("%s frame %d: read back %+v, want sample %s", f.Name, i+1, r, s.Name)
			}
			p := pkts[i]
			if p.Frame != i+1 || p.Sample != s.Name || (p.MH == nil) != s.Malformed() || (p.Error == "") != !s.Malformed() {
				t.Errorf("%s entry %d: %+v does not describe sample %s", f.JSONName(), i, p, s.Name)
			}
		}
	}
}

// TestCorpusFresh regenerates the corpus into a temporary directory and
// compares it with the committed one.
func TestCorpusFresh(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	want := listDir(t, dir)
	got := listDir(t, committedDir)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("corpus is stale: run make fixtures (go run ./cmd/mhfixtures -out interop/fixtures): committed files %v, generated %v", got, want)
	}
	for _, n := range want {
		g, err := os.ReadFile(filepath.Join(committedDir, n))
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g, w) {
			t.Errorf("corpus is stale: run make fixtures (go run ./cmd/mhfixtures -out interop/fixtures): %s differs", n)
		}
	}
}

// TestDeterministic: two generations are identical.
func TestDeterministic(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generations differ")
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}
