package config

import "fmt"

// SettingError reports a missing, unknown or invalid setting. It never contains the
// value of a secret setting.
type SettingError struct {
	Name    string // the setting, e.g. TIDEWATCH_PUSH_DAYS
	Problem string // what is wrong with it
}

// Error names the setting and what is wrong with it.
func (e *SettingError) Error() string { return e.Name + ": " + e.Problem }

// problem returns a *SettingError for name.
func problem(name, format string, args ...any) error {
	return &SettingError{Name: name, Problem: fmt.Sprintf(format, args...)}
}
