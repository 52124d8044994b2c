package gcache

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// A value in Redis is an envelope around the encoded value:
//
//	offset  size  field
//	0       2     magic "gc"
//	2       1     format version (1)
//	3       1     flags: codec id in the low 4 bits, 0x10 = payload is S2-compressed,
//	              0x20 = a negative answer, with no payload
//	4       8     created_at, ms since the Unix epoch, big-endian
//	12      8     fingerprint of the value's type, big-endian
//	20      ...   payload
//
// created_at is when the function call that produced the value started,
// which the invalidation check compares with the entity's watermark.

const (
	envelopeVersion = 1
	headerSize      = 20
	flagS2          = 0x10
	flagNegative    = 0x20
	codecMask       = 0x0F

	// compressAbove is the payload size from which S2 compression is tried;
	// its result is kept when it saves at least an eighth.
	compressAbove = 4 << 10
)

var errNotEnvelope = errors.New("gcache: not a gcache value")

// sealEnvelope returns the envelope of payload.
func sealEnvelope(codec byte, created int64, fingerprint uint64, payload []byte) []byte {
	flags := codec
	if len(payload) > compressAbove {
		if c := s2.Encode(nil, payload); len(c) <= len(payload)-len(payload)/8 {
			payload, flags = c, flags|flagS2
		}
	}
	b := make([]byte, headerSize, headerSize+len(payload))
	b[0], b[1], b[2], b[3] = 'g', 'c', envelopeVersion, flags
	binary.BigEndian.PutUint64(b[4:], uint64(created))
	binary.BigEndian.PutUint64(b[12:], fingerprint)
	return append(b, payload...)
}

// sealNegative returns the envelope of a negative answer: the function
// said the value does not exist.
func sealNegative(codec byte, created int64, fingerprint uint64) []byte {
	b := sealEnvelope(codec, created, fingerprint, nil)
	b[3] |= flagNegative
	return b
}

// isNegative reports whether b, an envelope openEnvelope accepted, holds a
// negative answer.
func isNegative(b []byte) bool { return b[3]&flagNegative != 0 }

// openEnvelope checks that b is an envelope of the given codec and type and
// returns its creation time and payload. Bytes from Redis are untrusted: a
// payload over maxSize, or a compressed one that would decode to more, is
// refused before anything is allocated for it.
func openEnvelope(b []byte, codec byte, fingerprint uint64, maxSize int) (created int64, payload []byte, err error) {
	if len(b) < headerSize || b[0] != 'g' || b[1] != 'c' {
		return 0, nil, errNotEnvelope
	}
	if b[2] != envelopeVersion {
		return 0, nil, fmt.Errorf("gcache: value format version %d is not %d", b[2], envelopeVersion)
	}
	flags := b[3]
	if flags&codecMask != codec || flags&^(codecMask|flagS2|flagNegative) != 0 {
		return 0, nil, fmt.Errorf("gcache: value flags %#02x do not match codec %d", flags, codec)
	}
	if flags&flagNegative != 0 && len(b) != headerSize {
		return 0, nil, errors.New("gcache: a negative answer with a payload")
	}
	if fp := binary.BigEndian.Uint64(b[12:]); fp != fingerprint {
		return 0, nil, fmt.Errorf("gcache: value of type fingerprint %016x, want %016x", fp, fingerprint)
	}
	created = int64(binary.BigEndian.Uint64(b[4:]))
	payload = b[headerSize:]
	if flags&flagS2 == 0 {
		return created, payload, checkSize(len(payload), maxSize)
	}
	n, err := s2.DecodedLen(payload)
	if err != nil {
		return 0, nil, fmt.Errorf("gcache: compressed value: %w", err)
	}
	if err := checkSize(n, maxSize); err != nil {
		return 0, nil, err
	}
	if payload, err = s2.Decode(nil, payload); err != nil {
		return 0, nil, fmt.Errorf("gcache: compressed value: %w", err)
	}
	return created, payload, nil
}

// checkSize is the one size limit, on the encoded value before
// compression: the writer checks it, and so does the reader, so that every
// value written can be read.
func checkSize(n, maxSize int) error {
	if n > maxSize {
		return fmt.Errorf("gcache: value of %d bytes is over the limit of %d", n, maxSize)
	}
	return nil
}
