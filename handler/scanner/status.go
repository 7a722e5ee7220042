package scanner

import (
	"fmt"
	"strings"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// noEcosystem is the PlatformResult.Packages key of packages without an advisory
// ecosystem (OS packages of a distribution Tidewatch has no advisories for).
const noEcosystem = "none"

// maxListedSkips bounds how many skipped files Error names; Skipped has them all.
const maxListedSkips = 10

// NoAdvisorySource is the AdvisorySource of a platform whose OS packages have no
// advisories to be matched against.
const NoAdvisorySource = "none"

// assess turns an inventory and its match result against idx into a platform
// result: status, reason, counts, advisory source and findings.
func assess(idx *advisory.Index, inv *inventory.Inventory, m match.Result) PlatformResult {
	pr := PlatformResult{
		OS:             inv.OS,
		AdvisorySource: advisorySource(idx, inv.OS),
		Packages:       packageCounts(inv.Packages),
		Unmatched:      m.Gaps,
		Skipped:        inv.Skipped,
		Findings:       m.Findings,
		Inventory:      inv,
	}
	if pr.Unmatched == nil {
		pr.Unmatched = []match.EcosystemGap{}
	}
	if pr.Skipped == nil {
		pr.Skipped = []inventory.SkippedFile{}
	}
	if pr.Findings == nil {
		pr.Findings = []match.Finding{}
	}
	notes := unmatchedNotes(inv, pr.Packages[noEcosystem], m.Gaps)
	switch {
	case len(inv.Skipped) > 0:
		pr.Status = StatusIncomplete
		pr.Error = strings.Join(append([]string{skippedNote(inv.Skipped)}, notes...), "; ")
	case m.MatchedPackages == 0:
		pr.Status = StatusUnsupported
		switch {
		case len(notes) == 0:
			notes = []string{nothingFoundNote(inv.OS)}
		case inv.OS == nil:
			notes = append([]string{"no os-release"}, notes...)
		}
		pr.Error = strings.Join(notes, "; ")
	default:
		pr.Status = StatusScanned
		pr.Error = strings.Join(notes, "; ")
	}
	return pr
}

// advisorySource is the advisory folder of os's ecosystem when idx holds records
// for that ecosystem (for RHEL and SLES: for one of its streams), else
// NoAdvisorySource.
func advisorySource(idx *advisory.Index, os *inventory.OS) string {
	if os == nil || os.Ecosystem == "" || idx == nil {
		return NoAdvisorySource
	}
	covered := idx.Covers(os.Ecosystem)
	for _, s := range match.Streams(idx, os) {
		covered = covered || idx.Covers(s)
	}
	if !covered {
		return NoAdvisorySource
	}
	return advisory.Folder(os.Ecosystem)
}

// packageCounts counts packages per ecosystem.
func packageCounts(pkgs []inventory.Package) map[string]int {
	counts := make(map[string]int)
	for _, p := range pkgs {
		eco := p.Ecosystem
		if eco == "" {
			eco = noEcosystem
		}
		counts[eco]++
	}
	return counts
}

// unmatchedNotes says which packages were not matched and why, the OS first.
func unmatchedNotes(inv *inventory.Inventory, withoutEcosystem int, gaps []match.EcosystemGap) []string {
	var notes []string
	switch {
	case inv.OS != nil && inv.OS.Ecosystem == "" && withoutEcosystem == 0:
		notes = append(notes, fmt.Sprintf("OS %s: no advisory source", osName(inv.OS)))
	case inv.OS != nil && inv.OS.Ecosystem == "":
		notes = append(notes, fmt.Sprintf("OS %s: no advisory source (%s not matched)", osName(inv.OS), count(withoutEcosystem, "OS package")))
	case withoutEcosystem > 0:
		notes = append(notes, fmt.Sprintf("%s without an advisory ecosystem not matched", count(withoutEcosystem, "package")))
	}
	for _, g := range gaps {
		notes = append(notes, fmt.Sprintf("%s: %s not matched: %s", g.Ecosystem, count(g.Packages, "package"), g.Reason))
	}
	return notes
}

// nothingFoundNote explains a platform without any package to match.
func nothingFoundNote(os *inventory.OS) string {
	if os == nil {
		return "no os-release and no application packages found: nothing to match"
	}
	return fmt.Sprintf("OS %s: no packages found to match", osName(os))
}

// osName is "debian 12", or the pretty name when the release has no id.
func osName(os *inventory.OS) string {
	name := strings.TrimSpace(os.ID + " " + os.VersionID)
	if name == "" {
		name = os.PrettyName
	}
	if name == "" {
		return "unknown"
	}
	return name
}

// skippedNote names the skipped files, at most maxListedSkips of them.
func skippedNote(skipped []inventory.SkippedFile) string {
	listed := skipped[:min(len(skipped), maxListedSkips)]
	parts := make([]string, 0, len(listed))
	for _, f := range listed {
		parts = append(parts, fmt.Sprintf("%s (layer %d: %s)", f.Path, f.LayerIndex, f.Reason))
	}
	note := fmt.Sprintf("%s not inventoried: %s", count(len(skipped), "file"), strings.Join(parts, ", "))
	if more := len(skipped) - len(listed); more > 0 {
		note += fmt.Sprintf(" and %d more", more)
	}
	return note
}

// count is "1 file", "2 files".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
