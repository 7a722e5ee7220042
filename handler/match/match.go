package match

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// Result is what matching one image's packages found.
type Result struct {
	// Findings are sorted by ID, Package, Ecosystem, Location.
	Findings []Finding
	// Gaps lists, sorted by ecosystem, the ecosystems whose packages could not be
	// matched. Packages without an ecosystem are in no gap: they have no advisory
	// source at all, and the caller reports them with the OS.
	Gaps []EcosystemGap
	// MatchedPackages counts the packages matched against loaded advisories, with
	// or without findings.
	MatchedPackages int
}

// EcosystemGap says how many packages of one ecosystem were not matched, and why.
type EcosystemGap struct {
	Ecosystem string `json:"ecosystem"`
	Packages  int    `json:"packages"`
	Reason    string `json:"reason"`
}

// Reasons of an EcosystemGap.
const (
	GapNotLoaded   = "no advisories loaded for it"
	GapNoSemantics = "its versions cannot be compared"
	GapBadVersion  = "installed version does not parse"
)

// hit is one affected entry that affects an installed package.
type hit struct {
	entry   *advisory.Affected
	verdict verdict
}

// Match matches each package in its own Package.Ecosystem: Debian, Ubuntu, Alpine,
// Wolfi and Chainguard packages by source (origin) name and version, the others by name and
// version, compared with the ecosystem's ordering. A finding's identity is
// (vulnerability, ecosystem, package, location); it is reported once.
//
// Packages with no ecosystem are not matched. An ecosystem the index holds no
// advisories for is a gap in the result, not an error; so are the packages whose
// installed version their ecosystem cannot parse. A nil index matches nothing.
//
// Packages of the "Red Hat" and "SUSE" families are matched against product
// streams the image's OS names; Match knows no OS, so they are a gap: use
// MatchImage.
func Match(idx *advisory.Index, pkgs []inventory.Package) Result {
	return matchPackages(idx, nil, nil, pkgs)
}

// MatchImage is Match for the packages of one image whose distribution is os (nil
// without os-release): RHEL/UBI packages are matched against every Red Hat stream
// of os.Streams, SLES and SLE Micro ones against every SUSE product of
// os.ProductRelease the index holds (see streams.go).
func MatchImage(idx *advisory.Index, os *inventory.OS, pkgs []inventory.Package) Result {
	return matchPackages(idx, nil, os, pkgs)
}

// matchPackages is MatchImage, remembering evaluations in memo when it is not nil.
func matchPackages(idx *advisory.Index, memo *Matcher, os *inventory.OS, pkgs []inventory.Package) Result {
	byEcosystem := make(map[string][]inventory.Package)
	for _, p := range pkgs {
		if p.Ecosystem != "" {
			byEcosystem[p.Ecosystem] = append(byEcosystem[p.Ecosystem], p)
		}
	}
	var (
		res          Result
		perEcosystem [][]Finding
	)
	for _, eco := range slices.Sorted(maps.Keys(byEcosystem)) {
		group := byEcosystem[eco]
		if isStreamFamily(eco) {
			findings, gaps, matched := matchStreams(idx, memo, os, eco, group)
			perEcosystem = append(perEcosystem, findings)
			res.Gaps = append(res.Gaps, gaps...)
			res.MatchedPackages += matched
			continue
		}
		if reason := gapReason(idx, eco); reason != "" {
			res.Gaps = append(res.Gaps, EcosystemGap{Ecosystem: eco, Packages: len(group), Reason: reason})
			continue
		}
		findings, unparsable := matchEcosystem(lookupIn(idx, memo, eco), eco, group)
		perEcosystem = append(perEcosystem, findings)
		res.MatchedPackages += len(group) - unparsable
		if unparsable > 0 {
			res.Gaps = append(res.Gaps, EcosystemGap{Ecosystem: eco, Packages: unparsable, Reason: GapBadVersion})
		}
	}
	if len(perEcosystem) == 1 {
		res.Findings = perEcosystem[0] // the usual single-ecosystem image: no copy
	} else {
		res.Findings = slices.Concat(perEcosystem...)
	}
	addRemediation(res.Findings)
	slices.SortFunc(res.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package, b.Package),
			cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Location, b.Location))
	})
	return res
}

// gapReason says why packages of ecosystem cannot be matched, "" when they can.
func gapReason(idx *advisory.Index, ecosystem string) string {
	if _, err := parseVersion("0", ecosystem); err != nil {
		return GapNoSemantics
	}
	if idx == nil || !idx.Covers(ecosystem) {
		return GapNotLoaded
	}
	return ""
}

// lookup evaluates one (advisory package name, installed version): the finding
// templates of the vulnerabilities affecting it, sorted by ID, and false when the
// version does not parse.
type lookup func(name, version string) ([]Finding, bool)

// lookupIn is the lookup of ecosystem's advisories in idx, remembered in memo when
// it is not nil.
func lookupIn(idx *advisory.Index, memo *Matcher, ecosystem string) lookup {
	if memo != nil {
		return func(name, version string) ([]Finding, bool) { return memo.vulnerabilities(ecosystem, name, version) }
	}
	return func(name, version string) ([]Finding, bool) { return vulnerabilities(idx, ecosystem, name, version) }
}

