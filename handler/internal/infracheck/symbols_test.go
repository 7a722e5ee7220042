package infracheck

import (
	"fmt"

	tree_sitter "github.com/tree-sitter/go-tree-sitter"
)

// declarationKinds are the statements whose first identifier declares a file-level symbol.
var declarationKinds = map[string]bool{
	"parameter_declaration": true, "variable_declaration": true, "resource_declaration": true,
	"module_declaration": true, "output_declaration": true, "type_declaration": true,
	"user_defined_function": true,
}

// typeKinds hold type names, not value references.
var typeKinds = map[string]bool{
	"type": true, "union_type": true, "array_type": true, "nullable_type": true,
	"parameterized_type": true, "parenthesized_type": true, "negated_type": true,
}

// namespaces may prefix a function call without being declared.
var namespaces = map[string]bool{"sys": true, "az": true}

// undefinedSymbolProblems reports identifiers that name no parameter, variable,
// resource, module, loop variable or lambda parameter: what the Bicep compiler reports
// as "The name does not exist in the current context". Loop and lambda variables are
// treated as visible in the whole file, which is looser than Bicep's scoping.
func undefinedSymbolProblems(f *bicepFile) []string {
	declared := map[string]bool{}
	decl := func(n *tree_sitter.Node) {
		if n != nil {
			declared[f.text(n)] = true
		}
	}
	walk(f.root, func(n *tree_sitter.Node) {
		switch {
		case declarationKinds[n.Kind()]:
			decl(namedChildren(n)[0])
		case n.Kind() == "for_statement":
			decl(n.ChildByFieldName("initializer"))
		case n.Kind() == "loop_variable" || n.Kind() == "loop_enumerator":
			decl(n)
		case n.Kind() == "lambda_expression":
			params := namedChildren(n)[0]
			if params.Kind() == "identifier" {
				decl(params)
			}
			for _, p := range namedChildren(params) {
				decl(p)
			}
		case n.Kind() == "parameter": // user-defined function parameters
			decl(namedChildren(n)[0])
		}
	})
	var problems []string
	walk(f.root, func(n *tree_sitter.Node) {
		if n.Kind() != "identifier" || declared[f.text(n)] || namespaces[f.text(n)] {
			return
		}
		parent := n.Parent()
		switch {
		case parent == nil, typeKinds[parent.Kind()]:
			return
		case parent.Kind() == "object_property" && namedChildren(parent)[0].Id() == n.Id():
			return // a key
		case parent.Kind() == "call_expression" && parent.ChildByFieldName("function").Id() == n.Id():
			return // a function name
		case parent.Kind() == "import_statement" || parent.Kind() == "import_functionality" || parent.Kind() == "import_with_statement":
			return
		}
		problems = append(problems, fmt.Sprintf("%s: %s is not declared", f.at(n), f.text(n)))
	})
	return problems
}
