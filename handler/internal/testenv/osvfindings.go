package testenv

import (
	"cmp"
	"slices"
	"strings"
	"testing"
)

// The OSV oracles share one derivation: the ranges of the records naming each
// installed package, the findings of those covering its version, one fix per
// finding. Each oracle brings what is its own: how it finds a package's records,
// its version order, how it names findings and collapses their fixes.

// osvRange is one range of a record's affected entry naming an installed package.
type osvRange[P any] struct {
	pkg    P
	rec    *osvRecord
	typ    string
	events []map[string]string
}

// namingRanges lists the ranges of the records(p) whose affected entries name each
// package p, as names(p, ecosystem, name) decides. An entry listing explicit
// versions fails the test: the oracles evaluate ranges only.
func namingRanges[P any](t testing.TB, pkgs []P, records func(P) []*osvRecord, names func(p P, ecosystem, name string) bool) []osvRange[P] {
	t.Helper()
	var out []osvRange[P]
	for _, p := range pkgs {
		for _, rec := range records(p) {
			for _, a := range rec.Affected {
				if !names(p, a.Package.Ecosystem, a.Package.Name) {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					out = append(out, osvRange[P]{pkg: p, rec: rec, typ: r.Type, events: r.Events})
				}
			}
		}
	}
	return out
}

// expectedFinding is a finding an oracle builds: comparable so the ranges giving
// it collapse, given its fix by withFix, ordered by compare.
type expectedFinding[K any] interface {
	comparable
	withFix(fixed string) K
	compare(other K) int
}

// findingRules is what one oracle decides about a range.
type findingRules[P any, K any] struct {
	// keys are the findings (without fix) a range gives if it covers the version.
	keys func(r osvRange[P]) []K
	// covers reports whether the range covers the package's version, and its fix.
	covers func(r osvRange[P]) (fixed string, affected bool)
	// collapse is the fix of finding k given the fixes of the ranges giving it
	// (highestFix for most oracles).
	collapse func(k K, fixes []string) string
}

// expectFindings returns the findings the ranges give, each with the fix collapse
// gives it, sorted.
func expectFindings[P any, K expectedFinding[K]](ranges []osvRange[P], rules findingRules[P, K]) []K {
	fixes := make(map[K][]string)
	for _, r := range ranges {
		keys := rules.keys(r)
		fixed, affected := rules.covers(r)
		if !affected {
			continue
		}
		for _, k := range keys {
			fixes[k] = append(fixes[k], fixed)
		}
	}
	out := make([]K, 0, len(fixes))
	for k, versions := range fixes {
		out = append(out, k.withFix(rules.collapse(k, versions)))
	}
	slices.SortFunc(out, K.compare)
	return out
}

// highestFix is the highest of fixes, none if one is empty.
func highestFix(fixes []string, less func(a, b string) bool) string {
	if slices.Contains(fixes, "") {
		return ""
	}
	best := fixes[0]
	for _, v := range fixes[1:] {
		if less(best, v) {
			best = v
		}
	}
	return best
}

// intervalCovers reports whether "introduced X [, fixed Y]" covers version, and Y.
func intervalCovers(version, introduced, fixed string, less func(a, b string) bool) (string, bool) {
	if introduced != "0" && less(version, introduced) {
		return "", false
	}
	if fixed != "" && !less(version, fixed) {
		return "", false
	}
	return fixed, true
}

// ascendingCovers walks a range's ascending introduced/fixed events: the version is
// affected from an introduced event at or below it to the next fixed event above
// it, which is the fix. A range of another type than want fails the test.
func ascendingCovers(t testing.TB, id, want, typ string, events []map[string]string, v string, less func(a, b string) bool) (fixed string, affected bool) {
	t.Helper()
	if typ != want {
		t.Fatalf("%s has a %s range; the oracle evaluates %s only", id, typ, want)
	}
	previous := ""
	for _, e := range events {
		if len(e) != 1 {
			t.Fatalf("%s has an event with %d fields", id, len(e))
		}
		for kind, at := range e {
			if previous != "" && previous != "0" && less(at, previous) {
				t.Fatalf("%s lists events out of order (%s after %s)", id, at, previous)
			}
			previous = at
			switch kind {
			case "introduced":
				if at == "0" || !less(v, at) {
					affected = true
				}
			case "fixed":
				if !affected {
					continue
				}
				if less(v, at) {
					return at, true
				}
				affected = false
			default:
				t.Fatalf("%s has a %s event; the oracle evaluates introduced/fixed only", id, kind)
			}
		}
	}
	return "", affected
}

// vulnerabilityIDs are the CVEs a record names as its id, aliases or upstream,
// else its own id.
func vulnerabilityIDs(rec *osvRecord) []string {
	var ids []string
	for _, id := range slices.Concat([]string{rec.ID}, rec.Aliases, rec.Upstream) {
		if strings.HasPrefix(id, "CVE-") && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return []string{rec.ID}
	}
	return ids
}

// perVulnerability is a finding per vulnerability id of rec.
func perVulnerability[K any](rec *osvRecord, finding func(id string) K) []K {
	var keys []K
	for _, id := range vulnerabilityIDs(rec) {
		keys = append(keys, finding(id))
	}
	return keys
}

func (f ExpectedFinding) withFix(fixed string) ExpectedFinding {
	f.FixedVersion = fixed
	return f
}

func (f ExpectedFinding) compare(g ExpectedFinding) int {
	return cmp.Or(strings.Compare(f.ID, g.ID), strings.Compare(f.Package, g.Package), strings.Compare(f.LayerDiffID, g.LayerDiffID))
}
