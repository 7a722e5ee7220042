package match

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// newFinding collapses the hits of one vulnerability on the package the ecosystem's
// advisories call source into a Finding template without the installed package's
// fields (see withPackage). Remediation is filled in later, when every binary of the
// source is known.
func newFinding(idx *advisory.Index, id string, hits []hit, source, ecosystem string) Finding {
	slices.SortFunc(hits, func(a, b hit) int { return strings.Compare(a.entry.Record.ID, b.entry.Record.ID) })
	f := Finding{
		ID:            id,
		Aliases:       aliases(id, hits),
		SourcePackage: source,
		Ecosystem:     ecosystem,
		Summary:       summary(id, hits),
	}
	f.FixedVersion, f.FixStatus = fixOf(ecosystem, hits)
	f.Severity, f.CVSS, f.SeveritySource = severityOf(idx, id, ecosystem, hits)
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

// severityOf resolves a finding's severity, in this order: (a) the highest scored
// CVSS vector of the matched records themselves; (b) else the highest of the records
// the finding's CVE, or the matched records' related CVEs, name among the loaded
// ones (the severity folder's CVE-* records); (c) else the highest distribution
// rating the matched records carry; (d) else UNKNOWN. It returns the severity, the
// scored vector (nil for a rating) and where the severity came from.
func severityOf(idx *advisory.Index, id, ecosystem string, hits []hit) (string, *CVSS, string) {
	var own scored
	for _, h := range hits {
		own.consider(h.entry.Record.ID, h.entry.Record.Severity)
		own.consider(h.entry.Record.ID, h.entry.Severity)
	}
	if own.best != nil {
		return own.result()
	}
	var linked scored
	for _, cve := range linkedCVEs(id, hits) {
		linked.consider(cve, idx.SeverityOf(cve))
	}
	if linked.best != nil {
		return linked.result()
	}
	rating, source := SeverityUnknown, ""
	consider := func(kind, value string) {
		if r := ratingSeverity(value); severityRank(r) > severityRank(rating) {
			rating, source = r, ratingSource(ecosystem, kind)
		}
	}
	for _, h := range hits {
		for _, s := range slices.Concat(h.entry.Record.Severity, h.entry.Severity) {
			if s.Type == "Ubuntu" {
				consider("priority", s.Score)
			}
		}
		for _, r := range slices.Concat(h.entry.Ratings, h.entry.Record.Ratings) {
			consider(r.Kind, r.Value)
		}
	}
	return rating, nil, source
}

// linkedCVEs are the CVEs whose records may score a finding: its own id when that
// is a CVE, else the related CVEs of its records (an ALSA's), sorted.
func linkedCVEs(id string, hits []hit) []string {
	if isCVE(id) {
		return []string{id}
	}
	var out []string
	for _, h := range hits {
		for _, r := range h.entry.Record.Related {
			if isCVE(r) && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ratingSource names a distribution rating: "debian urgency", "almalinux severity".
func ratingSource(ecosystem, kind string) string {
	family, _, _ := strings.Cut(ecosystem, ":")
	return strings.ToLower(family) + " " + kind
}

// scored keeps the highest scored CVSS vector seen: highest band, then highest
// score, then the newest CVSS version.
type scored struct {
	best   *CVSS
	kind   string
	record string
}

// consider scores the CVSS entries a record states; entries that are not CVSS or
// do not parse are skipped.
func (s *scored) consider(record string, entries []advisory.Severity) {
	for _, e := range entries {
		c, err := scoreVector(e.Type, e.Score)
		if err != nil {
			continue
		}
		if s.best == nil || cmp.Or(
			cmp.Compare(severityRank(cvssSeverity(c)), severityRank(cvssSeverity(s.best))),
			cmp.Compare(c.Score, s.best.Score),
			cmp.Compare(c.Version, s.best.Version)) > 0 {
			s.best, s.kind, s.record = c, e.Type, record
		}
	}
}

func (s *scored) result() (string, *CVSS, string) {
	return cvssSeverity(s.best), s.best, s.kind + " from " + s.record
}
