package kv

import "testing"

func TestReserved(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{{"\x00g/x", true}, {"\x00", true}, {"", false}, {"a", false}, {"\x01", false}, {"a\x00", false}} {
		if got := Reserved(tc.key); got != tc.want {
			t.Errorf("Reserved(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestListAfterSkipsTheReservedNamespace(t *testing.T) {
	for _, tc := range []struct{ prefix, after, want string }{
		{"", "", reservedCeiling},
		{"", "\x00g/zzz", reservedCeiling},
		{"", "\x01", "\x01"},
		{"", "a", "a"},
		{"a", "", ""},
		{"a", "ab", "ab"},
	} {
		if got := ListAfter(tc.prefix, tc.after); got != tc.want {
			t.Errorf("ListAfter(%q, %q) = %q, want %q", tc.prefix, tc.after, got, tc.want)
		}
	}
	// Every reserved key the graph store writes sorts before the listing's start; every
	// other key after it.
	for _, k := range []string{"\x00g/social/v/{social/1}", "\x00g\xff\xff"} {
		if k >= reservedCeiling {
			t.Errorf("reserved key %q is not skipped", k)
		}
	}
	for _, k := range []string{"\x01", " ", "a", "\u00e9"} {
		if k <= reservedCeiling {
			t.Errorf("user key %q would be skipped", k)
		}
	}
}
