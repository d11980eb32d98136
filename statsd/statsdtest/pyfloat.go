package statsdtest

import (
	"math"
	"strconv"
	"time"
)

// appendPythonFloat appends f as Python 3's str(f) (equal to repr(f)) prints
// it: the shortest digits that read back as f; positional notation with at
// least one digit after the point ("7000.0", "0.423", "1016.0360000000001")
// when the decimal exponent is in [-4, 16); otherwise exponent notation with
// a sign and at least two exponent digits and no ".0" ("1e-05", "1.5e+16");
// "inf", "-inf" and "nan" for the non-finite values, and "-0.0" for
// negative zero.
func appendPythonFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	// Shortest round-trip digits in Go's exponent form: [-]d[.ddd]e±XX.
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	if s[0] == '-' {
		dst = append(dst, '-')
		s = s[1:]
	}
	e := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == 'e' {
			e, _ = strconv.Atoi(string(s[i+1:]))
			s = s[:i]
			break
		}
	}
	// Collect the significant digits without the point.
	var digits [24]byte
	nd := 0
	for _, c := range s {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	d := digits[:nd]

	if e < -4 || e >= 16 {
		dst = append(dst, d[0])
		if len(d) > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		if e < 0 {
			dst = append(dst, '-')
			e = -e
		} else {
			dst = append(dst, '+')
		}
		if e < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(e), 10)
	}
	if e < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > e; i-- {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	// e in [0, 16): e+1 digits before the point.
	if len(d) <= e+1 {
		dst = append(dst, d...)
		for i := len(d); i < e+1; i++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, d[:e+1]...)
	dst = append(dst, '.')
	return append(dst, d[e+1:]...)
}

// formatPythonFloat returns f as Python 3's str(f) prints it; see
// appendPythonFloat.
func formatPythonFloat(f float64) string {
	return string(appendPythonFloat(nil, f))
}

const (
	usPerSecond = int64(time.Second / time.Microsecond)
	usPerDay    = 86400 * usPerSecond
)

// durationMillis returns the request time in milliseconds exactly as
// Gunicorn computes it from the datetime.timedelta of a request:
// timedelta.seconds*1000 + float(timedelta.microseconds)/10**3.
//
// d is first cut to whole microseconds (towards zero), the resolution of
// Python's datetime. Then, as in a timedelta, it is split into days, seconds
// in [0, 86400) and microseconds in [0, 1000000), and the days are dropped:
// a request longer than a day wraps, and a negative duration (the wall clock
// stepped back during the request) counts from the day before, so -0.5s
// gives 86399500.
func durationMillis(d time.Duration) float64 {
	us := d.Microseconds()
	rem := us % usPerDay
	if rem < 0 {
		rem += usPerDay
	}
	seconds, micros := rem/usPerSecond, rem%usPerSecond
	// Python: int * 1000 + float(int) / 1000, the int converted exactly.
	return float64(seconds*1000) + float64(micros)/1000
}

// appendDuration appends the value Gunicorn writes for a request of duration
// d in "gunicorn.request.duration:<value>|ms": durationMillis printed with
// Python's str(float), such as "0.55", "7000.0" or "1016.0360000000001".
func appendDuration(dst []byte, d time.Duration) []byte {
	return appendPythonFloat(dst, durationMillis(d))
}
