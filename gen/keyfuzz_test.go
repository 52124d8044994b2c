package gen_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/keyfuzz"
	"github.com/prometheus/client_golang/prometheus"
)

// keyHarness calls the decorators generated from testdata/keyfuzz and
// reports the key of each call, as the config provider sees it.
type keyHarness struct {
	keys       *keyfuzz.KeysCache
	generic    *keyfuzz.GenericCache[*string]
	decorators []reflect.Value
	last       string // the key of the last call
}

func newKeyHarness(tb testing.TB) *keyHarness {
	tb.Helper()
	h := &keyHarness{}
	c, err := gcache.New(gcache.Config{
		Registerer: prometheus.NewRegistry(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		ConfigProvider: func(ctx context.Context, key *gcache.Key) (*gcache.KeyConfig, error) {
			h.last = strings.Clone(key.String())
			return &gcache.KeyConfig{}, nil // no layer: every call goes to the function
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	keys, err := keyfuzz.NewKeysCache(keyfuzz.Nop{}, c)
	if err != nil {
		tb.Fatal(err)
	}
	tracked, err := keyfuzz.NewTrackedCache(keyfuzz.Nop{}, c)
	if err != nil {
		tb.Fatal(err)
	}
	generic, err := keyfuzz.NewGenericCache[*string](keyfuzz.NopGeneric[*string]{}, c)
	if err != nil {
		tb.Fatal(err)
	}
	h.keys, h.generic = keys, generic
	h.decorators = []reflect.Value{reflect.ValueOf(keys), reflect.ValueOf(tracked), reflect.ValueOf(generic)}
	return h
}

// key calls method m with args after the context and returns the key the
// call was cached under.
func (h *keyHarness) key(tb testing.TB, m reflect.Value, args []reflect.Value) string {
	tb.Helper()
	h.last = ""
	in := append([]reflect.Value{reflect.ValueOf(on)}, args...)
	var out []reflect.Value
	if m.Type().IsVariadic() {
		out = m.CallSlice(in)
	} else {
		out = m.Call(in)
	}
	if err, _ := out[len(out)-1].Interface().(error); err != nil {
		tb.Fatalf("call failed: %v", err)
	}
	if h.last == "" {
		tb.Fatal("the call built no key")
	}
	return h.last
}

// FuzzGeneratedKeys checks the keys of generated code: it decodes a method
// of a decorator generated from testdata/keyfuzz (untracked, tracked or
// generic), an argument tuple, and a second tuple that differs from the
// first in a few arguments, and fails when the two calls share a key but
// their arguments differ. Arguments count as equal under the equalities the
// key rules accept: times that are the same instant, a nil and an empty
// slice, and any two NaNs. Long strings carry keys across the length
// above which their arguments are hashed.
func FuzzGeneratedKeys(f *testing.F) {
	f.Add([]byte{0, 0})
	for dec := range 3 {
		for m := range 5 {
			f.Add([]byte{byte(dec), byte(m), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
			f.Add([]byte{byte(dec), byte(m), 0xF5, 3, 'a', 'b', 'c', 0xFF, 1, 1, 0, 0xF0, 0, 0xFE})
		}
	}
	h := newKeyHarness(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &decoder{data: data}
		dec := h.decorators[int(d.byte())%len(h.decorators)]
		m := dec.Method(int(d.byte()) % dec.NumMethod())
		a := d.args(m.Type())
		b := d.edit(m.Type(), a)
		ka, kb := h.key(t, m, a), h.key(t, m, b)
		if ka == kb && !sameArgs(a, b) {
			t.Fatalf("two calls with different arguments share the key %q:\n%s\n%s", ka, show(a), show(b))
		}
	})
}

func show(args []reflect.Value) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = describeValue(a)
	}
	return strings.Join(s, ", ")
}

// describeValue spells v with its pointers followed and its nil slices
// told from empty ones.
func describeValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "nil"
		}
		if v.Kind() == reflect.Pointer {
			return "&" + describeValue(v.Elem())
		}
		return describeValue(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return "nil"
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = describeValue(v.Index(i))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%#v", v.Interface())
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	addrType  = reflect.TypeFor[netip.Addr]()
	codeType  = reflect.TypeFor[keyfuzz.Code]()
	ckType    = reflect.TypeFor[keyfuzz.CK]()
	tmType    = reflect.TypeFor[keyfuzz.TM]()
	zonesUsed = []*time.Location{time.UTC, time.FixedZone("A", 3600), time.FixedZone("B", -5*3600-1800)}
)

// A decoder turns fuzz bytes into argument values; past the end of its
// data it reads zeros.
type decoder struct{ data []byte }

func (d *decoder) byte() byte {
	if len(d.data) == 0 {
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return b
}

func (d *decoder) take(n int) []byte {
	n = min(n, len(d.data))
	p := d.data[:n]
	d.data = d.data[n:]
	return p
}

func (d *decoder) uint64() uint64 {
	var buf [8]byte
	copy(buf[:], d.take(int(d.byte())%9))
	return binary.LittleEndian.Uint64(buf[:])
}

// str reads a string: short ones byte by byte, long ones as a chunk
// repeated, to reach past the length at which keys are hashed.
func (d *decoder) str() string {
	n := int(d.byte())
	if n >= 0xF0 {
		chunk := string(d.take(int(d.byte())%8 + 1))
		return strings.Repeat(chunk, 16*(n-0xEF)+int(d.byte()))
	}
	return string(d.take(n % 48))
}

// args decodes the arguments of a method of type mt after its context.
func (d *decoder) args(mt reflect.Type) []reflect.Value {
	args := make([]reflect.Value, mt.NumIn()-1)
	for i := range args {
		args[i] = d.value(mt.In(i + 1))
	}
	return args
}

// edit returns a copy of args with one to three of them decoded anew.
func (d *decoder) edit(mt reflect.Type, args []reflect.Value) []reflect.Value {
	out := append([]reflect.Value(nil), args...)
	for range int(d.byte())%3 + 1 {
		i := int(d.byte()) % len(out)
		out[i] = d.value(mt.In(i + 1))
	}
	return out
}

func (d *decoder) value(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch t {
	case timeType:
		secs := int64(d.uint64()%(1<<40)) - 1<<39
		nsec := int64(d.uint64() % 1e9)
		v.Set(reflect.ValueOf(time.Unix(secs, nsec).In(zonesUsed[int(d.byte())%len(zonesUsed)])))
		return v
	case addrType:
		v.Set(reflect.ValueOf(d.addr()))
		return v
	case ckType:
		if d.byte()%3 != 0 {
			v.Set(reflect.ValueOf(keyfuzz.Code{S: d.str()}))
		}
		return v
	case tmType:
		if d.byte()%3 != 0 {
			v.Set(reflect.ValueOf(keyfuzz.Word(d.str())))
		}
		return v
	case codeType:
		v.Set(reflect.ValueOf(keyfuzz.Code{S: d.str()}))
		return v
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(d.str())
	case reflect.Bool:
		v.SetBool(d.byte()&1 == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(d.uint64()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(d.uint64())
	case reflect.Float32:
		v.SetFloat(float64(math.Float32frombits(uint32(d.uint64()))))
	case reflect.Float64:
		v.SetFloat(math.Float64frombits(d.uint64()))
	case reflect.Pointer:
		if d.byte()%4 != 0 {
			p := reflect.New(t.Elem())
			p.Elem().Set(d.value(t.Elem()))
			v.Set(p)
		}
	case reflect.Slice:
		n := int(d.byte())
		if n%8 == 0 {
			return v // nil
		}
		n = n % 8
		if n == 7 {
			n = 0 // empty, not nil
		}
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			s.Index(i).Set(d.value(t.Elem()))
		}
		v.Set(s)
	default:
		panic("keyfuzz: no decoder for " + t.String())
	}
	return v
}

func (d *decoder) addr() netip.Addr {
	switch d.byte() % 5 {
	case 0:
		return netip.Addr{}
	case 1:
		return netip.AddrFrom4([4]byte(pad(d.take(4), 4)))
	case 2:
		return netip.AddrFrom16([16]byte(pad(d.take(16), 16)))
	case 3:
		return netip.AddrFrom16([16]byte(pad(d.take(16), 16))).WithZone(d.str())
	}
	return netip.AddrFrom4([4]byte(pad(d.take(4), 4))).Unmap()
}

func pad(p []byte, n int) []byte { return append(append([]byte(nil), p...), make([]byte, n-len(p))...) }

// sameArgs reports whether two argument tuples are equal under the
// equalities the key rules accept.
func sameArgs(a, b []reflect.Value) bool {
	for i := range a {
		if !same(a[i], b[i]) {
			return false
		}
	}
	return true
}

func same(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == timeType {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		return same(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}
