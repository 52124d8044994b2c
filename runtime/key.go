package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// DefaultKeyPrefix is the key prefix of a Cache whose Config sets none.
const DefaultKeyPrefix = "urn"

// DefaultMaxKeyLength is the key length above which the argument part of a
// key is replaced by its hash.
const DefaultMaxKeyLength = 512

// hashedArgs starts the argument part of a key whose arguments were hashed.
// No parameter name starts with '~', so it never reads like an argument.
const hashedArgs = "?~sha256="

// A Key names one cached value:
//
//	<prefix>:<key_type>:<id>?<arg>=<val>&...#<use_case>
//	{<prefix>:<key_type>:<id>}?<arg>=<val>&...#<use_case>   (Tracked)
//
// Keys are built by [UseCase.Key]. A Key written as a literal has no
// arguments; the Cache it is given to renders it with its own prefix.
type Key struct {
	KeyType string
	ID      string // the id as given, unescaped
	UseCase string
	Tracked bool // the value is checked against the entity's watermark

	str    string // the rendered key
	entity int    // len(str) of "{prefix:key_type:id}" when Tracked
}

// String returns the rendered key, as stored in Redis. A Key written as a
// literal renders with [DefaultKeyPrefix].
func (k Key) String() string { return k.rendered(DefaultKeyPrefix).str }

// rendered returns k itself when it was built by a use case, and otherwise
// renders it, without arguments, under prefix.
func (k Key) rendered(prefix string) Key {
	if k.str != "" {
		return k
	}
	b := AppendString(nil, k.ID)
	shape := newKeyShape(prefix, k.KeyType, k.UseCase, k.Tracked, 0)
	return shape.render(b, len(b))
}

// entityKey returns "{prefix:key_type:id}" of a tracked key.
func (k *Key) entityKey() string { return k.str[:k.entity] }

// keyShape holds the parts of a use case's keys that never change.
type keyShape struct {
	head    string // "urn:user_id:" or "{urn:user_id:"
	tail    string // "#GetUser"
	keyType string
	useCase string
	tracked bool
	max     int
}

func newKeyShape(prefix, keyType, useCase string, tracked bool, maxLen int) keyShape {
	head := prefix + ":" + keyType + ":"
	if tracked {
		head = "{" + head
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxKeyLength
	}
	return keyShape{head: head, tail: "#" + useCase, keyType: keyType, useCase: useCase, tracked: tracked, max: maxLen}
}

// render builds the key from b, which holds the escaped id in b[:idLen]
// and the rendered arguments after it ("?a=1&b=2", or nothing).
func (s *keyShape) render(b []byte, idLen int) Key {
	id, args := b[:idLen], b[idLen:]
	closer := 0
	if s.tracked {
		closer = 1
	}
	n := len(s.head) + len(id) + closer + len(args) + len(s.tail)
	var hashed [len(hashedArgs) + 32]byte
	if n > s.max && len(args) > 0 {
		sum := sha256.Sum256(args)
		copy(hashed[:], hashedArgs)
		hex.Encode(hashed[len(hashedArgs):], sum[:16])
		n += len(hashed) - len(args)
		args = hashed[:]
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.WriteString(s.head)
	sb.Write(id)
	if s.tracked {
		sb.WriteByte('}')
	}
	sb.Write(args)
	sb.WriteString(s.tail)
	str := sb.String()

	k := Key{KeyType: s.keyType, UseCase: s.useCase, Tracked: s.tracked, str: str}
	k.ID = str[len(s.head) : len(s.head)+idLen]
	if strings.IndexByte(k.ID, '%') >= 0 {
		k.ID = unescape(k.ID)
	}
	if s.tracked {
		k.entity = len(s.head) + idLen + 1
	}
	return k
}

// entityKey returns "{prefix:key_type:id}" for an unescaped id.
func entityKey(prefix, keyType, id string) string {
	return "{" + prefix + ":" + keyType + ":" + EscapeID(id) + "}"
}

// watermarkSuffix follows an entity to name its watermark. The use case
// name "watermark" is reserved so that no key ends like one.
const watermarkSuffix = "#watermark"

// watermarkKey returns the Redis key of an entity's watermark.
func watermarkKey(entity string) string { return entity + watermarkSuffix }
