package gcache

import (
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"123", "123"},
		{"", ""},
		{"a:b", "a%3Ab"},
		{"1?x=2#y", "1%3Fx%3D2%23y"},
		{"{}", "%7B%7D"},
		{"a&b", "a%26b"},
		{"50%", "50%25"},
		{"two words", "two%20words"},
		{"tab\there\x7f\x00", "tab%09here%7F%00"},
		{"naïve,[x]", "naïve,[x]"},
		{"nil", "%6Eil"},
		{"nil2", "nil2"},
	} {
		if got := string(AppendString(nil, tc.in)); got != tc.want {
			t.Errorf("AppendString(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(AppendBytes(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("AppendBytes(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := EscapeID(tc.in); got != tc.want {
			t.Errorf("EscapeID(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := unescape(tc.want); got != tc.in {
			t.Errorf("unescape(%q) = %q, want %q", tc.want, got, tc.in)
		}
	}
}

func TestAppendScalars(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.FixedZone("X", 2*3600))
	for _, tc := range []struct {
		got  []byte
		want string
	}{
		{AppendBool(nil, true), "true"},
		{AppendBool(nil, false), "false"},
		{AppendInt(nil, -42), "-42"},
		{AppendInt(nil, math.MinInt64), "-9223372036854775808"},
		{AppendUint(nil, math.MaxUint64), "18446744073709551615"},
		{AppendFloat(nil, 2.5, 64), "2.5"},
		{AppendFloat(nil, 1e-05, 64), "1e-05"},
		{AppendFloat(nil, 1e16, 64), "1e+16"},
		{AppendFloat(nil, 0.1, 32), "0.1"},
		{AppendFloat(nil, math.Inf(1), 64), "+Inf"},
		{AppendFloat(nil, math.Inf(-1), 64), "-Inf"},
		{AppendFloat(nil, math.NaN(), 64), "NaN"},
		{AppendFloat(nil, math.Copysign(0, -1), 64), "-0"},
		{AppendTime(nil, at), "2024-05-06T05%3A08%3A09.123Z"},
		{AppendNil(nil), "nil"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestAppendDurationMatchesString(t *testing.T) {
	cases := []time.Duration{0, 1, 999, time.Microsecond, 1500, time.Millisecond, 1050 * time.Microsecond,
		time.Second, 1500 * time.Millisecond, time.Minute + 30*time.Second, time.Hour, 26*time.Hour + 3*time.Second + 7,
		-time.Second, math.MinInt64, math.MaxInt64, 100 * time.Millisecond}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		cases = append(cases, time.Duration(r.Int64N(1<<(1+r.IntN(62)))-(1<<40)))
	}
	for _, d := range cases {
		if got, want := string(AppendDuration(nil, d)), d.String(); got != want {
			t.Fatalf("AppendDuration(%d) = %q, want %q", int64(d), got, want)
		}
	}
}

func TestAppendText(t *testing.T) {
	ip := net.ParseIP("::1")
	got, err := AppendText(nil, ip)
	if err != nil || string(got) != "%3A%3A1" {
		t.Errorf("AppendText(::1) = %q, %v", got, err)
	}
	_, err = AppendText([]byte("x"), failingText{})
	if err == nil {
		t.Error("AppendText of a failing marshaler: no error")
	}
}

type failingText struct{}

func (failingText) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

func TestAppendSliceIsInjective(t *testing.T) {
	render := func(s []string) string { return string(AppendSlice(nil, s, AppendString)) }
	seen := map[string][]string{}
	for _, s := range [][]string{
		nil, {""}, {"", ""}, {"a"}, {"a,b"}, {"a", "b"}, {"[a]"}, {"a]", "["}, {"%2C"}, {","}, {"nil"},
	} {
		r := render(s)
		if prev, dup := seen[r]; dup {
			t.Fatalf("%q and %q both render as %q", prev, s, r)
		}
		seen[r] = s
	}
	if got := render([]string{"a", "b,c"}); got != "[a,b%2Cc]" {
		t.Errorf("render = %q", got)
	}
	nested := func(s [][]string) string {
		return string(AppendSlice(nil, s, func(b []byte, e []string) []byte { return AppendSlice(b, e, AppendString) }))
	}
	if a, b := nested([][]string{{"a,b"}}), nested([][]string{{"a", "b"}}); a == b {
		t.Errorf("nested slices collide: %q", a)
	}
	if a, b := nested([][]string{{}}), nested([][]string{}); a == b {
		t.Errorf("[[]] and [] collide: %q", a)
	}
	ints := AppendSlice(nil, []int{1, -2}, func(b []byte, v int) []byte { return AppendInt(b, int64(v)) })
	if string(ints) != "[1,-2]" {
		t.Errorf("ints = %q", ints)
	}
	texts, err := AppendSliceErr(nil, []net.IP{net.ParseIP("10.0.0.1")}, AppendText[net.IP])
	if err != nil || string(texts) != "[10.0.0.1]" {
		t.Errorf("texts = %q, %v", texts, err)
	}
	if _, err := AppendSliceErr(nil, []failingText{{}}, AppendText[failingText]); err == nil {
		t.Error("AppendSliceErr: no error from a failing element")
	}
}

func TestKeyRendering(t *testing.T) {
	s := newKeyShape("urn", "user_id", "SearchUserPosts", false, 0)
	b := AppendString(nil, "123")
	idLen := len(b)
	b = append(b, "?page="...)
	b = AppendInt(b, 2)
	k := s.render(b, idLen)
	if k.String() != "urn:user_id:123?page=2#SearchUserPosts" || k.ID != "123" || k.KeyType != "user_id" || k.UseCase != "SearchUserPosts" {
		t.Errorf("key = %q %+v", k.String(), k)
	}

	tracked := newKeyShape("urn:app", "user_id", "GetUser", true, 0)
	b = AppendString(nil, "a:b}")
	k = tracked.render(b, len(b))
	if k.String() != "{urn:app:user_id:a%3Ab%7D}#GetUser" || k.ID != "a:b}" || !k.Tracked {
		t.Errorf("tracked key = %q %+v", k.String(), k)
	}
	if k.entityKey() != "{urn:app:user_id:a%3Ab%7D}" || entityKey("urn:app", "user_id", "a:b}") != k.entityKey() {
		t.Errorf("entity = %q", k.entityKey())
	}
}

func TestLongKeysHashTheirArguments(t *testing.T) {
	s := newKeyShape("urn", "user_id", "Search", true, 128)
	build := func(q string) Key {
		b := AppendString(nil, "7")
		b = append(b, "?q="...)
		return s.render(AppendString(b, q), 1)
	}
	short := build("x")
	if short.String() != "{urn:user_id:7}?q=x#Search" {
		t.Errorf("short key = %q", short)
	}
	long1, long2 := build(strings.Repeat("a", 200)), build(strings.Repeat("a", 199)+"b")
	if len(long1.String()) > 128 || long1.String() == long2.String() {
		t.Errorf("long keys: %q, %q", long1, long2)
	}
	if !strings.HasPrefix(long1.String(), "{urn:user_id:7}?~sha256=") || !strings.HasSuffix(long1.String(), "#Search") {
		t.Errorf("long key = %q", long1)
	}
	if long1.ID != "7" || long1.entityKey() != "{urn:user_id:7}" {
		t.Errorf("long key id = %q, entity %q", long1.ID, long1.entityKey())
	}
}

func TestLiteralKeyRendersWithPrefix(t *testing.T) {
	k := Key{KeyType: "T", ID: "1 2", UseCase: "uc"}
	if k.String() != "urn:T:1%202#uc" {
		t.Errorf("String = %q", k.String())
	}
	if r := k.rendered("p:q"); r.String() != "p:q:T:1%202#uc" || r.ID != "1 2" {
		t.Errorf("rendered = %q %+v", r.String(), r)
	}
}

// FuzzKeyIsInjective renders two calls with an id, a string argument and
// a slice argument each, and checks that different calls never share a
// key, whatever bytes they hold (delimiters, %, braces, "nil", 0–255).
func FuzzKeyIsInjective(f *testing.F) {
	f.Add("1?x=2#y", "a", "b,c", "1", "a?x=2#y", "b,c")
	f.Add("a:b", "", "", "a", "b", "")
	f.Add("{}", "nil", "x", "%7B%7D", "%6Eil", "x")
	f.Add("id", "p&q=r", "[a]", "id", "p", "a")
	f.Add("\x00\xff", " ", ",,", "\x00", "\xff ", ",")
	s := newKeyShape("urn", "T", "uc", true, 0)
	render := func(id, arg, list string) string {
		b := AppendString(nil, id)
		idLen := len(b)
		b = append(b, "?a="...)
		b = AppendString(b, arg)
		b = append(b, "&l="...)
		var elems []string
		if list != "" {
			elems = strings.Split(list, ",")
		}
		b = AppendSlice(b, elems, AppendString)
		return s.render(b, idLen).String()
	}
	f.Fuzz(func(t *testing.T, id1, arg1, list1, id2, arg2, list2 string) {
		k1, k2 := render(id1, arg1, list1), render(id2, arg2, list2)
		same := id1 == id2 && arg1 == arg2 && list1 == list2
		if k1 == k2 && !same {
			t.Fatalf("(%q, %q, %q) and (%q, %q, %q) both render as %q", id1, arg1, list1, id2, arg2, list2, k1)
		}
		// The id reads back from the key, and stays inside its entity.
		b := AppendString(nil, id1)
		key := s.render(b, len(b))
		if key.ID != id1 || key.entityKey() != "{urn:T:"+EscapeID(id1)+"}" {
			t.Fatalf("id %q: key %q gives id %q, entity %q", id1, key, key.ID, key.entityKey())
		}
	})
}
