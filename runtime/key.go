package gcache

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unsafe"
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

	str string // the rendered key
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
func (k *Key) entityKey() string { return entityOf(k.str) }

// watermarkKey returns the Redis key of a tracked key's watermark, and ""
// for an untracked key.
func (k *Key) watermarkKey() string {
	if !k.Tracked {
		return ""
	}
	return watermarkKey(k.entityKey())
}

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

// appendKey appends the key of a call to dst. b holds the call's escaped
// id in b[:idLen] and its rendered arguments after it ("?a=1&b=2", or
// nothing). The arguments of a key longer than the limit are hashed.
func (s *keyShape) appendKey(dst, b []byte, idLen int) []byte {
	id, args := b[:idLen], b[idLen:]
	dst = append(dst, s.head...)
	dst = append(dst, id...)
	n := len(s.head) + len(b) + len(s.tail)
	if s.tracked {
		dst = append(dst, '}')
		n++
	}
	if n > s.max && len(args) > len(hashedArgs)+32 {
		sum := sha256.Sum256(args)
		dst = append(dst, hashedArgs...)
		dst = hex.AppendEncode(dst, sum[:16])
	} else {
		dst = append(dst, args...)
	}
	return append(dst, s.tail...)
}

// render returns the Key of a call, as laid out for appendKey.
func (s *keyShape) render(b []byte, idLen int) Key {
	buf := s.appendKey(make([]byte, 0, len(s.head)+len(b)+1+len(s.tail)), b, idLen)
	return s.keyOf(unsafe.String(&buf[0], len(buf)), idLen)
}

// keyOf returns the Key of the rendered key str, whose escaped id is idLen
// bytes long. str must be the Key's own.
func (s *keyShape) keyOf(str string, idLen int) Key {
	k := Key{KeyType: s.keyType, UseCase: s.useCase, Tracked: s.tracked, str: str}
	k.ID = str[len(s.head) : len(s.head)+idLen]
	if strings.IndexByte(k.ID, '%') >= 0 {
		k.ID = unescape(k.ID)
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

// leaseSuffix follows a key to name its lease.
const leaseSuffix = "#lease"

// leaseKey returns the Redis key of the lease on key. It is in key's hash
// slot, so that a value and its lease are written together on a cluster,
// and it holds two raw '#', so it reads like no key and no watermark.
func leaseKey(key string) string {
	if key[0] == '{' {
		return key + leaseSuffix
	}
	return "{" + key + "}" + leaseSuffix
}
