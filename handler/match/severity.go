package match

import (
	"fmt"
	"slices"
	"strings"
)

// severities lists the severities highest first; UNKNOWN is last, so a minimum of
// LOW or above leaves it out.
var severities = [...]string{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityUnknown}

// Severities returns the severity names highest first, UNKNOWN last: the one order
// every report and filter uses.
func Severities() []string { return slices.Clone(severities[:]) }

// severityRank orders severities: higher is more severe; an unknown name ranks as
// UNKNOWN.
func severityRank(s string) int {
	if i := slices.Index(severities[:], s); i >= 0 {
		return len(severities) - i
	}
	return 1
}

// ParseSeverity turns a user-supplied severity name ("high", "Critical") into one of
// the Severity constants.
func ParseSeverity(s string) (string, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if !slices.Contains(severities[:], name) {
		return "", fmt.Errorf("severity %q (want critical, high, medium, low or unknown): %w", s, ErrUnknownSeverity)
	}
	return name, nil
}

// SeveritiesAtLeast returns min and every severity above it, highest first
// ("HIGH" gives CRITICAL, HIGH). The name is matched case-insensitively; an unknown
// min gives nil.
func SeveritiesAtLeast(min string) []string {
	i := slices.IndexFunc(severities[:], func(s string) bool { return strings.EqualFold(s, strings.TrimSpace(min)) })
	if i < 0 {
		return nil
	}
	return slices.Clone(severities[:i+1])
}

// ratingSeverity maps a distribution's rating word (Debian tracker urgency, Ubuntu
// priority, the RHEL family's Critical/Important/Moderate/Low) to a severity.
// Debian's "unimportant" and Ubuntu's "negligible" are LOW; "not yet assigned" and
// "end-of-life" say nothing about impact and are UNKNOWN.
func ratingSeverity(rating string) string {
	switch normalizeRating(rating) {
	case "critical":
		return SeverityCritical
	case "high", "important":
		return SeverityHigh
	case "medium", "moderate":
		return SeverityMedium
	case "low", "unimportant", "negligible":
		return SeverityLow
	default:
		return SeverityUnknown
	}
}

// normalizeRating lowercases a rating and drops the tracker's "**" markers.
func normalizeRating(rating string) string {
	return strings.Trim(strings.ToLower(strings.TrimSpace(rating)), "* ")
}

// wontFix reports whether a tracker urgency means the distribution will not fix the
// issue in this release.
func wontFix(urgency string) bool {
	switch normalizeRating(urgency) {
	case "unimportant", "end-of-life":
		return true
	}
	return false
}
