package main

import (
	"strings"
	"testing"
)

// TestQuickstart runs the example and checks the story it tells.
func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"key {urn:user_id:123}#GetUser",
		"key urn:user_id:123?page=2&query=go#SearchUserPosts",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	var sources []string
	for _, line := range strings.Split(got, "\n") {
		if i := strings.Index(line, "from the "); i >= 0 {
			sources = append(sources, strings.Fields(line[i+len("from the "):])[0])
		}
	}
	want := []string{"database", "cache", "database", "cache", "database", "database", "cache"}
	if strings.Join(sources, " ") != strings.Join(want, " ") {
		t.Errorf("sources = %v, want %v\n%s", sources, want, got)
	}
	if !strings.Contains(got, `gcache_request_counter_total{key_type="user_id",layer="LOCAL",use_case="GetUser"} 4`) {
		t.Errorf("metrics missing:\n%s", got)
	}
}
