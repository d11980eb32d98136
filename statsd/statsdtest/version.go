package statsdtest

import "fmt"

// Version is a Gunicorn release, made with [V]; a later release compares
// greater. The zero Version means the newest behaviour modelled (26.1).
type Version uint32

// V returns the Version major.minor.patch, such as V(20, 1, 0). Minor and
// patch are kept modulo 256.
func V(major, minor, patch int) Version {
	return Version(uint32(major)<<16 | uint32(minor&0xff)<<8 | uint32(patch&0xff))
}

// String returns the version as "major.minor.patch", such as "20.1.0".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v>>16, (v>>8)&0xff, v&0xff)
}

// The releases whose StatsD traffic differs from the one before.
const (
	// gunicorn19_1_1 sends request durations in milliseconds (19.1.0 sent
	// seconds and is not modelled). The oldest behaviour an Emitter has.
	gunicorn19_1_1 Version = 19<<16 | 1<<8 | 1
	// gunicorn20 appends --dogstatsd-tags as "|#<tags>" to every datagram.
	// (Gunicorn 21 accepts --statsd-host unix:PATH; its datagrams are
	// those of 20.)
	gunicorn20 Version = 20 << 16
	// gunicorn24_1 sends gunicorn.backlog (with --enable-backlog-metric),
	// writes mtype "histogram" as "|h" instead of "|ms", and accepts mtype
	// "timer" ("|ms").
	gunicorn24_1 Version = 24<<16 | 1<<8
	// gunicorn26_1 no longer drops a value of 0 logged with
	// extra={"metric", "value", "mtype"}: gunicorn.workers:0|g and
	// gunicorn.backlog:0|h are sent.
	gunicorn26_1 Version = 26<<16 | 1<<8
	// latest is the newest behaviour modelled, what the zero Version means.
	latest = gunicorn26_1
)
