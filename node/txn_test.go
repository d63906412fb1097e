package node

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/shardmap"
)

// keysOnOneShard returns n keys "<prefix>-<i>" that m places on one shard, and a key of
// another shard.
func keysOnOneShard(m *shardmap.Map, prefix string, n int) (same []string, other string) {
	first := m.ShardFor([]byte(prefix + "-0"))
	for i := 0; len(same) < n || other == ""; i++ {
		k := prefix + "-" + strconv.Itoa(i)
		if m.ShardFor([]byte(k)) == first {
			if len(same) < n {
				same = append(same, k)
			}
		} else if other == "" {
			other = k
		}
	}
	return same, other
}

// postTxn sends ops to POST /txn on base.
func postTxn(t testing.TB, base string, ops ...kv.TxnOp) response {
	t.Helper()
	body, err := json.Marshal(kv.TxnRequest{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	return do(t, "POST", base+"/txn", string(body), map[string]string{"Content-Type": "application/json"})
}

func txnPut(key, value string) kv.TxnOp {
	return kv.TxnOp{Op: kv.TxnPut, Key: key, Value: []byte(value)}
}

func txnDelete(key string) kv.TxnOp { return kv.TxnOp{Op: kv.TxnDelete, Key: key} }

func txnCheck(key, ifMatch, ifNoneMatch string) kv.TxnOp {
	return kv.TxnOp{Op: kv.TxnCheck, Key: key, IfMatch: ifMatch, IfNoneMatch: ifNoneMatch}
}

// shardRevision is the revision counter of shard on n.
func shardRevision(n *Node, shard int) uint64 {
	for _, sh := range n.Status().Shards {
		if sh.Shard == shard {
			return sh.Revision
		}
	}
	return 0
}

// TestTxnAppliesAllOrNothing: a transaction of puts, deletes and checks on keys of one
// shard commits with one revision per op; one whose check or delete fails answers 412
// naming that op and writes nothing; keys of two shards are refused with advice.
func TestTxnAppliesAllOrNothing(t *testing.T) {
	g := NewWithT(t)
	n, base := startNode(t, nil, nil)
	m := n.hosting.Load().m
	keys, other := keysOnOneShard(m, "user", 4)
	vertex, index, gone, edge := keys[0], keys[1], keys[2], keys[3]
	shard := m.ShardFor([]byte(vertex))
	g.Expect(status(t, "PUT", keyURL(base, vertex), "v1", nil)).To(Equal(204))
	g.Expect(status(t, "PUT", keyURL(base, gone), "old", nil)).To(Equal(204))
	etag := do(t, "GET", keyURL(base, vertex), "", nil).header.Get("ETag")

	r := postTxn(t, base,
		txnCheck(vertex, etag, ""),
		kv.TxnOp{Op: kv.TxnPut, Key: index, Value: []byte("idx"), IfNoneMatch: "*"},
		txnDelete(gone),
		kv.TxnOp{Op: kv.TxnPut, Key: vertex, Value: []byte("v2"), IfMatch: strings.Trim(etag, `"`)},
		txnCheck(edge, "", "*"),
	)
	g.Expect(r.code).To(Equal(200), r.body)
	var res kv.TxnResult
	g.Expect(json.Unmarshal([]byte(r.body), &res)).To(Succeed())
	g.Expect(res.Revisions).To(Equal([]uint64{1, 3, 4, 5, 0}), "check: the key's revision; writes: the revisions they took")
	for key, want := range map[string]string{vertex: "v2", index: "idx"} {
		got := do(t, "GET", keyURL(base, key), "", nil)
		g.Expect(got.body).To(Equal(want), key)
	}
	g.Expect(status(t, "GET", keyURL(base, gone), "", nil)).To(Equal(404))
	g.Expect(do(t, "GET", keyURL(base, vertex), "", nil).header.Get("ETag")).To(Equal(`"5"`))

	for _, tc := range []struct {
		name   string
		ops    []kv.TxnOp
		failed int
		msg    string
	}{
		{"a stale revision", []kv.TxnOp{txnPut(edge, "e"), txnCheck(vertex, etag, ""), txnPut(index, "x")}, 1,
			fmt.Sprintf(`aborted at op 1: key %q does not match If-Match: "1"`, vertex)},
		{"a key that must be absent", []kv.TxnOp{txnCheck(index, "", "*"), txnPut(edge, "e")}, 0,
			fmt.Sprintf(`key %q does not match If-None-Match: *`, index)},
		{"a delete of a missing key", []kv.TxnOp{txnPut(edge, "e"), txnPut(index, "y"), txnDelete(gone)}, 2,
			fmt.Sprintf(`key %q to delete does not exist`, gone)},
		{"a check of an earlier delete", []kv.TxnOp{txnDelete(index), txnCheck(index, "*", "")}, 1, "does not match If-Match: *"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			rev := shardRevision(n, shard)
			r := postTxn(t, base, tc.ops...)
			g.Expect(r.code).To(Equal(412), r.body)
			var body httpx.ErrorBody
			g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
			g.Expect(body.Failed).To(HaveValue(Equal(tc.failed)))
			g.Expect(body.Error).To(ContainSubstring(tc.msg))
			g.Expect(body.Error).To(ContainSubstring("nothing was written"))
			g.Expect(shardRevision(n, shard)).To(Equal(rev), "an aborted transaction takes no revision")
			g.Expect(status(t, "GET", keyURL(base, edge), "", nil)).To(Equal(404))
			g.Expect(do(t, "GET", keyURL(base, index), "", nil).body).To(Equal("idx"))
		})
	}

	r = postTxn(t, base, txnPut(vertex, "v3"), txnPut(other, "elsewhere"))
	g.Expect(r.code).To(Equal(400), r.body)
	var body httpx.ErrorBody
	g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
	g.Expect(body.Error).To(And(ContainSubstring("different shards"), ContainSubstring("hash tag"),
		ContainSubstring(`"user:{42}"`), ContainSubstring(strconv.Quote(other))))
	g.Expect(do(t, "GET", keyURL(base, vertex), "", nil).body).To(Equal("v2"))

	// A put without a value stores an empty one, as a PUT with an empty body does.
	r = postTxn(t, base, kv.TxnOp{Op: kv.TxnPut, Key: edge})
	g.Expect(r.code).To(Equal(200), r.body)
	got := do(t, "GET", keyURL(base, edge), "", nil)
	g.Expect([]any{got.code, got.body}).To(Equal([]any{200, ""}))
}

// TestTxnBadInputLosesNothing sends every kind of malformed transaction: each is answered
// 400, 405 or 413 with a JSON error naming what is wrong, and nothing is written.
func TestTxnBadInputLosesNothing(t *testing.T) {
	g := NewWithT(t)
	n, base := startNode(t, nil, func(c *Config) { c.MaxValueSize = 1024 })
	g.Expect(status(t, "PUT", keyURL(base, "keep"), "precious", nil)).To(Equal(204))
	many := make([]kv.TxnOp, kv.MaxTxnOps+1)
	for i := range many {
		many[i] = txnCheck("keep", "", "")
	}
	manyBody, err := json.Marshal(kv.TxnRequest{Ops: many})
	g.Expect(err).NotTo(HaveOccurred())
	op := func(o kv.TxnOp) string {
		b, err := json.Marshal(kv.TxnRequest{Ops: []kv.TxnOp{txnPut("keep", "lost"), o}})
		g.Expect(err).NotTo(HaveOccurred())
		return string(b)
	}

	for _, tc := range []struct {
		name, method, body string
		code               int
		msg                string
	}{
		{"not JSON", "POST", "ops", 400, "not a JSON object"},
		{"an unknown field", "POST", `{"ops": [{"op": "check", "key": "keep", "ifExists": true}]}`, 400, "ifExists"},
		{"data after the object", "POST", `{"ops": [{"op": "check", "key": "keep"}]} {}`, 400, "after its JSON object"},
		{"a stray brace after the object", "POST", `{"ops": [{"op": "check", "key": "keep"}]}}`, 400, "after its JSON object"},
		{"a value that is not base64", "POST", `{"ops": [{"op": "put", "key": "keep", "value": "*"}]}`, 400, "base64"},
		{"no ops", "POST", `{"ops": []}`, 400, "at least one op"},
		{"more ops than allowed", "POST", string(manyBody), 413, "1025 ops, more than the 1024"},
		{"a body over the limit", "POST", `{"ops": [` + strings.Repeat(" ", int(n.txnBodyLimit())) + `]}`, 413,
			fmt.Sprintf("more than the %d", n.txnBodyLimit())},
		{"an unknown op", "POST", op(kv.TxnOp{Op: "get", Key: "keep"}), 400, `op 1: bad request: op must be "put", "delete" or "check", got "get"`},
		{"an empty key", "POST", op(txnPut("", "x")), 400, "op 1: bad request: the key must not be empty"},
		{"a key over 1024 bytes", "POST", op(txnPut(strings.Repeat("k", 1025), "x")), 400, "1025 bytes"},
		{"a delete with a value", "POST", op(kv.TxnOp{Op: kv.TxnDelete, Key: "keep", Value: []byte("x")}), 400, "only a put has a value"},
		{"a value over the limit", "POST", op(txnPut("keep", strings.Repeat("v", 1025))), 413, "1025 bytes, more than the 1024"},
		{"both preconditions", "POST", op(txnCheck("keep", "*", "*")), 400, "not both"},
		{"a malformed ifMatch", "POST", op(txnCheck("keep", "seven", "")), 400, `ifMatch must be *, a revision like "42"`},
		{"a zero revision", "POST", op(txnCheck("keep", "0", "")), 400, "ifMatch must be"},
		{"ifNoneMatch other than *", "POST", op(txnCheck("keep", "", `"1"`)), 400, "ifNoneMatch must be *"},
		{"another method", "GET", "", 405, "allowed: POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r := do(t, tc.method, base+"/txn", tc.body, nil)
			g.Expect(r.code).To(Equal(tc.code), r.body)
			g.Expect(r.header.Get("Content-Type")).To(Equal("application/json"))
			var body httpx.ErrorBody
			g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed(), r.body)
			g.Expect(body.Error).To(ContainSubstring(tc.msg))
			g.Expect(body.Failed).To(BeNil())
		})
	}
	got := do(t, "GET", keyURL(base, "keep"), "", nil)
	g.Expect(got.body).To(Equal("precious"))
	g.Expect(got.header.Get("ETag")).To(Equal(`"1"`), "no bad transaction wrote anything")
}

