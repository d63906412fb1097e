package engine

import (
	"errors"
	"slices"
	"testing"
)

func TestViewIsASnapshot(t *testing.T) {
	e := openEngine(t, t.TempDir(), true)
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1"} {
		apply1(t, e, 1, put(k, "old-"+k))
	}
	apply1(t, e, 2, put("a/9", "other shard"))
	v, err := e.View(1)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// Writes after the view was taken are not in it.
	apply1(t, e, 1, put("a/2", "new"))
	apply1(t, e, 1, del("a/3"))
	apply1(t, e, 1, put("a/4", "new"))

	got, err := v.Get([]byte("a/2"))
	if err != nil || string(got.Data) != "old-a/2" || got.Revision != 2 {
		t.Fatalf("Get a/2 = %q rev %d, %v; want the value before the view", got.Data, got.Revision, err)
	}
	if _, err := v.Get([]byte("a/4")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get a/4 = %v, want ErrNotFound", err)
	}

	scan := func(prefix, start string, stopAfter int) []string {
		var keys []string
		err := v.Scan([]byte(prefix), []byte(start), func(k []byte, val Value) (bool, error) {
			keys = append(keys, string(k)+"="+string(val.Data))
			return len(keys) < stopAfter, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	for _, tc := range []struct {
		prefix, start string
		stop          int
		want          []string
	}{
		{"a/", "", 10, []string{"a/1=old-a/1", "a/2=old-a/2", "a/3=old-a/3"}},
		{"a/", "a/2", 10, []string{"a/2=old-a/2", "a/3=old-a/3"}},
		{"a/", "a/20", 10, []string{"a/3=old-a/3"}},
		{"a/", "", 1, []string{"a/1=old-a/1"}},
		{"", "", 10, []string{"a/1=old-a/1", "a/2=old-a/2", "a/3=old-a/3", "b/1=old-b/1"}},
		{"c", "", 10, nil},
	} {
		if got := scan(tc.prefix, tc.start, tc.stop); !slices.Equal(got, tc.want) {
			t.Errorf("Scan(%q, %q) = %q, want %q", tc.prefix, tc.start, got, tc.want)
		}
	}
	// A scan inside another's callback (the view's iterator is busy) sees the same view, and
	// the outer scan goes on where it was.
	var nested []string
	err = v.Scan([]byte("a/"), nil, func(k []byte, _ Value) (bool, error) {
		inner := scan("b/", "", 10)
		nested = append(nested, string(k)+":"+inner[0])
		return true, nil
	})
	if want := []string{"a/1:b/1=old-b/1", "a/2:b/1=old-b/1", "a/3:b/1=old-b/1"}; err != nil || !slices.Equal(nested, want) {
		t.Fatalf("nested scans = %q, %v; want %q", nested, err, want)
	}
	if got := scan("a/", "a/3", 10); !slices.Equal(got, []string{"a/3=old-a/3"}) {
		t.Fatalf("a scan after nested scans = %q", got)
	}
	boom := errors.New("boom")
	if err := v.Scan(nil, nil, func([]byte, Value) (bool, error) { return true, boom }); !errors.Is(err, boom) {
		t.Fatalf("Scan returned %v, want fn's error", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("the engine closes once its views are closed: %v", err)
	}
	if _, err := e.View(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("View on a closed engine: %v", err)
	}
}

// GetEach reads a batch of keys through one iterator: it must answer as Get per key does,
// whether a key is in a table or the memtable, and whatever the order of the keys.
func TestViewGetEach(t *testing.T) {
	e := openEngine(t, t.TempDir(), true)
	for _, k := range []string{"a/1", "a/10", "a/3", "b/1"} {
		apply1(t, e, 1, put(k, "old-"+k))
	}
	apply1(t, e, 2, put("a/2", "other shard"))
	if err := e.db.Flush(); err != nil { // the keys so far in a table, the next ones in the memtable
		t.Fatal(err)
	}
	apply1(t, e, 1, put("a/5", "old-a/5"))
	v, err := e.View(1)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	apply1(t, e, 1, del("a/3"))
	apply1(t, e, 1, put("a/4", "new"))

	each := func(keys ...string) []string {
		bs := make([][]byte, len(keys))
		for i, k := range keys {
			bs[i] = []byte(k)
		}
		var got []string
		err := v.GetEach(bs, func(i int, val Value) error {
			want, err := v.Get(bs[i])
			if err != nil || string(want.Data) != string(val.Data) || want.Revision != val.Revision {
				t.Errorf("GetEach %q = %q rev %d; Get = %q rev %d, %v", keys[i], val.Data, val.Revision, want.Data, want.Revision, err)
			}
			got = append(got, keys[i]+"="+string(val.Data))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Ascending key order; absent keys, keys of another shard, keys written after the view
	// and prefixes of present keys are skipped; a key deleted after the view is there.
	got := each("b/1", "a/4", "a/5", "a/1", "a/", "a/2", "a/3", "a/1", "a/100", "c")
	want := []string{"a/1=old-a/1", "a/1=old-a/1", "a/3=old-a/3", "a/5=old-a/5", "b/1=old-b/1"}
	if !slices.Equal(got, want) {
		t.Fatalf("GetEach = %q, want %q", got, want)
	}
	if got := each(); got != nil {
		t.Fatalf("GetEach of no keys = %q", got)
	}
	// Inside a scan's callback (the view's iterator busy), and the scan goes on.
	var nested []string
	err = v.Scan([]byte("a/"), nil, func(k []byte, _ Value) (bool, error) {
		nested = append(nested, string(k)+":"+each("b/1", "a/10")[1])
		return true, nil
	})
	if want := []string{"a/1:b/1=old-b/1", "a/10:b/1=old-b/1", "a/3:b/1=old-b/1", "a/5:b/1=old-b/1"}; err != nil || !slices.Equal(nested, want) {
		t.Fatalf("GetEach in a scan = %q, %v; want %q", nested, err, want)
	}
	boom := errors.New("boom")
	if err := v.GetEach([][]byte{[]byte("a/1"), []byte("a/3")}, func(int, Value) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("GetEach returned %v, want fn's error", err)
	}
}
