package gcache

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, compressAbove + 1, 64 << 10} {
		payload := []byte(strings.Repeat("abcdefgh", n/8+1))[:n]
		env := sealEnvelope(codecCBOR, 1_700_000_000_123, 0xfeedface, payload)
		if n > compressAbove && len(env) >= headerSize+n {
			t.Errorf("%d compressible bytes were not compressed", n)
		}
		created, got, err := openEnvelope(env, codecCBOR, 0xfeedface, 1<<20)
		if err != nil || created != 1_700_000_000_123 || !bytes.Equal(got, payload) {
			t.Errorf("%d bytes: %d, %d bytes, %v", n, created, len(got), err)
		}
	}
	random := make([]byte, 8<<10)
	_, _ = rand.NewChaCha8([32]byte{}).Read(random)
	if env := sealEnvelope(codecCBOR, 1, 1, random); env[3]&flagS2 != 0 {
		t.Error("incompressible bytes were stored compressed")
	}
}

func TestNegativeEnvelope(t *testing.T) {
	b := sealNegative(codecCBOR, 7, 42)
	created, payload, err := openEnvelope(b, codecCBOR, 42, 1<<20)
	if err != nil || created != 7 || len(payload) != 0 || !isNegative(b) {
		t.Fatalf("open(sealNegative) = %d, %x, %v; negative %v", created, payload, err, isNegative(b))
	}
	if isNegative(sealEnvelope(codecCBOR, 7, 42, []byte{0xa0})) {
		t.Error("a value reads as negative")
	}
}

func TestEnvelopeRejects(t *testing.T) {
	good := sealEnvelope(codecCBOR, 5, 42, []byte{0xa0})
	bomb := sealEnvelope(codecCBOR, 5, 42, bytes.Repeat([]byte("x"), 10<<10))
	binary.BigEndian.PutUint32(bomb[headerSize:], 0) // corrupt the S2 stream
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short":           good[:headerSize-1],
		"magic":           append([]byte("xx"), good[2:]...),
		"version":         append([]byte{'g', 'c', 9}, good[3:]...),
		"codec":           append([]byte{'g', 'c', 1, codecBinary}, good[4:]...),
		"flags":           append([]byte{'g', 'c', 1, codecCBOR | 0x40}, good[4:]...),
		"corrupt s2":      bomb,
		"other type":      sealEnvelope(codecCBOR, 5, 43, []byte{0xa0}),
		"over the limit":  sealEnvelope(codecCBOR, 5, 42, bytes.Repeat([]byte("y"), 64<<10)),
		"pickle (Python)": []byte("\x80\x05\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x0egcache.base"),
		"negative with a payload": func() []byte {
			b := sealEnvelope(codecCBOR, 5, 42, []byte{0xa0})
			b[3] |= flagNegative
			return b
		}(),
	} {
		if _, _, err := openEnvelope(b, codecCBOR, 42, 32<<10); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzOpenEnvelope feeds arbitrary bytes to the decoding of a Redis value
// and of its payload: it must fail cleanly, never panic, and never make
// more than a bounded allocation.
func FuzzOpenEnvelope(f *testing.F) {
	type value struct {
		Name string
		Tags []string
		At   time.Time
		M    map[string]int
	}
	fp := uint64(77)
	payload, err := CBOR.Marshal(value{Name: "a", Tags: []string{"x"}, At: time.Unix(1, 2), M: map[string]int{"k": 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealEnvelope(codecCBOR, 1, fp, payload))
	f.Add(sealEnvelope(codecCBOR, 1, fp, bytes.Repeat(payload, 1000)))
	f.Add(sealEnvelope(codecCBOR, 1, fp, []byte{0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	f.Add(sealEnvelope(codecCBOR, 1, fp, []byte{0xbb, 0, 0, 0, 1, 0, 0, 0, 0}))
	f.Add([]byte("gc\x01\x11" + strings.Repeat("\xff", 20)))
	f.Add(sealNegative(codecCBOR, 1, fp))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, p, err := openEnvelope(b, codecCBOR, fp, 1<<20)
		if err != nil {
			return
		}
		if len(p) > 1<<20 {
			t.Fatalf("payload of %d bytes past the limit", len(p))
		}
		// Straight to the decoder: the codec's recover would hide a panic.
		var v value
		_ = cborDec.Unmarshal(p, &v)
	})
}

func TestBreaker(t *testing.T) {
	now := time.Unix(100, 0)
	b := &breaker{breakerConfig: breakerConfig{threshold: 3, cooldown: time.Second, clock: func() time.Time { return now }}}
	for range 2 {
		b.failure()
	}
	if !b.allow() || b.open() {
		t.Fatal("open before the threshold")
	}
	b.success()
	for range 2 {
		b.failure()
	}
	if !b.allow() {
		t.Fatal("a success did not reset the count")
	}
	b.failure()
	if b.allow() || !b.open() {
		t.Fatal("not open at the threshold")
	}
	now = now.Add(time.Second)
	if !b.allow() {
		t.Fatal("no probe after the cooldown")
	}
	if b.allow() {
		t.Fatal("a second probe in the same cooldown")
	}
	b.failure() // the probe failed
	now = now.Add(999 * time.Millisecond)
	if b.allow() {
		t.Fatal("open again, yet allowed before the cooldown")
	}
	now = now.Add(time.Millisecond)
	if !b.allow() {
		t.Fatal("no probe after the second cooldown")
	}
	b.success()
	if !b.allow() || !b.allow() || b.open() {
		t.Fatal("a successful probe did not close it")
	}
}

func TestCodecs(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	// time.Time has MarshalBinary: it encodes itself.
	tc := newValueCodec[time.Time](nil)
	if tc.id != codecBinary {
		t.Errorf("time.Time codec = %d, want binary", tc.id)
	}
	b, _ := tc.marshal(at)
	if got, err := tc.unmarshal(b); err != nil || !got.Equal(at) {
		t.Errorf("time round trip = %v, %v", got, err)
	}
	// *time.Time too, through a fresh value.
	pc := newValueCodec[*time.Time](nil)
	b, _ = pc.marshal(&at)
	if got, err := pc.unmarshal(b); err != nil || !got.Equal(at) {
		t.Errorf("*time round trip = %v, %v", got, err)
	}
	// A panicking codec is an error.
	bad := newValueCodec[int](panicCodec{})
	if _, err := bad.marshal(1); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("marshal = %v", err)
	}
	if _, err := bad.unmarshal(nil); err == nil {
		t.Error("unmarshal of a panicking codec succeeded")
	}
	if bad.id != codecCustom {
		t.Errorf("custom codec id = %d", bad.id)
	}
}

type panicCodec struct{}

func (panicCodec) Marshal(any) ([]byte, error) { panic("marshal") }
func (panicCodec) Unmarshal([]byte, any) error { panic("unmarshal") }
