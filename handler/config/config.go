package config

import (
	"fmt"
	"log/slog"
	"time"
)

// AuthMode is how Tidewatch authenticates to a registry.
type AuthMode string

// Registry authentication modes, as written after "=" in TIDEWATCH_REGISTRIES.
const (
	// AuthACR exchanges the managed identity's Entra token for an ACR refresh token.
	AuthACR AuthMode = "acr"
	// AuthBasic uses TIDEWATCH_REGISTRY_<N>_USERNAME and _PASSWORD.
	AuthBasic AuthMode = "basic"
	// AuthAnonymous sends no credentials (token flows without credentials still work).
	AuthAnonymous AuthMode = "anonymous"
)

// Defaults for optional settings.
const (
	DefaultAdvisoriesURL    = "https://osv-vulnerabilities.storage.googleapis.com"
	DefaultOVALURL          = "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main"
	DefaultEcosystems       = "Debian"
	DefaultSeveritySource   = "GIT"
	DefaultSweepSchedule    = "0 0 */6 * * *"
	DefaultAdvisorySchedule = "0 0 * * * *"
	DefaultPushDays         = 90
	DefaultPullDays         = 30
	DefaultMaxDBAge         = 48 * time.Hour
	DefaultScanBudget       = 9 * time.Minute
	DefaultLogLevel         = slog.LevelInfo
	// DefaultRegistryConcurrency is the listing floor's concurrency (regfill -list).
	DefaultRegistryConcurrency = 32
)

// maxRegistryConcurrency bounds TIDEWATCH_REGISTRY_CONCURRENCY.
const maxRegistryConcurrency = 1024

// MaxScanBudget bounds TIDEWATCH_SCAN_BUDGET: host.json's functionTimeout. The budget
// must end before the host kills the invocation so the outcome can still be recorded.
const MaxScanBudget = 10 * time.Minute

// maxWindowDays bounds the activity windows (ten years).
const maxWindowDays = 3650

// Config is Tidewatch's validated configuration. Build it with Load.
type Config struct {
	// Registries are the registries to sweep, in TIDEWATCH_REGISTRIES order.
	Registries []Registry
	// Storage says how to reach the one storage account.
	Storage Storage
	// AdvisoriesURL is the OSV bulk export base: an http(s) URL or a local directory.
	AdvisoriesURL string
	// OVALURL is where the Azure Linux / CBL-Mariner OVAL documents are read from
	// (an http(s) URL or a local directory) when Ecosystems lists "Azure Linux".
	OVALURL string
	// Ecosystems are the OSV ecosystems synced, e.g. "Debian", "Alpine".
	Ecosystems []string
	// SeveritySource is the folder of the OSV export whose NVD-converted CVE-*
	// records supply CVSS vectors for findings whose own records have none; it is
	// loaded as severity data only, never matched as packages.
	SeveritySource string
	// SweepSchedule and AdvisorySchedule are 6-field NCRONTAB expressions.
	SweepSchedule    string
	AdvisorySchedule string
	// PushDays and PullDays are the activity windows that make an image due for scanning.
	PushDays int
	PullDays int
	// MaxDBAge is how old the advisory index may get before scans fail instead of matching.
	MaxDBAge time.Duration
	// LogAnalyticsWorkspaceID, if set, is queried for ACR pull events.
	LogAnalyticsWorkspaceID string
	// ScanBudget is the deadline each invocation gets.
	ScanBudget time.Duration
	// RegistryConcurrency bounds the requests one process has in flight to each
	// registry (every listing, HEAD, manifest and blob fetch counts, retries included).
	RegistryConcurrency int
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// AzureClientID is the user-assigned identity for ACR pulls and Log Analytics; empty
	// means the system-assigned identity or the developer's credential.
	AzureClientID string
}

// Registry is one entry of TIDEWATCH_REGISTRIES with its credentials.
type Registry struct {
	// Host is the lower-cased registry host, with a port if one was given.
	Host string
	Auth AuthMode
	// Username and Password are set only for AuthBasic.
	Username string
	Password Secret
}

// Storage is exactly one of the two ways to reach the storage account.
type Storage struct {
	// ConnectionString is set for connection-string access (Azurite, local runs).
	ConnectionString Secret
	// The service URLs and ClientID are set for identity-based access.
	QueueServiceURL string
	TableServiceURL string
	BlobServiceURL  string
	// ClientID selects a user-assigned managed identity; empty means system-assigned.
	ClientID string
}

// UsesIdentity reports whether storage is reached with a managed identity rather than
// a connection string.
func (s Storage) UsesIdentity() bool { return s.ConnectionString == "" }

// LogValue logs the configuration without secrets: registries with their auth modes,
// the storage mode and endpoints, and the plain settings.
func (c *Config) LogValue() slog.Value {
	registries := make([]string, len(c.Registries))
	for i, r := range c.Registries {
		registries[i] = r.Host + "=" + string(r.Auth)
	}
	storage := slog.GroupValue(slog.String("mode", "connectionString"))
	if c.Storage.UsesIdentity() {
		storage = slog.GroupValue(
			slog.String("mode", "managedIdentity"),
			slog.String("queueServiceUri", c.Storage.QueueServiceURL),
			slog.String("tableServiceUri", c.Storage.TableServiceURL),
			slog.String("blobServiceUri", c.Storage.BlobServiceURL),
			slog.String("clientId", c.Storage.ClientID),
		)
	}
	return slog.GroupValue(
		slog.Any("registries", registries),
		slog.Attr{Key: "storage", Value: storage},
		slog.String("advisoriesUrl", c.AdvisoriesURL),
		slog.String("ovalUrl", c.OVALURL),
		slog.Any("ecosystems", c.Ecosystems),
		slog.String("severitySource", c.SeveritySource),
		slog.String("sweepSchedule", c.SweepSchedule),
		slog.String("advisorySchedule", c.AdvisorySchedule),
		slog.Int("pushDays", c.PushDays),
		slog.Int("pullDays", c.PullDays),
		slog.String("maxDbAge", c.MaxDBAge.String()),
		slog.String("logAnalyticsWorkspaceId", c.LogAnalyticsWorkspaceID),
		slog.String("scanBudget", c.ScanBudget.String()),
		slog.String("logLevel", c.LogLevel.String()),
		slog.Int("registryConcurrency", c.RegistryConcurrency),
		slog.String("azureClientId", c.AzureClientID),
	)
}

// String renders the configuration without secrets.
func (c *Config) String() string {
	type plain Config // drops the methods, so fmt prints fields; Secret fields redact themselves
	return fmt.Sprintf("%+v", plain(*c))
}
