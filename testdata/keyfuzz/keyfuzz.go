// Package keyfuzz is the generator fixture that the key fuzzer drives: two
// decorators, one untracked and one tracked, whose methods take every kind
// of key-encodable parameter, so that the fuzzer can check that two calls
// share a key only when their arguments are equal.
package keyfuzz

import (
	"context"
	"net/netip"
	"time"
)

type (
	// Name is a named string.
	Name string
	// Level is a named signed integer.
	Level int8
	// MyByte is a named byte: a slice of it is not a []byte.
	MyByte uint8
	// Blob is a named []byte.
	Blob []byte
)

// CK is an interface that renders itself.
type CK interface{ CacheKey() string }

// TM is an interface that renders itself as text.
type TM interface{ MarshalText() ([]byte, error) }

// Code renders itself through CacheKey, injectively: its key is S.
type Code struct{ S string }

// CacheKey returns the code's text.
func (c Code) CacheKey() string { return c.S }

// Word renders itself through MarshalText, injectively.
type Word string

// MarshalText returns the word.
func (w Word) MarshalText() ([]byte, error) { return []byte(w), nil }

//gcache:wrap
type Keys interface {
	//gcache:cache key_type=k id=id use_case=Scalars
	//gcache:ttl local=1m
	Scalars(ctx context.Context, id string, i int, i8 int8, i16 int16, i32 int32, i64 int64, u uint, u8 uint8, u16 uint16, u32 uint32, u64 uint64, f32 float32, f64 float64, ok bool, name Name, lvl Level, d time.Duration, at time.Time) (string, error)

	//gcache:cache key_type=k id=id use_case=Bytes
	//gcache:ttl local=1m
	Bytes(ctx context.Context, id string, raw []byte, blob Blob, mine []MyByte, s string) (string, error)

	//gcache:cache key_type=k id=id use_case=Pointers
	//gcache:ttl local=1m
	Pointers(ctx context.Context, id string, p *int, ps *string, pt *time.Time, pc *CK, pm *TM, code *Code, pn *Name, pp **int) (string, error)

	//gcache:cache key_type=k id=id use_case=Slices
	//gcache:ttl local=1m
	Slices(ctx context.Context, id string, tags []string, nested [][]string, ptrs []*int, names []Name, times []time.Time, words []Word, codes []Code, cks []CK, rest ...string) (string, error)

	//gcache:cache key_type=k id=id use_case=Methods
	//gcache:ttl local=1m
	Methods(ctx context.Context, id string, c Code, ck CK, w Word, tm TM, ip netip.Addr) (string, error)
}

//gcache:wrap
type Tracked interface {
	//gcache:cache key_type=k id=id use_case=TScalars track
	//gcache:ttl local=1m
	Scalars(ctx context.Context, id string, i int, i8 int8, i16 int16, i32 int32, i64 int64, u uint, u8 uint8, u16 uint16, u32 uint32, u64 uint64, f32 float32, f64 float64, ok bool, name Name, lvl Level, d time.Duration, at time.Time) (string, error)

	//gcache:cache key_type=k id=id use_case=TBytes track
	//gcache:ttl local=1m
	Bytes(ctx context.Context, id string, raw []byte, blob Blob, mine []MyByte, s string) (string, error)

	//gcache:cache key_type=k id=id use_case=TPointers track
	//gcache:ttl local=1m
	Pointers(ctx context.Context, id string, p *int, ps *string, pt *time.Time, pc *CK, pm *TM, code *Code, pn *Name, pp **int) (string, error)

	//gcache:cache key_type=k id=id use_case=TSlices track
	//gcache:ttl local=1m
	Slices(ctx context.Context, id string, tags []string, nested [][]string, ptrs []*int, names []Name, times []time.Time, words []Word, codes []Code, cks []CK, rest ...string) (string, error)

	//gcache:cache key_type=k id=id use_case=TMethods track
	//gcache:ttl local=1m
	Methods(ctx context.Context, id string, c Code, ck CK, w Word, tm TM, ip netip.Addr) (string, error)
}

// Generic takes pointers to a type parameter whose core type is a
// pointer.
//
//gcache:wrap
type Generic[P interface{ *string }] interface {
	//gcache:cache key_type=k id=id use_case=GenericPointers
	//gcache:ttl local=1m
	Pointers(ctx context.Context, id string, p P, pp *P) (string, error)
}

// Nop answers every call of Keys and Tracked with zero values.
type Nop struct{}

func (Nop) Scalars(ctx context.Context, id string, i int, i8 int8, i16 int16, i32 int32, i64 int64, u uint, u8 uint8, u16 uint16, u32 uint32, u64 uint64, f32 float32, f64 float64, ok bool, name Name, lvl Level, d time.Duration, at time.Time) (string, error) {
	return "", nil
}

func (Nop) Bytes(ctx context.Context, id string, raw []byte, blob Blob, mine []MyByte, s string) (string, error) {
	return "", nil
}

func (Nop) Pointers(ctx context.Context, id string, p *int, ps *string, pt *time.Time, pc *CK, pm *TM, code *Code, pn *Name, pp **int) (string, error) {
	return "", nil
}

func (Nop) Slices(ctx context.Context, id string, tags []string, nested [][]string, ptrs []*int, names []Name, times []time.Time, words []Word, codes []Code, cks []CK, rest ...string) (string, error) {
	return "", nil
}

func (Nop) Methods(ctx context.Context, id string, c Code, ck CK, w Word, tm TM, ip netip.Addr) (string, error) {
	return "", nil
}

// NopGeneric answers every call of Generic with zero values.
type NopGeneric[P interface{ *string }] struct{}

func (NopGeneric[P]) Pointers(ctx context.Context, id string, p P, pp *P) (string, error) {
	return "", nil
}
