// Package codecs compares the encodings considered for values in Redis,
// on a user record of about 700 bytes: the measurements behind the
// runtime's choice of CBOR.
package codecs

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/gcache-go/gcache/runtime"
	"github.com/vmihailenco/msgpack/v5"
)

type Address struct{ Street, City, Zip, Country string }

type User struct {
	ID        int64
	Name      string
	Email     string
	Bio       string
	Tags      []string
	Scores    map[string]float64
	Addresses []Address
	Created   time.Time
	Active    bool
}

func sample() User {
	return User{
		ID: 123456, Name: "Ada Lovelace", Email: "ada@example.com",
		Bio:       "Mathematician and writer, chiefly known for her work on Charles Babbage's proposed mechanical general-purpose computer, the Analytical Engine. She was the first to recognise that the machine had applications beyond pure calculation, and published the first algorithm intended to be carried out by such a machine.",
		Tags:      []string{"math", "computing", "poetry", "engines", "notes"},
		Scores:    map[string]float64{"a": 1.5, "b": 2.25, "c": 3.125, "d": 4},
		Addresses: []Address{{"12 St James's Square", "London", "SW1Y 4JH", "UK"}, {"Ockham Park", "Ockham", "GU23 6NL", "UK"}, {"Horsley Towers", "East Horsley", "KT24 6DR", "UK"}},
		Created:   time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC), Active: true,
	}
}

type codec struct {
	name      string
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}

var codecs = []codec{
	{"CBOR", gcache.CBOR.Marshal, gcache.CBOR.Unmarshal},
	{"msgpack", msgpack.Marshal, msgpack.Unmarshal},
	{"JSON", json.Marshal, json.Unmarshal},
	{"gob", func(v any) ([]byte, error) {
		var b bytes.Buffer
		err := gob.NewEncoder(&b).Encode(v)
		return b.Bytes(), err
	}, func(data []byte, v any) error { return gob.NewDecoder(bytes.NewReader(data)).Decode(v) }},
}

func BenchmarkEncode(b *testing.B) {
	u := sample()
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			var data []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if data, err = c.marshal(u); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	u := sample()
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			data, _ := c.marshal(u)
			b.ReportAllocs()
			for b.Loop() {
				var v User
				if err := c.unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHostileLengthPrefix records why msgpack was not chosen: five bytes
// that announce a long array make it allocate the whole array up front,
// where CBOR refuses an array longer than its limit.
func TestHostileLengthPrefix(t *testing.T) {
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var users []User
	hostile := []byte{0xdd, 0x00, 0x10, 0x00, 0x00} // msgpack array32 of 1,048,576 elements
	n := allocated(func() { _ = msgpack.Unmarshal(hostile, &users) })
	t.Logf("msgpack allocated %d MiB for 5 bytes", n>>20)
	if n < 100<<20 {
		t.Errorf("msgpack allocated %d bytes: has its length check been fixed? then reconsider it", n)
	}
	cborHostile := []byte{0x9a, 0x00, 0x10, 0x00, 0x00} // CBOR array of 1,048,576 elements
	n = allocated(func() {
		if err := gcache.CBOR.Unmarshal(cborHostile, &users); err == nil {
			t.Error("CBOR accepted an array longer than its limit")
		}
	})
	t.Logf("CBOR allocated %d bytes", n)
}
