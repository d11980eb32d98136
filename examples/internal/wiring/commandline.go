package wiring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
)

// ErrExit is returned by CommandLine.Parse after --help or --version printed
// what was asked: the program ends with status 0 without doing anything
// else.
var ErrExit = errors.New("exit after --help or --version")

// UsageError is an error in the command line, found before the logger
// exists: Main prints it in kingpin's words and suggests --help.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// CommandLine is a kingpin application that parses as statsd_exporter
// does (--flag=value or --flag value, --[no-]booleans, -h for --help),
// prints --help and --version (Version's) on stdout and its errors on
// stderr, and returns instead of exiting.
type CommandLine struct {
	*kingpin.Application
	exited bool
}

// NewCommandLine returns the command line of program, described by help.
func NewCommandLine(program, help string, stdout, stderr io.Writer) *CommandLine {
	c := &CommandLine{Application: kingpin.New(program, help)}
	c.Terminate(func(int) { c.exited = true })
	c.UsageWriter(stdout)
	c.ErrorWriter(stderr)
	c.HelpFlag.Short('h')
	c.Version(Version(program))
	return c
}

// Parse parses args (without the program name). It returns ErrExit after
// --help or --version, and kingpin's errors as UsageErrors.
func (c *CommandLine) Parse(args []string) error {
	_, err := c.Application.Parse(args)
	switch {
	case c.exited:
		return ErrExit
	case err != nil:
		return UsageError{err}
	}
	return nil
}

// Main runs a program's run until SIGINT or SIGTERM ends its context (run
// then shuts down gracefully), and exits: with status 0 when run returns nil
// or ErrExit; 1 after a UsageError, which it prints as kingpin does
// ("program: error: ..., try --help"), and after any other error, which run
// has logged in the format of --log.format (LogError).
func Main(program string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, ErrExit):
	case errors.As(err, new(UsageError)):
		fmt.Fprintf(os.Stderr, "%s: error: %v, try --help\n", program, err)
		os.Exit(1)
	default:
		os.Exit(1)
	}
}
