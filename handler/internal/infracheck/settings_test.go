package infracheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	tree_sitter "github.com/tree-sitter/go-tree-sitter"
)

// appSetting is one app-setting name written in Bicep, with where it is written and the
// variable that holds it. Interpolated parts of a name read as <N>.
type appSetting struct {
	name     string
	variable string
	at       string
}

// appSettings collects the keys of every `var <x>Settings = { ... }` object: by
// convention the templates keep each group of app settings in such a variable.
func (f *bicepFile) appSettings() []appSetting {
	var out []appSetting
	for _, decl := range namedChildren(f.root) {
		if decl.Kind() != "variable_declaration" {
			continue
		}
		kids := namedChildren(decl)
		if len(kids) < 2 || !strings.HasSuffix(f.text(kids[0]), "Settings") {
			continue
		}
		variable := f.text(kids[0])
		walk(kids[len(kids)-1], func(n *tree_sitter.Node) {
			if n.Kind() != "object_property" {
				return
			}
			key := namedChildren(n)[0]
			out = append(out, appSetting{name: f.settingName(key), variable: variable, at: f.at(key)})
		})
	}
	return out
}

// settingName renders an object key, with each interpolation as <N>.
func (f *bicepFile) settingName(key *tree_sitter.Node) string {
	if key.Kind() != "string" {
		return f.text(key)
	}
	var b strings.Builder
	for _, c := range namedChildren(key) {
		switch c.Kind() {
		case "interpolation":
			b.WriteString("<N>")
		case "escape_sequence":
			b.WriteString(unescapeBicep(f.text(c)))
		default:
			b.WriteString(f.text(c))
		}
	}
	return b.String()
}

// settingsContract is what the Go code says the app settings must be.
type settingsContract struct {
	names     []string // config.Names()
	patterns  []string // config.Patterns()
	localOnly []string // read by config but never set in Azure
}

// hostSettings are read by the Functions host, App Service or Application Insights,
// not by Tidewatch.
var hostSettings = regexp.MustCompile(`^(AzureWebJobsStorage__(blobServiceUri|queueServiceUri|tableServiceUri|credential|clientId)|APPLICATIONINSIGHTS_(CONNECTION|AUTHENTICATION)_STRING|FUNCTIONS_EXTENSION_VERSION|FUNCTIONS_WORKER_RUNTIME|WEBSITE_RUN_FROM_PACKAGE|WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID)$`)

// flexForbidden break a Flex Consumption app; only the Elastic Premium group may set them.
var flexForbidden = []string{"FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME", "WEBSITE_RUN_FROM_PACKAGE"}

const premiumSettingsVar = "premiumSettings"

// settingProblems compares the settings written in Bicep with the contract.
func settingProblems(settings []appSetting, contract settingsContract) []string {
	var problems []string
	written := map[string]bool{}
	for _, s := range settings {
		written[s.name] = true
		switch {
		case slices.Contains(flexForbidden, s.name) && s.variable != premiumSettingsVar:
			problems = append(problems, fmt.Sprintf("%s: %s is set outside %s; Flex Consumption must not get it", s.at, s.name, premiumSettingsVar))
		case hostSettings.MatchString(s.name):
		case slices.Contains(contract.localOnly, s.name):
			problems = append(problems, fmt.Sprintf("%s: %s is for local development only and must not be set in Azure", s.at, s.name))
		case !slices.Contains(contract.names, s.name) && !slices.Contains(contract.patterns, s.name):
			problems = append(problems, fmt.Sprintf("%s: app setting %s is not read by handler/config", s.at, s.name))
		}
	}
	for _, name := range append(slices.Clone(contract.names), contract.patterns...) {
		if !written[name] && !slices.Contains(contract.localOnly, name) {
			problems = append(problems, fmt.Sprintf("handler/config reads %s but no Bicep app setting sets it", name))
		}
	}
	return problems
}

// forbiddenKeyProblems reports object keys that must never be written (linuxFxVersion:
// Flex rejects it, and Elastic Premium custom handlers do not need it).
func forbiddenKeyProblems(f *bicepFile) []string {
	var problems []string
	walk(f.root, func(n *tree_sitter.Node) {
		if n.Kind() == "object_property" {
			if key := namedChildren(n)[0]; f.settingName(key) == "linuxFxVersion" {
				problems = append(problems, fmt.Sprintf("%s: linuxFxVersion must not be set", f.at(key)))
			}
		}
	})
	return problems
}
