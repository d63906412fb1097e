package replication

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"

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
	// cmdLoad is a bulk load of one shard (engine.ShardApply.Load): new keys, sorted,
	// strictly ascending, ingested as one table. Layout after the type byte:
	//	version byte 1 | uvarint pair count | pairs
	//	pair: uvarint len(key) | key | uvarint len(value) | value
	// or, as this code writes it, version byte 2 | the rest of version 1 (count and pairs)
	// compressed as one S2 block (github.com/klauspost/compress/s2): a load's bytes go to
	// every replica's Raft log, and on two cores with one disk the log's writes bounded the
	// load (its keys compress about 3 to 1).
	// It is applied in a storage write of its own (prepareApply).
	//
	// NB: as for cmdTxn, a binary older than cmdLoad stops at such an entry, and one older
	// than version 2 at an entry of that version.
	cmdLoad commandType = 3
)

// String names the type in errors: "ops", "txn".
func (t commandType) String() string {
	switch t {
	case cmdOps:
		return "ops"
	case cmdTxn:
		return "txn"
	case cmdLoad:
		return "load"
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

// maxLoadPairs bounds the pairs a load command's decoder accepts (a corrupt count must not
// allocate without bound); a load's proposer stays far below it (the command's bytes are
// bounded by the group's uncommitted size).
const maxLoadPairs = 1 << 24

// command is a decoded log command: ops, or a load's pairs.
type command struct {
	typ  commandType
	ops  []engine.Op
	load []engine.Pair
}

// commandTable maps each known command type to its decoder. An entry whose type is missing
// here is unknown to this binary and stops the replica (see prepareApply).
var commandTable = map[commandType]func(payload []byte) (command, error){
	cmdOps:  func(payload []byte) (command, error) { return decodeOps(cmdOps, payload) },
	cmdTxn:  func(payload []byte) (command, error) { return decodeOps(cmdTxn, payload) },
	cmdLoad: decodeLoad,
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

// loadVersionS2 is the version of a load command whose pairs are compressed (cmdLoad).
const loadVersionS2 = 2

// maxLoadBytes bounds the pairs of a compressed load command once decompressed: a corrupt
// length must not allocate without bound (a proposer's are bounded by the group's
// uncommitted size, far below).
const maxLoadBytes = 256 << 20

// encodeLoad encodes pairs as a cmdLoad command (version 2, compressed), refusing what the
// engine would refuse of a load (none, or keys not strictly ascending).
func encodeLoad(pairs []engine.Pair) ([]byte, error) {
	if len(pairs) == 0 || len(pairs) > maxLoadPairs {
		return nil, fmt.Errorf("encode load: %d keys: %w", len(pairs), engine.ErrInvalidArgument)
	}
	n := binary.MaxVarintLen64
	for i, p := range pairs {
		if i > 0 && string(pairs[i-1].Key) >= string(p.Key) {
			return nil, fmt.Errorf("encode load: key %d (%q) does not sort after the one before it: %w", i, p.Key, engine.ErrInvalidArgument)
		}
		n += 2*binary.MaxVarintLen64 + len(p.Key) + len(p.Value)
	}
	if n > maxLoadBytes {
		return nil, fmt.Errorf("encode load: %d bytes, over %d: %w", n, maxLoadBytes, engine.ErrInvalidArgument)
	}
	raw := make([]byte, 0, n)
	raw = binary.AppendUvarint(raw, uint64(len(pairs)))
	for _, p := range pairs {
		raw = binary.AppendUvarint(raw, uint64(len(p.Key)))
		raw = append(raw, p.Key...)
		raw = binary.AppendUvarint(raw, uint64(len(p.Value)))
		raw = append(raw, p.Value...)
	}
	b := make([]byte, 2+s2.MaxEncodedLen(len(raw)))
	b[0], b[1] = byte(cmdLoad), loadVersionS2
	enc := s2.Encode(b[2:], raw) // written at the start of b[2:], which is large enough
	return b[:2+len(enc)], nil
}

// decodeLoad decodes the payload of a cmdLoad command (version 1 or 2). The pairs alias data,
// or the decompressed copy of it.
func decodeLoad(data []byte) (command, error) {
	d := binenc.NewDecoder(data)
	switch v := d.Byte(); {
	case d.Err() != nil || v == opsVersion:
	case v == loadVersionS2:
		size, err := s2.DecodedLen(data[1:])
		if err == nil && size > maxLoadBytes {
			err = fmt.Errorf("%d bytes, over %d", size, maxLoadBytes)
		}
		var raw []byte
		if err == nil {
			raw, err = s2.Decode(nil, data[1:])
		}
		if err != nil {
			return command{}, fmt.Errorf("load command: decompress: %v: %w", err, errDecode)
		}
		d = binenc.NewDecoder(raw)
	default:
		return command{}, fmt.Errorf("load command version %d: %w", v, errDecode)
	}
	n := d.Uvarint()
	if d.Err() == nil && (n == 0 || n > maxLoadPairs) {
		return command{}, fmt.Errorf("load command with %d keys: %w", n, errDecode)
	}
	pairs := make([]engine.Pair, 0, min(n, 1<<16))
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		pairs = append(pairs, engine.Pair{Key: d.Bytes(), Value: d.Bytes()})
	}
	d.End()
	if err := d.Err(); err != nil {
		return command{}, fmt.Errorf("load command: %v: %w", err, errDecode)
	}
	return command{typ: cmdLoad, load: pairs}, nil
}
