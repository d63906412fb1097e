package binenc

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestDecoderReadsWhatWasWritten(t *testing.T) {
	g := NewWithT(t)
	b := []byte{7}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...)
	b = binary.AppendUvarint(b, 2)
	d := NewDecoder(b)
	g.Expect(d.Byte()).To(Equal(byte(7)))
	g.Expect(d.Uvarint()).To(Equal(uint64(300)))
	s := d.Bytes()
	g.Expect(string(s)).To(Equal("abc"))
	g.Expect(s).To(HaveCap(3), "a string cannot be appended to over the bytes after it")
	g.Expect(d.Len()).To(Equal(1))
	d.End()
	g.Expect(errors.Is(d.Err(), ErrMalformed)).To(BeTrue(), "a byte left")
	g.Expect(d.Err()).To(MatchError(ContainSubstring("1 trailing bytes")))
}

// TestDecoderFailureSticks: every kind of failure is recorded once, wraps ErrMalformed,
// and turns later reads into zero values.
func TestDecoderFailureSticks(t *testing.T) {
	for name, tc := range map[string]struct {
		b    []byte
		read func(d *Decoder)
		msg  string
	}{
		"truncated byte":  {nil, func(d *Decoder) { d.Byte() }, "truncated"},
		"bad varint":      {[]byte{0x80}, func(d *Decoder) { d.Uvarint() }, "bad varint"},
		"long string":     {[]byte{5, 'a'}, func(d *Decoder) { d.Bytes() }, "length 5 exceeds the 1 bytes left"},
		"count too large": {[]byte{9, 1, 2}, func(d *Decoder) { d.Count(1) }, "9 items of at least 1 bytes in 2 bytes"},
		"caller's own":    {[]byte{1}, func(d *Decoder) { d.Fail("shard %d", 5000) }, "shard 5000"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			d := NewDecoder(tc.b)
			tc.read(d)
			g.Expect(errors.Is(d.Err(), ErrMalformed)).To(BeTrue())
			g.Expect(d.Err()).To(MatchError(ContainSubstring(tc.msg)))
			first := d.Err()
			g.Expect(d.Byte()).To(BeZero())
			g.Expect(d.Uvarint()).To(BeZero())
			g.Expect(d.Bytes()).To(BeNil())
			g.Expect(d.Count(1)).To(BeZero())
			d.Fail("another")
			d.End()
			g.Expect(d.Err()).To(BeIdenticalTo(first), "the first failure sticks")
		})
	}
}

func TestAppendedBytesAndStringsReadBack(t *testing.T) {
	b := AppendString(AppendBytes([]byte{Bool(true), Bool(false)}, []byte{1, 2, 3}), "héllo")
	d := NewDecoder(b)
	if !d.Bool("first") || d.Bool("second") {
		t.Fatalf("flags of %x", b)
	}
	if got := d.Bytes(); string(got) != "\x01\x02\x03" {
		t.Fatalf("bytes %x", got)
	}
	if got := string(d.Bytes()); got != "héllo" {
		t.Fatalf("string %q", got)
	}
	d.End()
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
}

func TestBoolRefusesOtherBytes(t *testing.T) {
	d := NewDecoder([]byte{2})
	d.Bool("deleted")
	if err := d.Err(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "deleted byte 2") {
		t.Fatalf("got %v", err)
	}
}
