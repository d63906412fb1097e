package layout

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/torua/torua/graph/value"
)

// MaxGraphName is the longest graph name, in bytes.
const MaxGraphName = 63

// CheckGraphName accepts a graph name: an ASCII letter or '_' followed by up to 62 letters,
// digits, '_' or '-'. Names never hold '/', '{' or '}', which delimit keys and hash tags.
func CheckGraphName(name string) error {
	if name == "" {
		return errors.New("the graph name must not be empty")
	}
	if len(name) > MaxGraphName {
		return fmt.Errorf("the graph name %.20q... is %d bytes, more than the %d allowed", name, len(name), MaxGraphName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || !(c == '-' || ('0' <= c && c <= '9'))) {
			return fmt.Errorf("the graph name %q must start with a letter or '_' and hold only letters, digits, '_' and '-'", name)
		}
	}
	return nil
}

// ID is a vertex or edge id: 1..MaxID, unique in its graph. 0 is never an id.
type ID uint64

// MaxID is the largest id: ids are positive int64s, which every JSON client can hold exactly
// as an integer type of 64 bits.
const MaxID = ID(1<<63 - 1)

// SortedIDs sorts ids and removes the repeated ones, in place: a set of thousands of ids
// filled one by one costs several times more.
func SortedIDs(ids []ID) []ID {
	sortIDs(ids)
	return slices.Compact(ids)
}

// sortIDs sorts ids in place: a least-significant-digit radix sort (six passes of eleven
// bits, each skipped when every id has the same digit) from radixFrom ids, four times faster
// than slices.Sort on the tens of thousands of ids a hop from busy vertices reaches.
func sortIDs(ids []ID) { sortIDsWith(ids, nil) }

// sortIDsWith is sortIDs with scratch space: scratch, if it holds len(ids), else its own.
func sortIDsWith(ids, scratch []ID) {
	if len(ids) < radixFrom {
		slices.Sort(ids)
		return
	}
	const bits = 11
	const mask = 1<<bits - 1
	var count [1 << bits]int
	if len(scratch) < len(ids) {
		scratch = make([]ID, len(ids))
	}
	src, dst := ids, scratch[:len(ids)]
	for shift := uint(0); shift < 64; shift += bits {
		clear(count[:])
		for _, id := range src {
			count[(id>>shift)&mask]++
		}
		if count[(src[0]>>shift)&mask] == len(src) {
			continue
		}
		sum := 0
		for i, c := range count {
			count[i], sum = sum, sum+c
		}
		for _, id := range src {
			d := (id >> shift) & mask
			dst[count[d]] = id
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ids[0] {
		copy(ids, src)
	}
}

// radixFrom is the length from which sortIDs sorts by radix.
const radixFrom = 256

// MergeIDs merges runs into one ascending list of the distinct ids they hold, by merging
// pairs of runs until one is left: log2(len(runs)) linear passes. A run is expected ascending
// and distinct (a node's answer); one that is not (from a node of an older version) is
// sorted first. The runs are not changed.
func MergeIDs(runs [][]ID) []ID {
	runs = slices.DeleteFunc(slices.Clone(runs), func(r []ID) bool { return len(r) == 0 })
	for i, r := range runs {
		if !ascending(r) {
			runs[i] = SortedIDs(slices.Clone(r))
		}
	}
	switch len(runs) {
	case 0:
		return nil
	case 1:
		return slices.Clone(runs[0])
	}
	for len(runs) > 1 {
		next := runs[:0:0]
		for i := 0; i < len(runs); i += 2 {
			if i+1 == len(runs) {
				next = append(next, runs[i])
				break
			}
			next = append(next, mergeTwo(runs[i], runs[i+1]))
		}
		runs = next
	}
	return runs[0]
}

// ascending reports whether each id of ids is above the one before.
func ascending(ids []ID) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			return false
		}
	}
	return true
}

