package shardmap

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestQuorum: a majority of a shard's replicas as its assignment lists them (moved from
// controllers with the function).
func TestQuorum(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 7: 4} {
		if got := (Assignment{Replicas: make([]string, n)}).Quorum(); got != want {
			t.Errorf("%d replicas: quorum %d, want %d", n, got, want)
		}
	}
}

func TestQuorumWithAndWithout(t *testing.T) {
	for _, tc := range []struct {
		replicas []string
		up       []string
		without  string
		quorum   int
		has      bool // HasQuorum
		keeps    bool // KeepsQuorumWithout(without)
	}{
		{[]string{"a"}, []string{"a"}, "a", 1, true, false},
		{[]string{"a"}, nil, "b", 1, false, false},
		{[]string{"a", "b"}, []string{"a", "b"}, "a", 2, true, false},
		{[]string{"a", "b", "c"}, []string{"a", "b", "c"}, "a", 2, true, true},
		{[]string{"a", "b", "c"}, []string{"a", "b"}, "a", 2, true, false},
		{[]string{"a", "b", "c"}, []string{"a", "b"}, "c", 2, true, true},
		{[]string{"a", "b", "c"}, []string{"a", "b"}, "x", 2, true, true},
		{[]string{"a", "b", "c"}, []string{"a"}, "b", 2, false, false},
		{[]string{"a", "b", "c", "d"}, []string{"a", "b", "c"}, "d", 3, true, true},
		{[]string{"a", "b", "c", "d"}, []string{"a", "b", "c"}, "a", 3, true, false},
		{[]string{"a", "b", "c", "d", "e"}, []string{"b", "c", "d"}, "e", 3, true, true},
		// Only the assignment counts: nodes up that are no replica add nothing.
		{[]string{"a", "b", "c"}, []string{"a", "x", "y"}, "", 2, false, false},
	} {
		a := Assignment{Shard: 3, Replicas: tc.replicas}
		up := func(id string) bool { return slices.Contains(tc.up, id) }
		if got := a.Quorum(); got != tc.quorum {
			t.Errorf("%v: Quorum() = %d, want %d", tc.replicas, got, tc.quorum)
		}
		if got := a.HasQuorum(up); got != tc.has {
			t.Errorf("%v up %v: HasQuorum = %v, want %v", tc.replicas, tc.up, got, tc.has)
		}
		if got := a.KeepsQuorumWithout(tc.without, up); got != tc.keeps {
			t.Errorf("%v up %v: KeepsQuorumWithout(%q) = %v, want %v", tc.replicas, tc.up, tc.without, got, tc.keeps)
		}
	}
}

