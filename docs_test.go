package gunicornotel_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The docs name instruments and attributes by their OpenTelemetry names
// (gunicorn.worker.busy, gunicornotel.samples.rejected): these tests hold
// them to the exported constants of the library's packages, both ways.

// namePackages are the packages whose exported string constants name
// instruments and attributes.
var namePackages = []string{"mapper", "otelbridge", "procwatch"}

// nameConstants returns the values of the exported string constants of the
// packages that start with "gunicorn" (instrument names, attribute keys),
// each with the constant's qualified name.
func nameConstants(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range namePackages {
		for v, c := range stringConstants(t, dir) {
			out[v] = c
		}
	}
	if len(out) < 40 {
		t.Fatalf("found only %d name constants in %v", len(out), namePackages)
	}
	return out
}

// stringConstants returns the string constants of the package in dir that
// start with "gunicorn" and hold a dot (exported ones, and in a main
// package every one), each with its qualified name.
func stringConstants(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	pkgs := parsePackages(t, dir)
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if (!name.IsExported() && pkg.Name != "main") || i >= len(vs.Values) {
							continue
						}
						expr := vs.Values[i]
						if call, ok := expr.(*ast.CallExpr); ok && len(call.Args) == 1 { // attribute.Key("...")
							expr = call.Args[0]
						}
						lit, ok := expr.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						if strings.HasPrefix(v, "gunicorn") && strings.Contains(v, ".") {
							out[v] = dir + "." + name.Name
						}
					}
				}
			}
		}
	}
	return out
}

// parsePackages parses the Go files of dir but its tests.
func parsePackages(t *testing.T, dir string) map[string]*ast.Package {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// docFiles are the Markdown files of the repository (testdata apart) and the
// package docs of namePackages.
func docFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range namePackages {
		files = append(files, filepath.Join(dir, "doc.go"))
	}
	return files
}

// dottedName is an OpenTelemetry name of ours in backquotes: `gunicorn.x.y`,
// and nothing else between them.
var dottedName = regexp.MustCompile("`(gunicorn(?:otel)?(?:\\.[a-z0-9_]+)+)`")

// TestDocsNameTheConstants: every instrument or attribute name a doc puts in
// backquotes is the value of an exported constant, and every such constant
// is named by a doc.
func TestDocsNameTheConstants(t *testing.T) {
	consts := nameConstants(t)
	// StatsD names Gunicorn sends, which are not instruments of ours.
	// StatsD names Gunicorn sends, which are not instruments of ours, and
	// Gunicorn's own file names.
	statsdNames := []string{"gunicorn.request.status", "gunicorn.log.critical", "gunicorn.log.error",
		"gunicorn.log.warning", "gunicorn.log.info", "gunicorn.log.debug", "gunicorn.log.exception",
		"gunicorn.conf.py"}
	named := map[string]bool{}
	for _, path := range docFiles(t) {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			for _, m := range dottedName.FindAllStringSubmatch(line, -1) {
				name := m[1]
				named[name] = true
				if _, ok := consts[name]; !ok && !slices.Contains(statsdNames, name) {
					t.Errorf("%s:%d names `%s`, which no exported constant of %v holds", path, i+1, name, namePackages)
				}
			}
		}
		for v := range consts {
			if strings.Contains(string(text), v) {
				named[v] = true
			}
		}
	}
	for v, c := range consts {
		if !named[v] {
			t.Errorf("%s (%q) is in no doc: add it to the README's table or the package doc", c, v)
		}
	}
}

// promName is a Prometheus name of ours in backquotes, up to its labels.
var promName = regexp.MustCompile("`(gunicorn(?:otel)?_[a-z0-9_]+)")

