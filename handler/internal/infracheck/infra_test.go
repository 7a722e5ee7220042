package infracheck

import (
	"strings"
	"testing"
)

func TestInfraParsesWithoutSyntaxErrors(t *testing.T) {
	for _, path := range infraFiles(t) {
		f := readBicep(t, path)
		for _, p := range f.syntaxProblems() {
			t.Error(p)
		}
	}
}

func TestInfraResourcesMatchAzureTypes(t *testing.T) {
	types := loadAzureTypes(t)
	for _, path := range infraFiles(t) {
		f := readBicep(t, path)
		for _, p := range typeProblems(f, types) {
			t.Error(p)
		}
	}
}

func TestChecksRejectBrokenFixtures(t *testing.T) {
	types := loadAzureTypes(t)
	tests := []struct {
		name, file, want string
	}{
		{"an unclosed object is a syntax error with its position", "syntax.bicep", "syntax.bicep:"},
		{"a misspelt property is unknown", "unknown-property.bicep", `unknown property "allowSharedKeyAcess"`},
		{"an unknown property deep in functionAppConfig is found", "nested-unknown-property.bicep", `properties.functionAppConfig.runtime: unknown property "language"`},
		{"an apiVersion the types do not have is rejected", "wrong-apiversion.bicep", "Microsoft.Web/sites@2099-01-01 is not a known resource type"},
		{"an older apiVersion is rejected", "old-apiversion.bicep", "newest stable is 2024-11-30"},
		{"a value outside a closed enum is rejected", "bad-enum.bicep", `"Warm" is not one of`},
		{"a read-only property is rejected", "readonly-property.bicep", "properties.principalId is read-only"},
		{"an unknown discriminator value is rejected", "bad-discriminator.bicep", "endpointType must be a literal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := readBicep(t, "testdata/broken/"+tc.file)
			problems := append(f.syntaxProblems(), typeProblems(f, types)...)
			problems = append(problems, apiVersionProblems(f, types)...)
			if !containsProblem(problems, tc.want) {
				t.Errorf("problems %q\ndo not mention %q", problems, tc.want)
			}
		})
	}
}

func TestInfraUsesNewestStableAPIVersions(t *testing.T) {
	types := loadAzureTypes(t)
	for _, path := range infraFiles(t) {
		for _, p := range apiVersionProblems(readBicep(t, path), types) {
			t.Error(p)
		}
	}
}

func TestContractChecksRejectBrokenFixtures(t *testing.T) {
	tests := []struct {
		name, file string
		check      func(*testing.T, *bicepFile) []string
		want       []string
	}{
		{
			name: "a misspelt setting is not read by config and leaves the real one unset",
			file: "mismatched-setting.bicep",
			check: func(t *testing.T, f *bicepFile) []string {
				return settingProblems(f.appSettings(), goContract())
			},
			want: []string{"app setting TIDEWATCH_SWEEP_SCHEDUEL is not read by handler/config", "reads TIDEWATCH_SWEEP_SCHEDULE but no Bicep app setting sets it"},
		},
		{
			name: "Flex-breaking settings and linuxFxVersion are rejected",
			file: "flex-forbidden.bicep",
			check: func(t *testing.T, f *bicepFile) []string {
				return append(settingProblems(f.appSettings(), goContract()), forbiddenKeyProblems(f)...)
			},
			want: []string{"FUNCTIONS_WORKER_RUNTIME is set outside premiumSettings", "linuxFxVersion must not be set"},
		},
		{
			name: "the local connection-string setting is not deployed",
			file: "local-only-setting.bicep",
			check: func(t *testing.T, f *bicepFile) []string {
				return settingProblems(f.appSettings(), goContract())
			},
			want: []string{"TIDEWATCH_STORAGE is for local development only"},
		},
		{
			name: "unknown and unnamed role GUIDs and unstable assignment names are rejected",
			file: "unknown-role.bicep",
			check: func(t *testing.T, f *bicepFile) []string {
				return append(roleProblems(f), roleAssignmentNameProblems(f)...)
			},
			want: []string{"11111111-2222-3333-4444-555555555555 is not a known built-in role", "must be named in a comment on its line (// AcrPull)", "role assignment pull must be named guid("},
		},
		{
			name:  "listKeys and secret outputs are rejected",
			file:  "secrets.bicep",
			check: func(t *testing.T, f *bicepFile) []string { return secretProblems(f) },
			want:  []string{"secrets.bicep:9:", "secrets.bicep:11:", "output storageKey looks like a secret", "output credential exposes secure parameter registryPassword"},
		},
		{
			name:  "module params and outputs are checked against the module",
			file:  "module-params.bicep",
			check: func(t *testing.T, f *bicepFile) []string { return moduleProblems(t, f) },
			want:  []string{"module child has no param misspelt", "required param required is not passed", "module child has no output valu"},
		},
		{
			name:  "a misspelt symbol is not declared",
			file:  "undefined-symbol.bicep",
			check: func(t *testing.T, f *bicepFile) []string { return undefinedSymbolProblems(f) },
			want:  []string{"undefined-symbol.bicep:6:13: locaton is not declared"},
		},
		{
			name: "a parameter file with unknown params and a broken value is rejected",
			file: "broken.bicepparam",
			check: func(t *testing.T, _ *bicepFile) []string {
				return bicepparamProblems(t, "testdata/broken/broken.bicepparam")
			},
			want: []string{"declares no param unknown", "(value of required)"},
		},
		{
			name: "a parameter file missing a required param is rejected",
			file: "missing.bicepparam",
			check: func(t *testing.T, _ *bicepFile) []string {
				return bicepparamProblems(t, "testdata/broken/missing.bicepparam")
			},
			want: []string{"required param required is not assigned"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f *bicepFile
			if strings.HasSuffix(tc.file, ".bicep") {
				f = readBicep(t, "testdata/broken/"+tc.file)
			}
			problems := tc.check(t, f)
			for _, want := range tc.want {
				if !containsProblem(problems, want) {
					t.Errorf("problems %q\ndo not mention %q", problems, want)
				}
			}
		})
	}
}
