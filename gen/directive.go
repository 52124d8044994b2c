package gen

import (
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// directivePrefix starts every directive, like //go:generate: no space
// after the slashes.
const directivePrefix = "//gcache:"

// A directive is one //gcache: comment line.
type directive struct {
	name string
	pos  token.Position // of the "//"
	opts []option
}

// An option is one word after the directive's name: key=value, or a bare
// word (a flag such as track, or a parameter of ignore).
type option struct {
	key, value string
	hasValue   bool
	pos        token.Position // of the option's first byte
	valuePos   token.Position // of the value's first byte
}

// opt returns the option key of d, if it has one.
func (d *directive) opt(key string) (option, bool) {
	for _, o := range d.opts {
		if o.key == key {
			return o, true
		}
	}
	return option{}, false
}

// directiveNames are the names of the directives.
var directiveNames = []string{"wrap", "cache", "ttl", "ramp", "refresh", "negative", "lease", "arg", "ignore", "invalidate"}

// spacedDirective reports whether a comment is a directive written with
// blanks after the slashes, "// gcache:cache", and returns its name.
func spacedDirective(text string) (string, bool) {
	rest, ok := strings.CutPrefix(text, "//")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "gcache:")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, " ")
	return name, slices.Contains(directiveNames, name)
}

// isDirective reports whether a comment's text is a gcache directive.
func isDirective(text string) bool { return strings.HasPrefix(text, directivePrefix) }

// parseDirective splits a directive comment into its name and options.
// pos is the position of the comment. It checks the form only; what the
// options mean is checked by the loader.
func parseDirective(text string, pos token.Position) (*directive, error) {
	if !isDirective(text) {
		return nil, errorAt(pos, "not a gcache directive: %q", text)
	}
	rest := text[len(directivePrefix):]
	offset := len(directivePrefix)
	end := strings.IndexAny(rest, " \t")
	if end < 0 {
		end = len(rest)
	}
	name := rest[:end]
	rest = rest[end:]
	d := &directive{name: name, pos: pos}
	if name == "" {
		return nil, errorAt(pos, "directive has no name: want //gcache:NAME")
	}
	if !isWord(name) {
		return nil, errorAt(pos, "malformed directive name %q", name)
	}
	offset += len(name)
	for rest != "" {
		// Skip the blanks before the next word.
		n := len(rest) - len(strings.TrimLeft(rest, " \t"))
		rest, offset = rest[n:], offset+n
		if rest == "" {
			break
		}
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		word := rest[:end]
		o := option{pos: shift(pos, offset)}
		if k, v, ok := strings.Cut(word, "="); ok {
			o.key, o.value, o.hasValue = k, v, true
			o.valuePos = shift(pos, offset+len(k)+1)
			if k == "" {
				return nil, errorAt(o.pos, "option %q has no name", word)
			}
		} else {
			o.key = word
		}
		d.opts = append(d.opts, o)
		rest, offset = rest[end:], offset+end
	}
	return d, nil
}

// isWord reports whether s is made of letters, digits and underscores.
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

// shift returns pos moved right by n bytes on its line.
func shift(pos token.Position, n int) token.Position {
	pos.Column += n
	if pos.Offset >= 0 {
		pos.Offset += n
	}
	return pos
}

// An Error is a mistake in the annotated source, at a position; its
// message starts with "gcache: ".
type Error = scanner.Error

// Errors is every mistake found in one run, in source order.
type Errors = scanner.ErrorList

// relative returns pos with its file named as the compiler names it:
// relative to the working directory when it is below it.
func relative(pos token.Position) token.Position {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(pos.Filename) {
		return pos
	}
	if rel, err := filepath.Rel(wd, pos.Filename); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		pos.Filename = rel
	}
	return pos
}

func errorAt(pos token.Position, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: "gcache: " + fmt.Sprintf(format, args...)}
}
