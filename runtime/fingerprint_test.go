package gcache

import (
	"reflect"
	"testing"
	"time"
)

type (
	Name    string
	Title   string
	byName  struct{ Name }
	byTitle struct{ Title }
	node    struct {
		Value    int
		Children []*node
	}
	otherNode struct {
		Value    int
		Children []*otherNode
	}
)

func TestTypeFingerprint(t *testing.T) {
	fp := func(v any) uint64 { return TypeFingerprint(reflect.TypeOf(v)) }
	differ := [][2]any{
		{byName{}, byTitle{}}, // embedded fields are named by their type
		{struct{ A int }{}, struct{ B int }{}},
		{struct{ A int }{}, struct{ A int64 }{}},
		{struct {
			A int `json:"a"`
		}{}, struct {
			A int `json:"b"`
		}{}},
		{[]int{}, [3]int{}},
		{map[string]int{}, map[string]int64{}},
		{(*int)(nil), 0},
	}
	for _, p := range differ {
		if fp(p[0]) == fp(p[1]) {
			t.Errorf("%T and %T share a fingerprint", p[0], p[1])
		}
	}
	// A defined type's name takes no part, so moving or renaming a type
	// keeps its values; its structure does.
	if fp(node{}) != fp(otherNode{}) {
		t.Error("two recursive types of one structure differ")
	}
	if fp(Name("")) != fp("") || fp(time.Duration(0)) != fp(int64(0)) {
		t.Error("a defined type differs from its underlying type")
	}
	if fp(0) == 0 {
		t.Error("a fingerprint is 0, which means unknown")
	}
}
