//go:build !race

package otelbridge

const raceEnabled = false
