package gcache

import (
	"encoding"
	"fmt"
	"math"
	"strconv"
	"time"
)

// The Append functions render one key value each, the way generated code
// builds keys: no reflection, no fmt, and no allocation while the buffer has
// room. Together they make rendering injective: two different values of one
// type never render alike. Text is escaped per the key format: '%', ':', '?',
// '&', '=', '#', '{', '}', space and control bytes become %XX; the string
// "nil" becomes "%6Eil" so that it never reads like a nil pointer.

const hexDigits = "0123456789ABCDEF"

// escapeTop marks the bytes escaped in an id or a value; escapeNested also
// marks the bytes that delimit slice elements.
var escapeTop, escapeNested = func() (top, nested [256]bool) {
	for c := range 0x20 {
		top[c] = true
	}
	top[0x7F] = true
	for _, c := range "%:?&=#{} " {
		top[c] = true
	}
	nested = top
	for _, c := range ",[]" {
		nested[c] = true
	}
	return top, nested
}()

// AppendString appends s, escaped.
func AppendString(b []byte, s string) []byte { return appendEscaped(b, s) }

// AppendBytes appends p like the string it holds.
func AppendBytes(b []byte, p []byte) []byte { return appendEscaped(b, p) }

func appendEscaped[S string | []byte](b []byte, s S) []byte {
	if string(s) == "nil" {
		return append(b, "%6Eil"...)
	}
	i := 0
	for i < len(s) && !escapeTop[s[i]] {
		i++
	}
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if escapeTop[c] {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&0xF])
		} else {
			b = append(b, c)
		}
	}
	return b
}

// AppendBool appends "true" or "false".
func AppendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// AppendInt appends v in decimal. Every signed integer kind converts to int64
// without loss.
func AppendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// AppendUint appends v in decimal.
func AppendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

// AppendFloat appends the shortest decimal that reads back as v in bitSize
// (32 or 64) bits: 2.5, 1e-05, 1e+16, NaN, +Inf.
func AppendFloat(b []byte, v float64, bitSize int) []byte {
	if math.IsInf(v, 1) {
		return append(b, "+Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, bitSize)
}

// AppendTime appends t in UTC as RFC 3339 with nanoseconds. Two times that
// are the same instant render alike, whatever their location.
func AppendTime(b []byte, t time.Time) []byte {
	var buf [40]byte
	return appendEscaped(b, t.UTC().AppendFormat(buf[:0], time.RFC3339Nano))
}

// AppendDuration appends d the way [time.Duration.String] renders it
// (1m30s, 1.5ms, -2h0m0s), without allocating.
func AppendDuration(b []byte, d time.Duration) []byte {
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u
	}
	switch {
	case u == 0:
		return append(b, "0s"...)
	case u < uint64(time.Microsecond):
		return append(strconv.AppendUint(b, u, 10), "ns"...)
	case u < uint64(time.Millisecond):
		return append(appendFixed(b, u, 3), "µs"...)
	case u < uint64(time.Second):
		return append(appendFixed(b, u, 6), "ms"...)
	}
	secs := u / uint64(time.Second)
	if h := secs / 3600; h > 0 {
		b = append(strconv.AppendUint(b, h, 10), 'h')
		b = append(strconv.AppendUint(b, secs/60%60, 10), 'm')
	} else if m := secs / 60; m > 0 {
		b = append(strconv.AppendUint(b, m, 10), 'm')
	}
	return append(appendFixed(b, secs%60*uint64(time.Second)+u%uint64(time.Second), 9), 's')
}

// appendFixed appends v / 10^digits in decimal, with the fraction's trailing
// zeros (and a bare point) left out.
func appendFixed(b []byte, v uint64, digits int) []byte {
	pow := uint64(1)
	for range digits {
		pow *= 10
	}
	b = strconv.AppendUint(b, v/pow, 10)
	frac := v % pow
	if frac == 0 {
		return b
	}
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	var digitsBuf [20]byte
	i := len(digitsBuf)
	for ; digits > 0; digits-- {
		i--
		digitsBuf[i] = byte('0' + frac%10)
		frac /= 10
	}
	b = append(b, '.')
	return append(b, digitsBuf[i:]...)
}

// AppendText appends the text form of v, escaped. An error from MarshalText
// is returned: the key cannot be built and the call is served uncached.
func AppendText[T encoding.TextMarshaler](b []byte, v T) ([]byte, error) {
	text, err := v.MarshalText()
	if err != nil {
		return b, err
	}
	return appendEscaped(b, text), nil
}

// AppendNil appends "nil", the rendering of a nil pointer.
func AppendNil(b []byte) []byte { return append(b, "nil"...) }

// AppendSlice appends s as [e1,e2,...] with every element rendered by elem
// and escaped once more, so that commas and brackets inside elements never
// read as delimiters. An empty or nil slice renders as nothing, which keeps
// it apart from a slice holding one empty element, "[]".
func AppendSlice[E any](b []byte, s []E, elem func([]byte, E) []byte) []byte {
	if len(s) == 0 {
		return b
	}
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ',')
		}
		n := len(b)
		b = escapeTail(elem(b, e), n)
	}
	return append(b, ']')
}

// AppendSliceErr is [AppendSlice] for elements whose rendering can fail.
func AppendSliceErr[E any](b []byte, s []E, elem func([]byte, E) ([]byte, error)) ([]byte, error) {
	if len(s) == 0 {
		return b, nil
	}
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ',')
		}
		n := len(b)
		var err error
		if b, err = elem(b, e); err != nil {
			return b, err
		}
		b = escapeTail(b, n)
	}
	return append(b, ']'), nil
}

// escapeTail escapes the element delimiters in b[from:], in place.
func escapeTail(b []byte, from int) []byte {
	extra := 0
	for _, c := range b[from:] {
		if escapeNested[c] {
			extra += 2
		}
	}
	if extra == 0 {
		return b
	}
	n := len(b)
	b = append(b, make([]byte, extra)...)
	w := len(b)
	for r := n - 1; r >= from; r-- {
		c := b[r]
		if escapeNested[c] {
			w -= 3
			b[w], b[w+1], b[w+2] = '%', hexDigits[c>>4], hexDigits[c&0xF]
		} else {
			w--
			b[w] = c
		}
	}
	return b
}

// EscapeID returns id as it appears in a rendered key.
func EscapeID(id string) string {
	if id != "nil" {
		clean := true
		for i := 0; i < len(id); i++ {
			if escapeTop[id[i]] {
				clean = false
				break
			}
		}
		if clean {
			return id
		}
	}
	return string(appendEscaped(make([]byte, 0, len(id)+8), id))
}

// unescape reverses the %XX escapes of a rendered id.
func unescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if hi, lo := unhex(s[i+1]), unhex(s[i+2]); hi >= 0 && lo >= 0 {
				b = append(b, byte(hi<<4|lo))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// NilKeyError is the error of a key that cannot be built because a pointer
// on the way to one of its parts is nil; expr names the pointer as the
// annotation spells it. The call is served uncached.
func NilKeyError(expr string) error { return fmt.Errorf("gcache: key part %s is nil", expr) }
