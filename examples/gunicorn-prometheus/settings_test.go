package main

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gunicornotel/gunicornotel/internal/settingtest"
)

// TestSettings runs the table of the settings the programs share
// (internal/settingtest): each setting as a flag, its lines sent over UDP,
// and what the program logged and serves once they are recorded.
func TestSettings(t *testing.T) {
	settingtest.Run(t, runSettings)
}

// runSettings is the daemon's settingtest.Runner: it runs the program
// in-process with the settings as flags (Setting.Flag) (at --log.level=info
// unless the case sets it), sends each line as a datagram, waits for the
// bridge to have them all, scrapes /metrics, and stops the program.
func runSettings(t *testing.T, settings []settingtest.Setting, lines []string) *settingtest.Observed {
	var args []string
	level := false
	for _, s := range settings {
		args = append(args, s.Flag())
		level = level || s.Name == "log.level"
	}
	if !level {
		args = append(args, "--log.level=info")
	}
	r := startRun(t, loopback(args...)...)
	settingtest.SendUDP(t, r.addrs.UDP, lines)
	var fams families
	waitFor(t, 10*time.Second, "the lines recorded", func() error {
		fams = scrape(t, r.url("/metrics"))
		got := sum(fams.values(t, "gunicornotel_datagrams_total", dto.MetricType_COUNTER))
		if got != float64(len(lines)) {
			return errorf("gunicornotel_datagrams_total %v, want %d", got, len(lines))
		}
		return nil
	})
	if err := r.stop(t); err != nil {
		t.Errorf("run: %v", err)
	}
	o := &settingtest.Observed{Series: map[string]float64{}}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			var attrs []string
			for _, lp := range m.GetLabel() {
				attrs = append(attrs, lp.GetName()+"="+lp.GetValue())
			}
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				o.Series[settingtest.Key(name, attrs...)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				o.Series[settingtest.Key(name, attrs...)] = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				o.Series[settingtest.Key(name, attrs...)] = m.GetUntyped().GetValue()
			}
		}
	}
	if logs := strings.TrimSuffix(r.logs.String(), "\n"); logs != "" {
		o.Log = strings.Split(logs, "\n")
	}
	return o
}
