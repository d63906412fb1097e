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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			b, err := encodeOps(tt.ops)
			g.Expect(err).NotTo(HaveOccurred())
			cmd, err := decodeCommand(b)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cmd.typ).To(Equal(cmdOps))
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
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := decodeCommand(data)
		if err != nil {
			return
		}
		again, err := encodeOps(cmd.ops)
		if err != nil {
			t.Fatalf("decoded ops do not encode: %v", err)
		}
		if _, err := decodeCommand(again); err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
	})
}
