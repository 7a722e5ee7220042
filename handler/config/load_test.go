package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const azurite = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"

// minimal is the smallest valid environment; cases add to or override it.
var minimal = []string{
	"TIDEWATCH_REGISTRIES=contoso.azurecr.io",
	"TIDEWATCH_STORAGE=" + azurite,
}

// withDefaults is the Config the defaults in DESIGN.md describe, for minimal.
func withDefaults() *Config {
	return &Config{
		Registries:          []Registry{{Host: "contoso.azurecr.io", Auth: AuthACR}},
		Storage:             Storage{ConnectionString: azurite},
		AdvisoriesURL:       "https://osv-vulnerabilities.storage.googleapis.com",
		OVALURL:             "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main",
		Ecosystems:          []string{"Debian"},
		SeveritySource:      "GIT",
		SweepSchedule:       "0 0 */6 * * *",
		AdvisorySchedule:    "0 0 * * * *",
		PushDays:            90,
		PullDays:            30,
		MaxDBAge:            48 * time.Hour,
		ScanBudget:          9 * time.Minute,
		LogLevel:            slog.LevelInfo,
		RegistryConcurrency: 32,
	}
}

// environ returns minimal with extra entries appended (later entries win).
func environ(extra ...string) []string { return append(slices.Clone(minimal), extra...) }

