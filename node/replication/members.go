package replication

import (
	"bytes"
	"slices"
)

// Member is a member of a group: a node and the Raft ID it is a member with. A node that
// lost its disk comes back with a new Raft ID (identity.go) and is a new member.
type Member struct {
	Node string
	ID   uint64
}

// joinMembers encodes the members' list of a snapshot point: "<raft ID> <node ID>\n" each.
func joinMembers(members []Member) []byte {
	var b []byte
	for _, m := range members {
		b = append(b, FormatRaftID(m.ID)...)
		b = append(append(append(b, ' '), m.Node...), '\n')
	}
	return b
}

// splitMembers decodes what joinMembers wrote. A line of a bare node ID, as versions before
// node identities wrote, is RaftID(node ID).
func splitMembers(b []byte) []Member {
	var out []Member
	for line := range bytes.Lines(b) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 {
			continue
		}
		if i := bytes.IndexByte(line, ' '); i == 16 {
			if id, err := ParseRaftID(string(line[:i])); err == nil {
				out = append(out, Member{Node: string(line[i+1:]), ID: id})
				continue
			}
		}
		out = append(out, Member{Node: string(line), ID: RaftID(string(line))})
	}
	return slices.Clip(out)
}
