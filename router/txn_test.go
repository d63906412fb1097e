package router

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
)

// TestTxnThroughTheRouter sends transactions to the router: keys with one hash tag commit
// together, keys of several shards are refused, and an aborted one writes nothing.
func TestTxnThroughTheRouter(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 2, 1, nil)
	post := func(req kv.TxnRequest) response {
		b, err := json.Marshal(req)
		g.Expect(err).NotTo(HaveOccurred())
		return send(t, "POST", c.base+"/txn", string(b), map[string]string{"Content-Type": "application/json"})
	}
	r := post(kv.TxnRequest{Ops: []kv.TxnOp{
		{Op: kv.TxnPut, Key: "user:{42}", Value: []byte("ada"), IfNoneMatch: "*"},
		{Op: kv.TxnPut, Key: "cart:{42}", Value: []byte("3 apples")},
	}})
	g.Expect(r.code).To(Equal(200), r.body)
	var res kv.TxnResult
	g.Expect(json.Unmarshal([]byte(r.body), &res)).To(Succeed())
	g.Expect(res.Revisions).To(HaveLen(2))
	g.Expect(get(t, dataURL(c.base, "cart:{42}")).body).To(Equal("3 apples"))

	// Aborted: the first op's condition holds, the second's does not.
	r = post(kv.TxnRequest{Ops: []kv.TxnOp{
		{Op: kv.TxnPut, Key: "cart:{42}", Value: []byte("none")},
		{Op: kv.TxnCheck, Key: "user:{42}", IfNoneMatch: "*"},
	}})
	g.Expect(r.code).To(Equal(412), r.body)
	var e httpx.ErrorBody
	g.Expect(json.Unmarshal([]byte(r.body), &e)).To(Succeed())
	g.Expect(e.Failed).NotTo(BeNil())
	g.Expect(*e.Failed).To(Equal(1))
	g.Expect(get(t, dataURL(c.base, "cart:{42}")).body).To(Equal("3 apples"), "an aborted transaction writes nothing")

	// Keys without a shared tag are, with 16 shards, very likely on two shards: find a pair.
	a, b := "k0", ""
	for i := 1; b == ""; i++ {
		k := "k" + string(rune('0'+i%10)) + string(rune('a'+i/10))
		if c.m.ShardFor([]byte(k)) != c.m.ShardFor([]byte(a)) {
			b = k
		}
	}
	r = post(kv.TxnRequest{Ops: []kv.TxnOp{{Op: kv.TxnPut, Key: a}, {Op: kv.TxnPut, Key: b}}})
	g.Expect(r.code).To(Equal(400))
	g.Expect(r.body).To(ContainSubstring("give its keys one hash tag"))

	for _, bad := range []string{"", "{", `{"ops": []}`, `{"ops": [{"op": "put", "key": ""}]}`} {
		r = send(t, "POST", c.base+"/txn", bad, nil)
		g.Expect(r.code).To(Equal(400), "%q: %s", bad, r.body)
		g.Expect(r.body).To(HavePrefix(`{"error":`))
	}
}
