package match

import (
	"fmt"
	"slices"
	"strings"
)

// addRemediation writes each finding's remediation text. Findings of the same
// vulnerability, source package and fix share one text naming every affected
// installed binary of that source, so a reader upgrades them together.
func addRemediation(findings []Finding) {
	type group struct{ id, source, fixed, status string }
	binaries := make(map[group][]string)
	for _, f := range findings {
		g := group{f.ID, f.SourcePackage, f.FixedVersion, f.FixStatus}
		binaries[g] = append(binaries[g], f.Package)
	}
	for g, names := range binaries {
		slices.Sort(names)
		binaries[g] = slices.Compact(names)
	}
	for i := range findings {
		f := &findings[i]
		names := binaries[group{f.ID, f.SourcePackage, f.FixedVersion, f.FixStatus}]
		f.Remediation = remediation(f.SourcePackage, names, f.FixedVersion, f.FixStatus)
	}
}

// remediation phrases what to do about one vulnerability of one source package.
func remediation(source string, binaries []string, fixed, status string) string {
	list := strings.Join(binaries, ", ")
	switch status {
	case FixStatusFixed:
		if len(binaries) == 1 && binaries[0] == source {
			return fmt.Sprintf("upgrade %s to %s", source, fixed)
		}
		return fmt.Sprintf("upgrade %s (source %s) to %s", list, source, fixed)
	case FixStatusWontFix:
		return fmt.Sprintf("no fix planned for %s: the distribution will not fix it in this release (installed: %s)", source, list)
	default:
		return fmt.Sprintf("no fix available for %s yet (installed: %s)", source, list)
	}
}
