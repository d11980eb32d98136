package gunicornreceiver

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// collectorRequire matches a requirement of a Collector module in go.mod:
// its path and version.
var collectorRequire = regexp.MustCompile(`(?m)^\s+(go\.opentelemetry\.io/collector/\S+) (v\d+\.\d+\.\d+)\b`)

// TestBuilderConfig checks the ocb manifest without running ocb (a build
// takes minutes: README.md): the README shows it verbatim; it names a
// distribution with a version; it builds this module from this directory,
// with the library replaced by this checkout (the replace is relative to
// the output directory); and every Collector module in it is of the
// release this module's go.mod requires (v0.x and v1.x of one release),
// as is the builder the README runs.
func TestBuilderConfig(t *testing.T) {
	readme := readmeShows(t, "builder-config.yaml")

	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	release := map[string]string{} // "v0", "v1" -> the version go.mod requires
	for _, m := range collectorRequire.FindAllStringSubmatch(string(gomod), -1) {
		major := m[2][:2]
		if v, ok := release[major]; ok && v != m[2] {
			t.Errorf("go.mod requires %s %s and another Collector module at %s", m[1], m[2], v)
		}
		release[major] = m[2]
	}
	if release["v0"] == "" || release["v1"] == "" {
		t.Fatalf("go.mod: Collector releases %v, want a v0 and a v1 version", release)
	}
	for _, want := range []string{"cmd/builder@" + release["v0"], "Collector **" + release["v1"] + " / " + release["v0"] + "**"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}

	cm, err := confmaptest.LoadConf("builder-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"dist::name", "dist::version", "dist::output_path"} {
		if s, _ := cm.Get(key).(string); s == "" {
			t.Errorf("builder-config.yaml: no %s", strings.ReplaceAll(key, "::", "."))
		}
	}
	var ours bool
	for _, kind := range []string{"receivers", "exporters", "processors"} {
		list, _ := cm.Get(kind).([]any)
		if len(list) == 0 {
			t.Errorf("builder-config.yaml: no %s", kind)
		}
		for _, c := range list {
			entry, _ := c.(map[string]any)
			path, version, _ := strings.Cut(entry["gomod"].(string), " ")
			switch {
			case path == "github.com/gunicornotel/gunicornotel/examples/gunicornreceiver":
				ours = kind == "receivers" && entry["path"] == "."
			case strings.HasPrefix(path, "go.opentelemetry.io/collector/"):
				if want := release[version[:min(2, len(version))]]; version != want {
					t.Errorf("builder-config.yaml: %s %s, want %s as go.mod", path, version, want)
				}
			}
		}
	}
	if !ours {
		t.Error("builder-config.yaml: the gunicorn receiver is not among the receivers with path .")
	}

	// The library's replace, relative to the output directory, leads to
	// this checkout's root.
	out, _ := cm.Get("dist::output_path").(string)
	replaces, _ := cm.Get("replaces").([]any)
	var lib string
	for _, r := range replaces {
		if p, ok := strings.CutPrefix(r.(string), "github.com/gunicornotel/gunicornotel => "); ok {
			lib = p
		}
	}
	root, err := os.ReadFile(filepath.Join(out, lib, "go.mod"))
	if lib == "" || err != nil || !strings.HasPrefix(string(root), "module github.com/gunicornotel/gunicornotel\n") {
		t.Errorf("builder-config.yaml: the library's replace %q from %s is not this checkout's root (%v)", lib, out, err)
	}
}
