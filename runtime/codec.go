package gcache

import (
	"encoding"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// A Codec turns the values of a use case into bytes for Redis and back. It
// must be safe for concurrent use. Unmarshal receives untrusted bytes: it
// must return an error, not panic or allocate without bound, on bad input.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// CBOR is the default codec: RFC 8949 CBOR through fxamacker/cbor, which is
// faster and smaller than msgpack, JSON and gob on typical structs, and
// bounds what hostile input can make it allocate. Struct fields follow
// `cbor` tags, then `json` tags, then field names; times keep nanoseconds.
var CBOR Codec = cborCodec{}

var (
	cborEnc = must(cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.EncMode())
	cborDec = must(cbor.DecOptions{UTF8: cbor.UTF8DecodeInvalid}.DecMode())
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type cborCodec struct{}

func (cborCodec) Marshal(v any) ([]byte, error)      { return cborEnc.Marshal(v) }
func (cborCodec) Unmarshal(data []byte, v any) error { return cborDec.Unmarshal(data, v) }

// Codec ids, as stored in the envelope.
const (
	codecCBOR   byte = 1
	codecBinary byte = 2 // encoding.BinaryMarshaler
	codecCustom byte = 3 // UseCaseSpec.Codec
)

// valueCodec encodes the values of one use case.
type valueCodec[T any] struct {
	id        byte
	marshal   func(T) ([]byte, error)
	unmarshal func([]byte) (T, error)
}

// newValueCodec picks the codec of T: c when set, else T's own
// MarshalBinary/UnmarshalBinary when it has both, else CBOR.
func newValueCodec[T any](c Codec) valueCodec[T] {
	if c != nil {
		return valueCodec[T]{id: codecCustom, marshal: marshalWith[T](c), unmarshal: unmarshalWith[T](c)}
	}
	if vc, ok := binaryCodec[T](); ok {
		return vc
	}
	return valueCodec[T]{id: codecCBOR, marshal: marshalWith[T](CBOR), unmarshal: unmarshalWith[T](CBOR)}
}

func marshalWith[T any](c Codec) func(T) ([]byte, error) {
	return func(v T) (b []byte, err error) {
		defer recoverInto(&err, "marshal")
		return c.Marshal(v)
	}
}

func unmarshalWith[T any](c Codec) func([]byte) (T, error) {
	return func(data []byte) (v T, err error) {
		defer recoverInto(&err, "unmarshal")
		err = c.Unmarshal(data, &v)
		return v, err
	}
}

var (
	binaryMarshaler   = reflect.TypeFor[encoding.BinaryMarshaler]()
	binaryUnmarshaler = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// binaryCodec returns the codec of a T that encodes itself, either as a
// value (T marshals, *T unmarshals) or as a pointer (T = *U does both).
func binaryCodec[T any]() (valueCodec[T], bool) {
	t := reflect.TypeFor[T]()
	marshal := func(v T) (b []byte, err error) {
		defer recoverInto(&err, "MarshalBinary")
		return any(v).(encoding.BinaryMarshaler).MarshalBinary()
	}
	switch {
	case t.Kind() != reflect.Interface && t.Implements(binaryMarshaler) && reflect.PointerTo(t).Implements(binaryUnmarshaler):
		return valueCodec[T]{id: codecBinary, marshal: marshal, unmarshal: func(data []byte) (v T, err error) {
			defer recoverInto(&err, "UnmarshalBinary")
			err = any(&v).(encoding.BinaryUnmarshaler).UnmarshalBinary(data)
			return v, err
		}}, true
	case t.Kind() == reflect.Pointer && t.Implements(binaryMarshaler) && t.Implements(binaryUnmarshaler):
		return valueCodec[T]{id: codecBinary, marshal: marshal, unmarshal: func(data []byte) (v T, err error) {
			defer recoverInto(&err, "UnmarshalBinary")
			v = reflect.New(t.Elem()).Interface().(T)
			err = any(v).(encoding.BinaryUnmarshaler).UnmarshalBinary(data)
			return v, err
		}}, true
	}
	return valueCodec[T]{}, false
}

// recoverInto turns a panic of a codec into an error.
func recoverInto(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("gcache: %s panicked: %v", what, r)
	}
}
