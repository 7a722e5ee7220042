package config

import (
	"regexp"
	"slices"
	"strings"
)

// Setting names, exactly as they appear in app settings and the environment.
const (
	EnvRegistries             = "TIDEWATCH_REGISTRIES"
	EnvStorage                = "TIDEWATCH_STORAGE"
	EnvStorageQueueServiceURI = "TIDEWATCH_STORAGE__queueServiceUri"
	EnvStorageTableServiceURI = "TIDEWATCH_STORAGE__tableServiceUri"
	EnvStorageBlobServiceURI  = "TIDEWATCH_STORAGE__blobServiceUri"
	EnvStorageCredential      = "TIDEWATCH_STORAGE__credential"
	EnvStorageClientID        = "TIDEWATCH_STORAGE__clientId"
	EnvAdvisoriesURL          = "TIDEWATCH_ADVISORIES_URL"
	EnvOVALURL                = "TIDEWATCH_OVAL_URL"
	EnvEcosystems             = "TIDEWATCH_ECOSYSTEMS"
	EnvSeveritySource         = "TIDEWATCH_SEVERITY_SOURCE"
	EnvSweepSchedule          = "TIDEWATCH_SWEEP_SCHEDULE"
	EnvAdvisorySchedule       = "TIDEWATCH_ADVISORY_SCHEDULE"
	EnvPushDays               = "TIDEWATCH_PUSH_DAYS"
	EnvPullDays               = "TIDEWATCH_PULL_DAYS"
	EnvMaxDBAge               = "TIDEWATCH_MAX_DB_AGE"
	EnvLogAnalyticsWorkspace  = "TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID"
	EnvScanBudget             = "TIDEWATCH_SCAN_BUDGET"
	EnvLogLevel               = "TIDEWATCH_LOG_LEVEL"
	EnvRegistryConcurrency    = "TIDEWATCH_REGISTRY_CONCURRENCY"
	EnvAzureClientID          = "AZURE_CLIENT_ID"
)

// Per-registry setting patterns; <N> is the 1-based position in TIDEWATCH_REGISTRIES.
const (
	PatternRegistryUsername = "TIDEWATCH_REGISTRY_<N>_USERNAME"
	PatternRegistryPassword = "TIDEWATCH_REGISTRY_<N>_PASSWORD"
)

// prefix is the namespace in which unknown variables are rejected.
const prefix = "TIDEWATCH_"

// Names returns every fixed setting name Load reads, in a stable order.
func Names() []string {
	return []string{
		EnvRegistries,
		EnvStorage, EnvStorageQueueServiceURI, EnvStorageTableServiceURI, EnvStorageBlobServiceURI,
		EnvStorageCredential, EnvStorageClientID,
		EnvAdvisoriesURL, EnvOVALURL, EnvEcosystems, EnvSeveritySource,
		EnvSweepSchedule, EnvAdvisorySchedule,
		EnvPushDays, EnvPullDays, EnvMaxDBAge,
		EnvLogAnalyticsWorkspace, EnvScanBudget, EnvLogLevel,
		EnvRegistryConcurrency,
		EnvAzureClientID,
	}
}

// Patterns returns the per-registry setting names with <N> for the registry's position.
func Patterns() []string {
	return []string{PatternRegistryUsername, PatternRegistryPassword}
}

// registryUsername returns the username setting of the n-th (1-based) registry.
func registryUsername(n int) string { return registrySetting(PatternRegistryUsername, n) }

// registryPassword returns the password setting of the n-th (1-based) registry.
func registryPassword(n int) string { return registrySetting(PatternRegistryPassword, n) }

func registrySetting(pattern string, n int) string {
	return strings.Replace(pattern, "<N>", itoa(n), 1)
}

// registrySettingRE matches a per-registry setting: a positive index without leading zeros.
var registrySettingRE = regexp.MustCompile(`^TIDEWATCH_REGISTRY_([1-9][0-9]*)_(USERNAME|PASSWORD)$`)

// known reports whether name is a setting Load reads (for any registry index).
func known(name string) bool {
	return slices.Contains(Names(), name) || registrySettingRE.MatchString(name)
}

// harnessVariable reports whether name belongs to the test harness (testenv, scripts),
// not to the product, and is therefore neither read nor rejected.
func harnessVariable(name string) bool {
	return strings.HasPrefix(name, "TIDEWATCH_TEST_") || name == "TIDEWATCH_SHARED"
}
