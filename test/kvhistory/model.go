package kvhistory

import (
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"
)

// OpKind is the kind of a recorded operation.
type OpKind string

// Operation kinds.
const (
	OpGet OpKind = "get"
	OpPut OpKind = "put"
	// OpCAS is a PUT with If-Match: "<rev>".
	OpCAS OpKind = "cas"
)

// Result is how an operation ended, as far as the client can tell.
type Result string

// Results.
const (
	// ResOK: a read found the key, or a write was acknowledged (with its new revision).
	ResOK Result = "ok"
	// ResNotFound: a read answered 404. Definite.
	ResNotFound Result = "absent"
	// ResFailed: a compare-and-set answered 412: it was not applied. Definite.
	ResFailed Result = "412"
	// ResUnknown: a write whose effect is unknown (5xx, timeout, connection lost): it may
	// take effect at any time after its call, so it is pending until the end of the history.
	ResUnknown Result = "unknown"
	// ResNone: nothing happened that a model must explain (a read that failed, a write that
	// was refused before it could be applied: 421, 429, a refused connection). Not recorded.
	ResNone Result = "none"
)

// Definite reports whether r is an answer of the store that says what happened: a read that
// found the key or not, an acknowledged write, a compare-and-set refused with 412.
func (r Result) Definite() bool { return r == ResOK || r == ResNotFound || r == ResFailed }

// Input is an operation's request: its kind, key, the value written and, for OpCAS, the
// revision the key must have.
type Input struct {
	Op    OpKind
	Key   string
	Value string
	Match uint64
}

// Output is an operation's answer: the result, and for ResOK the value read and the
// revision read or written.
type Output struct {
	Result Result
	Value  string
	Rev    uint64
	// Detail says why an operation ended ResUnknown or ResNone (status and message, or error);
	// it is not part of the model, only of the visualisation and the failure output.
	Detail string
}

// Record is one operation of a history: who ran it, against which server, the request, the
// answer, and its invocation and completion times (nanoseconds since the history started).
type Record struct {
	Client int
	Via    string
	In     Input
	Out    Output
	Call   int64
	Return int64
}

// State is the model's state of one key. Revisions are per shard, so a key's next revision
// cannot be predicted from its own history: the model keeps the revision when it is known
// (Rev > 0) and otherwise a floor that it lies above. Every write's revision is greater than
// Floor; when Rev is known, Floor == Rev.
type State struct {
	Exists bool
	Value  string
	Rev    uint64
	Floor  uint64
}

// Step returns every state the key can be in after op, from s, given its output (none: the
// output is impossible from s). Writes of unknown outcome are pending until the end of the
// history, so they always take effect where they are linearized: linearizing one last is how
// the checker says it never happened.
func Step(s State, in Input, out Output) []State {
	switch in.Op {
	case OpGet:
		switch out.Result {
		case ResNotFound:
			if s.Exists {
				return nil
			}
			return []State{s}
		case ResOK:
			if !s.Exists || s.Value != out.Value {
				return nil
			}
			if s.Rev != 0 {
				if s.Rev != out.Rev {
					return nil
				}
				return []State{s}
			}
			if out.Rev <= s.Floor {
				return nil
			}
			return []State{{Exists: true, Value: s.Value, Rev: out.Rev, Floor: out.Rev}}
		}
	case OpPut:
		switch out.Result {
		case ResOK:
			if out.Rev <= s.Floor {
				return nil
			}
			return []State{{Exists: true, Value: in.Value, Rev: out.Rev, Floor: out.Rev}}
		case ResUnknown:
			return []State{{Exists: true, Value: in.Value, Floor: s.Floor}}
		}
	case OpCAS:
		// matches: the key is at revision in.Match for certain; may: it could be.
		matches := s.Exists && s.Rev != 0 && s.Rev == in.Match
		may := s.Exists && (matches || (s.Rev == 0 && in.Match > s.Floor))
		switch out.Result {
		case ResOK:
			if !may || out.Rev <= in.Match {
				return nil
			}
			return []State{{Exists: true, Value: in.Value, Rev: out.Rev, Floor: out.Rev}}
		case ResFailed:
			if matches {
				return nil
			}
			return []State{s}
		case ResUnknown:
			applied := State{Exists: true, Value: in.Value, Floor: in.Match}
			switch {
			case matches:
				return []State{applied}
			case may:
				return []State{s, applied}
			default:
				return []State{s}
			}
		}
	}
	return nil
}

// Model is the porcupine model of the store: a register per key, with revisions, partitioned
// by key. Every key starts absent.
var Model = (&porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []any { return []any{State{}} },
	Step: func(state, input, output any) []any {
		next := Step(state.(State), input.(Input), output.(Output))
		out := make([]any, len(next))
		for i, s := range next {
			out[i] = s
		}
		return out
	},
	Hash: func(state any) uint64 {
		s := state.(State)
		h := fnv.New64a()
		_, _ = fmt.Fprintf(h, "%t|%s|%d|%d", s.Exists, s.Value, s.Rev, s.Floor)
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		var res string
		switch out.Result {
		case ResOK:
			if in.Op == OpGet {
				res = fmt.Sprintf("%q@%d", out.Value, out.Rev)
			} else {
				res = fmt.Sprintf("@%d", out.Rev)
			}
		case ResUnknown:
			res = "? (" + out.Detail + ")"
		default:
			res = string(out.Result)
		}
		switch in.Op {
		case OpGet:
			return fmt.Sprintf("get(%s) -> %s", in.Key, res)
		case OpCAS:
			return fmt.Sprintf("cas(%s, %q, if @%d) -> %s", in.Key, in.Value, in.Match, res)
		default:
			return fmt.Sprintf("put(%s, %q) -> %s", in.Key, in.Value, res)
		}
	},
	DescribeState: func(state any) string {
		s := state.(State)
		if !s.Exists {
			return fmt.Sprintf("absent (revisions > %d)", s.Floor)
		}
		if s.Rev == 0 {
			return fmt.Sprintf("%q@? (> %d)", s.Value, s.Floor)
		}
		return fmt.Sprintf("%q@%d", s.Value, s.Rev)
	},
	DescribeOperationMetadata: func(info any) string {
		if info == nil {
			return ""
		}
		return fmt.Sprint(info)
	},
}).ToModel()
