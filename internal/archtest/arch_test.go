// Package archtest checks the shape of the code: the application owns its
// ports, storage adapters are imported only by the wiring, and no adapter's
// job kind is named outside its adapter.
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

// storageAdapters may be imported by cmd and by their own packages only.
var storageAdapters = []string{"incident/boltstore", "incident/pgstore"}

func TestOnlyWiringImportsStorageAdapters(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		for _, imp := range f[1:] {
			for _, a := range storageAdapters {
				if imp == module+a && !strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, a) {
					t.Errorf("%s imports the storage adapter %s; only cmd may", pkg, a)
				}
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