func TestShardStatusInPlace(t *testing.T) {
	replicas := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name string
		st   ShardStatus
		want bool
	}{
		{"same voters", ShardStatus{Voters: []string{"a", "b", "c"}}, true},
		{"same voters in another order", ShardStatus{Voters: []string{"c", "a", "b"}, CommitIndex: 9, ConfigIndex: 9}, true},
		{"a learner catching up", ShardStatus{Voters: []string{"a", "b", "c"}, Learners: []string{"d"}}, false},
		{"a voter missing", ShardStatus{Voters: []string{"a", "b"}}, false},
		{"a voter too many", ShardStatus{Voters: []string{"a", "b", "c", "d"}}, false},
		{"other voters", ShardStatus{Voters: []string{"a", "b", "d"}}, false},
		{"membership not committed", ShardStatus{Voters: []string{"a", "b", "c"}, CommitIndex: 8, ConfigIndex: 9}, false},
		{"no voters", ShardStatus{}, false},
	} {
		if got := tc.st.InPlace(replicas); got != tc.want {
			t.Errorf("%s: InPlace = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestShardStatusMembers(t *testing.T) {
	st := ShardStatus{Voters: []string{"a", "b"}, Learners: []string{"c"}, CommitIndex: 5, ConfigIndex: 5}
	for id, want := range map[string]bool{"a": true, "b": true, "c": true, "d": false, "": false} {
		if got := st.IsMember(id); got != want {
			t.Errorf("IsMember(%q) = %v, want %v", id, got, want)
		}
	}
	if !st.ConfigCommitted() {
		t.Errorf("ConfigCommitted at index 5 of 5 = false")
	}
	st.ConfigIndex = 6
	if st.ConfigCommitted() {
		t.Errorf("ConfigCommitted at index 6 of 5 = true")
	}
}

// TestRoleJSON: the Role type changes nothing on the wire.
func TestRoleJSON(t *testing.T) {
	for _, r := range []Role{RoleLeader, RoleFollower, RoleLearner, RoleCandidate, RoleShutdown} {
		b, err := json.Marshal(ShardStatus{Role: r})
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		if raw["role"] != string(r) {
			t.Errorf("role %q encodes as %v", r, raw["role"])
		}
		var back ShardStatus
		if err := json.Unmarshal(b, &back); err != nil || back.Role != r {
			t.Errorf("role %q decodes as %q (%v)", r, back.Role, err)
		}
	}
}

// progressMap is a map of 4 shards over a, b, c and d with 3 replicas each, at version 7.
func progressMap() *Map {
	return &Map{Cluster: "test", Version: 7, Shards: 4, ReplicationFactor: 3, Hash: HashXXHash64,
		Nodes: []Node{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}},
		Assignments: []Assignment{
			{Shard: 0, Replicas: []string{"a", "b", "c"}},
			{Shard: 1, Replicas: []string{"b", "c", "d"}},
			{Shard: 2, Replicas: []string{"c", "d", "a"}},
			{Shard: 3, Replicas: []string{"d", "a", "b"}},
		}}
}

func leaderOf(shard int, term uint64, voters []string, learners ...string) ShardStatus {
	return ShardStatus{Shard: shard, Role: RoleLeader, Term: term, Voters: voters, Learners: learners}
}

func TestProgress(t *testing.T) {
	m := progressMap()
	follower := func(shard int) ShardStatus {
		return ShardStatus{Shard: shard, Role: RoleFollower, Voters: []string{"x"}}
	}
	for _, tc := range []struct {
		name     string
		statuses map[string]*NodeStatus
		// leaders by shard ("" without one), and the shards in place and moving.
		leaders    []string
		inPlace    []int
		moving     []int
		movingN    int
		notInPlace int
	}{
		{
			name:    "no statuses",
			leaders: []string{"", "", "", ""},
			movingN: 0, notInPlace: 4,
		},
		{
			name: "every shard in place",
			statuses: map[string]*NodeStatus{
				"a": {MapVersion: 7, Shards: []ShardStatus{leaderOf(0, 2, []string{"c", "b", "a"}), follower(2), follower(3)}},
				"b": {MapVersion: 7, Shards: []ShardStatus{follower(0), leaderOf(1, 1, []string{"b", "c", "d"}), follower(3)}},
				"c": {MapVersion: 7, Shards: []ShardStatus{follower(0), follower(1), leaderOf(2, 4, []string{"a", "c", "d"})}},
				"d": {MapVersion: 8, Shards: []ShardStatus{follower(1), follower(2), leaderOf(3, 1, []string{"a", "b", "d"})}},
			},
			leaders: []string{"a", "b", "c", "d"},
			inPlace: []int{0, 1, 2, 3},
		},
		{
			name: "a learner, other voters, an uncommitted change, no leader",
			statuses: map[string]*NodeStatus{
				"a": {MapVersion: 7, Shards: []ShardStatus{leaderOf(0, 2, []string{"a", "b", "c"}, "d")}},
				"b": {MapVersion: 7, Shards: []ShardStatus{leaderOf(1, 1, []string{"a", "b", "c"})}},
				"c": {MapVersion: 7, Shards: []ShardStatus{{Shard: 2, Role: RoleLeader, Voters: []string{"a", "c", "d"}, CommitIndex: 3, ConfigIndex: 4}}},
				"d": nil, // did not answer
			},
			leaders:    []string{"a", "b", "c", ""},
			moving:     []int{0, 1, 2},
			movingN:    3,
			notInPlace: 4,
		},
		{
			name: "a node holds an older map: every shard counts as moving",
			statuses: map[string]*NodeStatus{
				"a": {MapVersion: 6, Shards: []ShardStatus{leaderOf(0, 2, []string{"a", "b", "c"})}},
			},
			leaders:    []string{"a", "", "", ""},
			inPlace:    []int{0},
			movingN:    4,
			notInPlace: 3,
		},
		{
			name: "two leaders: the higher term counts, whichever node reports it",
			statuses: map[string]*NodeStatus{
				"a": {MapVersion: 7, Shards: []ShardStatus{leaderOf(0, 5, []string{"a", "b", "c"}), leaderOf(1, 2, []string{"b", "c", "d"})}},
				"b": {MapVersion: 7, Shards: []ShardStatus{leaderOf(0, 4, []string{"a", "b", "c"}, "d"), leaderOf(1, 3, []string{"b", "c", "d"}, "a")}},
			},
			leaders:    []string{"a", "b", "", ""},
			inPlace:    []int{0},
			moving:     []int{1},
			movingN:    1,
			notInPlace: 3,
		},
		{
			name: "two leaders in one term: the first node in ID order",
			statuses: map[string]*NodeStatus{
				"c": {MapVersion: 7, Shards: []ShardStatus{leaderOf(0, 5, []string{"a", "b", "c"}, "d")}},
				"b": {MapVersion: 7, Shards: []ShardStatus{leaderOf(0, 5, []string{"a", "b", "c"})}},
			},
			leaders:    []string{"b", "", "", ""},
			inPlace:    []int{0},
			notInPlace: 3,
		},
		{
			name: "a shard out of the map's range is ignored",
			statuses: map[string]*NodeStatus{
				"a": {MapVersion: 7, Shards: []ShardStatus{leaderOf(9, 1, []string{"a"}), leaderOf(-1, 1, []string{"a"})}},
			},
			leaders:    []string{"", "", "", ""},
			notInPlace: 4,
		},
	} {
		p := NewProgress(m, tc.statuses)
		if len(p.Shards) != m.Shards {
			t.Fatalf("%s: %d shard entries, want %d", tc.name, len(p.Shards), m.Shards)
		}
		for i, sp := range p.Shards {
			if sp.Shard != i || !slices.Equal(sp.Replicas, m.Replicas(i)) {
				t.Errorf("%s: entry %d is shard %d with %v", tc.name, i, sp.Shard, sp.Replicas)
			}
			if sp.Leader != tc.leaders[i] || sp.Led != (tc.leaders[i] != "") {
				t.Errorf("%s: shard %d led by %q (led %v), want %q", tc.name, i, sp.Leader, sp.Led, tc.leaders[i])
			}
			if got, want := sp.InPlace(), slices.Contains(tc.inPlace, i); got != want {
				t.Errorf("%s: shard %d InPlace = %v, want %v", tc.name, i, got, want)
			}
			if got, want := sp.Moving(), slices.Contains(tc.moving, i); got != want {
				t.Errorf("%s: shard %d Moving = %v, want %v", tc.name, i, got, want)
			}
		}
		if got := p.Moving(); got != tc.movingN {
			t.Errorf("%s: Moving() = %d, want %d", tc.name, got, tc.movingN)
		}
		if got := p.NotInPlace(); got != tc.notInPlace {
			t.Errorf("%s: NotInPlace() = %d, want %d", tc.name, got, tc.notInPlace)
		}
	}
	if p := NewProgress(nil, map[string]*NodeStatus{"a": {MapVersion: 1}}); p.Moving() != 0 || p.NotInPlace() != 0 || len(p.Shards) != 0 {
		t.Errorf("without a map: %+v", p)
	}
	p := NewProgress(m, map[string]*NodeStatus{"b": {MapVersion: 6}, "a": {MapVersion: 5}, "c": {MapVersion: 7}})
	if !slices.Equal(p.Stale, []string{"a", "b"}) {
		t.Errorf("Stale = %v, want [a b]", p.Stale)
	}
}

func TestNodeStatusDrain(t *testing.T) {
	m := progressMap()
	st := &NodeStatus{Node: "a", MapVersion: 7, Shards: []ShardStatus{
		{Shard: 0, Role: RoleLeader, Voters: []string{"a", "b", "c"}, Learners: []string{"d"}},
		{Shard: 2, Role: RoleFollower, Voters: []string{"c", "d", "a"}},
	}}
	for _, tc := range []struct {
		leaving []string
		want    []Membership
	}{
		{nil, nil},
		{[]string{"x"}, nil},
		{[]string{"d"}, []Membership{{0, "d"}, {2, "d"}}},
		{[]string{"b", "d"}, []Membership{{0, "b"}, {0, "d"}, {2, "d"}}},
	} {
		if got := st.MembershipsOf(tc.leaving); !slices.Equal(got, tc.want) {
			t.Errorf("MembershipsOf(%v) = %v, want %v", tc.leaving, got, tc.want)
		}
	}
	for shard, want := range map[int]bool{0: true, 1: false, 2: true, 3: false} {
		if got := st.Hosts(shard); got != want {
			t.Errorf("Hosts(%d) = %v, want %v", shard, got, want)
		}
	}
	// m gives a shards 0, 2 and 3; it hosts 0 and 2.
	if got := st.Unhosted(m, "a"); !slices.Equal(got, []int{3}) {
		t.Errorf("Unhosted(a) = %v, want [3]", got)
	}
	if got := (&NodeStatus{}).Unhosted(m, "b"); !slices.Equal(got, []int{0, 1, 3}) {
		t.Errorf("Unhosted(b) of an empty status = %v, want [0 1 3]", got)
	}
	if got := st.Unhosted(m, "x"); got != nil {
		t.Errorf("Unhosted of a node without replicas = %v", got)
	}
}
