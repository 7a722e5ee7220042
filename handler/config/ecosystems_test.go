package config

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

	"github.com/google/go-cmp/cmp"
)

// schemaEcosystems reads the Ecosystem constants out of the osvconstants source the
// build uses, so a new osv-schema version cannot add an ecosystem the list misses.
func schemaEcosystems(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/ossf/osv-schema/bindings/go/osvconstants").Output()
	if err != nil {
		t.Fatalf("locating osvconstants: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			if typ, ok := spec.Type.(*ast.Ident); !ok || typ.Name != "Ecosystem" {
				return true
			}
			for _, v := range spec.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					names = append(names, s)
				}
			}
			return true
		})
	}
	slices.Sort(names)
	return names
}

func TestEcosystemListIsEveryOSVSchemaEcosystem(t *testing.T) {
	want := schemaEcosystems(t)
	if len(want) < 40 {
		t.Fatalf("found only %d Ecosystem constants in osvconstants: the parse is broken", len(want))
	}
	var got []string
	for _, e := range osvEcosystems {
		got = append(got, string(e))
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("osvEcosystems (-osvconstants +ours):\n%s", diff)
	}
}

func TestParseEcosystemsAcceptsTheSharedAdvisoryEcosystems(t *testing.T) {
	got, err := ParseEcosystems("Debian,Go,npm,PyPI,Alpine,AlmaLinux")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Debian", "Go", "npm", "PyPI", "Alpine", "AlmaLinux"}, got); diff != "" {
		t.Errorf("ParseEcosystems (-want +got):\n%s", diff)
	}
}
