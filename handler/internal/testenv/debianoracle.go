package testenv

import (
	"cmp"
	"slices"
	"strings"
	"testing"
)

// debianEcosystem is the OSV ecosystem of the Debian fixtures (bookworm).
const debianEcosystem = "Debian:12"

// DebianOracle derives the findings a scanner must report for Debian packages
// independently of Tidewatch: it reads the shared OSV Debian export with archive/zip
// and encoding/json and decides every range with dpkg (DpkgVersions), never with
// Tidewatch's advisory or match packages.
//
// It evaluates only what the shared data holds: ECOSYSTEM ranges of
// introduced/fixed events, no explicit version lists, one CVE per record. A record
// outside that shape fails the test rather than being skipped.
type DebianOracle struct {
	dpkg *DpkgVersions
	// ids holds the id of every record, withdrawn ones included.
	ids map[string]bool
	// bySource holds the records in force, by the Debian:12 source package they name.
	bySource map[string][]*osvRecord
}

// ExpectedFinding is one finding the oracle expects: a vulnerability of a binary
// package, collapsed over the records that name the same CVE.
type ExpectedFinding struct {
	// ID is the CVE the records name.
	ID string
	// Package is the binary package name.
	Package string
	// FixedVersion is the highest fix of the records, empty if any record has none.
	FixedVersion string
	// LayerDiffID is the layer that introduced the package.
	LayerDiffID string
}

// NewDebianOracle reads <Advisories>/Debian/all.zip. An unreadable export, one
// without a Debian:12 record, or a missing dpkg, fails the test.
func NewDebianOracle(t testing.TB) *DebianOracle {
	t.Helper()
	x := loadOSVExport(t, "Debian", debianEcosystem)
	return &DebianOracle{dpkg: NewDpkgVersions(t), ids: x.ids, bySource: x.byPackage}
}

// HasRecord reports whether the export holds a record with this id, withdrawn or not.
func (o *DebianOracle) HasRecord(id string) bool { return o.ids[id] }

// Dpkg returns the oracle's version comparer, for checks of single versions.
func (o *DebianOracle) Dpkg() *DpkgVersions { return o.dpkg }

// Findings returns the findings of one platform's packages, sorted by ID, Package
// and LayerDiffID: every record in force for a package's source whose range covers
// the source version, per dpkg.
func (o *DebianOracle) findings(t testing.TB, pkgs []DpkgPackage) []ExpectedFinding {
	t.Helper()
	fixes := make(map[ExpectedFinding][]string) // keyed with FixedVersion unset
	for _, p := range pkgs {
		for _, rec := range o.bySource[p.SourcePackage] {
			cve := recordCVE(t, rec)
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != debianEcosystem || a.Package.Name != p.SourcePackage {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					if fixed, affected := o.covers(t, rec.ID, r.Type, r.Events, p.SourceVersion); affected {
						key := ExpectedFinding{ID: cve, Package: p.Package, LayerDiffID: p.IntroducedInLayerDiffID}
						fixes[key] = append(fixes[key], fixed)
					}
				}
			}
		}
	}
	out := make([]ExpectedFinding, 0, len(fixes))
	for key, versions := range fixes {
		out = append(out, o.collapse(t, key, versions))
	}
	slices.SortFunc(out, func(a, b ExpectedFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package), strings.Compare(a.LayerDiffID, b.LayerDiffID))
	})
	return out
}

// collapse gives a finding named by several records the highest fix, and none if
// any record lacks one.
func (o *DebianOracle) collapse(t testing.TB, f ExpectedFinding, fixes []string) ExpectedFinding {
	t.Helper()
	for _, v := range fixes {
		if v == "" {
			f.FixedVersion = ""
			break
		}
		if f.FixedVersion == "" || o.dpkg.Compare(t, v, f.FixedVersion) > 0 {
			f.FixedVersion = v
		}
	}
	return f
}

// covers reports whether a range "introduced X [, fixed Y]" covers version, and Y.
func (o *DebianOracle) covers(t testing.TB, id, typ string, events []map[string]string, version string) (fixed string, affected bool) {
	t.Helper()
	introduced, fixed := rangeEvents(t, id, typ, events)
	if introduced != "0" && !o.dpkg.Holds(t, version, "ge", introduced) {
		return "", false
	}
	if fixed != "" && !o.dpkg.Holds(t, version, "lt", fixed) {
		return "", false
	}
	return fixed, true
}

// recordCVE returns the one CVE a record names in its aliases or upstream ids.
func recordCVE(t testing.TB, rec *osvRecord) string {
	t.Helper()
	var cves []string
	for _, id := range slices.Concat(rec.Aliases, rec.Upstream) {
		if strings.HasPrefix(id, "CVE-") && !slices.Contains(cves, id) {
			cves = append(cves, id)
		}
	}
	if len(cves) != 1 {
		t.Fatalf("%s names %d CVEs; the oracle expects exactly one", rec.ID, len(cves))
	}
	return cves[0]
}