// TestTxnGoesToTheShardsLeader: RF 2 over three nodes. A transaction sent to a node that
// does not host its shard, or to a replica that does not lead it, is answered 421 (with
// the leader) and does nothing; at the leader it commits and reaches the other replica.
func TestTxnGoesToTheShardsLeader(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 3)
	c.place(2, nil)
	keys, _ := keysOnOneShard(c.m, "acct", 2)
	shard := c.m.ShardFor([]byte(keys[0]))
	leader, follower := c.leaderOf(keys[0])
	g.Expect(leader).NotTo(BeNil())
	g.Expect(follower).NotTo(BeNil())
	var stranger *Node
	for _, n := range c.nodes {
		if !slices.Contains(c.m.Replicas(shard), n.cfg.ID) {
			stranger = n
		}
	}
	g.Expect(stranger).NotTo(BeNil())
	ops := []kv.TxnOp{txnPut(keys[0], "a"), txnPut(keys[1], "b")}

	r := postTxn(t, "http://"+stranger.Addr(), ops...)
	g.Expect(r.code).To(Equal(421), r.body)
	g.Expect(r.body).To(ContainSubstring(fmt.Sprintf("shard %d is not hosted on node %s", shard, stranger.cfg.ID)))

	r = postTxn(t, "http://"+follower.Addr(), ops...)
	g.Expect(r.code).To(Equal(421), r.body)
	g.Expect(r.header.Get(LeaderHeader)).To(Equal(leader.cfg.ID))
	var body httpx.ErrorBody
	g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
	g.Expect(body.Leader).To(Equal(leader.cfg.ID))
	g.Expect(body.MapVersion).To(Equal(c.m.Version))
	g.Expect(shardRevision(leader, shard)).To(BeZero(), "nothing was done")

	r = postTxn(t, "http://"+leader.Addr(), ops...)
	g.Expect(r.code).To(Equal(200), r.body)
	g.Expect(r.body).To(MatchJSON(`{"revisions": [1, 2]}`))
	for i, want := range []string{"a", "b"} {
		g.Eventually(func() string {
			return do(t, "GET", keyURL("http://"+follower.Addr(), keys[i])+"?consistency=stale", "", nil).body
		}).WithTimeout(5 * time.Second).Should(Equal(want))
	}
}