// TestReadmePrometheusNames: every Prometheus name of ours a doc gives is
// an instrument of the library or the daemon (examples/gunicorn-prometheus,
// when it is there), as the OpenTelemetry Prometheus exporter spells it
// (dots as underscores, then the unit, _seconds or _bytes, and _total,
// _bucket, _sum or _count), or a name the daemon serves itself (its
// summaries' gunicornotel_quantile_*). A name that ends in '_' stands for
// the names it begins. The gunicornotel_ names are checked in every doc;
// the gunicorn_ ones in the root README only (elsewhere they are also
// statsd_exporter's, made by a mapping file).
func TestReadmePrometheusNames(t *testing.T) {
	consts := nameConstants(t)
	const daemon = "examples/gunicorn-prometheus"
	if _, err := os.Stat(daemon); err != nil {
		t.Skipf("%s is not here (a copy of the library alone): its names cannot be checked", daemon)
	}
	for v, c := range stringConstants(t, daemon) {
		consts[v] = c
	}
	known := map[string]bool{}
	for v := range consts {
		known[strings.ReplaceAll(v, ".", "_")] = true
	}
	for _, name := range promLiterals(t, daemon) {
		known[name] = true
	}
	for _, path := range docFiles(t) {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			for _, m := range promName.FindAllStringSubmatch(line, -1) {
				name := m[1]
				if path != "README.md" && !strings.HasPrefix(name, "gunicornotel_") {
					continue
				}
				if !knownPromName(known, name) {
					t.Errorf("%s:%d names `%s`, which is no instrument of the library or the daemon", path, i+1, name)
				}
			}
		}
	}
}

var ownPromLiteral = regexp.MustCompile(`^gunicornotel_[a-z0-9_]+$`)

// promLiterals returns the string literals of the package in dir that are
// Prometheus names of ours (gunicornotel_...), as the daemon gives its own
// collectors' descriptions.
func promLiterals(t *testing.T, dir string) []string {
	t.Helper()
	pkgs := parsePackages(t, dir)
	var out []string
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil && ownPromLiteral.MatchString(v) {
						out = append(out, v)
					}
				}
				return true
			})
		}
	}
	return out
}

// knownPromName reports whether name is one of known (instrument names,
// dots made underscores) once the exporter's suffixes are taken off.
func knownPromName(known map[string]bool, name string) bool {
	if strings.HasSuffix(name, "_") {
		for k := range known {
			if strings.HasPrefix(k, name) {
				return true
			}
		}
		return false
	}
	for _, kind := range []string{"", "_total", "_bucket", "_sum", "_count"} {
		n, ok := strings.CutSuffix(name, kind)
		if !ok {
			continue
		}
		for _, unit := range []string{"", "_seconds", "_bytes", "_ratio"} {
			if u, ok := strings.CutSuffix(n, unit); ok && known[u] {
				return true
			}
		}
	}
	return false
}

// speedFigure is a measured figure in prose: a number (or a range) of
// nanoseconds, microseconds or a ratio ("9.8×", "624–666 ns").
var speedFigure = regexp.MustCompile(`(\d[\d.,]*(?:[–-]\d[\d.,]*)?)\s?(×|ns\b|µs\b)`)

// TestReadmeFiguresFromBenchmarks: every speed figure a README gives is one
// BENCHMARKS.md records (with the command that made it), so that the two
// cannot disagree; a README that wants a figure BENCHMARKS.md lacks must add
// it there first.
func TestReadmeFiguresFromBenchmarks(t *testing.T) {
	bench, err := os.ReadFile("BENCHMARKS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range docFiles(t) {
		if path == "BENCHMARKS.md" || !strings.HasSuffix(path, ".md") {
			continue
		}
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			for _, m := range speedFigure.FindAllStringSubmatch(line, -1) {
				recorded := regexp.MustCompile(`(^|[^\d.,])` + regexp.QuoteMeta(m[1]) + `($|[^\d.,]|[.,]\D)`)
				if !recorded.Match(bench) {
					t.Errorf("%s:%d gives %q, which BENCHMARKS.md does not record", path, i+1, m[0])
				}
			}
		}
	}
}
