package fixturegen

import (
	"reflect"
	"testing"

	"github.com/pmipdmm/pmipdmm/mh"
)

// checkDMMCoverage: every DMM message of the project (they share the
// Experimental MH Type, so TypedMessages does not list them) has a sample
// that decodes to it.
func checkDMMCoverage(t *testing.T) {
	seen := map[reflect.Type]bool{}
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
			seen[reflect.TypeOf(m)] = true
		}
	}
	dmm := mh.DMMMessages()
	if len(dmm) == 0 {
		t.Error("mh.DMMMessages lists no DMM message")
	}
	for _, m := range dmm {
		if !seen[reflect.TypeOf(m)] {
			t.Errorf("DMM message %T has no sample in the corpus", m)
		}
	}
}
