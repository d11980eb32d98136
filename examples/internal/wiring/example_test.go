package wiring_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
)

// A program registers the shared flags beside its own, parses, and checks.
func ExampleSettings() {
	var s wiring.Settings
	var listen string
	cl := wiring.NewCommandLine("my-forwarder", "Forwards StatsD.", io.Discard, io.Discard)
	cl.Flag("statsd.listen", "StatsD address.").Default("udp://:8125").StringVar(&listen)
	s.Register(cl.Application)
	if err := cl.Parse([]string{"--log.format=json", "--otel.max-series=500", "--gunicorn.pid-file=/run/gunicorn.pid", "--gunicorn.app=shop.web."}); err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Check(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(listen, s.Log.Format, s.Limits.MaxSeries, s.Watch.On(), s.Watch.PIDFile, s.Watch.App)
	// Output: udp://:8125 json 500 true /run/gunicorn.pid shop.web
}

// Check names each flag that is wrong.
func ExampleSettings_Check() {
	var s wiring.Settings
	cl := wiring.NewCommandLine("prog", "", io.Discard, io.Discard)
	s.Register(cl.Application)
	_ = cl.Parse([]string{"--otel.cardinality-limit=1", "--gunicorn.pid=-1"})
	fmt.Println(s.Check())
	// Output:
	// --otel.cardinality-limit 1: want at least 2
	// --gunicorn.pid -1: not a process id
}

// The logger every part of a program writes to.
func ExampleLog_Logger() {
	log := wiring.Log{Level: "warn", Format: "logfmt"}.Logger(os.Stdout)
	log.Info("not shown: below --log.level")
	fmt.Println(log.Enabled(context.Background(), slog.LevelInfo), log.Enabled(context.Background(), slog.LevelWarn))
	// Output: false true
}
