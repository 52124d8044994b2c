package gen

import (
	"go/token"
	"reflect"
	"strings"
	"testing"
)

func TestParseDirective(t *testing.T) {
	pos := token.Position{Filename: "x.go", Line: 3, Column: 2, Offset: 40}
	d, err := parseDirective("//gcache:cache key_type=user_id  id=u.ID\ttrack use_case=Get", pos)
	if err != nil {
		t.Fatal(err)
	}
	if d.name != "cache" || d.pos != pos {
		t.Errorf("directive = %q at %v", d.name, d.pos)
	}
	type opt struct {
		key, value string
		hasValue   bool
		col, vcol  int
	}
	var got []opt
	for _, o := range d.opts {
		got = append(got, opt{o.key, o.value, o.hasValue, o.pos.Column, o.valuePos.Column})
	}
	want := []opt{
		{"key_type", "user_id", true, 17, 26},
		{"id", "u.ID", true, 35, 38},
		{"track", "", false, 43, 0},
		{"use_case", "Get", true, 49, 58},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options =\n%v\nwant\n%v", got, want)
	}
	for _, bad := range []string{"//gcache:", "//gcache: cache", "//gcache:ca-che x", "//gcache:x =y"} {
		if _, err := parseDirective(bad, pos); err == nil {
			t.Errorf("parseDirective(%q) succeeded", bad)
		} else if !strings.HasPrefix(err.Error(), "x.go:3:") {
			t.Errorf("parseDirective(%q) = %v, want a position", bad, err)
		}
	}
}

// FuzzParseDirective checks that any comment text parses or fails with a
// positioned error, never panics, and that every option's position lies on
// the comment.
func FuzzParseDirective(f *testing.F) {
	for _, s := range []string{
		"//gcache:cache key_type=user_id id=userID use_case=GetUser track",
		"//gcache:ttl local=1m remote=5m",
		"//gcache:arg filters=f.CacheKey() page=int64(p)",
		"//gcache:ignore a b\tc",
		"//gcache:wrap name=X",
		"//gcache:",
		"//gcache:x ==",
		"//gcache:x a=b=c",
		"//gcache:\xff\x00 \t=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		pos := token.Position{Filename: "f.go", Line: 7, Column: 3, Offset: 100}
		d, err := parseDirective(text, pos)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Pos.Filename != "f.go" || e.Pos.Line != 7 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		for _, o := range d.opts {
			if o.pos.Column < pos.Column || o.pos.Column-pos.Column >= len(text) {
				t.Fatalf("option %q at column %d, outside the comment", o.key, o.pos.Column)
			}
			if got := text[o.pos.Column-pos.Column:]; !strings.HasPrefix(got, o.key) {
				t.Fatalf("option %q: the text at its position is %q", o.key, got)
			}
			if o.hasValue && !strings.HasPrefix(text[o.valuePos.Column-pos.Column:], o.value) {
				t.Fatalf("value %q is not at its position", o.value)
			}
		}
	})
}
