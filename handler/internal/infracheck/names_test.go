package infracheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	tree_sitter "github.com/tree-sitter/go-tree-sitter"
)

// deploymentContainer is the blob container the app package is deployed from. It is
// infrastructure only (the Go code never touches it), so it lives here and in
// infra/modules/storage.bicep, not in handler/store.
const deploymentContainer = "deployments"

// stringArrayVar returns the string items of `var name = [ ... ]` in f; a bare
// identifier item resolves through another `var x = '...'` in the same file.
func (f *bicepFile) stringArrayVar(name string) ([]string, error) {
	vars := map[string]*tree_sitter.Node{}
	for _, decl := range namedChildren(f.root) {
		if decl.Kind() == "variable_declaration" {
			kids := namedChildren(decl)
			vars[f.text(kids[0])] = kids[len(kids)-1]
		}
	}
	arr, ok := vars[name]
	if !ok || arr.Kind() != "array" {
		return nil, fmt.Errorf("%s: no `var %s = [...]` array literal", f.path, name)
	}
	var items []string
	for _, item := range namedChildren(arr) {
		if item.Kind() == "identifier" {
			if target, ok := vars[f.text(item)]; ok {
				item = target
			}
		}
		s, ok := f.stringValue(item)
		if !ok {
			return nil, fmt.Errorf("%s: %s: item %q of %s is not a string literal", f.path, f.at(item), f.text(item), name)
		}
		items = append(items, s)
	}
	return items, nil
}

// designNames reads the table, queue and container names DESIGN.md lists.
type designNames struct {
	tables, queues, containers []string
}

var (
	designTableRow = regexp.MustCompile("^\\| `([a-z]+)` \\|")
	designQueue    = regexp.MustCompile("queue `([a-z-]+)`")
	designBlobPath = regexp.MustCompile("`([a-z]+)/")
)

func readDesign(t testing.TB, path string) designNames {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading DESIGN.md: %v", err)
	}
	var d designNames
	section := ""
	scanner := bufio.NewScanner(bytes.NewReader(raw))
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "## ") {
			section = strings.Fields(line)[1]
			continue
		}
		switch section {
		case "Tables":
			if m := designTableRow.FindStringSubmatch(line); m != nil {
				d.tables = append(d.tables, m[1])
			}
		case "Functions":
			for _, m := range designQueue.FindAllStringSubmatch(line, -1) {
				d.queues = append(d.queues, m[1])
			}
		case "Blobs":
			for _, m := range designBlobPath.FindAllStringSubmatch(line, -1) {
				d.containers = append(d.containers, m[1])
			}
		}
	}
	d.tables, d.queues, d.containers = uniqueSorted(d.tables), uniqueSorted(d.queues), uniqueSorted(d.containers)
	return d
}

// uniqueSorted returns the distinct strings of in, sorted; in is left as it is.
func uniqueSorted(in []string) []string {
	out := append(make([]string, 0, len(in)), in...)
	slices.Sort(out)
	return slices.Compact(out)
}
