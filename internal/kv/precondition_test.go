package kv

import "testing"

func TestPreconditionNamesItsHeader(t *testing.T) {
	for _, tt := range []struct {
		p    Precondition
		want string
	}{
		{Precondition{}, "no precondition"},
		{Precondition{Kind: CondRevision, Revision: 7}, `If-Match: "7"`},
		{Precondition{Kind: CondExists}, "If-Match: *"},
		{Precondition{Kind: CondAbsent}, "If-None-Match: *"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.p, got, tt.want)
		}
	}
}
