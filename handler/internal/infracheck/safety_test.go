package infracheck

import (
	"fmt"
	"regexp"
	"strings"

	tree_sitter "github.com/tree-sitter/go-tree-sitter"
)

// builtinRoles are the Azure built-in role definitions the templates may assign, by
// GUID (checked against Microsoft's published built-in role list).
var builtinRoles = map[string]string{
	"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
	"974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
	"0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
	"c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
	"7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
	"73c42c96-874c-492b-b04d-ab87d138a893": "Log Analytics Reader",
	"3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}

var guidLiteral = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// roleProblems checks that every GUID literal is a known built-in role whose name is in
// a comment on the same line.
func roleProblems(f *bicepFile) []string {
	lines := strings.Split(string(f.src), "\n")
	var problems []string
	walk(f.root, func(n *tree_sitter.Node) {
		s, ok := f.stringValue(n)
		if !ok || !guidLiteral.MatchString(s) {
			return
		}
		role, known := builtinRoles[strings.ToLower(s)]
		if !known {
			problems = append(problems, fmt.Sprintf("%s: %s is not a known built-in role definition", f.at(n), s))
			return
		}
		line := lines[n.StartPosition().Row]
		_, comment, _ := strings.Cut(line, "//")
		if !strings.Contains(comment, role) {
			problems = append(problems, fmt.Sprintf("%s: role %s must be named in a comment on its line (// %s)", f.at(n), s, role))
		}
	})
	return problems
}

// secretWords in an output name suggest it leaks a secret.
var secretWords = regexp.MustCompile(`(?i)key|secret|password|connectionstring|token|sas`)

// secretProblems rejects list*() calls (listKeys, listSecrets, ...) anywhere, and outputs
// that look like secrets or read secure parameters.
func secretProblems(f *bicepFile) []string {
	var problems []string
	secure := map[string]bool{}
	var pendingSecure bool
	for _, decl := range namedChildren(f.root) {
		switch decl.Kind() {
		case "decorators":
			pendingSecure = strings.Contains(f.text(decl), "@secure()")
			continue
		case "parameter_declaration":
			if pendingSecure {
				secure[f.text(namedChildren(decl)[0])] = true
			}
		case "output_declaration":
			kids := namedChildren(decl)
			name := f.text(kids[0])
			if secretWords.MatchString(name) {
				problems = append(problems, fmt.Sprintf("%s: output %s looks like a secret", f.at(decl), name))
			}
			value := kids[len(kids)-1]
			walk(value, func(n *tree_sitter.Node) {
				if n.Kind() == "identifier" && secure[f.text(n)] {
					problems = append(problems, fmt.Sprintf("%s: output %s exposes secure parameter %s", f.at(n), name, f.text(n)))
				}
				if n.Kind() == "property_identifier" && secretWords.MatchString(f.text(n)) {
					problems = append(problems, fmt.Sprintf("%s: output %s reads %s", f.at(n), name, f.text(n)))
				}
			})
		}
		pendingSecure = false
	}
	walk(f.root, func(n *tree_sitter.Node) {
		if n.Kind() != "call_expression" {
			return
		}
		fn := n.ChildByFieldName("function")
		name := f.text(fn)
		if i := strings.LastIndex(name, "."); i >= 0 {
			name = name[i+1:]
		}
		if len(name) > 4 && strings.HasPrefix(name, "list") && name[4] >= 'A' && name[4] <= 'Z' {
			problems = append(problems, fmt.Sprintf("%s: %s() reads secrets; use the managed identity instead", f.at(n), name))
		}
	})
	return problems
}

// roleAssignmentNameProblems requires every role assignment's name to be a guid(...) of
// stable inputs, so a re-deploy finds the same assignment instead of failing on a
// duplicate.
func roleAssignmentNameProblems(f *bicepFile) []string {
	decls, _ := f.resources()
	var problems []string
	for _, d := range decls {
		if !strings.EqualFold(d.typeName, "Microsoft.Authorization/roleAssignments") || d.existing {
			continue
		}
		var name *tree_sitter.Node
		for _, prop := range namedChildren(d.body) {
			if prop.Kind() == "object_property" && f.text(namedChildren(prop)[0]) == "name" {
				name = propertyValue(prop)
			}
		}
		if name == nil || name.Kind() != "call_expression" || f.text(name.ChildByFieldName("function")) != "guid" {
			problems = append(problems, fmt.Sprintf("%s: role assignment %s must be named guid(scope, principal, role)", f.at(d.body), d.symbol))
			continue
		}
		if strings.Contains(f.text(name), "utcNow") || strings.Contains(f.text(name), "newGuid") {
			problems = append(problems, fmt.Sprintf("%s: role assignment %s: its name must not change between deployments", f.at(name), d.symbol))
		}
	}
	return problems
}
