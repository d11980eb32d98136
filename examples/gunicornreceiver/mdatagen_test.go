package gunicornreceiver

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mdatagenVersion is the mdatagen that made the generated files
// (internal/metadata, internal/metadatatest, documentation.md,
// generated_*_test.go): the newest release on the Go module proxy at or
// under the Collector's v0.164.0, whose own release is not there.
const mdatagenVersion = "v0.159.0"

var updateGenerated = flag.Bool("update", false, "TestMdatagenUpToDate: write mdatagen's files in place (go generate runs it so)")

// TestMdatagenUpToDate runs the real mdatagen, built from the module cache
// without the network, over metadata.yaml in a copy of this module, and
// fails if a file it writes differs from the one here (or is missing).
// With -update it writes them here instead: that is what go generate does
// (factory.go). Skipped where mdatagen is not in the module cache.
func TestMdatagenUpToDate(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	offline := append(os.Environ(), "GOPROXY=off", "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	run := func(dir string, name string, args ...string) ([]byte, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, offline
		return cmd.CombinedOutput()
	}

	tool := filepath.Join(tmp, "tool")
	mustWrite(t, filepath.Join(tool, "go.mod"),
		"module tool\n\ngo 1.26.0\n\nrequire go.opentelemetry.io/collector/cmd/mdatagen "+mdatagenVersion+"\n")
	mdatagen := filepath.Join(tmp, "mdatagen")
	if out, err := run(tool, goBin, "build", "-o", mdatagen, "go.opentelemetry.io/collector/cmd/mdatagen"); err != nil {
		t.Skipf("mdatagen %s cannot be built from the module cache: %v\n%s", mdatagenVersion, err, out)
	}

	// The copy: what mdatagen reads (metadata.yaml, and a package for go
	// list to name), the library replaced by this checkout.
	mod := filepath.Join(tmp, "gunicornreceiver") // mdatagen names the package after the directory
	for _, name := range []string{"metadata.yaml", "go.mod", "go.sum", "doc.go"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(mod, name), string(b))
	}
	if out, err := run(mod, goBin, "mod", "edit", "-replace", "github.com/gunicornotel/gunicornotel="+root); err != nil {
		t.Fatalf("go mod edit: %v\n%s", err, out)
	}
	if out, err := run(mod, mdatagen, "metadata.yaml"); err != nil {
		t.Fatalf("mdatagen metadata.yaml: %v\n%s", err, out)
	}

	inputs := map[string]bool{"metadata.yaml": true, "go.mod": true, "go.sum": true, "doc.go": true}
	n := 0
	err = filepath.WalkDir(mod, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(mod, path)
		if err != nil || inputs[rel] {
			return err
		}
		n++
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if *updateGenerated {
			if err := os.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
				return err
			}
			return os.WriteFile(rel, want, 0o644)
		}
		if got, err := os.ReadFile(rel); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what mdatagen %s makes of metadata.yaml (%v): run go generate", rel, mdatagenVersion, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// status, telemetry and its test, telemetrytest and its test,
	// documentation.md, the component and package tests.
	if n != 8 {
		t.Errorf("mdatagen wrote %d files, want 8", n)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
