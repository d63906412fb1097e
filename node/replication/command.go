package replication

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/torua/torua/internal/binenc"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
)

// commandType is the first byte of every Raft log command; it selects the decoder in
// commandTable. Types are never reused or renumbered: a log written by one version must be
// read identically by every later one.
type commandType uint8

const (
	// cmdOps is a batch of engine ops applied in order in one storage write.
	// Layout after the type byte:
	//	version byte 1 | uvarint op count | ops
	//	op: kind byte | cond kind byte | [uvarint revision if CondRevision] |
	//	    uvarint len(key) | key | [uvarint len(value) | value if OpPut]
	cmdOps commandType = 1
)

// opsVersion is the only version of cmdOps this code writes and reads.
const opsVersion = 1

// maxOpsPerCommand bounds the op count a decoder accepts, so that a corrupt count cannot
// make it allocate without bound.
const maxOpsPerCommand = 1 << 16

// errDecode marks a command that cannot be decoded. The FSM panics on it.
var errDecode = errors.New("undecodable command")

// command is a decoded log command.
type command struct {
	typ commandType
	ops []engine.Op
}

// commandTable maps each known command type to its decoder. An entry whose type is missing
// here is unknown to this binary and stops the replica (see fsm.decode).
var commandTable = map[commandType]func(payload []byte) (command, error){
	cmdOps: decodeOps,
}

// encodeOps encodes ops as a cmdOps command. It refuses ops the engine would refuse, so
// that every entry that reaches the log applies on every replica.
func encodeOps(ops []engine.Op) ([]byte, error) {
	if len(ops) == 0 || len(ops) > maxOpsPerCommand {
		return nil, fmt.Errorf("encode command: %d ops: %w", len(ops), engine.ErrInvalidArgument)
	}
	n := 2 + binary.MaxVarintLen64
	for i, op := range ops {
		if err := checkOp(op); err != nil {
			return nil, fmt.Errorf("encode command: op %d: %w", i, err)
		}
		n += 2 + 3*binary.MaxVarintLen64 + len(op.Key) + len(op.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(cmdOps), opsVersion)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for _, op := range ops {
		b = append(b, byte(op.Kind), byte(op.Cond.Kind))
		if op.Cond.Kind == kv.CondRevision {
			b = binary.AppendUvarint(b, op.Cond.Revision)
		}
		b = binary.AppendUvarint(b, uint64(len(op.Key)))
		b = append(b, op.Key...)
		if op.Kind == engine.OpPut {
			b = binary.AppendUvarint(b, uint64(len(op.Value)))
			b = append(b, op.Value...)
		}
	}
	return b, nil
}

func checkOp(op engine.Op) error {
	if op.Kind != engine.OpPut && op.Kind != engine.OpDelete {
		return fmt.Errorf("op kind %d: %w", op.Kind, engine.ErrInvalidArgument)
	}
	if op.Cond.Kind > kv.CondAbsent {
		return fmt.Errorf("condition kind %d: %w", op.Cond.Kind, engine.ErrInvalidArgument)
	}
	return nil
}

// decodeCommand decodes a log command. Any error wraps errDecode.
func decodeCommand(data []byte) (command, error) {
	if len(data) == 0 {
		return command{}, fmt.Errorf("empty command: %w", errDecode)
	}
	dec, ok := commandTable[commandType(data[0])]
	if !ok {
		return command{}, fmt.Errorf("unknown command type %d: %w", data[0], errDecode)
	}
	return dec(data[1:])
}

// decodeOps decodes a cmdOps payload. The ops' keys and values alias data.
func decodeOps(data []byte) (command, error) {
	d := binenc.NewDecoder(data)
	if v := d.Byte(); d.Err() == nil && v != opsVersion {
		return command{}, fmt.Errorf("ops command version %d: %w", v, errDecode)
	}
	n := d.Uvarint()
	if d.Err() == nil && (n == 0 || n > maxOpsPerCommand) {
		return command{}, fmt.Errorf("ops command with %d ops: %w", n, errDecode)
	}
	ops := make([]engine.Op, 0, min(n, 1024))
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		var op engine.Op
		op.Kind = engine.OpKind(d.Byte())
		op.Cond.Kind = kv.CondKind(d.Byte())
		if d.Err() != nil {
			break
		}
		if err := checkOp(op); err != nil {
			return command{}, fmt.Errorf("ops command op %d: %v: %w", i, err, errDecode)
		}
		if op.Cond.Kind == kv.CondRevision {
			op.Cond.Revision = d.Uvarint()
		}
		op.Key = d.Bytes()
		if op.Kind == engine.OpPut {
			op.Value = d.Bytes()
		}
		ops = append(ops, op)
	}
	d.End()
	if err := d.Err(); err != nil {
		return command{}, fmt.Errorf("ops command: %v: %w", err, errDecode)
	}
	return command{typ: cmdOps, ops: ops}, nil
}
