package wiring

import (
	"runtime/debug"
	"strings"
	"sync"

	"github.com/prometheus/common/version"
)

// Version returns what --version prints for program, in the format of
// prometheus/common/version (statsd_exporter's, which scripts read):
//
//	gunicorn-prometheus, version 0.3.1 (branch: , revision: 4f2a...)
//	  build user:
//	  build date:       2026-12-07T11:49:00Z
//	  go version:       go1.26.8
//	  platform:         linux/amd64
//	  tags:             unknown
//
// The version, revision and date come from the build information the go
// command records in the binary (runtime/debug.ReadBuildInfo), where the
// release process did not set them with -ldflags -X: the main module's
// version without its "v" (a module version from go install module@v0.3.1,
// else a pseudo-version made from the VCS, with "+dirty" for a modified
// tree), "devel" for a build that has none ("(devel)": go build
// -buildvcs=false, or outside a repository); vcs.revision, with
// "-modified" when vcs.modified is true; vcs.time. The branch is not
// recorded by the go command: it stays empty, as in statsd_exporter built
// with go install.
func Version(program string) string {
	setVersionOnce.Do(func() {
		if bi, ok := debug.ReadBuildInfo(); ok {
			setVersion(bi)
		}
	})
	return version.Print(program)
}

var setVersionOnce sync.Once

// setVersion fills prometheus/common/version's variables the linker left
// empty from bi.
func setVersion(bi *debug.BuildInfo) {
	if version.Version == "" {
		version.Version = moduleVersion(bi.Main.Version)
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.time":
			if version.BuildDate == "" {
				version.BuildDate = s.Value
			}
		}
	}
	// version.Print's revision is vcs.revision (and -modified) already,
	// read by the version package itself, unless -ldflags set Revision.
}

// moduleVersion is the version --version prints for the main module's
// version v.
func moduleVersion(v string) string {
	switch v {
	case "", "(devel)":
		return "devel"
	}
	return strings.TrimPrefix(v, "v")
}
