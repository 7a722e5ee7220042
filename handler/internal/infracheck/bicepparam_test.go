package infracheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	usingLine = regexp.MustCompile(`^using '([^']+)'$`)
	paramLine = regexp.MustCompile(`^param ([A-Za-z_][A-Za-z0-9_]*) = (.*)$`)
)

// bicepparamProblems checks a .bicepparam file by a simpler rule than a grammar (the
// tree-sitter grammar misparses them): the first statement is `using '<template>'`, every
// other statement is `param <name> = <value>` for a param the template declares, each
// value parses as a Bicep expression, and every required param is assigned.
func bicepparamProblems(t testing.TB, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var problems []string
	var template *bicepFile
	assigned := map[string]bool{}
	var current string // the param whose (possibly multi-line) value is being read
	var value []string
	flush := func(line int) {
		if current == "" {
			return
		}
		src := "var v = " + strings.Join(value, "\n") + "\n"
		expr := parseBicep(t, fmt.Sprintf("%s:%d (value of %s)", path, line, current), []byte(src))
		problems = append(problems, expr.syntaxProblems()...)
		current, value = "", nil
	}
	for i, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		at := fmt.Sprintf("%s:%d", path, i+1)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "//"):
			continue
		case template == nil:
			m := usingLine.FindStringSubmatch(trimmed)
			if m == nil {
				return append(problems, fmt.Sprintf("%s: the first statement must be `using '<template>.bicep'`", at))
			}
			template = readBicep(t, filepath.Join(filepath.Dir(path), m[1]))
		case paramLine.MatchString(line):
			flush(i)
			m := paramLine.FindStringSubmatch(line)
			current, value = m[1], []string{m[2]}
			if assigned[current] {
				problems = append(problems, fmt.Sprintf("%s: param %s is assigned twice", at, current))
			}
			assigned[current] = true
			if !declares(template, current) {
				problems = append(problems, fmt.Sprintf("%s: %s declares no param %s", at, template.path, current))
			}
		case current != "" && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") || trimmed == "]" || trimmed == "}"):
			value = append(value, line)
		default:
			problems = append(problems, fmt.Sprintf("%s: expected `param <name> = <value>`, got %q", at, trimmed))
		}
	}
	flush(0)
	if template == nil {
		return append(problems, fmt.Sprintf("%s: no using statement", path))
	}
	for _, p := range template.params() {
		if p.required && !assigned[p.name] {
			problems = append(problems, fmt.Sprintf("%s: required param %s is not assigned", path, p.name))
		}
	}
	return problems
}

func declares(f *bicepFile, name string) bool {
	for _, p := range f.params() {
		if p.name == name {
			return true
		}
	}
	return false
}
