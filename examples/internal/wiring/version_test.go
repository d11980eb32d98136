package wiring

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

func TestSetVersion(t *testing.T) {
	saved := [...]string{version.Version, version.BuildDate}
	t.Cleanup(func() { version.Version, version.BuildDate = saved[0], saved[1] })
	for _, tc := range []struct {
		name          string
		preset        string // Version as -ldflags -X set it
		main          string
		settings      []debug.BuildSetting
		version, date string
	}{
		{"devel", "", "(devel)", nil, "devel", ""},
		{"none", "", "", nil, "devel", ""},
		{"module version", "", "v0.3.1", nil, "0.3.1", ""},
		{"pseudo-version", "", "v0.0.0-20261207115000-4ab20d4a1b2c+dirty",
			[]debug.BuildSetting{{Key: "vcs.revision", Value: "4ab20d4a1b2c"}, {Key: "vcs.time", Value: "2026-12-07T11:50:00Z"}},
			"0.0.0-20261207115000-4ab20d4a1b2c+dirty", "2026-12-07T11:50:00Z"},
		{"ldflags win", "1.2.3", "v0.3.1", []debug.BuildSetting{{Key: "vcs.time", Value: "2026-12-07T11:50:00Z"}}, "1.2.3", "2026-12-07T11:50:00Z"},
	} {
		version.Version, version.BuildDate = tc.preset, ""
		setVersion(&debug.BuildInfo{Main: debug.Module{Version: tc.main}, Settings: tc.settings})
		if version.Version != tc.version || version.BuildDate != tc.date {
			t.Errorf("%s: version %q, date %q; want %q, %q", tc.name, version.Version, version.BuildDate, tc.version, tc.date)
		}
	}
}
