package infracheck

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tree_sitter "github.com/tree-sitter/go-tree-sitter"
)

// paramDecl is one `param name type [= default]` of a template.
type paramDecl struct {
	name     string
	required bool
}

// params lists f's parameter declarations. A parameter with a default or a nullable
// type (`string?`) is optional.
func (f *bicepFile) params() []paramDecl {
	var out []paramDecl
	for _, decl := range namedChildren(f.root) {
		if decl.Kind() != "parameter_declaration" {
			continue
		}
		kids := namedChildren(decl)
		hasDefault := len(kids) >= 3
		nullable := len(kids) >= 2 && strings.HasSuffix(strings.TrimSpace(f.text(kids[1])), "?")
		out = append(out, paramDecl{name: f.text(kids[0]), required: !hasDefault && !nullable})
	}
	return out
}

// outputs lists f's output names.
func (f *bicepFile) outputs() []string {
	var out []string
	for _, decl := range namedChildren(f.root) {
		if decl.Kind() == "output_declaration" {
			out = append(out, f.text(namedChildren(decl)[0]))
		}
	}
	return out
}

// moduleProblems checks each `module` against the template it names: the file exists and
// parses, every param passed is declared, every required param is passed, and every
// `<module>.outputs.<name>` read exists.
func moduleProblems(t testing.TB, f *bicepFile) []string {
	var problems []string
	moduleOutputs := map[string][]string{}
	for _, decl := range namedChildren(f.root) {
		if decl.Kind() != "module_declaration" {
			continue
		}
		kids := namedChildren(decl)
		symbol := f.text(kids[0])
		rel, ok := f.stringValue(kids[1])
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: module %s: path must be a plain string", f.at(kids[1]), symbol))
			continue
		}
		child := readBicep(t, filepath.Join(filepath.Dir(f.path), rel))
		if syntax := child.syntaxProblems(); len(syntax) > 0 {
			problems = append(problems, syntax...)
			continue
		}
		moduleOutputs[symbol] = child.outputs()
		body := declBody(kids[len(kids)-1])
		if body == nil {
			problems = append(problems, fmt.Sprintf("%s: module %s: body is not an object literal", f.at(decl), symbol))
			continue
		}
		problems = append(problems, f.moduleParamProblems(symbol, body, child.params())...)
	}
	walk(f.root, func(n *tree_sitter.Node) {
		if n.Kind() != "member_expression" {
			return
		}
		outputs := n.ChildByFieldName("object")
		if outputs.Kind() != "member_expression" || f.text(outputs.ChildByFieldName("property")) != "outputs" {
			return
		}
		target := outputs.ChildByFieldName("object")
		if target.Kind() == "subscript_expression" {
			target = target.ChildByFieldName("object")
		}
		declared, isModule := moduleOutputs[f.text(target)]
		name := f.text(n.ChildByFieldName("property"))
		if isModule && !slices.Contains(declared, name) {
			problems = append(problems, fmt.Sprintf("%s: module %s has no output %s", f.at(n), f.text(target), name))
		}
	})
	return problems
}

func (f *bicepFile) moduleParamProblems(symbol string, body *tree_sitter.Node, declared []paramDecl) []string {
	var problems []string
	passed := map[string]bool{}
	for _, prop := range namedChildren(body) {
		if prop.Kind() != "object_property" || f.text(namedChildren(prop)[0]) != "params" {
			continue
		}
		for _, p := range namedChildren(propertyValue(prop)) {
			if p.Kind() != "object_property" {
				continue
			}
			name := f.text(namedChildren(p)[0])
			passed[name] = true
			if !slices.ContainsFunc(declared, func(d paramDecl) bool { return d.name == name }) {
				problems = append(problems, fmt.Sprintf("%s: module %s has no param %s", f.at(p), symbol, name))
			}
		}
	}
	for _, d := range declared {
		if d.required && !passed[d.name] {
			problems = append(problems, fmt.Sprintf("%s: module %s: required param %s is not passed", f.at(body), symbol, d.name))
		}
	}
	return problems
}
