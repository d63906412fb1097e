package replication

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
)

func TestCommandRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ops  []engine.Op
	}{
		{"put", []engine.Op{{Kind: engine.OpPut, Key: []byte("k"), Value: []byte("v")}}},
		{"empty value", []engine.Op{{Kind: engine.OpPut, Key: []byte("k"), Value: []byte{}}}},
		{"delete", []engine.Op{{Kind: engine.OpDelete, Key: []byte("k")}}},
		{"conditions", []engine.Op{
			{Kind: engine.OpPut, Key: []byte("a"), Value: []byte("1"), Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 1 << 40}},
			{Kind: engine.OpPut, Key: []byte("b"), Value: []byte("2"), Cond: kv.Precondition{Kind: kv.CondAbsent}},
			{Kind: engine.OpDelete, Key: []byte("c"), Cond: kv.Precondition{Kind: kv.CondExists}},
		}},
		{"binary key", []engine.Op{{Kind: engine.OpPut, Key: []byte{0, 0xff, 0}, Value: make([]byte, 70000)}}},
		{"txn with checks", []engine.Op{
			{Kind: engine.OpCheck, Key: []byte("v"), Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 7}},
			{Kind: engine.OpPut, Key: []byte("v/idx"), Value: []byte("1"), Cond: kv.Precondition{Kind: kv.CondAbsent}},
			{Kind: engine.OpCheck, Key: []byte("catalog")},
			{Kind: engine.OpDelete, Key: []byte("old")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			typ, encode := cmdOps, encodeOps
			if tt.ops[0].Kind == engine.OpCheck {
				typ, encode = cmdTxn, encodeTxn
			}
			b, err := encode(tt.ops)
			g.Expect(err).NotTo(HaveOccurred())
			cmd, err := decodeCommand(b)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cmd.typ).To(Equal(typ))
			g.Expect(cmd.ops).To(HaveLen(len(tt.ops)))
			for i, op := range tt.ops {
				got := cmd.ops[i]
				g.Expect(got.Kind).To(Equal(op.Kind))
				g.Expect(got.Cond).To(Equal(op.Cond))
				g.Expect(string(got.Key)).To(Equal(string(op.Key)))
				g.Expect(string(got.Value)).To(Equal(string(op.Value)))
			}
		})
	}
}

func TestEncodeRefusesInvalidOps(t *testing.T) {
	tests := []struct {
		name string
		ops  []engine.Op
	}{
		{"no ops", nil},
		{"bad kind", []engine.Op{{Kind: 9, Key: []byte("k")}}},
		{"bad condition", []engine.Op{{Kind: engine.OpPut, Key: []byte("k"), Cond: kv.Precondition{Kind: 9}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeOps(tt.ops)
			NewWithT(t).Expect(errors.Is(err, engine.ErrInvalidArgument)).To(BeTrue(), "err = %v", err)
			_, err = encodeTxn(tt.ops)
			NewWithT(t).Expect(errors.Is(err, engine.ErrInvalidArgument)).To(BeTrue(), "txn: err = %v", err)
		})
	}
	// A check only means something in a transaction: a plain batch cannot carry one.
	_, err := encodeOps([]engine.Op{{Kind: engine.OpCheck, Key: []byte("k"), Cond: kv.Precondition{Kind: kv.CondExists}}})
	NewWithT(t).Expect(errors.Is(err, engine.ErrInvalidArgument)).To(BeTrue(), "a check in cmdOps: err = %v", err)
}

// TestCommandBytesArePinned: the log's bytes of both command types, written by hand from
// the layout in command.go. A log written by one version must read identically in every
// later one, so these never change.
func TestCommandBytesArePinned(t *testing.T) {
	ops := []engine.Op{
		{Kind: engine.OpPut, Key: []byte("k"), Value: []byte("vv"), Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 300}},
		{Kind: engine.OpDelete, Key: []byte("d"), Cond: kv.Precondition{Kind: kv.CondExists}},
	}
	body := []byte{
		1,                                     // version
		2,                                     // op count
		1, 1, 0xac, 0x02, 1, 'k', 2, 'v', 'v', // put, CondRevision 300, key, value
		2, 2, 1, 'd', // delete, CondExists, key
	}
	check := []byte{3, 3, 1, 'c'} // check, CondAbsent, key
	tests := []struct {
		name   string
		encode func([]engine.Op) ([]byte, error)
		ops    []engine.Op
		want   []byte
	}{
		{"ops", encodeOps, ops, append([]byte{1}, body...)},
		{"txn", encodeTxn, append(ops, engine.Op{Kind: engine.OpCheck, Key: []byte("c"), Cond: kv.Precondition{Kind: kv.CondAbsent}}),
			append(append([]byte{2, 1, 3}, body[2:]...), check...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := tt.encode(tt.ops)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
			cmd, err := decodeCommand(tt.want)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cmd.ops).To(Equal(tt.ops))
		})
	}
}

func TestDecodeRefusesBadCommands(t *testing.T) {
	good, err := encodeOps([]engine.Op{{Kind: engine.OpPut, Key: []byte("key"), Value: []byte("value")}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown type", append([]byte{200}, good[1:]...)},
		{"unknown version", append([]byte{byte(cmdOps), 9}, good[2:]...)},
		{"zero ops", []byte{byte(cmdOps), opsVersion, 0}},
		{"truncated", good[:len(good)-2]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"bad op kind", []byte{byte(cmdOps), opsVersion, 1, 7, 0, 1, 'k'}},
		{"a check in ops", []byte{byte(cmdOps), opsVersion, 1, byte(engine.OpCheck), 0, 1, 'k'}},
		{"bad op kind in txn", []byte{byte(cmdTxn), opsVersion, 1, 7, 0, 1, 'k'}},
		{"zero ops in txn", []byte{byte(cmdTxn), opsVersion, 0}},
		{"unknown txn version", []byte{byte(cmdTxn), 2, 1, byte(engine.OpCheck), 0, 1, 'k'}},
		{"huge length", []byte{byte(cmdOps), opsVersion, 1, byte(engine.OpDelete), 0, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeCommand(tt.data)
			NewWithT(t).Expect(errors.Is(err, errDecode)).To(BeTrue(), "err = %v", err)
		})
	}
}

func FuzzDecodeCommand(f *testing.F) {
	good, _ := encodeOps([]engine.Op{{Kind: engine.OpPut, Key: []byte("key"), Value: []byte("value"),
		Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 3}}})
	f.Add(good)
	txn, _ := encodeTxn([]engine.Op{{Kind: engine.OpCheck, Key: []byte("key"), Cond: kv.Precondition{Kind: kv.CondAbsent}},
		{Kind: engine.OpPut, Key: []byte("other"), Value: []byte("value")}})
	f.Add(txn)
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := decodeCommand(data)
		if err != nil {
			return
		}
		again, err := encodeCommand(cmd.typ, cmd.ops)
		if err != nil {
			t.Fatalf("decoded ops do not encode: %v", err)
		}
		if _, err := decodeCommand(again); err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
	})
}
