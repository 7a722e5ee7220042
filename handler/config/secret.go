package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Secret is a setting value that must never be printed, logged or serialised:
// passwords and connection strings holding account keys. Every formatting path
// (fmt verbs including %#v, slog, JSON) yields "[redacted]", or "" when unset.
// Use Reveal where the value is actually needed.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]" for a set secret and "" for an unset one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format makes every fmt verb print the redacted form.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, s.String()) }

// LogValue makes slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON makes encoding/json write the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
