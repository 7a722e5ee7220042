package config

import (
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/ossf/osv-schema/bindings/go/osvconstants"
)

// parseAdvisoriesURL accepts an http(s) URL or an existing local directory.
func parseAdvisoriesURL(value string) (string, error) { return parseSource(EnvAdvisoriesURL, value) }

// parseSource accepts, for setting name, an http(s) URL or an existing local directory.
func parseSource(name, value string) (string, error) {
	if scheme, _, ok := strings.Cut(value, "://"); ok {
		u, err := url.Parse(value)
		if err != nil || (scheme != "http" && scheme != "https") || u.Host == "" {
			return "", problem(name, "want an http(s) URL or a local directory, got %q", value)
		}
		return strings.TrimSuffix(value, "/"), nil
	}
	info, err := os.Stat(value)
	if err != nil {
		return "", problem(name, "local advisories directory: %v", err)
	}
	if !info.IsDir() {
		return "", problem(name, "%q is not a directory", value)
	}
	return value, nil
}

// osvEcosystems are the ecosystems of the OSV schema (osvconstants.SchemaVersion),
// which are also the directory names of the bulk export. The spellings are
// osv-schema's own; a test checks that every constant of the package is listed.
var osvEcosystems = []osvconstants.Ecosystem{
	osvconstants.EcosystemAlmaLinux, osvconstants.EcosystemAlpaquita, osvconstants.EcosystemAlpine,
	osvconstants.EcosystemAndroid, osvconstants.EcosystemAzureLinux, osvconstants.EcosystemBellSoftHardenedContainers,
	osvconstants.EcosystemBioconductor, osvconstants.EcosystemBitnami, osvconstants.EcosystemChainguard,
	osvconstants.EcosystemCleanStart, osvconstants.EcosystemConanCenter, osvconstants.EcosystemCRAN,
	osvconstants.EcosystemCratesIO, osvconstants.EcosystemDebian, osvconstants.EcosystemDockerHardenedImages,
	osvconstants.EcosystemEcho, osvconstants.EcosystemFreeBSD, osvconstants.EcosystemGHC,
	osvconstants.EcosystemGitHubActions, osvconstants.EcosystemGo, osvconstants.EcosystemHackage,
	osvconstants.EcosystemHex, osvconstants.EcosystemJulia, osvconstants.EcosystemKubernetes,
	osvconstants.EcosystemLinux, osvconstants.EcosystemMageia, osvconstants.EcosystemMaven,
	osvconstants.EcosystemMinimOS, osvconstants.EcosystemNPM, osvconstants.EcosystemNuGet,
	osvconstants.EcosystemOpam, osvconstants.EcosystemOpenEuler, osvconstants.EcosystemOpenSUSE,
	osvconstants.EcosystemOSSFuzz, osvconstants.EcosystemPackagist, osvconstants.EcosystemPhotonOS,
	osvconstants.EcosystemPub, osvconstants.EcosystemPyPI, osvconstants.EcosystemRedHat,
	osvconstants.EcosystemRockyLinux, osvconstants.EcosystemRoot, osvconstants.EcosystemRubyGems,
	osvconstants.EcosystemSUSE, osvconstants.EcosystemSwiftURL, osvconstants.EcosystemTuxCare,
	osvconstants.EcosystemUbuntu, osvconstants.EcosystemVSCode, osvconstants.EcosystemWolfi,
}

// ParseEcosystems reads a comma list of OSV ecosystem names, exact case, as
// TIDEWATCH_ECOSYSTEMS holds it: the CLI and the pipeline load the same set. Errors
// are *SettingError naming TIDEWATCH_ECOSYSTEMS.
func ParseEcosystems(value string) ([]string, error) {
	var ecosystems []string
	for _, part := range strings.Split(value, ",") {
		name := strings.TrimSpace(part)
		switch i := slices.IndexFunc(osvEcosystems, func(e osvconstants.Ecosystem) bool { return strings.EqualFold(string(e), name) }); {
		case name == "":
			return nil, problem(EnvEcosystems, "empty entry in %q", value)
		case i < 0:
			return nil, problem(EnvEcosystems, "%q is not an OSV ecosystem", name)
		case string(osvEcosystems[i]) != name:
			return nil, problem(EnvEcosystems, "%q is spelled %q in OSV", name, osvEcosystems[i])
		case slices.Contains(ecosystems, name):
			return nil, problem(EnvEcosystems, "%q is listed twice", name)
		}
		ecosystems = append(ecosystems, name)
	}
	return ecosystems, nil
}

// cronFieldRE matches one NCRONTAB field: numbers, names, *, ranges, steps and lists.
var cronFieldRE = regexp.MustCompile(`^[0-9A-Za-z*?/,-]+$`)

// parseSchedule checks a 6-field NCRONTAB expression {second} {minute} {hour} {day}
// {month} {day-of-week}. The host does the full parse; this catches the common
// mistake of a 5-field Unix cron line, which the host would misread.
func parseSchedule(name, value string) (string, error) {
	fields := strings.Fields(value)
	if len(fields) != 6 {
		return "", problem(name, "want 6 NCRONTAB fields {second} {minute} {hour} {day} {month} {day-of-week}, got %d in %q", len(fields), value)
	}
	for _, f := range fields {
		if !cronFieldRE.MatchString(f) {
			return "", problem(name, "field %q of %q is not an NCRONTAB field", f, value)
		}
	}
	return strings.Join(fields, " "), nil
}

// parseLogLevel reads debug, info, warn or error.
func parseLogLevel(value string) (slog.Level, error) {
	switch strings.ToLower(value) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, problem(EnvLogLevel, "want debug, info, warn or error, got %q", value)
}

// guidRE matches a GUID in its usual 8-4-4-4-12 form.
var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// parseOptionalGUID accepts "" or a GUID, returned lower-cased.
func parseOptionalGUID(name, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	if !guidRE.MatchString(value) {
		return "", problem(name, "want a GUID such as 00000000-0000-0000-0000-000000000000, got %q", value)
	}
	return strings.ToLower(value), nil
}

// ParseSeveritySource checks a TIDEWATCH_SEVERITY_SOURCE value: the name of one
// folder of the OSV export ("GIT"), exact case.
func ParseSeveritySource(value string) (string, error) {
	if value == "." || value == ".." || strings.ContainsAny(value, `/\:`) || strings.TrimSpace(value) != value {
		return "", problem(EnvSeveritySource, "want the name of one folder of the advisory export, got %q", value)
	}
	return value, nil
}
