// Package wiring is what the two StatsD programs of the examples,
// gunicorn-prometheus (the Prometheus daemon, a drop-in for
// statsd_exporter) and gunicorn-otlp (the OTLP forwarder), share about
// turning their command line into the library's parts and running them: the
// flags of the settings both take, with the same names, defaults, checks and
// help (the log, the mapping file, the bridge's and the StatsD server's
// limits, the Gunicorn watcher), the logger every part writes to, the
// mapping file's loading and reloading, the order in which the StatsD
// intake (server, bridge, watcher) starts and stops, and --version.
//
// A program's main is Main (SIGINT and SIGTERM end its run's context; the
// exit status and the last error are printed or logged alike). Its run makes
// a CommandLine, registers the shared flags beside its own (Settings.Register,
// or each group's Register to place them among its own), parses, calls
// Settings.Check, makes the logger (Log.Logger; SetGlobal in main, LogError
// for the error it ends on), then builds its parts with the options the
// settings give (Limits.BridgeOptions, Limits.Server, Watch.Options,
// Watch.NewWatcher, Mapping.Load) and runs them with an Intake: Start, a
// Mapping.Reload on each Intake.HUP, Shutdown before its final collection or
// export, Close.
package wiring
