package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The treap agrees with a sorted slice under random inserts, removals and
// prefix scans from a key.
func TestTreapMatchesSortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tr treap
	set := map[string]bool{}
	for i := 0; i < 5000; i++ {
		k := fmt.Sprintf("%c/%d", 'a'+r.IntN(4), r.IntN(300))
		if set[k] {
			tr.remove(k)
			delete(set, k)
		} else {
			tr.insert(k)
			set[k] = true
		}
		if i%250 != 0 {
			continue
		}
		for _, x := range []struct{ p, from string }{{"", ""}, {"a", "a"}, {"b/", "b/"}, {"c/1", "c/1"}, {"d/29", "d/29"},
			{"e", "e"}, {"b/", "b/15"}, {"a", "a/2\x00"}, {"", "c"}, {"c/", "d"}} {
			var want, got []string
			for k := range set {
				if strings.HasPrefix(k, x.p) && k >= x.from {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			tr.ascendFrom(x.p, x.from, func(k string) bool { got = append(got, k); return true })
			if !slices.Equal(got, want) {
				t.Fatalf("step %d prefix %q from %q: got %d keys, want %d", i, x.p, x.from, len(got), len(want))
			}
		}
	}
}
