package match

import (
	"slices"
	"strconv"
	"strings"

	"github.com/tidewatch/tidewatch/handler/inventory"
)

// newFinding collapses the hits of one vulnerability on the package the ecosystem's
// advisories call source into a Finding template without the installed package's
// fields (see withPackage). Remediation is filled in later, when every binary of the
// source is known.
func newFinding(id string, hits []hit, source, ecosystem string) Finding {
	slices.SortFunc(hits, func(a, b hit) int { return strings.Compare(a.entry.Record.ID, b.entry.Record.ID) })
	f := Finding{
		ID:            id,
		Aliases:       aliases(id, hits),
		SourcePackage: source,
		Ecosystem:     ecosystem,
		Summary:       summary(id, hits),
	}
	f.FixedVersion, f.FixStatus = fixOf(ecosystem, hits)
	f.Severity, f.CVSS = severityOf(hits)
	return f
}

// withPackage is the finding of template on one installed package. Findings of one
// template share its Aliases and CVSS, which nobody modifies.
func withPackage(template Finding, pkg inventory.Package) Finding {
	f := template
	f.Package = pkg.Name
	f.InstalledVersion = pkg.Version
	f.Layer = Layer{DiffID: pkg.LayerDiffID, Index: pkg.LayerIndex}
	f.Location = pkg.Location
	f.PURL = pkg.PURL
	return f
}

// aliases are the ids of the collapsed records and their non-CVE aliases (GHSA-…),
// without the finding's own id, sorted. Other CVEs a record names are separate
// vulnerabilities, not aliases.
func aliases(id string, hits []hit) []string {
	out := []string{}
	add := func(a string) {
		if a != id && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, h := range hits {
		add(h.entry.Record.ID)
		for _, a := range h.entry.Record.Aliases {
			if !isCVE(a) {
				add(a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// summary prefers the summary of the record whose id is the finding's, then the
// first non-empty one by record id.
func summary(id string, hits []hit) string {
	for _, h := range hits {
		if h.entry.Record.ID == id && h.entry.Record.Summary != "" {
			return h.entry.Record.Summary
		}
	}
	for _, h := range hits {
		if h.entry.Record.Summary != "" {
			return h.entry.Record.Summary
		}
	}
	return ""
}

// fixOf returns the version resolving every hit and the fix status.
func fixOf(ecosystem string, hits []hit) (string, string) {
	var fixes []string
	allFixed := true
	for _, h := range hits {
		if h.verdict.fixed == "" {
			allFixed = false
			continue
		}
		fixes = append(fixes, h.verdict.fixed)
	}
	if allFixed {
		if fixed := highest(ecosystem, fixes); fixed != "" {
			return fixed, FixStatusFixed
		}
	}
	for _, h := range hits {
		if h.verdict.fixed == "" && wontFix(h.entry.Urgency) {
			return "", FixStatusWontFix
		}
	}
	return "", FixStatusNotFixed
}

// severityOf picks the highest CVSS v3 base score among the hits' vectors, then a
// stated numeric CVSS v4 score, then the highest distribution rating.
func severityOf(hits []hit) (string, *CVSS) {
	var best *CVSS
	consider := func(c *CVSS) {
		if best == nil || c.Score > best.Score {
			best = c
		}
	}
	rating := SeverityUnknown
	for _, h := range hits {
		entries := slices.Concat(h.entry.Record.Severity, h.entry.Severity)
		for _, s := range entries {
			switch s.Type {
			case "CVSS_V3":
				if version, score, err := cvss3Score(s.Score); err == nil {
					consider(&CVSS{Version: version, Vector: s.Score, Score: score})
				}
			case "Ubuntu":
				rating = higher(rating, ratingSeverity(s.Score))
			}
		}
		rating = higher(rating, ratingSeverity(h.entry.Urgency))
	}
	if best == nil {
		best = statedV4(hits)
	}
	if best != nil {
		return scoreSeverity(best.Score), best
	}
	return rating, nil
}

// statedV4 returns the highest CVSS_V4 entry whose score is a plain number.
func statedV4(hits []hit) *CVSS {
	var best *CVSS
	for _, h := range hits {
		for _, s := range slices.Concat(h.entry.Record.Severity, h.entry.Severity) {
			if s.Type != "CVSS_V4" {
				continue
			}
			score, err := strconv.ParseFloat(s.Score, 64)
			if err != nil || score < 0 || score > 10 {
				continue
			}
			if best == nil || score > best.Score {
				best = &CVSS{Version: "4.0", Score: score}
			}
		}
	}
	return best
}

func higher(a, b string) string {
	if severityRank(b) > severityRank(a) {
		return b
	}
	return a
}
