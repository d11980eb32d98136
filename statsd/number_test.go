package statsd

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// checkNumber asserts that parseNumber gives exactly what strconv gives,
// sign of zero included.
func checkNumber(t *testing.T, v string) {
	t.Helper()
	f, ok := parseNumber([]byte(v))
	g, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil || math.Float64bits(f) != math.Float64bits(g) {
		t.Fatalf("parseNumber(%q) = %v (%#x), %v; strconv gives %v (%#x), %v", v, f, math.Float64bits(f), ok, g, math.Float64bits(g), err)
	}
}

func TestParseNumberExact(t *testing.T) {
	for _, v := range []string{"0.55", "1.612", "1200.623", "7000.0", "0.423", "0.1", "0.3",
		"999999999999999", "0.000000000000001", "123456.789012345", "-0.0", "00001.5",
		// Gunicorn's float noise: 17 significant digits, past Clinger's fast path.
		"1016.0360000000001", "0.4930000000000001", "12.730000000000002", "-1016.0360000000001",
		// The edges of the exact division: 2^53+1, 19 digits, all fraction.
		"9007199254740993", "9999999999999999999", "0.9999999999999999999", "1.000000000000000001",
		"18446744073709551.61", "0.0010000000000000001", "0.0009765625000000001",
		".0009007199254740993", ".0009999999999999999", "-.0009007199254740995"} {
		checkNumber(t, v)
	}
}

// TestParseNumberLong compares the exact division with strconv on random
// mantissas of 16 to 19 digits, with the decimal point at every place.
func TestParseNumberLong(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		digits := 16 + r.IntN(4)
		mant := r.Uint64N(pow10u[digits]-pow10u[digits-1]) + pow10u[digits-1]
		s := strconv.FormatUint(mant, 10)
		point := r.IntN(digits + 1)
		v := s[:point] + "." + s[point:]
		if point == 0 && r.IntN(2) == 0 {
			v = "0" + v
		}
		checkNumber(t, v)
	}
}

// TestParseNumberTies builds decimals that lie exactly halfway between two
// float64s, and just either side of halfway, where rounding is decided by the
// last bit: ties must go to the even mantissa.
func TestParseNumberTies(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 0
	for n < 20000 {
		// A float64 in [1, 2^60), and the point halfway to the next one.
		f := math.Ldexp(1+r.Float64(), r.IntN(60))
		next := math.Nextafter(f, math.Inf(1))
		half := new(big.Float).SetPrec(200).Add(new(big.Float).SetFloat64(f), new(big.Float).SetFloat64(next))
		half.Quo(half, big.NewFloat(2))
		s := half.Text('f', 30)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		if len(strings.Replace(s, ".", "", 1)) > 19 {
			continue // not writable in 19 digits: not a case for divExact
		}
		n++
		checkNumber(t, s)
		// One unit of the last digit either side of the tie.
		for _, d := range []int64{-1, 1} {
			m, _ := new(big.Int).SetString(strings.Replace(s, ".", "", 1), 10)
			m.Add(m, big.NewInt(d))
			v := m.String()
			if i := strings.IndexByte(s, '.'); i >= 0 {
				fr := len(s) - i - 1
				for len(v) <= fr {
					v = "0" + v
				}
				v = v[:len(v)-fr] + "." + v[len(v)-fr:]
			}
			checkNumber(t, v)
		}
	}
}

// FuzzParseNumber compares parseNumber with strconv.ParseFloat on whatever
// the fuzzer makes of the seed corpus in testdata/fuzz/FuzzParseNumber
// (Gunicorn's values, float noise, and the edges of the exact paths): where
// parseNumber accepts a number, strconv gives the same bits.
func FuzzParseNumber(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseNumber([]byte(v))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(v, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseNumber(%q) = %v; strconv gives %v, %v", v, got, want, err)
		}
	})
}
