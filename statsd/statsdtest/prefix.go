package statsdtest

// normalizePrefix returns the prefix Gunicorn puts before every metric name
// for a --statsd-prefix value p as the user typed it. Gunicorn (every
// version since 19.1) computes re.sub(r"^(.+[^.]+)\.*$", r"\g<1>.", p), and
// so does normalizePrefix, quirks included:
//
//	""        ""          no prefix
//	"app"     "app."
//	"app."    "app."
//	"app..."  "app."
//	"a.b"     "a.b."
//	"a"       "a"         one character: no dot added ("agunicorn.requests")
//	"a."      "a."        unchanged: the part before the dots is one character
//	"a.."     "a.."       unchanged, for the same reason
//	"..."     "..."       unchanged
//
// The pattern works on characters (not bytes), '.' in it matches anything
// but a newline, and '$' also matches before a final newline; these corners
// are reproduced too, although Gunicorn cannot send a prefix that is not
// ASCII (see the package documentation).
func normalizePrefix(p string) string {
	if p == "" {
		return ""
	}
	r := []rune(p)
	n := len(r)
	// dots[i] is the number of consecutive '.' starting at i.
	dots := make([]int, n+1)
	for i := n - 1; i >= 0; i-- {
		if r[i] == '.' {
			dots[i] = dots[i+1] + 1
		}
	}
	// Backtrack as Python's engine does: (.+) longest first, then ([^.]+)
	// longest first, then (\.*) longest first, then '$'.
	maxA := 0
	for maxA < n && r[maxA] != '\n' {
		maxA++
	}
	for a := min(maxA, n-1); a >= 1; a-- {
		maxB := 0
		for a+maxB < n && r[a+maxB] != '.' {
			maxB++
		}
		for b := maxB; b >= 1; b-- {
			g := a + b
			// '$' matches at the end, or before a newline that ends p.
			var end int
			switch {
			case dots[g] >= n-g:
				end = n
			case n-1 >= g && r[n-1] == '\n' && dots[g] >= n-1-g:
				end = n - 1
			default:
				continue
			}
			return string(r[:g]) + "." + string(r[end:])
		}
	}
	return p
}
