package mapper

import (
	"strconv"
	"strings"
)

// A template is a rule's name or label value with its $n references
// resolved: literal text and capture indexes, in order.
type template []tmplPart

type tmplPart struct {
	lit   string
	group int // -1 for literal text
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// tmplError is a reference to a capture the match does not have.
type tmplError struct{ ref string }

// parseTemplate parses s the way Go's regexp.Expand reads a template, which
// is also how statsd_exporter reads glob templates: "$$" is a "$"; "$name" and
// "${name}" refer to a capture, where name is the longest run of letters,
// digits and underscores ("$1_total" refers to a capture named "1_total",
// write "${1}_total"); a "$" not followed by a name is literal text.
//
// resolve turns a name into a capture index, or reports that there is none:
// where statsd_exporter would silently substitute "", that is a load error.
func parseTemplate(s string, resolve func(name string) (int, bool)) (template, *tmplError) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, tmplPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for len(s) > 0 {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:i])
		s = s[i:]
		if len(s) > 1 && s[1] == '$' {
			lit.WriteByte('$')
			s = s[2:]
			continue
		}
		var name, ref string
		if len(s) > 1 && s[1] == '{' {
			end := strings.IndexByte(s, '}')
			if end > 2 && validName(s[2:end]) {
				name, ref, s = s[2:end], s[:end+1], s[end+1:]
			}
		} else {
			n := 1
			for n < len(s) && isNameByte(s[n]) {
				n++
			}
			if n > 1 {
				name, ref, s = s[1:n], s[:n], s[n:]
			}
		}
		if name == "" { // malformed: the "$" is literal text
			lit.WriteByte('$')
			s = s[1:]
			continue
		}
		g, ok := resolve(name)
		if !ok {
			return nil, &tmplError{ref: ref}
		}
		flush()
		t = append(t, tmplPart{group: g})
	}
	flush()
	return t, nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// numericResolver resolves "1".."n" (and "0" when zero is true).
func numericResolver(n int, zero bool) func(string) (int, bool) {
	return func(name string) (int, bool) {
		g, err := strconv.Atoi(name)
		if err != nil || g > n || g < 0 || (g == 0 && !zero) || name[0] == '+' {
			return 0, false
		}
		return g, true
	}
}

// constant reports whether the template refers to no capture, and its text.
func (t template) constant() (string, bool) {
	switch {
	case len(t) == 0:
		return "", true
	case len(t) == 1 && t[0].group < 0:
		return t[0].lit, true
	}
	return "", false
}

// expand writes the template with the captures substituted.
func (t template) expand(caps []string) string {
	if s, ok := t.constant(); ok {
		return s
	}
	var b strings.Builder
	for _, p := range t {
		if p.group < 0 {
			b.WriteString(p.lit)
		} else if p.group < len(caps) {
			b.WriteString(caps[p.group])
		}
	}
	return b.String()
}