// without returns env minus the entries for the named settings.
func without(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

func TestLoadValid(t *testing.T) {
	advisories := t.TempDir()
	tests := []struct {
		name string
		env  []string
		want func(*Config)
	}{
		{"the minimal environment takes every default", minimal, func(*Config) {}},
		{"empty values count as unset", environ("TIDEWATCH_PUSH_DAYS=", "TIDEWATCH_LOG_LEVEL=", "AZURE_CLIENT_ID="), func(*Config) {}},
		{"test-harness variables are neither read nor rejected", environ("TIDEWATCH_TEST_STORAGE=x", "TIDEWATCH_TEST_REQUIRE_SERVICES=1", "TIDEWATCH_SHARED=/tmp"), func(*Config) {}},
		{"the severity source names another folder of the export", environ("TIDEWATCH_SEVERITY_SOURCE=NVD"), func(c *Config) {
			c.SeveritySource = "NVD"
		}},
		{"unrelated variables are ignored", environ("PATH=/usr/bin", "FUNCTIONS_CUSTOMHANDLER_PORT=7071", "NOEQUALS"), func(*Config) {}},
		{"registries take default and explicit auth modes and basic credentials", environ(
			"TIDEWATCH_REGISTRIES=contoso.azurecr.io, localhost:5000=basic,ghcr.io,Harbor.Example.com:8443=ACR,127.0.0.1:5001=anonymous",
			"TIDEWATCH_REGISTRY_2_USERNAME=robot",
			"TIDEWATCH_REGISTRY_2_PASSWORD= pass word ",
		), func(c *Config) {
			c.Registries = []Registry{
				{Host: "contoso.azurecr.io", Auth: AuthACR},
				{Host: "localhost:5000", Auth: AuthBasic, Username: "robot", Password: " pass word "},
				{Host: "ghcr.io", Auth: AuthAnonymous},
				{Host: "harbor.example.com:8443", Auth: AuthACR},
				{Host: "127.0.0.1:5001", Auth: AuthAnonymous},
			}
		}},
		{"an ACR host with a port still defaults to acr", environ("TIDEWATCH_REGISTRIES=contoso.azurecr.io:443"), func(c *Config) {
			c.Registries = []Registry{{Host: "contoso.azurecr.io:443", Auth: AuthACR}}
		}},
		{"identity-based storage replaces the connection string", append(without(minimal, "TIDEWATCH_STORAGE"),
			"TIDEWATCH_STORAGE__queueServiceUri=https://acct.queue.core.windows.net",
			"TIDEWATCH_STORAGE__tableServiceUri=https://acct.table.core.windows.net",
			"TIDEWATCH_STORAGE__blobServiceUri=https://acct.blob.core.windows.net",
			"TIDEWATCH_STORAGE__credential=managedidentity",
			"TIDEWATCH_STORAGE__clientId=5B2A6F2E-0D6C-4F0E-9A57-1C0F3E8B2D41",
		), func(c *Config) {
			c.Storage = Storage{
				QueueServiceURL: "https://acct.queue.core.windows.net",
				TableServiceURL: "https://acct.table.core.windows.net",
				BlobServiceURL:  "https://acct.blob.core.windows.net",
				ClientID:        "5b2a6f2e-0d6c-4f0e-9a57-1c0f3e8b2d41",
			}
		}},
		{"identity-based storage may use the system identity and a loopback emulator", append(without(minimal, "TIDEWATCH_STORAGE"),
			"TIDEWATCH_STORAGE__queueServiceUri=http://127.0.0.1:10001/devstoreaccount1",
			"TIDEWATCH_STORAGE__tableServiceUri=http://localhost:10002/devstoreaccount1",
			"TIDEWATCH_STORAGE__blobServiceUri=https://acct.blob.core.windows.net",
			"TIDEWATCH_STORAGE__credential=ManagedIdentity",
		), func(c *Config) {
			c.Storage = Storage{
				QueueServiceURL: "http://127.0.0.1:10001/devstoreaccount1",
				TableServiceURL: "http://localhost:10002/devstoreaccount1",
				BlobServiceURL:  "https://acct.blob.core.windows.net",
			}
		}},
		{"the development-storage shortcut is a connection string", environ("TIDEWATCH_STORAGE=UseDevelopmentStorage=true"), func(c *Config) {
			c.Storage = Storage{ConnectionString: "UseDevelopmentStorage=true"}
		}},
		{"every optional setting is read", environ(
			"TIDEWATCH_ADVISORIES_URL="+advisories,
			"TIDEWATCH_ECOSYSTEMS=Debian, Alpine,Ubuntu",
			"TIDEWATCH_SWEEP_SCHEDULE=0  30 */2 * * MON-FRI",
			"TIDEWATCH_ADVISORY_SCHEDULE=0 15 * * * *",
			"TIDEWATCH_PUSH_DAYS=14",
			"TIDEWATCH_PULL_DAYS=0",
			"TIDEWATCH_MAX_DB_AGE=72h",
			"TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID=0b6c1f7e-3d0a-4b8e-8f7c-2a1d9e4c5b60",
			"TIDEWATCH_SCAN_BUDGET=9m30s",
			"TIDEWATCH_LOG_LEVEL=DEBUG",
			"TIDEWATCH_REGISTRY_CONCURRENCY=8",
			"AZURE_CLIENT_ID=a2b9c6b0-2f7e-4c6a-9d43-0d6f6a0f8a11",
		), func(c *Config) {
			c.AdvisoriesURL = advisories
			c.Ecosystems = []string{"Debian", "Alpine", "Ubuntu"}
			c.SweepSchedule = "0 30 */2 * * MON-FRI"
			c.AdvisorySchedule = "0 15 * * * *"
			c.PushDays, c.PullDays = 14, 0
			c.MaxDBAge = 72 * time.Hour
			c.LogAnalyticsWorkspaceID = "0b6c1f7e-3d0a-4b8e-8f7c-2a1d9e4c5b60"
			c.ScanBudget = 9*time.Minute + 30*time.Second
			c.LogLevel = slog.LevelDebug
			c.RegistryConcurrency = 8
			c.AzureClientID = "a2b9c6b0-2f7e-4c6a-9d43-0d6f6a0f8a11"
		}},
		{"an advisories URL loses its trailing slash", environ("TIDEWATCH_ADVISORIES_URL=http://127.0.0.1:8081/osv/"), func(c *Config) {
			c.AdvisoriesURL = "http://127.0.0.1:8081/osv"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := withDefaults()
			tt.want(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Config (-want +got):\n%s", diff)
			}
		})
	}
}

// settingNames returns the Name of every *SettingError in err's tree, in order.
func settingNames(err error) []string {
	var se *SettingError
	if errors.As(err, &se) && err == error(se) {
		return []string{se.Name}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if errors.As(err, &se) {
			return []string{se.Name}
		}
		return []string{"<not a SettingError: " + err.Error() + ">"}
	}
	var names []string
	for _, e := range joined.Unwrap() {
		names = append(names, settingNames(e)...)
	}
	return names
}

func TestLoadInvalid(t *testing.T) {
	file := filepath.Join(t.TempDir(), "all.zip")
	if err := os.WriteFile(file, []byte("zip"), 0o600); err != nil {
		t.Fatal(err)
	}
	identity := []string{
		"TIDEWATCH_STORAGE__queueServiceUri=https://acct.queue.core.windows.net",
		"TIDEWATCH_STORAGE__tableServiceUri=https://acct.table.core.windows.net",
		"TIDEWATCH_STORAGE__blobServiceUri=https://acct.blob.core.windows.net",
		"TIDEWATCH_STORAGE__credential=managedidentity",
	}
	noStorage := without(minimal, "TIDEWATCH_STORAGE")
	tests := []struct {
		name      string
		env       []string
		wantNames []string
		wantText  string // a phrase the message must contain
	}{
		{"a severity source that is a path, not one folder, is an error", environ("TIDEWATCH_SEVERITY_SOURCE=../GIT"), []string{"TIDEWATCH_SEVERITY_SOURCE"}, "one folder"},
		{"a severity source of dots is an error", environ("TIDEWATCH_SEVERITY_SOURCE=.."), []string{"TIDEWATCH_SEVERITY_SOURCE"}, "one folder"},
		{"an unknown TIDEWATCH variable is rejected", environ("TIDEWATCH_SCAN_TIMEOUT=5m"), []string{"TIDEWATCH_SCAN_TIMEOUT"}, "unknown setting"},
		{"a setting with the wrong case suggests the right one", environ("TIDEWATCH_PUSH_days=3"), []string{"TIDEWATCH_PUSH_days"}, "did you mean TIDEWATCH_PUSH_DAYS"},
		{"a registry URL instead of a host is an error", environ("TIDEWATCH_REGISTRIES=https://contoso.azurecr.io"), []string{"TIDEWATCH_REGISTRIES"}, "without scheme or path"},
		{"an empty registry entry is an error", environ("TIDEWATCH_REGISTRIES=a.io,,b.io"), []string{"TIDEWATCH_REGISTRIES"}, "entry 2 is empty"},
		{"an unknown auth mode is an error", environ("TIDEWATCH_REGISTRIES=a.io=token"), []string{"TIDEWATCH_REGISTRIES"}, `"token" is not acr, basic or anonymous`},
		{"a bad port is an error", environ("TIDEWATCH_REGISTRIES=localhost:99999"), []string{"TIDEWATCH_REGISTRIES"}, "port"},
		{"a host with underscores is an error", environ("TIDEWATCH_REGISTRIES=my_registry"), []string{"TIDEWATCH_REGISTRIES"}, "not a valid host name"},
		{"a registry listed twice is an error", environ("TIDEWATCH_REGISTRIES=a.io,A.IO"), []string{"TIDEWATCH_REGISTRIES"}, "listed twice"},
		{"basic auth needs both credentials", environ("TIDEWATCH_REGISTRIES=a.io,b.io=basic", "TIDEWATCH_REGISTRY_2_USERNAME=u"), []string{"TIDEWATCH_REGISTRY_2_PASSWORD"}, "basic auth"},
		{"credentials for a non-basic registry are an error", environ("TIDEWATCH_REGISTRY_1_USERNAME=u", "TIDEWATCH_REGISTRY_1_PASSWORD=p"), []string{"TIDEWATCH_REGISTRY_1_USERNAME", "TIDEWATCH_REGISTRY_1_PASSWORD"}, "=basic"},
		{"credentials beyond the registry list are an error", environ("TIDEWATCH_REGISTRY_3_USERNAME=u"), []string{"TIDEWATCH_REGISTRY_3_USERNAME"}, "lists only 1"},
		{"a registry index with a leading zero is unknown", environ("TIDEWATCH_REGISTRY_01_USERNAME=u"), []string{"TIDEWATCH_REGISTRY_01_USERNAME"}, "unknown setting"},
		{"a registry concurrency of zero is an error", environ("TIDEWATCH_REGISTRY_CONCURRENCY=0"), []string{"TIDEWATCH_REGISTRY_CONCURRENCY"}, "from 1 to 1024"},
		{"a registry concurrency that is not a number is an error", environ("TIDEWATCH_REGISTRY_CONCURRENCY=lots"), []string{"TIDEWATCH_REGISTRY_CONCURRENCY"}, "from 1 to 1024"},
		{"no storage is an error", noStorage, []string{"TIDEWATCH_STORAGE"}, "not configured"},
		{"both storage forms are an error", environ(identity...), []string{"TIDEWATCH_STORAGE"}, "not both"},
		{"incomplete identity storage names what is missing", append(slices.Clone(noStorage), identity[0]),
			[]string{"TIDEWATCH_STORAGE__tableServiceUri", "TIDEWATCH_STORAGE__blobServiceUri", "TIDEWATCH_STORAGE__credential"}, "required"},
		{"identity storage needs the managedidentity credential", append(slices.Clone(noStorage), append(slices.Clone(identity[:3]), "TIDEWATCH_STORAGE__credential=clientsecret")...),
			[]string{"TIDEWATCH_STORAGE__credential"}, "want managedidentity"},
		{"plain http to a remote storage endpoint is an error", append(slices.Clone(noStorage), append(slices.Clone(identity), "TIDEWATCH_STORAGE__queueServiceUri=http://acct.queue.core.windows.net")...),
			[]string{"TIDEWATCH_STORAGE__queueServiceUri"}, "https"},
		{"a client id that is not a GUID is an error", append(slices.Clone(noStorage), append(slices.Clone(identity), "TIDEWATCH_STORAGE__clientId=my-identity")...),
			[]string{"TIDEWATCH_STORAGE__clientId"}, "GUID"},
		{"a connection string that is not key=value is an error", environ("TIDEWATCH_STORAGE=hello"), []string{"TIDEWATCH_STORAGE"}, "not key=value"},
		{"a connection string without an account is an error", environ("TIDEWATCH_STORAGE=DefaultEndpointsProtocol=https"), []string{"TIDEWATCH_STORAGE"}, "AccountName"},
		{"a connection string with an unknown key is an error", environ("TIDEWATCH_STORAGE=AccountName=a;Acountkey=b"), []string{"TIDEWATCH_STORAGE"}, `"Acountkey"`},
		{"an ftp advisories URL is an error", environ("TIDEWATCH_ADVISORIES_URL=ftp://example.com/osv"), []string{"TIDEWATCH_ADVISORIES_URL"}, "http(s)"},
		{"a missing advisories directory is an error", environ("TIDEWATCH_ADVISORIES_URL=" + filepath.Join(t.TempDir(), "absent")), []string{"TIDEWATCH_ADVISORIES_URL"}, "no such file"},
		{"an advisories file is not a directory", environ("TIDEWATCH_ADVISORIES_URL=" + file), []string{"TIDEWATCH_ADVISORIES_URL"}, "not a directory"},
		{"a misspelt ecosystem is an error", environ("TIDEWATCH_ECOSYSTEMS=Debian,Debain"), []string{"TIDEWATCH_ECOSYSTEMS"}, `"Debain" is not an OSV ecosystem`},
		{"an ecosystem in the wrong case is an error", environ("TIDEWATCH_ECOSYSTEMS=debian"), []string{"TIDEWATCH_ECOSYSTEMS"}, `spelled "Debian"`},
		{"a 5-field cron line is an error", environ("TIDEWATCH_SWEEP_SCHEDULE=0 */6 * * *"), []string{"TIDEWATCH_SWEEP_SCHEDULE"}, "6 NCRONTAB fields"},
		{"a TimeSpan schedule is an error", environ("TIDEWATCH_ADVISORY_SCHEDULE=01:00:00"), []string{"TIDEWATCH_ADVISORY_SCHEDULE"}, "got 1"},
		{"a schedule field with odd characters is an error", environ("TIDEWATCH_SWEEP_SCHEDULE=0 0 */6 * * %DAY%"), []string{"TIDEWATCH_SWEEP_SCHEDULE"}, "not an NCRONTAB field"},
		{"negative push days are an error", environ("TIDEWATCH_PUSH_DAYS=-1"), []string{"TIDEWATCH_PUSH_DAYS"}, "whole number of days"},
		{"words for days are an error", environ("TIDEWATCH_PULL_DAYS=thirty"), []string{"TIDEWATCH_PULL_DAYS"}, `"thirty"`},
		{"a window over ten years is an error", environ("TIDEWATCH_PULL_DAYS=4000"), []string{"TIDEWATCH_PULL_DAYS"}, "3650"},
		{"a duration without a unit is an error", environ("TIDEWATCH_MAX_DB_AGE=48"), []string{"TIDEWATCH_MAX_DB_AGE"}, "Go duration"},
		{"a zero budget is an error", environ("TIDEWATCH_SCAN_BUDGET=0s"), []string{"TIDEWATCH_SCAN_BUDGET"}, "positive"},
		{"a budget reaching the function timeout is an error", environ("TIDEWATCH_SCAN_BUDGET=10m"), []string{"TIDEWATCH_SCAN_BUDGET"}, "functionTimeout"},
		{"an unknown log level is an error", environ("TIDEWATCH_LOG_LEVEL=verbose"), []string{"TIDEWATCH_LOG_LEVEL"}, "debug, info, warn or error"},
		{"a workspace id that is not a GUID is an error", environ("TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID=contoso-logs"), []string{"TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID"}, "GUID"},
		{"an AZURE_CLIENT_ID that is not a GUID is an error", environ("AZURE_CLIENT_ID=abc"), []string{"AZURE_CLIENT_ID"}, "GUID"},
		{"every problem is reported at once", environ("TIDEWATCH_BOGUS=1", "TIDEWATCH_PUSH_DAYS=x", "TIDEWATCH_LOG_LEVEL=loud"),
			[]string{"TIDEWATCH_BOGUS", "TIDEWATCH_PUSH_DAYS", "TIDEWATCH_LOG_LEVEL"}, "TIDEWATCH_LOG_LEVEL: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.env)
			if err == nil {
				t.Fatalf("Load succeeded with %+v", cfg)
			}
			if diff := cmp.Diff(tt.wantNames, settingNames(err)); diff != "" {
				t.Errorf("settings named (-want +got):\n%s\nerror: %v", diff, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}
