package statsd_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/statsd"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// TestCaptures parses every datagram of the real Gunicorn captures.
func TestCaptures(t *testing.T) {
	wantSamples := map[string]int{"gunicorn-20.1-plain.statsd": 10, "gunicorn-20.1-prefix-tags.statsd": 21}
	for _, f := range fixture.Captures(t) {
		dgrams, err := statsdtest.ReadCapture(f)
		if err != nil {
			t.Fatal(err)
		}
		var p statsd.Parser
		var b statsd.Batch
		for _, d := range dgrams {
			p.Parse(&b, d)
		}
		name := filepath.Base(f)
		if len(b.Errors) != 0 || len(b.Samples) != wantSamples[name] || b.Datagrams != wantSamples[name] {
			t.Errorf("%s: %d samples, %d datagrams, errors %v; want %d, %d, none", name, len(b.Samples), b.Datagrams, b.Errors, wantSamples[name], wantSamples[name])
		}
		for _, smp := range b.Samples {
			if strings.HasPrefix(name, "gunicorn-20.1-prefix-tags") && (string(smp.Tags) != "env:prod,team:web" || !bytes.HasPrefix(smp.Name, []byte("shop.web.gunicorn."))) {
				t.Errorf("%s: sample %s has tags %q", name, smp.Name, smp.Tags)
			}
		}
	}
}
