package binenc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error a Decoder records.
var ErrMalformed = errors.New("malformed encoding")

// Decoder reads an encoding from a byte slice. The first failure sticks in Err, and every
// later read returns a zero value. Byte strings it returns alias the slice.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a Decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err is the first failure, nil if none.
func (d *Decoder) Err() error { return d.err }

// Len is the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.b) }

// Fail records a failure of the caller's own (a value out of range), unless one is already
// recorded; it wraps ErrMalformed.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.Fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// Bool reads a flag byte as Bool writes it, refusing any byte but 0 and 1; what names the
// flag in that failure.
func (d *Decoder) Bool(what string) bool {
	c := d.Byte()
	if c > 1 {
		d.Fail("%s byte %d", what, c)
	}
	return c == 1
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Bytes reads a uvarint length and that many bytes.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.Fail("length %d exceeds the %d bytes left", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Count reads a uvarint number of items that take at least min bytes each, refusing a
// count the bytes left cannot hold: a bad count cannot make the caller allocate much.
func (d *Decoder) Count(min int) int {
	n := d.Uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.Fail("%d items of at least %d bytes in %d bytes", n, min, len(d.b))
		return 0
	}
	return int(n)
}

// End records a failure if bytes are left: an encoding is read whole.
func (d *Decoder) End() {
	if d.err == nil && len(d.b) != 0 {
		d.Fail("%d trailing bytes", len(d.b))
	}
}
