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
	// cmdTxn is an atomic batch of engine ops: applied in order in one storage write, all
	// of them or (if one fails) none, as an engine atomic unit (engine.Span). Layout after
	// the type byte: cmdOps's, with one more op kind, engine.OpCheck, which like OpDelete
	// has no value.
	//
	// NB: a binary older than cmdTxn stops at such an entry (an unknown type); during a
	// rolling upgrade, transactions must wait until every replica runs a binary that knows it.
	cmdTxn commandType = 2
)

// String names the type in errors: "ops", "txn".
func (t commandType) String() string {
	switch t {
	case cmdOps:
		return "ops"
	case cmdTxn:
		return "txn"
	}
	return fmt.Sprintf("command type %d", uint8(t))
}

// opsVersion is the only version of cmdOps and cmdTxn this code writes and reads.
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
// here is unknown to this binary and stops the replica (see prepareApply).
var commandTable = map[commandType]func(payload []byte) (command, error){
	cmdOps: func(payload []byte) (command, error) { return decodeOps(cmdOps, payload) },
	cmdTxn: func(payload []byte) (command, error) { return decodeOps(cmdTxn, payload) },
}

// encodeOps encodes ops as a cmdOps command. It refuses ops the engine would refuse, so
// that every entry that reaches the log applies on every replica.
func encodeOps(ops []engine.Op) ([]byte, error) {
	return encodeCommand(cmdOps, ops)
}

// encodeTxn encodes ops as a cmdTxn command, refusing what encodeOps refuses.
func encodeTxn(ops []engine.Op) ([]byte, error) {
	return encodeCommand(cmdTxn, ops)
}

// encodeCommand encodes ops as a command of typ (cmdOps or cmdTxn).
func encodeCommand(typ commandType, ops []engine.Op) ([]byte, error) {
	if len(ops) == 0 || len(ops) > maxOpsPerCommand {
		return nil, fmt.Errorf("encode command: %d ops: %w", len(ops), engine.ErrInvalidArgument)
	}
	n := 2 + binary.MaxVarintLen64
	for i, op := range ops {
		if err := checkOp(typ, op); err != nil {
			return nil, fmt.Errorf("encode command: op %d: %w", i, err)
		}
		n += 2 + 3*binary.MaxVarintLen64 + len(op.Key) + len(op.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(typ), opsVersion)
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

// checkOp refuses an op a command of typ cannot carry: cmdOps carries puts and deletes,
// cmdTxn checks too.
func checkOp(typ commandType, op engine.Op) error {
	if op.Kind != engine.OpPut && op.Kind != engine.OpDelete && (typ != cmdTxn || op.Kind != engine.OpCheck) {
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

// decodeOps decodes the payload of a command of typ (cmdOps or cmdTxn). The ops' keys and
// values alias data.
func decodeOps(typ commandType, data []byte) (command, error) {
	d := binenc.NewDecoder(data)
	if v := d.Byte(); d.Err() == nil && v != opsVersion {
		return command{}, fmt.Errorf("%s command version %d: %w", typ, v, errDecode)
	}
	n := d.Uvarint()
	if d.Err() == nil && (n == 0 || n > maxOpsPerCommand) {
		return command{}, fmt.Errorf("%s command with %d ops: %w", typ, n, errDecode)
	}
	ops := make([]engine.Op, 0, min(n, 1024))
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		var op engine.Op
		op.Kind = engine.OpKind(d.Byte())
		op.Cond.Kind = kv.CondKind(d.Byte())
		if d.Err() != nil {
			break
		}
		if err := checkOp(typ, op); err != nil {
			return command{}, fmt.Errorf("%s command op %d: %v: %w", typ, i, err, errDecode)
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
		return command{}, fmt.Errorf("%s command: %v: %w", typ, err, errDecode)
	}
	return command{typ: typ, ops: ops}, nil
}
