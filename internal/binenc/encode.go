package binenc

import "encoding/binary"

// AppendBytes appends p as Decoder.Bytes reads it: a uvarint length and the bytes.
func AppendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// AppendString appends s as AppendBytes appends its bytes.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Bool is the byte of a flag: 1 for true, 0 for false.
func Bool(v bool) byte {
	if v {
		return 1
	}
	return 0
}
