package infracheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/store"
)

// goContract is what handler/config says the app settings are. TIDEWATCH_STORAGE is the
// connection-string form for local development; in Azure the identity-based
// TIDEWATCH_STORAGE__* settings replace it.
func goContract() settingsContract {
	return settingsContract{names: config.Names(), patterns: config.Patterns(), localOnly: []string{config.EnvStorage}}
}

func allAppSettings(t *testing.T) []appSetting {
	var settings []appSetting
	for _, path := range infraFiles(t) {
		settings = append(settings, readBicep(t, path).appSettings()...)
	}
	return settings
}

func TestAppSettingsAreExactlyWhatConfigReads(t *testing.T) {
	settings := allAppSettings(t)
	if len(settings) < len(config.Names()) {
		t.Fatalf("found only %d app settings in infra/: is the `var <x>Settings = {...}` convention kept?", len(settings))
	}
	for _, p := range settingProblems(settings, goContract()) {
		t.Error(p)
	}
}

func TestFunctionBindingsUseSettingsTheTemplatesSet(t *testing.T) {
	written := map[string]bool{}
	for _, s := range allAppSettings(t) {
		written[s.name] = true
	}
	for _, fn := range functionBindings(t) {
		for _, b := range fn.bindings {
			if b.Connection != "" && !written[b.Connection+"__queueServiceUri"] && !written[b.Connection] {
				t.Errorf("%s: connection %s has neither %s nor %s__queueServiceUri in the app settings", fn.path, b.Connection, b.Connection, b.Connection)
			}
			if name, ok := strings.CutPrefix(b.Schedule, "%"); ok && !written[strings.TrimSuffix(name, "%")] {
				t.Errorf("%s: schedule %s names an app setting the templates do not set", fn.path, b.Schedule)
			}
		}
	}
}

func TestStorageNamesAgreeEverywhere(t *testing.T) {
	root := repoRoot(t)
	storage := readBicep(t, filepath.Join(root, "infra/modules/storage.bicep"))
	design := readDesign(t, filepath.Join(testenv.Shared(t), "DESIGN.md"))
	bicep := func(name string) []string {
		items, err := storage.stringArrayVar(name)
		if err != nil {
			t.Fatal(err)
		}
		return uniqueSorted(items)
	}
	var functionQueues []string
	for _, fn := range functionBindings(t) {
		for _, b := range fn.bindings {
			if b.QueueName != "" {
				functionQueues = append(functionQueues, b.QueueName)
			}
		}
	}
	tests := []struct {
		name       string
		got, want  []string
		wantSubset bool
	}{
		{"Bicep tables are handler/store's tables", bicep("tableNames"), uniqueSorted(store.Tables()), false},
		{"DESIGN.md tables are handler/store's tables", design.tables, uniqueSorted(store.Tables()), false},
		{"Bicep queues are handler/store's queues with their poison queues", bicep("queueNames"), uniqueSorted(store.Queues()), false},
		{"DESIGN.md queues are handler/store's work queues", design.queues, uniqueSorted(store.WorkQueues()), false},
		{"function.json queues are work queues", uniqueSorted(functionQueues), uniqueSorted(store.WorkQueues()), true},
		{"Bicep containers are handler/store's plus the deployment container", bicep("containerNames"), uniqueSorted(append(store.Containers(), deploymentContainer)), false},
		{"DESIGN.md containers are handler/store's (the deployment container may be listed too)", withoutName(design.containers, deploymentContainer), uniqueSorted(store.Containers()), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.got) == 0 {
				t.Fatal("found no names")
			}
			if tc.wantSubset {
				for _, name := range tc.got {
					if !slices.Contains(tc.want, name) {
						t.Errorf("%s is not one of %v", name, tc.want)
					}
				}
				return
			}
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("names differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplatesAreSafe(t *testing.T) {
	for _, path := range infraFiles(t) {
		f := readBicep(t, path)
		for _, p := range slices.Concat(roleProblems(f), secretProblems(f), forbiddenKeyProblems(f), moduleProblems(t, f), undefinedSymbolProblems(f), roleAssignmentNameProblems(f)) {
			t.Error(p)
		}
	}
}

func TestExampleParametersFitTheTemplate(t *testing.T) {
	for _, p := range bicepparamProblems(t, filepath.Join(repoRoot(t), "infra/main.bicepparam")) {
		t.Error(p)
	}
}

func TestFlexAppRunsTheCustomHandlerRuntime(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "infra/modules/functionapp.bicep"))
	if err != nil {
		t.Fatal(err)
	}
	// Other runtime strings deploy and then fail at start; keep exactly these.
	for _, want := range []string{"name: 'custom'\n            version: '1.0'", "name: 'FC1'\n        tier: 'FlexConsumption'", "reserved: true", "kind: 'functionapp,linux'"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("functionapp.bicep does not contain %q", want)
		}
	}
}

// functionJSON is one functions/<Name>/function.json.
type functionJSON struct {
	path     string
	bindings []binding
}

type binding struct {
	Type       string `json:"type"`
	QueueName  string `json:"queueName"`
	Connection string `json:"connection"`
	Schedule   string `json:"schedule"`
}

func functionBindings(t *testing.T) []functionJSON {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot(t), "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no functions/*/function.json")
	}
	sort.Strings(paths)
	var out []functionJSON
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Bindings []binding `json:"bindings"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("decoding %s: %v", p, err)
		}
		out = append(out, functionJSON{path: p, bindings: doc.Bindings})
	}
	return out
}

func withoutName(names []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == drop })
}
