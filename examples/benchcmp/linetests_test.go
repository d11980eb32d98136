package benchcmp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// seLineCase is one case of statsd_exporter's own line tests: the line, and
// the tag formats its test function enables.
type seLineCase struct {
	test, name, line string
	opts             diffOpts
}

// seLineCases reads the cases of statsd_exporter's pkg/line/line_test.go, in
// the version this module requires, from the module cache: each Test*
// function's map of cases (name → in) and the Enable*Parsing calls that set
// up its parser. Reading the file, rather than copying its cases, keeps the
// differential exact for the version pinned in go.mod.
func seLineCases(t *testing.T) []seLineCase {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/statsd_exporter").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/prometheus/statsd_exporter: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "pkg", "line", "line_test.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatalf("reading statsd_exporter's line tests: %v", err)
	}
	var cases []seLineCase
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Body == nil {
			continue
		}
		enabled := map[string]bool{}
		var table *ast.CompositeLit
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Enable") {
					enabled[strings.TrimSuffix(strings.TrimPrefix(sel.Sel.Name, "Enable"), "Parsing")] = true
				}
			case *ast.CompositeLit:
				if m, ok := n.Type.(*ast.MapType); ok && table == nil {
					if k, ok := m.Key.(*ast.Ident); ok && k.Name == "string" {
						table = n
					}
				}
			}
			return true
		})
		if table == nil {
			continue
		}
		opts := diffOpts{noDog: !enabled["Dogstatsd"], noInflux: !enabled["Influxdb"],
			noLibrato: !enabled["Librato"], noSignalFX: !enabled["SignalFX"], dialect: statsd.DialectStatsdExporter}
		for _, e := range table.Elts {
			kv := e.(*ast.KeyValueExpr)
			name, err := strconv.Unquote(kv.Key.(*ast.BasicLit).Value)
			if err != nil {
				t.Fatalf("%s: case name %s: %v", fn.Name.Name, kv.Key.(*ast.BasicLit).Value, err)
			}
			c := seLineCase{test: fn.Name.Name, name: name, opts: opts}
			for _, f := range kv.Value.(*ast.CompositeLit).Elts {
				if fkv, ok := f.(*ast.KeyValueExpr); ok && fkv.Key.(*ast.Ident).Name == "in" {
					if c.line, err = strconv.Unquote(fkv.Value.(*ast.BasicLit).Value); err != nil {
						t.Fatalf("%s/%s: in: %v", fn.Name.Name, name, err)
					}
				}
			}
			cases = append(cases, c)
		}
	}
	return cases
}

// TestStatsdExporterLineTests parses every case of statsd_exporter's own line
// tests, with the tag formats each of its test functions enables, with
// statsd_exporter's parser and with ours in DialectStatsdExporter: the events
// (kind, name, value, labels, how many) and the tag errors must agree for
// every case. DialectDefault differs on purpose (see deliberateDiffs): how
// many of its cases agree is held to the figure the daemon's README gives.
func TestStatsdExporterLineTests(t *testing.T) {
	cases := seLineCases(t)
	if len(cases) < 250 {
		t.Fatalf("read %d cases from statsd_exporter's line tests; want its 276 or so", len(cases))
	}
	agree := map[statsd.Dialect]int{}
	for _, c := range cases {
		seEvs, seTagErrs, seErr := seEvents(c.line, c.opts)
		theirs := renderSE(seEvs)
		if seErr != nil {
			theirs = []string{seErr.Error()}
		}
		for _, d := range []statsd.Dialect{statsd.DialectStatsdExporter, statsd.DialectDefault} {
			o := c.opts
			o.dialect = d
			ours, dropped, rejected := ourEvents(c.line, o)
			if slices.Equal(ours, theirs) && (len(ours) != 1 || float64(dropped) == seTagErrs) {
				agree[d]++
				continue
			}
			if d == statsd.DialectStatsdExporter {
				t.Errorf("%s/%s: %q:\n ours (rejected: %q, %d tags dropped):\n  %s\n statsd_exporter (%v tag errors):\n  %s",
					c.test, c.name, c.line, rejected, dropped, strings.Join(ours, "\n  "), seTagErrs, strings.Join(theirs, "\n  "))
			}
		}
	}
	for _, d := range []statsd.Dialect{statsd.DialectStatsdExporter, statsd.DialectDefault} {
		t.Logf("%s dialect: %d of %d cases agree (%.1f%%)", d, agree[d], len(cases), 100*float64(agree[d])/float64(len(cases)))
	}
	// The daemon's README gives these figures ("all 276 agree in this
	// dialect", "216 of the 276 agree"): they stay true.
	if len(cases) != 276 || agree[statsd.DialectDefault] != 216 {
		t.Errorf("%d cases, %d agree in the default dialect: the README of gunicorn-prometheus says 276 and 216", len(cases), agree[statsd.DialectDefault])
	}
}
