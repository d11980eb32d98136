package wiring

import (
	"fmt"
	"time"
)

// IntFlag is an integer flag's name (without its dashes) and value, for
// AtLeastOne.
type IntFlag struct {
	Name  string
	Value int
}

// DurationFlag is a duration flag's name (without its dashes) and value,
// for NotNegative.
type DurationFlag struct {
	Name  string
	Value time.Duration
}

// IntOf is the IntFlag of the flag name with value v.
func IntOf(name string, v int) IntFlag { return IntFlag{Name: name, Value: v} }

// DurationOf is the DurationFlag of the flag name with value d.
func DurationOf(name string, d time.Duration) DurationFlag { return DurationFlag{Name: name, Value: d} }

// AtLeastOne returns an error for each flag under 1, naming it and its
// value.
func AtLeastOne(flags ...IntFlag) []error {
	var errs []error
	for _, f := range flags {
		if f.Value < 1 {
			errs = append(errs, fmt.Errorf("--%s %d: want at least 1", f.Name, f.Value))
		}
	}
	return errs
}

// NotNegative returns an error for each flag under 0, naming it and its
// value.
func NotNegative(flags ...DurationFlag) []error {
	var errs []error
	for _, f := range flags {
		if f.Value < 0 {
			errs = append(errs, fmt.Errorf("--%s %v: must not be negative", f.Name, f.Value))
		}
	}
	return errs
}
