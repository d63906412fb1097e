package value

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/onsi/gomega"
)

func TestWireKeepsTypesThroughJSON(t *testing.T) {
	g := gomega.NewWithT(t)
	type msg struct {
		V Wire    `json:"v"`
		M WireMap `json:"m,omitempty"`
	}
	for _, v := range []any{nil, int64(1), 1.0, math.Inf(1), "s", []any{int64(1), 2.5, nil}, map[string]any{"k": int64(-3)},
		&Node{ID: 7, Labels: []string{"L"}, Props: map[string]any{"x": 1.5}}} {
		in := msg{V: Wire{V: v}, M: WireMap{"a": int64(2), "b": 2.0}}
		b, err := json.Marshal(in)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		var out msg
		g.Expect(json.Unmarshal(b, &out)).To(gomega.Succeed())
		if v == nil {
			g.Expect(out.V.V).To(gomega.BeNil())
		} else {
			g.Expect(out.V.V).To(gomega.Equal(v))
		}
		g.Expect(out.M).To(gomega.Equal(in.M))
	}
	var out msg
	g.Expect(json.Unmarshal([]byte(`{"v": "bm90IGEgdmFsdWU="}`), &out)).To(gomega.MatchError(ErrCorrupt))
	g.Expect(json.Unmarshal([]byte(`{"v": 1}`), &out)).To(gomega.MatchError(ErrCorrupt))
	g.Expect(json.Unmarshal([]byte(`{"v": "AQA=", "m": "AQMC"}`), &out)).To(gomega.MatchError(gomega.ContainSubstring("wire map")))
	g.Expect(json.Unmarshal([]byte(`{"v": "AQA=", "m": null}`), &out)).To(gomega.Succeed())
	g.Expect(out.M).To(gomega.BeNil())
	_, err := json.Marshal(msg{V: Wire{V: struct{}{}}})
	g.Expect(err).To(gomega.HaveOccurred())
}
