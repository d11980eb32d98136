// Package otelbridge records StatsD samples in OpenTelemetry instruments.
package otelbridge