// TestConcurrentTransfers has 16 clients move one unit at a time from one key to another
// in transactions guarded by both keys' revisions, retrying on 412. Were a transaction not
// atomic, or its checks not evaluated in log order, the total would drift.
func TestConcurrentTransfers(t *testing.T) {
	g := NewWithT(t)
	n, base := startNode(t, nil, nil)
	keys, _ := keysOnOneShard(n.hosting.Load().m, "acct", 2)
	from, to := keys[0], keys[1]
	const total, clients, each = 1000, 16, 8
	g.Expect(postTxn(t, base, txnPut(from, strconv.Itoa(total)), txnPut(to, "0")).code).To(Equal(200))
	read := func(key string) (int, string) {
		r := do(t, "GET", keyURL(base, key), "", nil)
		v, _ := strconv.Atoi(r.body)
		return v, r.header.Get("ETag")
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for done := 0; done < each; {
				a, ea := read(from)
				b, eb := read(to)
				r := postTxn(t, base,
					kv.TxnOp{Op: kv.TxnPut, Key: from, Value: []byte(strconv.Itoa(a - 1)), IfMatch: ea},
					kv.TxnOp{Op: kv.TxnPut, Key: to, Value: []byte(strconv.Itoa(b + 1)), IfMatch: eb})
				switch r.code {
				case 200:
					done++
				case 412:
				default:
					t.Errorf("unexpected answer %d: %s", r.code, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	a, _ := read(from)
	b, _ := read(to)
	g.Expect([]int{a, b}).To(Equal([]int{total - clients*each, clients * each}))
}
