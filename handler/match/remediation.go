package match

import (
	"fmt"
	"slices"
	"strings"
)

// maxNamedBinaries bounds how many installed binaries a remediation names, so its
// size does not grow with the number of binaries built from one source.
const maxNamedBinaries = 5

// addRemediation writes each finding's remediation text. Findings of the same
// vulnerability, source package and fix share one text (one string, not a copy per
// finding) naming the source and at most maxNamedBinaries of its installed binaries.
func addRemediation(findings []Finding) {
	type group struct{ ecosystem, id, source, fixed, status string }
	groupOf := func(f *Finding) group {
		return group{f.Ecosystem, f.ID, f.SourcePackage, f.FixedVersion, f.FixStatus}
	}
	binaries := make(map[group][]string)
	for i := range findings {
		g := groupOf(&findings[i])
		binaries[g] = append(binaries[g], findings[i].Package)
	}
	texts := make(map[group]string, len(binaries))
	for g, names := range binaries {
		slices.Sort(names)
		texts[g] = remediation(g.ecosystem, g.source, slices.Compact(names), g.fixed, g.status)
	}
	for i := range findings {
		findings[i].Remediation = texts[groupOf(&findings[i])]
	}
}

// remediation phrases what to do about one vulnerability of one source package.
func remediation(ecosystem, source string, binaries []string, fixed, status string) string {
	if ecosystem == "Go" && source == "stdlib" {
		if status == FixStatusFixed {
			return fmt.Sprintf("rebuild with Go %s or later", fixed)
		}
		return "no fixed Go release yet"
	}
	installed := ""
	if len(binaries) != 1 || binaries[0] != source {
		installed = " (installed: " + installedList(binaries) + ")"
	}
	switch status {
	case FixStatusFixed:
		return fmt.Sprintf("upgrade %s%s to %s", sourceWord(installed), source, fixed) + installed
	case FixStatusWontFix:
		return fmt.Sprintf("no fix planned for %s: the distribution will not fix it in this release", source) + installed
	default:
		return fmt.Sprintf("no fix available for %s yet", source) + installed
	}
}

// sourceWord is "source " when the remediation also lists installed binaries.
func sourceWord(installed string) string {
	if installed == "" {
		return ""
	}
	return "source "
}

// installedList names sorted binaries, at most maxNamedBinaries of them.
func installedList(binaries []string) string {
	if len(binaries) <= maxNamedBinaries {
		return strings.Join(binaries, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(binaries[:maxNamedBinaries], ", "), len(binaries)-maxNamedBinaries)
}
