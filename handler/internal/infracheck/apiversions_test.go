package infracheck

import (
	"fmt"
	"strings"
)

// previewAllowed names the resource types whose newest usable apiVersion is a preview,
// with the reason.
var previewAllowed = map[string]string{
	// 2016-09-01 is the old "service" diagnostic setting (fixed name, required location);
	// no GA version of the resource-scoped API exists.
	"microsoft.insights/diagnosticsettings": "2021-05-01-preview",
}

// apiVersionProblems reports resources not on the newest stable apiVersion in azure-types.
func apiVersionProblems(f *bicepFile, types *azureTypes) []string {
	decls, _ := f.resources()
	var problems []string
	for _, d := range decls {
		want := types.newestStable(d.typeName)
		if allowed, ok := previewAllowed[strings.ToLower(d.typeName)]; ok {
			want = allowed
		}
		if want != "" && d.apiVersion != want {
			problems = append(problems, fmt.Sprintf("%s: resource %s uses %s@%s; the newest stable is %s",
				f.at(d.typeNode), d.symbol, d.typeName, d.apiVersion, want))
		}
	}
	return problems
}

func containsProblem(problems []string, want string) bool {
	for _, p := range problems {
		if strings.Contains(p, want) {
			return true
		}
	}
	return false
}
