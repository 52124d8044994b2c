package events

import "testing"

func TestParse(t *testing.T) {
	for msg, want := range map[string]Event{
		"invalidate user_id a%3Ab 1732800000123456789": {Kind: Invalidate, KeyType: "user_id", ID: "a%3Ab", Watermark: 1732800000123456789},
		"delete {urn:user_id:7}#GetUser":               {Kind: Delete, Key: "{urn:user_id:7}#GetUser"},
		"flush":                                        {Kind: Flush},
		"purge Catalog.GetProduct":                     {Kind: Purge, UseCase: "Catalog.GetProduct"},
	} {
		if got, err := Parse(msg); err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", msg, got, err, want)
		}
	}
	for _, msg := range []string{
		"", "invalidate user_id 7", "invalidate user_id 7 soon", "delete", "delete ", "flush now",
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
