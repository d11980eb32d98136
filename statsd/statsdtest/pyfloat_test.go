package statsdtest

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// The expected strings were printed by CPython 3 (str(float)).
func TestFormatPythonFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0.55, "0.55"},
		{1.612, "1.612"},
		{1200.623, "1200.623"},
		{7000.0, "7000.0"},
		{0.423, "0.423"},
		{1016.0360000000001, "1016.0360000000001"},
		{86399500.0, "86399500.0"},
		{1e-05, "1e-05"},
		{0.0001, "0.0001"},
		{0.00012345, "0.00012345"},
		{9.999e-05, "9.999e-05"},
		{2.5e-05, "2.5e-05"},
		{1.5e-07, "1.5e-07"},
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{123456789012345.6, "123456789012345.6"},
		{1234567890123456.8, "1234567890123456.8"},
		{9999999999999998.0, "9999999999999998.0"},
		{1.2345678901234567e+19, "1.2345678901234567e+19"},
		{1e22, "1e+22"},
		{1e100, "1e+100"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{-1.5, "-1.5"},
		{0.1, "0.1"},
		{0.3, "0.3"},
		{1.0 / 3, "0.3333333333333333"},
		{100, "100.0"},
		{123.456, "123.456"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := formatPythonFloat(tt.f); got != tt.want {
			t.Errorf("formatPythonFloat(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

// Whatever the layout, the text must read back as the same float.
func TestFormatPythonFloatRoundTrips(t *testing.T) {
	for _, f := range []float64{1e-300, 3.14159, 2e-5, 123e13, 99999.99999, 4.35e15, 7.1e16} {
		s := formatPythonFloat(f)
		g, err := strconv.ParseFloat(s, 64)
		if err != nil || g != f {
			t.Errorf("formatPythonFloat(%v) = %q, reads back as %v, %v", f, s, g, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		d    time.Duration
		want string
	}{
		{550 * us, "0.55"},
		{1612 * us, "1.612"},
		{1200623 * us, "1200.623"},
		{7 * time.Second, "7000.0"},
		{423 * us, "0.423"},
		{time.Second + 16036*us, "1016.0360000000001"},
		{-500 * time.Millisecond, "86399500.0"}, // clock stepped back
		{-us, "86399999.999"},
		{24*time.Hour + 1500*us, "1.5"}, // longer than a day wraps
		{3*24*time.Hour + 250*us, "0.25"},
		{24*time.Hour - us, "86399999.999"},
		{0, "0.0"},
		{us, "0.001"},
		{10 * us, "0.01"},
		{999 * us, "0.999"},
		{550*us + 999*time.Nanosecond, "0.55"}, // below a microsecond is cut
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestAppendPythonFloatNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		buf = appendPythonFloat(buf[:0], 1016.0360000000001)
		buf = appendDuration(buf[:0], 1200623*time.Microsecond)
	})
	if n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}

// formatDuration returns the value Gunicorn writes for a request of duration
// d; see appendDuration.
func formatDuration(d time.Duration) string {
	return string(appendDuration(nil, d))
}
