package infracheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tree_sitter_bicep "github.com/tree-sitter-grammars/tree-sitter-bicep/bindings/go"
	tree_sitter "github.com/tree-sitter/go-tree-sitter"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// bicepFile is one parsed Bicep source. Its tree is closed when the test ends.
type bicepFile struct {
	path string
	src  []byte
	root *tree_sitter.Node
}

// parseBicep parses src as Bicep; path is used only in messages.
func parseBicep(t testing.TB, path string, src []byte) *bicepFile {
	t.Helper()
	parser := tree_sitter.NewParser()
	defer parser.Close()
	if err := parser.SetLanguage(tree_sitter.NewLanguage(tree_sitter_bicep.Language())); err != nil {
		t.Fatalf("loading the Bicep grammar: %v", err)
	}
	tree := parser.Parse(src, nil)
	if tree == nil {
		t.Fatalf("parsing %s: the parser returned no tree", path)
	}
	t.Cleanup(tree.Close)
	return &bicepFile{path: path, src: src, root: tree.RootNode()}
}

// readBicep reads and parses the file at path.
func readBicep(t testing.TB, path string) *bicepFile {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return parseBicep(t, path, src)
}

// text is the source text of n.
func (f *bicepFile) text(n *tree_sitter.Node) string { return n.Utf8Text(f.src) }

// at formats n's position as file:line:col (1-based), the form editors jump to.
func (f *bicepFile) at(n *tree_sitter.Node) string {
	p := n.StartPosition()
	return fmt.Sprintf("%s:%d:%d", f.path, p.Row+1, p.Column+1)
}

// namedChildren lists n's named children, comments excluded.
func namedChildren(n *tree_sitter.Node) []*tree_sitter.Node {
	var out []*tree_sitter.Node
	for i := uint(0); i < n.NamedChildCount(); i++ {
		c := n.NamedChild(i)
		if c.Kind() == "comment" || c.Kind() == "diagnostic_comment" {
			continue
		}
		out = append(out, c)
	}
	return out
}

// childOfKind returns the first named child of n with the given kind, or nil.
func childOfKind(n *tree_sitter.Node, kind string) *tree_sitter.Node {
	for _, c := range namedChildren(n) {
		if c.Kind() == kind {
			return c
		}
	}
	return nil
}

// walk calls visit for n and every descendant, depth first.
func walk(n *tree_sitter.Node, visit func(*tree_sitter.Node)) {
	visit(n)
	for i := uint(0); i < n.ChildCount(); i++ {
		walk(n.Child(i), visit)
	}
}

// stringValue returns the value of a plain string literal ('...', no interpolation) and
// whether n is one. Bicep escapes are \' \\ \n \r \t \$.
func (f *bicepFile) stringValue(n *tree_sitter.Node) (string, bool) {
	if n == nil || n.Kind() != "string" {
		return "", false
	}
	var b strings.Builder
	for _, c := range namedChildren(n) {
		switch c.Kind() {
		case "string_content":
			b.WriteString(f.text(c))
		case "escape_sequence":
			b.WriteString(unescapeBicep(f.text(c)))
		default:
			return "", false
		}
	}
	return b.String(), true
}

func unescapeBicep(seq string) string {
	switch seq {
	case `\n`:
		return "\n"
	case `\r`:
		return "\r"
	case `\t`:
		return "\t"
	}
	return strings.TrimPrefix(seq, `\`)
}

// syntaxProblems lists every ERROR and MISSING node as file:line:col.
func (f *bicepFile) syntaxProblems() []string {
	var problems []string
	walk(f.root, func(n *tree_sitter.Node) {
		switch {
		case n.IsError():
			problems = append(problems, fmt.Sprintf("%s: syntax error near %q", f.at(n), firstLine(f.text(n))))
		case n.IsMissing():
			problems = append(problems, fmt.Sprintf("%s: missing %s", f.at(n), n.Kind()))
		}
	})
	return problems
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// repoRoot is the repository root.
func repoRoot(t testing.TB) string { return testenv.RepoRoot(t) }

// infraFiles lists infra/*.bicep and infra/modules/*.bicep.
func infraFiles(t testing.TB) []string {
	t.Helper()
	root := repoRoot(t)
	var files []string
	for _, pattern := range []string{"infra/*.bicep", "infra/modules/*.bicep"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatalf("found only %d Bicep files under %s/infra", len(files), root)
	}
	return files
}
