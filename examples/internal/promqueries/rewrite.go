package promqueries

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Substitute replaces the template variables of expr ("$job", "${job}")
// named in vars by their values, longer names first so that "$__rate_interval"
// is not read as "$__rate" and a suffix. Other "$" references (label_replace's
// "${1}") are left as they are.
func Substitute(expr string, vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, n := range names {
		pairs = append(pairs, "${"+n+"}", vars[n])
	}
	for _, n := range names {
		pairs = append(pairs, "$"+n, vars[n])
	}
	return strings.NewReplacer(pairs...).Replace(expr)
}

// rangeFunc matches a function of a range vector over a plain selector:
// rate(x{a="b"}[5m]) and the like, with the selector in its second group.
var rangeFunc = regexp.MustCompile(`\b(?:rate|irate|increase|delta|idelta|deriv|(?:avg|min|max|sum|count|last)_over_time)\(\s*([^()\[\]]+?)\s*\[[^\]:]+\]\s*\)`)

// Instant returns expr with every function of a range vector replaced by its
// selector, as an instant vector: rate(x[5m]) becomes x, so that
// sum(rate(a[5m])) / sum(rate(b[5m])) becomes sum(a) / sum(b), the same
// ratio over the totals, which depends on the values scraped only and not on
// when they were scraped. It fails when a range selector is left (one over a
// subquery, or in another function).
func Instant(expr string) (string, error) {
	out := rangeFunc.ReplaceAllString(expr, "$1")
	if i := strings.Index(out, "["); i >= 0 && !insideString(out, i) {
		return "", fmt.Errorf("%q: a range selector is left at byte %d of %q", expr, i, out)
	}
	return out, nil
}

// insideString says whether byte i of s is inside a double-quoted string.
func insideString(s string, i int) bool {
	in := false
	for j := 0; j < i; j++ {
		switch {
		case s[j] == '\\' && in:
			j++
		case s[j] == '"':
			in = !in
		}
	}
	return in
}

// Bool returns expr with every comparison operator (==, !=, >, <, >=, <=)
// outside strings, label matchers and ranges given the bool modifier: a > 1
// becomes a > bool 1, which keeps every series of a (as 0 or 1) instead of
// only those over 1. Evaluated, an alert's expression so rewritten returns
// data whenever its left side does, firing or not.
func Bool(expr string) string {
	var b strings.Builder
	depth := 0 // inside {...} or [...]
	inString := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case inString:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(expr) {
				i++
				b.WriteByte(expr[i])
			} else if c == '"' {
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
		if depth > 0 || !strings.ContainsRune("=!<>", rune(c)) {
			b.WriteByte(c)
			continue
		}
		op := string(c)
		if i+1 < len(expr) && expr[i+1] == '=' {
			op += "="
		}
		if op == "=" || op == "!" { // not a comparison (=~ and !~ are in matchers)
			b.WriteByte(c)
			continue
		}
		i += len(op) - 1
		b.WriteString(op)
		if !strings.HasPrefix(strings.TrimLeft(expr[i+1:], " \t\n"), "bool") {
			b.WriteString(" bool")
		}
	}
	return b.String()
}
