// Package events is the format of the messages that gcache instances, and
// the gcache command, publish on the channel "<prefix>:gcache:events":
// one event per message, its fields separated by one ASCII space (which
// keys and escaped ids never hold):
//
//	invalidate <key_type> <escaped id> <watermark> [<escaped id> <watermark>]...
//	delete <key>
//	flush
//	purge <use_case>
//
// An instance applies each event to its local tier: invalidate raises the
// watermark of each entity it names (in ns since the Unix epoch, on the
// fleet's clock), delete drops one key, flush every entry, and purge every
// entry of one use case.
package events

import (
	"fmt"
	"strconv"
	"strings"
)

// The kinds of event, the first field of each message.
const (
	Invalidate = "invalidate"
	Delete     = "delete"
	Flush      = "flush"
	Purge      = "purge"
)

// Channel returns the channel of the caches under prefix.
func Channel(prefix string) string { return prefix + ":gcache:events" }

// An Event is one parsed message. Only the fields of its Kind are set.
type Event struct {
	Kind          string
	KeyType       string         // invalidate
	Invalidations []Invalidation // invalidate
	Key           string         // delete
	UseCase       string         // purge
}

// An Invalidation is one entity an invalidate event names.
type Invalidation struct {
	ID        string // escaped, as in keys
	Watermark int64  // ns since the Unix epoch
}

// Parse reads a message. A message of no known kind, or with the wrong
// fields for its kind, is an error.
func Parse(msg string) (Event, error) {
	f := strings.Split(msg, " ")
	switch {
	case len(f) >= 4 && len(f)%2 == 0 && f[0] == Invalidate:
		e := Event{Kind: Invalidate, KeyType: f[1], Invalidations: make([]Invalidation, 0, (len(f)-2)/2)}
		for i := 2; i < len(f); i += 2 {
			ns, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil || f[i] == "" {
				return Event{}, fmt.Errorf("gcache: malformed event %q", msg)
			}
			e.Invalidations = append(e.Invalidations, Invalidation{ID: f[i], Watermark: ns})
		}
		return e, nil
	case len(f) == 2 && f[0] == Delete && f[1] != "":
		return Event{Kind: Delete, Key: f[1]}, nil
	case len(f) == 1 && f[0] == Flush:
		return Event{Kind: Flush}, nil
	case len(f) == 2 && f[0] == Purge && f[1] != "":
		return Event{Kind: Purge, UseCase: f[1]}, nil
	}
	return Event{}, fmt.Errorf("gcache: malformed event %q", msg)
}
