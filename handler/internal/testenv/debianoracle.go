package testenv

import (
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
func (o *DebianOracle) Findings(t testing.TB, pkgs []DpkgPackage) []ExpectedFinding {
	t.Helper()
	less := func(a, b string) bool { return o.dpkg.Less(t, a, b) }
	ranges := namingRanges(t, pkgs,
		func(p DpkgPackage) []*osvRecord { return o.bySource[p.SourcePackage] },
		func(p DpkgPackage, ecosystem, name string) bool {
			return ecosystem == debianEcosystem && name == p.SourcePackage
		})
	return expectFindings(ranges, findingRules[DpkgPackage, ExpectedFinding]{
		keys: func(r osvRange[DpkgPackage]) []ExpectedFinding {
			return []ExpectedFinding{{ID: recordCVE(t, r.rec), Package: r.pkg.Package, LayerDiffID: r.pkg.IntroducedInLayerDiffID}}
		},
		covers: func(r osvRange[DpkgPackage]) (string, bool) {
			introduced, fixed := rangeEvents(t, r.rec.ID, r.typ, r.events)
			return intervalCovers(r.pkg.SourceVersion, introduced, fixed, less)
		},
		collapse: func(_ ExpectedFinding, fixes []string) string {
			return highestFix(fixes, less)
		},
	})
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
