package gcache

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// The functions here serve generated decorators.

// RegisterError returns err, the error of a generated constructor's
// registration of a use case on a Cache; when the use case's name is
// taken, it says what to do about it.
func RegisterError(constructor string, err error) error {
	if !errors.Is(err, ErrUseCaseExists) {
		return err
	}
	return fmt.Errorf("%w, by %s: a Cache takes one decorator of an interface (make one and share it), and one use case of a name (give one of the methods a use_case= of its own)", err, constructor)
}

// TypeName returns the name of T as Go spells it, with the package's name
// before a defined type: "int", "shop.UserID", "*shop.User", "[]string".
// Generated decorators of generic interfaces pass it to [InstanceName].
func TypeName[T any]() string { return reflect.TypeFor[T]().String() }

// InstanceName returns the use case name of name instantiated with the
// type arguments typeArgs, such as those of [TypeName]: name, then "--"
// and each type argument in turn, with every byte a use case name cannot
// hold (anything but letters, digits, '_' and '.') written as "-XX", its
// value in hexadecimal. So "repo.Repo.Load" with shop.UserID and
// *shop.User gives "repo.Repo.Load--shop.UserID---2Ashop.User", and each
// instantiation of a generic decorator gets use cases and keys of its
// own. Different type arguments give different names: an escape is '-'
// and a hexadecimal digit, so "--" only ever separates them.
func InstanceName(name string, typeArgs ...string) string {
	var b strings.Builder
	b.WriteString(name)
	for _, a := range typeArgs {
		b.WriteString("--")
		for j := 0; j < len(a); j++ {
			c := a[j]
			if c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
				b.WriteByte(c)
				continue
			}
			b.WriteByte('-')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	return b.String()
}