// mergeTwo merges two ascending, distinct lists into a new one.
func mergeTwo(a, b []ID) []ID {
	out := make([]ID, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// idHexLen is the width of an id in keys: fixed, so that ids sort numerically.
const idHexLen = 16

// appendID appends id as 16 lower-case hex digits.
func appendID(b []byte, id ID) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(id>>uint(shift))&0xf])
	}
	return b
}

// parseID reads 16 hex digits.
func parseID(b []byte) (ID, error) {
	if len(b) < idHexLen {
		return 0, fmt.Errorf("id %q: want %d hex digits", b, idHexLen)
	}
	var n uint64
	for _, c := range b[:idHexLen] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		default:
			return 0, fmt.Errorf("id %q: not an id (appendID writes lower-case hex)", b[:idHexLen])
		}
	}
	if n == 0 || ID(n) > MaxID {
		return 0, fmt.Errorf("id %q: not an id", b[:idHexLen])
	}
	return ID(n), nil
}

// Tag is the hash tag of vertex id in graph: the text between the braces that end each of the
// vertex's keys. The shard map places every such key by it.
func Tag(graph string, id ID) string {
	return string(appendID([]byte(graph+"/"), id))
}

// PrimaryKeyID is the id of the vertex whose label declares a primary key with the given
// value: a hash of (graph, label, value), so that finding or merging the vertex by its key is
// one read or one conditional write on one shard. Distinct values may collide (about n²/2⁶⁴
// among n vertices); the store refuses the second create instead of merging them.
func PrimaryKeyID(graph, label string, key any) (ID, error) {
	b := make([]byte, 0, 64)
	b = append(b, graph...)
	b = append(b, 0)
	b, _ = value.AppendKey(b, label) // a string always encodes
	// Equal values (42 and 42.0) share their equality prefix, so they name one vertex, as
	// openCypher's equality says they are one key.
	enc, err := value.EqualityPrefix(key)
	b = append(b, enc...)
	if err != nil {
		return 0, fmt.Errorf("primary key of :%s: %w", label, err)
	}
	id := ID(xxhash.Sum64(b) & uint64(MaxID))
	if id == 0 {
		id = 1
	}
	return id, nil
}

// IDSet is a set of ids, for the many thousands of repeated ids a hop from busy vertices
// reaches: open addressing over a power-of-two table, ids hashed by a multiplication (they
// are never 0, which marks an empty slot). Adding an id already there costs a few
// nanoseconds, a quarter of what a Go map takes. Its zero value is an empty set.
type IDSet struct {
	slots []ID
	n     int
	shift uint
}

// idHash multiplies an id into its slot's hash (2^64 divided by the golden ratio).
const idHash = 0x9e3779b97f4a7c15

// Len is the number of ids in the set.
func (s *IDSet) Len() int { return s.n }

// Add adds id (not 0) and reports whether it was not there yet.
func (s *IDSet) Add(id ID) bool {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := (uint64(id) * idHash) >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case id:
			return false
		case 0:
			s.slots[i] = id
			s.n++
			return true
		}
	}
}

// Reserve makes room for n ids without growing (growing places every id again).
func (s *IDSet) Reserve(n int) {
	for 2*n > len(s.slots) {
		s.grow()
	}
}

// grow doubles the table (to 1,024 slots at first) and places the ids again: each in the
// first empty slot from its hash, as no id is there twice.
func (s *IDSet) grow() {
	old := s.slots
	size := max(1024, 2*len(old))
	s.slots = make([]ID, size)
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := uint64(size - 1)
	for _, id := range old {
		if id == 0 {
			continue
		}
		i := (uint64(id) * idHash) >> s.shift
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = id
	}
}

// TakeSorted returns the set's ids in ascending order, sorted in the set's own table (which
// has room for twice its ids), and leaves the set empty: a hop's answer allocates nothing
// more.
func (s *IDSet) TakeSorted() []ID {
	n := 0
	for _, id := range s.slots {
		if id != 0 {
			s.slots[n] = id
			n++
		}
	}
	out := s.slots[:n:n]
	sortIDsWith(out, s.slots[n:])
	*s = IDSet{}
	return out
}