// matchEcosystem matches packages of one loaded ecosystem, each evaluated by
// evaluate, and counts those whose version does not parse. Packages sharing a match
// key (the binaries of one source) share one evaluation and one set of
// per-vulnerability facts, and the findings are allocated once at their final size,
// so work and memory stay linear in findings.
func matchEcosystem(evaluate lookup, ecosystem string, pkgs []inventory.Package) ([]Finding, int) {
	type key struct{ name, version string }
	type evaluation struct {
		templates []Finding
		parsed    bool
	}
	type identity struct{ name, location string }
	evaluated := make(map[key]*evaluation)
	keys := make([]*evaluation, len(pkgs))
	total := 0
	for i, pkg := range pkgs {
		name, version := matchKey(ecosystem, pkg)
		e, ok := evaluated[key{name, version}]
		if !ok {
			e = new(evaluation)
			e.templates, e.parsed = evaluate(name, version)
			evaluated[key{name, version}] = e
		}
		keys[i] = e
		total += len(e.templates)
	}
	findings := make([]Finding, 0, total)
	// A package listed twice at one location (two architectures of one binary, two
	// versions in one database) gets each vulnerability once: the first listing's.
	first := make(map[identity]*evaluation, len(pkgs))
	unparsable := 0
	for i, pkg := range pkgs {
		e := keys[i]
		if !e.parsed {
			unparsable++
			continue
		}
		id := identity{pkg.Name, pkg.Location}
		earlier, repeated := first[id]
		if !repeated {
			first[id] = e
		}
		for _, tmpl := range e.templates {
			if repeated && (earlier == e || hasVulnerability(earlier.templates, tmpl.ID)) {
				continue
			}
			findings = append(findings, withPackage(tmpl, pkg))
		}
	}
	return findings, unparsable
}

// hasVulnerability reports whether templates, sorted by ID, hold id.
func hasVulnerability(templates []Finding, id string) bool {
	_, found := slices.BinarySearchFunc(templates, id, func(f Finding, id string) int { return cmp.Compare(f.ID, id) })
	return found
}

// vulnerabilities returns one finding template per vulnerability affecting version
// of the package the ecosystem's advisories call name, sorted by ID, and false when
// version does not parse in the ecosystem.
func vulnerabilities(idx *advisory.Index, ecosystem, name, version string) ([]Finding, bool) {
	installed, err := parseVersion(version, ecosystem)
	if err != nil {
		return nil, false
	}
	entries := idx.Affected(ecosystem, name)
	if len(entries) == 0 {
		return nil, true
	}
	byVuln := hitsByVulnerability(versionComparer{ecosystem, installed}, entries)
	out := make([]Finding, 0, len(byVuln))
	for id, hits := range byVuln {
		out = append(out, newFinding(idx, id, hits, name, ecosystem))
	}
	slices.SortFunc(out, func(a, b Finding) int { return cmp.Compare(a.ID, b.ID) })
	return out, true
}

// matchKey is the (name, version) the ecosystem's advisories name a package by:
// Debian, Ubuntu and the apk distributions' (Alpine, Wolfi, Chainguard) advisories
// name source (origin) packages, as osv-scalibr's matcher looks them up; the others
// the installed package itself.
func matchKey(ecosystem string, pkg inventory.Package) (string, string) {
	family, _, _ := strings.Cut(ecosystem, ":")
	switch family {
	case "Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard":
		if pkg.SourceName != "" && pkg.SourceVersion != "" {
			return pkg.SourceName, pkg.SourceVersion
		}
	}
	return pkg.Name, pkg.Version
}

// hitsByVulnerability evaluates every entry for the installed version and groups
// the affecting ones by vulnerability id.
func hitsByVulnerability(c versionComparer, entries []*advisory.Affected) map[string][]hit {
	byVuln := make(map[string][]hit)
	for _, e := range entries {
		v := evaluate(c, e)
		if !v.affected {
			continue
		}
		for _, id := range vulnerabilityIDs(c.ecosystem, e.Record) {
			byVuln[id] = append(byVuln[id], hit{entry: e, verdict: v})
		}
	}
	return byVuln
}

// vulnerabilityIDs are the CVE ids a record is about (its id, aliases and upstream),
// or the record id when it names no CVE. In PyPI, whose OSV folder holds the PyPA
// (PYSEC-) and GitHub (GHSA-) records of one vulnerability side by side, a record
// naming no CVE is about the lowest of its id and its PYSEC-/GHSA- aliases, so the
// two records, which alias each other, are one finding.
func vulnerabilityIDs(ecosystem string, r *advisory.Record) []string {
	var ids []string
	if isCVE(r.ID) {
		ids = append(ids, r.ID)
	}
	for _, a := range r.Aliases {
		if isCVE(a) {
			ids = append(ids, a)
		}
	}
	if len(ids) > 0 {
		return ids
	}
	id := r.ID
	if ecosystem == "PyPI" {
		for _, a := range r.Aliases {
			if (strings.HasPrefix(a, "PYSEC-") || strings.HasPrefix(a, "GHSA-")) && a < id {
				id = a
			}
		}
	}
	return []string{id}
}

func isCVE(id string) bool { return strings.HasPrefix(id, "CVE-") }
