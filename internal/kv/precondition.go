package kv

import "strconv"

// CondKind is the kind of a write's precondition. Its values are on the network (the wire
// protocol's cond byte) and in the Raft log (a command's cond kind byte): never renumber.
type CondKind uint8

// Precondition kinds, as the HTTP API's headers set them.
const (
	// CondNone: no precondition.
	CondNone CondKind = 0
	// CondRevision: the key exists with revision Precondition.Revision (If-Match: "<rev>").
	CondRevision CondKind = 1
	// CondExists: the key exists (If-Match: *).
	CondExists CondKind = 2
	// CondAbsent: the key does not exist (If-None-Match: *).
	CondAbsent CondKind = 3
)

// Precondition is a write's precondition, evaluated against the key's state when the write
// is applied. The zero value is no precondition.
type Precondition struct {
	Kind CondKind
	// Revision is the required revision for CondRevision; ignored otherwise.
	Revision uint64
}

// String describes the precondition as the HTTP header that sets it, for error messages.
func (p Precondition) String() string {
	switch p.Kind {
	case CondRevision:
		return `If-Match: "` + strconv.FormatUint(p.Revision, 10) + `"`
	case CondExists:
		return "If-Match: *"
	case CondAbsent:
		return "If-None-Match: *"
	}
	return "no precondition"
}
