// Package names holds the rules of the names in keys, shared by the
// generator, which checks annotations, and the runtime, which checks
// use cases at registration.
package names

import "regexp"

var pattern = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

// Valid reports whether s may name a use case or a key type: letters,
// digits and "_.-", so that it never needs escaping in a key.
func Valid(s string) bool { return pattern.MatchString(s) }

// Reserved is the one use case name that cannot be used: the keys of a
// use case so named would read like watermarks.
const Reserved = "watermark"

// Want describes valid names, for error messages.
const Want = `want letters, digits and "_.-"`
