// Package archtest checks the shape of the code: the application owns its
// ports, storage adapters are imported only by the wiring (and by test
// helpers, which no binary imports), and no adapter's job kind is named
// outside its adapter.
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/incidentbot/incidentbot/"

// storageAdapters may be imported by cmd, by their own packages and by
// test-helper packages only.
var storageAdapters = []string{"incident/boltstore", "incident/pgstore"}

// imports lists each package of the module with the packages its non-test
// files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	return m
}

// testHelper reports whether pkg is a test-helper package (bottest,
// bolttest, amtest…): one named like net/http/httptest, which
// TestNoPackageImportsTestHelpers keeps out of every binary.
func testHelper(pkg string) bool {
	return strings.HasSuffix(pkg[strings.LastIndex(pkg, "/")+1:], "test")
}

func TestOnlyWiringImportsStorageAdapters(t *testing.T) {
	for pkg, imps := range imports(t) {
		if testHelper(pkg) {
			continue
		}
		for _, imp := range imps {
			for _, a := range storageAdapters {
				if imp == module+a && !strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, a) {
					t.Errorf("%s imports the storage adapter %s; only cmd may", pkg, a)
				}
			}
		}
	}
}

// Test-helper packages may start a storage adapter, so no package but
// another test helper imports one outside its tests: none reaches a binary.
func TestNoPackageImportsTestHelpers(t *testing.T) {
	for pkg, imps := range imports(t) {
		for _, imp := range imps {
			if rel, ok := strings.CutPrefix(imp, module); ok && testHelper(rel) && !testHelper(pkg) {
				t.Errorf("%s imports the test helper %s", pkg, rel)
			}
		}
	}
}

// The desk (the application layer) names no adapter's job kind: every
// string literal in its non-test files is checked.
func TestDeskNamesNoAdapterJobKind(t *testing.T) {
	files, err := filepath.Glob("../../incident/desk/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no desk sources: %v", err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if v, _ := strconv.Unquote(lit.Value); strings.HasPrefix(v, "slack.") || strings.HasPrefix(v, "pagerduty.") {
				t.Errorf("%s: the desk names the adapter job kind %q", fset.Position(lit.Pos()), v)
			}
			return true
		})
	}
}
