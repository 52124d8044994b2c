package events

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	for msg, want := range map[string]Event{
		"invalidate user_id a%3Ab 1732800000123456789": {Kind: Invalidate, KeyType: "user_id", Invalidations: []Invalidation{{"a%3Ab", 1732800000123456789}}},
		"invalidate user_id 1 10 2 20":                 {Kind: Invalidate, KeyType: "user_id", Invalidations: []Invalidation{{"1", 10}, {"2", 20}}},
		"delete {urn:user_id:7}#GetUser":               {Kind: Delete, Key: "{urn:user_id:7}#GetUser"},
		"flush":                                        {Kind: Flush},
		"purge Catalog.GetProduct":                     {Kind: Purge, UseCase: "Catalog.GetProduct"},
	} {
		if got, err := Parse(msg); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", msg, got, err, want)
		}
	}
	for _, msg := range []string{
		"", "invalidate user_id 7", "invalidate user_id 7 soon", "invalidate user_id 7 1 8", "invalidate user_id 7 1 8 soon",
		"invalidate user_id  1", "delete", "delete ", "flush now",
		"purge", "purge ", "purge a b", "forget everything",
	} {
		if _, err := Parse(msg); err == nil {
			t.Errorf("Parse(%q) succeeded", msg)
		}
	}
	if Channel("urn:app") != "urn:app:gcache:events" {
		t.Errorf("Channel = %q", Channel("urn:app"))
	}
}
