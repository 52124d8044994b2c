package peers

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/runtime"
)

// newUser builds the value of user id as a database driver would: a new
// struct whose strings and slices are its own, on every call.
func newUser(id int64) *User {
	c := strings.Clone
	return &User{
		ID:    id,
		Name:  c("Ada Lovelace"),
		Email: c("ada.lovelace@example.com"),
		Bio: c("Mathematician and writer, chiefly known for her work on Charles Babbage's " +
			"proposed mechanical general-purpose computer, the Analytical Engine. She was the " +
			"first to recognise that the machine had applications beyond pure calculation, and " +
			"published the first algorithm intended to be carried out by such a machine. Her " +
			"notes on the engine include a method for computing Bernoulli numbers."),
		Tags: []string{c("math"), c("computing"), c("poetry"), c("engines"), c("notes"), c("bernoulli"), c("analysis"), c("history")},
		Addresses: []Address{
			{c("12 St James's Square"), c("London"), c("SW1Y 4JH"), c("United Kingdom")},
			{c("Ockham Park"), c("Ockham"), c("GU23 6NL"), c("United Kingdom")},
			{c("Horsley Towers"), c("East Horsley"), c("KT24 6DR"), c("United Kingdom")},
		},
		Manager: &Contact{c("Charles Babbage"), c("charles.babbage@example.com"), c("+44 20 7946 0958")},
		Created: time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC),
		Updated: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Active:  true,
		Score:   98.25,
	}
}

// TestValueSize keeps the value about 1 KB in the codec gcache uses.
func TestValueSize(t *testing.T) {
	b, err := gcache.CBOR.Marshal(newUser(1234567))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 900 || len(b) > 1200 {
		t.Fatalf("a User is %d bytes in CBOR, want about 1 KB", len(b))
	}
	t.Logf("a User is %d bytes in CBOR", len(b))
}

// source is the backend behind every cache: it counts its calls and may
// take a while, like a database query.
type source struct {
	calls atomic.Int64
	delay time.Duration
}

func (s *source) load(ctx context.Context, id string) (*User, error) {
	s.calls.Add(1)
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, err
	}
	return newUser(n), nil
}

// backend is the UserStore gcache's decorator wraps.
type backend struct{ src *source }

func (b backend) GetUser(ctx context.Context, id string) (*User, error) {
	return b.src.load(ctx, id)
}

func (b backend) GetUserTracked(ctx context.Context, id string) (*User, error) {
	return b.src.load(ctx, id)
}

func (b backend) GetUserRemote(ctx context.Context, id string) (*User, error) {
	return b.src.load(ctx, id)
}

func (b backend) GetUserRemoteTracked(ctx context.Context, id string) (*User, error) {
	return b.src.load(ctx, id)
}

func (b backend) UpdateUser(ctx context.Context, id string, u *User) error { return nil }

// Key spaces. Ids are decimal strings; the hot set is ids 1..hotKeys.
const (
	hotKeys    = 10_000  // local hits, remote hits, mixed
	memEntries = 100_000 // the memory workload
	// localCapacity bounds every contender's local tier, with room to
	// spare so that no contender evicts while it holds memEntries.
	localCapacity = 200_000
	ttl           = 10 * time.Minute
)

// ids[i] is the id of the i-th key, "1" for 0.
var ids = func() []string {
	s := make([]string, memEntries)
	for i := range s {
		s[i] = strconv.Itoa(i + 1)
	}
	return s
}()

// uniqueID returns an id that no benchmark of this process used before:
// the misses and the stampedes.
func uniqueID() string { return strconv.FormatInt(1_000_000+uniqueIDs.Add(1), 10) }

var uniqueIDs atomic.Int64

// zipfSeq is a fixed sequence of key indexes below hotKeys, Zipf
// distributed (s=1.1), drawn once so that no contender pays for the
// generator; readers walk it from different offsets.
var zipfSeq = func() []uint32 {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 1, hotKeys-1)
	s := make([]uint32, 1<<16)
	for i := range s {
		s[i] = uint32(z.Uint64())
	}
	return s
}()

const zipfMask = 1<<16 - 1

// mixedSeq is the mixed workload's sequence: a Zipf key, and whether the
// operation invalidates it (one in ten) rather than reading it. The
// workload repeats it after one untimed pass, which leaves every key in the
// state the sequence's end leaves it in: each pass then costs the same, so
// that the share of reads turned into misses does not depend on how many
// operations a contender gets through.
var mixedSeq = func() []mixedOp {
	r := rand.New(rand.NewPCG(3, 4))
	z := rand.NewZipf(r, 1.1, 1, hotKeys-1)
	s := make([]mixedOp, mixedLen)
	for i := range s {
		s[i] = mixedOp{key: uint32(z.Uint64()), write: r.IntN(10) == 0}
	}
	return s
}()

const mixedLen = 1 << 12

type mixedOp struct {
	key   uint32
	write bool
}
