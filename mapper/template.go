package mapper

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A template is a rule's name or label value with its references to
// captures resolved: literal text and capture indexes, in order.
type template []tmplPart

// tmplPart is literal text (groups == nil) or a reference to a capture. A
// regex's named reference lists every group with that name: the first that
// took part in the match is used, as regexp.Expand does.
type tmplPart struct {
	lit    string
	groups []int
}

func (t *template) literal(s string) {
	if s == "" {
		return
	}
	if n := len(*t); n > 0 && (*t)[n-1].groups == nil {
		(*t)[n-1].lit += s
		return
	}
	*t = append(*t, tmplPart{lit: s})
}

func (t *template) ref(groups ...int) { *t = append(*t, tmplPart{groups: groups}) }

// parseGlobTemplate parses a glob rule's name or label value the way
// statsd_exporter's glob formatter reads it: a "$", an optional "{", then
// the longest run of letters, digits, '_' and '$', then an optional "}". The
// run is a capture number: 0 is the whole name, 1..ncap the wildcards left
// to right. Any other run ("$1_foo", "${name}", "$$", "$9" on two
// wildcards) refers to nothing and expands to "": those references are
// returned in missing. A "$" with no run after it is literal text.
func parseGlobTemplate(s string, ncap int) (t template, missing []string) {
	for len(s) > 0 {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			t.literal(s)
			break
		}
		t.literal(s[:i])
		j := i + 1
		if j < len(s) && s[j] == '{' {
			j++
		}
		k := j
		for k < len(s) && (isNameByte(s[k]) || s[k] == '$') {
			k++
		}
		if k == j { // no run: the "$" is literal text
			t.literal("$")
			s = s[i+1:]
			continue
		}
		end := k
		if end < len(s) && s[end] == '}' {
			end++
		}
		if g, err := strconv.Atoi(s[j:k]); err == nil && g <= ncap {
			t.ref(g)
		} else {
			missing = append(missing, s[i:end])
		}
		s = s[end:]
	}
	return t, missing
}

// parseRegexTemplate parses a regex rule's name or label value as
// regexp.Expand reads a template, which is what statsd_exporter calls: "$$"
// is a "$"; "$name" and "${name}" refer to a capture, where name is the
// longest run of letters, digits and '_' ("$1_total" is the capture named
// "1_total": write "${1}_total"); a number is a group (no leading zeros),
// other names are named groups; a "$" not followed by a name, or a "${"
// without its "}", is literal text. References to groups the regex does not
// have expand to "" and are returned in missing.
func parseRegexTemplate(s string, re *regexp.Regexp) (t template, missing []string) {
	names := re.SubexpNames()
	for len(s) > 0 {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			t.literal(s)
			break
		}
		t.literal(s[:i])
		s = s[i:]
		if len(s) > 1 && s[1] == '$' {
			t.literal("$")
			s = s[2:]
			continue
		}
		name, num, rest, ok := extractRef(s[1:])
		if !ok {
			t.literal("$")
			s = s[1:]
			continue
		}
		ref := s[:len(s)-len(rest)]
		s = rest
		if num >= 0 {
			if num < len(names) {
				t.ref(num)
			} else {
				missing = append(missing, ref)
			}
			continue
		}
		var groups []int
		for g, n := range names {
			if g > 0 && n == name {
				groups = append(groups, g)
			}
		}
		if groups == nil {
			missing = append(missing, ref)
			continue
		}
		t.ref(groups...)
	}
	return t, missing
}

// extractRef reads a reference after its "$" as regexp.Expand does. num is
// the group number, or -1 for a name.
func extractRef(s string) (name string, num int, rest string, ok bool) {
	brace := false
	if s != "" && s[0] == '{' {
		brace = true
		s = s[1:]
	}
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
			break
		}
		i += size
	}
	if i == 0 {
		return "", 0, "", false
	}
	name = s[:i]
	if brace {
		if i >= len(s) || s[i] != '}' {
			return "", 0, "", false
		}
		i++
	}
	num = 0
	for j := 0; j < len(name); j++ {
		if name[j] < '0' || name[j] > '9' || num >= 1e8 {
			num = -1
			break
		}
		num = num*10 + int(name[j]-'0')
	}
	if name[0] == '0' && len(name) > 1 {
		num = -1
	}
	return name, num, s[i:], true
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// constant reports whether the template refers to no capture, and its text.
func (t template) constant() (string, bool) {
	switch {
	case len(t) == 0:
		return "", true
	case len(t) == 1 && t[0].groups == nil:
		return t[0].lit, true
	}
	return "", false
}

// expand writes the template for a name and its captures: loc holds, for
// each group g, the start and end of its text in name at loc[2g] and
// loc[2g+1], or -1 when the group took no part in the match.
func (t template) expand(name []byte, loc []int) string {
	if s, ok := t.constant(); ok {
		return s
	}
	var b strings.Builder
	for _, p := range t {
		if p.groups == nil {
			b.WriteString(p.lit)
			continue
		}
		for _, g := range p.groups {
			if 2*g+1 < len(loc) && loc[2*g] >= 0 {
				b.Write(name[loc[2*g]:loc[2*g+1]])
				break
			}
		}
	}
	return b.String()
}
