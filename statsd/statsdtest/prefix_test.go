package statsdtest

import "testing"

// The expected values were printed by CPython 3:
// re.sub(r"^(.+[^.]+)\.*$", "\\g<1>.", p).
func TestNormalizePrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"app", "app."},
		{"app.", "app."},
		{"app...", "app."},
		{"a.b", "a.b."},
		{"a.b..", "a.b."},
		{"shop.web", "shop.web."},
		{"shop.web.", "shop.web."},
		{"ab", "ab."},
		{"a", "a"},
		{"a.", "a."},
		{"a..", "a.."},
		{".", "."},
		{"...", "..."},
		{".a", ".a."},
		{"..a", "..a."},
		{"a b", "a b."},
		{"é", "é"}, // one character, two bytes
		{"éa", "éa."},
		{"a\n", "a\n."},
		{"ab\n", "ab\n."},
		{"ab.\n", "ab.\n."},
		{"ab..\n", "ab..\n."},
		{"a\nb", "a\nb."},
		{"a\nb.", "a\nb."},
		{"a.\nb..", "a.\nb."},
		{"\n", "\n"},
		{"\n\n", "\n\n"},
		{"ab\n\n", "ab\n\n."},
		{"x\n.", "x\n."},
		{"ab\n.\n", "ab\n.\n"},
	}
	for _, tt := range tests {
		if got := normalizePrefix(tt.in); got != tt.want {
			t.Errorf("normalizePrefix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
