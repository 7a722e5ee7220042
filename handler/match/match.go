package match

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/semantic"
	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// hit is one affected entry that affects an installed package.
type hit struct {
	entry   *advisory.Affected
	verdict verdict
}

// Match returns the findings for pkgs, installed in an image of ecosystem
// ("Debian:12"), sorted by ID then Package. It fails with ErrEcosystemNotLoaded when
// the index holds no data for ecosystem.
//
// A package whose version the ecosystem cannot parse is not matched.
func Match(idx *advisory.Index, ecosystem string, pkgs []inventory.Package) ([]Finding, error) {
	if err := checkEcosystem(idx, ecosystem); err != nil {
		return nil, err
	}
	var findings []Finding
	reported := make(map[[2]string]bool)
	for _, pkg := range pkgs {
		name, version := matchKey(ecosystem, pkg)
		entries := idx.Affected(ecosystem, name)
		if len(entries) == 0 {
			continue
		}
		installed, err := semantic.Parse(version, ecosystem)
		if err != nil {
			continue
		}
		byVuln := hitsByVulnerability(versionComparer{ecosystem, installed}, entries)
		for id, hits := range byVuln {
			key := [2]string{id, pkg.Name}
			if reported[key] {
				continue
			}
			reported[key] = true
			findings = append(findings, newFinding(id, hits, pkg, name, ecosystem))
		}
	}
	addRemediation(findings)
	slices.SortFunc(findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package, b.Package))
	})
	return findings, nil
}

// checkEcosystem refuses an ecosystem the index cannot answer for.
func checkEcosystem(idx *advisory.Index, ecosystem string) error {
	if ecosystem == "" {
		return fmt.Errorf("matching packages: no ecosystem given: %w", ErrEcosystemNotLoaded)
	}
	if _, err := semantic.Parse("0", ecosystem); err != nil {
		return fmt.Errorf("matching packages of %s: %w: %w", ecosystem, ErrEcosystemNotLoaded, err)
	}
	if idx == nil || !idx.Covers(ecosystem) {
		return fmt.Errorf("matching packages of %s: no advisories for it in the index: %w", ecosystem, ErrEcosystemNotLoaded)
	}
	return nil
}

// matchKey is the (name, version) the ecosystem's advisories name a package by:
// Debian, Ubuntu and Alpine advisories name source (origin) packages, the others the
// installed package itself.
func matchKey(ecosystem string, pkg inventory.Package) (string, string) {
	family, _, _ := strings.Cut(ecosystem, ":")
	switch family {
	case "Debian", "Ubuntu", "Alpine":
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
		for _, id := range vulnerabilityIDs(e.Record) {
			byVuln[id] = append(byVuln[id], hit{entry: e, verdict: v})
		}
	}
	return byVuln
}

// vulnerabilityIDs are the CVE ids a record is about (its id, aliases and upstream),
// or the record id when it names no CVE.
func vulnerabilityIDs(r *advisory.Record) []string {
	var ids []string
	if isCVE(r.ID) {
		ids = append(ids, r.ID)
	}
	for _, a := range r.Aliases {
		if isCVE(a) {
			ids = append(ids, a)
		}
	}
	if len(ids) == 0 {
		return []string{r.ID}
	}
	return ids
}

func isCVE(id string) bool { return strings.HasPrefix(id, "CVE-") }
