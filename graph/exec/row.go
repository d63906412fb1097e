package exec

import "slices"

// Row is one row of a query's intermediate result: one value per column of its Scope. Values
// are graph/value's model (*value.Node, *value.Relationship and *value.Path for entities).
type Row []any

// Scope names the columns of rows: the variables bound so far, in the order they were bound.
// A Scope is immutable: With returns a new one.
type Scope struct {
	names []string
	index map[string]int
}

// NewScope returns a scope of names (distinct).
func NewScope(names ...string) *Scope {
	s := &Scope{names: slices.Clone(names), index: make(map[string]int, len(names))}
	for i, n := range names {
		s.index[n] = i
	}
	return s
}

// Index returns the column of name.
func (s *Scope) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// Has reports whether name is bound.
func (s *Scope) Has(name string) bool {
	_, ok := s.index[name]
	return ok
}

// Names are the scope's variables, in column order. The caller must not modify them.
func (s *Scope) Names() []string { return s.names }

// Len is the number of columns.
func (s *Scope) Len() int { return len(s.names) }

// With returns the scope with name appended as a new column (or s itself if name is bound
// already) and name's column.
func (s *Scope) With(name string) (*Scope, int) {
	if i, ok := s.index[name]; ok {
		return s, i
	}
	return NewScope(append(slices.Clone(s.names), name)...), len(s.names)
}

// Extend returns a copy of r with room for the columns of a scope of n columns.
func (r Row) Extend(n int) Row {
	out := make(Row, n)
	copy(out, r)
	return out
}
