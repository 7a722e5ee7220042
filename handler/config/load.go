package config

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Load builds the Config from environ ("KEY=value" entries, as os.Environ returns).
// Empty values count as unset. All problems are reported together, joined, each a
// *SettingError naming its setting; secret values never appear in them.
func Load(environ []string) (*Config, error) {
	env := parseEnviron(environ)
	errs := unknownSettings(env)

	cfg := &Config{}
	var err error
	if cfg.Registries, err = parseRegistries(env); err != nil {
		errs = append(errs, err)
	}
	if cfg.Storage, err = parseStorage(env); err != nil {
		errs = append(errs, err)
	}
	if cfg.AdvisoriesURL, err = parseAdvisoriesURL(env.get(EnvAdvisoriesURL, DefaultAdvisoriesURL)); err != nil {
		errs = append(errs, err)
	}
	if cfg.OVALURL, err = parseSource(EnvOVALURL, env.get(EnvOVALURL, DefaultOVALURL)); err != nil {
		errs = append(errs, err)
	}
	if cfg.Ecosystems, err = ParseEcosystems(env.get(EnvEcosystems, DefaultEcosystems)); err != nil {
		errs = append(errs, err)
	}
	if cfg.SeveritySource, err = ParseSeveritySource(env.get(EnvSeveritySource, DefaultSeveritySource)); err != nil {
		errs = append(errs, err)
	}
	if cfg.SweepSchedule, err = parseSchedule(EnvSweepSchedule, env.get(EnvSweepSchedule, DefaultSweepSchedule)); err != nil {
		errs = append(errs, err)
	}
	if cfg.AdvisorySchedule, err = parseSchedule(EnvAdvisorySchedule, env.get(EnvAdvisorySchedule, DefaultAdvisorySchedule)); err != nil {
		errs = append(errs, err)
	}
	if cfg.PushDays, err = parseDays(EnvPushDays, env.get(EnvPushDays, strconv.Itoa(DefaultPushDays))); err != nil {
		errs = append(errs, err)
	}
	if cfg.PullDays, err = parseDays(EnvPullDays, env.get(EnvPullDays, strconv.Itoa(DefaultPullDays))); err != nil {
		errs = append(errs, err)
	}
	if cfg.MaxDBAge, err = ParseMaxDBAge(env.get(EnvMaxDBAge, DefaultMaxDBAge.String())); err != nil {
		errs = append(errs, err)
	}
	if cfg.ScanBudget, err = parseDuration(EnvScanBudget, env.get(EnvScanBudget, DefaultScanBudget.String()), MaxScanBudget); err != nil {
		errs = append(errs, err)
	}
	if cfg.RegistryConcurrency, err = parseCount(EnvRegistryConcurrency, env.get(EnvRegistryConcurrency, strconv.Itoa(DefaultRegistryConcurrency)), maxRegistryConcurrency); err != nil {
		errs = append(errs, err)
	}
	if cfg.LogLevel, err = parseLogLevel(env.get(EnvLogLevel, DefaultLogLevel.String())); err != nil {
		errs = append(errs, err)
	}
	if cfg.LogAnalyticsWorkspaceID, err = parseOptionalGUID(EnvLogAnalyticsWorkspace, env.get(EnvLogAnalyticsWorkspace, "")); err != nil {
		errs = append(errs, err)
	}
	if cfg.AzureClientID, err = parseOptionalGUID(EnvAzureClientID, env.get(EnvAzureClientID, "")); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// environment is the parsed environ with empty values dropped.
type environment map[string]string

// parseEnviron splits "KEY=value" entries; a later entry for a key wins. Values are not
// trimmed: a password may legitimately begin or end with a space.
func parseEnviron(environ []string) environment {
	env := make(environment, len(environ))
	for _, kv := range environ {
		key, value, _ := strings.Cut(kv, "=")
		if value == "" {
			delete(env, key)
			continue
		}
		env[key] = value
	}
	return env
}

// get returns the setting's value, or def when it is unset.
func (e environment) get(name, def string) string {
	if v, ok := e[name]; ok {
		return v
	}
	return def
}

// has reports whether the setting is set.
func (e environment) has(name string) bool {
	_, ok := e[name]
	return ok
}

// unknownSettings rejects TIDEWATCH_* variables Load does not read, suggesting the
// known name when only the case differs.
func unknownSettings(env environment) []error {
	var names []string
	for name := range env {
		if strings.HasPrefix(name, prefix) && !known(name) && !harnessVariable(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	errs := make([]error, 0, len(names))
	for _, name := range names {
		if i := slices.IndexFunc(Names(), func(known string) bool { return strings.EqualFold(known, name) }); i >= 0 {
			errs = append(errs, problem(name, "unknown setting (did you mean %s?)", Names()[i]))
			continue
		}
		errs = append(errs, problem(name, "unknown setting"))
	}
	return errs
}

// itoa formats a small int.
func itoa(n int) string { return strconv.Itoa(n) }

// parseCount reads a whole number in [1, max].
func parseCount(name, value string, max int) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 || n > max {
		return 0, problem(name, "want a whole number from 1 to %d, got %q", max, value)
	}
	return n, nil
}

// parseDays reads a whole number of days in [0, maxWindowDays]; 0 turns the window off.
func parseDays(name, value string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 || n > maxWindowDays {
		return 0, problem(name, "want a whole number of days from 0 to %d, got %q", maxWindowDays, value)
	}
	return n, nil
}

// ParseMaxDBAge reads TIDEWATCH_MAX_DB_AGE: a positive Go duration. The CLI's scan
// reads it too, without the rest of Load.
func ParseMaxDBAge(value string) (time.Duration, error) {
	return parseDuration(EnvMaxDBAge, value, 0)
}

// parseDuration reads a positive Go duration, below max when max is not 0.
func parseDuration(name, value string, max time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return 0, problem(name, "want a positive Go duration such as 48h or 9m30s, got %q", value)
	}
	if max > 0 && d >= max {
		return 0, problem(name, "must be less than %v (the host's functionTimeout), got %v", max, d)
	}
	return d, nil
}
