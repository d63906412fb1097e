package exec

import (
	"fmt"
	"testing"
)

func TestPlansKeepCheckedTreesByText(t *testing.T) {
	var p plans
	a, err := p.parse("MATCH (a)-[:E]->(b) RETURN b.id")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := p.parse("MATCH (a)-[:E]->(b) RETURN b.id"); err != nil || b != a {
		t.Fatalf("the same text parsed again: %p, %v; want the kept tree %p", b, err, a)
	}
	// Refused texts are refused each time, by the parser and by the check of functions.
	for _, q := range []string{"MATCH (a RETURN a", "RETURN nosuch(1)", "RETURN b"} {
		for range 2 {
			if _, err := p.parse(q); err == nil {
				t.Fatalf("%s: accepted", q)
			}
		}
		if _, kept := p.m[q]; kept {
			t.Fatalf("%s: a refused text was kept", q)
		}
	}
	for i := range 2 * maxPlans {
		if _, err := p.parse(fmt.Sprintf("RETURN %d", i)); err != nil {
			t.Fatal(err)
		}
		if len(p.m) > maxPlans {
			t.Fatalf("%d texts kept, over %d", len(p.m), maxPlans)
		}
	}
}
