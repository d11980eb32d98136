package statsd

import (
	"math"
	"math/bits"
	"strconv"
	"unsafe"
)

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// pow10u holds the powers of ten that fit in a uint64.
var pow10u = [...]uint64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// parseNumber parses a finite decimal number: an optional sign, digits, an
// optional fraction and exponent. It refuses what strconv.ParseFloat would
// otherwise take but StatsD does not mean: NaN, Inf, hex floats, underscores,
// and values that overflow to ±Inf.
func parseNumber(b []byte) (float64, bool) {
	if f, n, ok := parseDecimal(b); ok && n == len(b) {
		return f, true
	}
	return parseSlow(b)
}

// parseDecimal parses the number at the start of b, an optional sign, digits
// and an optional fraction, and returns where it stopped. ok is false when
// there are no digits, more than 19 of them, or a value the exact paths below
// do not cover: the caller then hands the token to parseSlow.
//
// Every result is the correctly rounded float64, the one strconv.ParseFloat
// gives. A mantissa of at most 2^53 and a power of ten of at most 10^22 are
// both exact in a float64, so one division rounds once (Clinger's fast path):
// this covers all Gunicorn sends but float noise such as 1016.0360000000001,
// whose 17 digits go to divExact.
func parseDecimal(b []byte) (f float64, n int, ok bool) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		i, neg = 1, b[0] == '-'
	}
	start := i
	var mant uint64
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
	}
	digits, frac := i-start, 0
	if i < len(b) && b[i] == '.' {
		i++
		fracStart := i
		for ; i < len(b); i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
		}
		frac = i - fracStart
		digits += frac
	}
	if digits == 0 || digits > 19 { // 19 digits always fit in a uint64
		return 0, i, false
	}
	if mant <= 1<<53 {
		f = float64(mant)
		if frac > 0 { // a division takes long: skip it for integers
			f /= pow10[frac]
		}
	} else if f, ok = divExact(mant, frac); !ok {
		return 0, i, false
	}
	if neg {
		f = -f
	}
	return f, i, true
}

// divExact returns mant / 10^frac correctly rounded to a float64 (to nearest,
// ties to even), for frac <= 19. It divides in integers: q1 is the integer
// part, q2 the next 64 bits of the fraction, and r2 what is left, which only
// decides ties. That is exact as long as q1:q2 holds at least 54 significant
// bits, 53 for the mantissa and one to round: below those only whether any
// bit is set counts, and r2 says so. ok is false for values below 2^-11,
// which hold fewer; no mantissa above 2^53 with at most 19 fraction digits
// is that small, so the check guards the reasoning rather than a case.
func divExact(mant uint64, frac int) (float64, bool) {
	d := pow10u[frac]
	q1, r1 := mant/d, mant%d
	q2, r2 := bits.Div64(r1, 0, d) // r1 < d, so the quotient fits
	var m uint64                   // the top 64 bits of q1:q2, bit 63 set
	var exp int                    // q1:q2 / 2^64 = m * 2^exp
	var low uint64                 // the bits of q1:q2 below m
	if q1 != 0 {
		lz := bits.LeadingZeros64(q1)
		m, low, exp = q1<<lz|q2>>(64-lz), q2<<lz, -lz
	} else {
		lz := bits.LeadingZeros64(q2)
		if lz > 10 {
			return 0, false
		}
		// The lz bits shifted in are unknown, but they lie below the
		// rounding bit (bit 10), where only their being non-zero
		// counts, and r2 tells that.
		m, exp = q2<<lz, -64-lz
	}
	mant53 := m >> 11
	if m&(1<<10) != 0 && (m&(1<<10-1) != 0 || low != 0 || r2 != 0 || mant53&1 == 1) {
		mant53++
		if mant53 == 1<<53 {
			mant53, exp = 1<<52, exp+1
		}
	}
	// mant53 * 2^(exp+11) with mant53 in [2^52, 2^53): the biased exponent
	// is 1023 + 52 + exp + 11; the values here are far from the ends of
	// float64's range.
	return math.Float64frombits(uint64(1023+63+exp)<<52 | mant53&(1<<52-1)), true
}

func parseSlow(b []byte) (float64, bool) {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil { // syntax error, or overflow to ±Inf
		return 0, false
	}
	return f, true
}
