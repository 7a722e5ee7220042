package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNames(t *testing.T) {
	t.Run("Names is exactly the documented fixed list", func(t *testing.T) {
		want := []string{
			"TIDEWATCH_REGISTRIES",
			"TIDEWATCH_STORAGE",
			"TIDEWATCH_STORAGE__queueServiceUri",
			"TIDEWATCH_STORAGE__tableServiceUri",
			"TIDEWATCH_STORAGE__blobServiceUri",
			"TIDEWATCH_STORAGE__credential",
			"TIDEWATCH_STORAGE__clientId",
			"TIDEWATCH_ADVISORIES_URL",
			"TIDEWATCH_OVAL_URL",
			"TIDEWATCH_ECOSYSTEMS",
			"TIDEWATCH_SEVERITY_SOURCE",
			"TIDEWATCH_SWEEP_SCHEDULE",
			"TIDEWATCH_ADVISORY_SCHEDULE",
			"TIDEWATCH_PUSH_DAYS",
			"TIDEWATCH_PULL_DAYS",
			"TIDEWATCH_MAX_DB_AGE",
			"TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID",
			"TIDEWATCH_SCAN_BUDGET",
			"TIDEWATCH_LOG_LEVEL",
			"TIDEWATCH_REGISTRY_CONCURRENCY",
			"AZURE_CLIENT_ID",
		}
		if diff := cmp.Diff(want, Names()); diff != "" {
			t.Errorf("Names() (-want +got):\n%s", diff)
		}
	})
	t.Run("Patterns are the per-registry credentials", func(t *testing.T) {
		want := []string{"TIDEWATCH_REGISTRY_<N>_USERNAME", "TIDEWATCH_REGISTRY_<N>_PASSWORD"}
		if diff := cmp.Diff(want, Patterns()); diff != "" {
			t.Errorf("Patterns() (-want +got):\n%s", diff)
		}
	})
	wantKnown := map[string]bool{
		"TIDEWATCH_REGISTRIES":            true,
		"AZURE_CLIENT_ID":                 true,
		"TIDEWATCH_REGISTRY_1_USERNAME":   true,
		"TIDEWATCH_REGISTRY_12_PASSWORD":  true,
		"TIDEWATCH_REGISTRY_0_PASSWORD":   false,
		"TIDEWATCH_REGISTRY_01_PASSWORD":  false,
		"TIDEWATCH_REGISTRY_N_PASSWORD":   false,
		"TIDEWATCH_REGISTRY_1_TOKEN":      false,
		"TIDEWATCH_STORAGE__accountName":  false,
		"tidewatch_registries":            false,
		"TIDEWATCH_REGISTRY_<N>_USERNAME": false,
	}
	for name, want := range wantKnown {
		t.Run("known("+name+") is "+map[bool]string{true: "true", false: "false"}[want], func(t *testing.T) {
			if got := known(name); got != want {
				t.Errorf("known(%q) = %v, want %v", name, got, want)
			}
		})
	}
	t.Run("the per-registry helpers fill in the index", func(t *testing.T) {
		got := []string{registryUsername(3), registryPassword(10)}
		if diff := cmp.Diff([]string{"TIDEWATCH_REGISTRY_3_USERNAME", "TIDEWATCH_REGISTRY_10_PASSWORD"}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
