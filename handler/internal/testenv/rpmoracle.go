package testenv

import (
	"testing"
)

// almaLinuxEcosystem is the OSV ecosystem of the AlmaLinux fixture (9.0).
const almaLinuxEcosystem = "AlmaLinux:9"

// AlmaLinuxOracle derives the findings a scanner must report for AlmaLinux 9 rpm
// packages independently of Tidewatch: it reads the shared OSV AlmaLinux export
// with archive/zip and encoding/json, matches records by BINARY package name (as
// AlmaLinux's feed names them) and decides every range with rpm's own
// rpm.labelCompare (RPMVersions), never with Tidewatch's or osv-scalibr's code.
//
// AlmaLinux records name their CVEs only in `related`, so each record is its own
// vulnerability, keyed by its ALSA/ALBA/ALEA id. Only what the shared data holds is
// evaluated: ECOSYSTEM ranges of introduced/fixed events, no version lists; a
// record outside that shape fails the test.
type AlmaLinuxOracle struct {
	rpm       *RPMVersions
	byPackage map[string][]*osvRecord
}

// NewAlmaLinuxOracle reads <Advisories>/AlmaLinux/all.zip; without python3-rpm the
// test is skipped (failed under TIDEWATCH_TEST_REQUIRE_SERVICES=1).
func NewAlmaLinuxOracle(t testing.TB) *AlmaLinuxOracle {
	t.Helper()
	v := NewRPMVersions(t)
	x := loadOSVExport(t, "AlmaLinux", almaLinuxEcosystem)
	return &AlmaLinuxOracle{rpm: v, byPackage: x.byPackage}
}

// Findings returns the findings of packages (all introduced by layer diffID),
// sorted by ID and Package: every record whose AlmaLinux:9 range for the binary
// package covers its "[epoch:]version-release", per rpm. The ranges' comparisons
// run in one rpm subprocess, those of one finding's fixes in one each.
func (o *AlmaLinuxOracle) Findings(t testing.TB, pkgs []RPMPackage, diffID string) []ExpectedFinding {
	t.Helper()
	ranges := namingRanges(t, pkgs,
		func(p RPMPackage) []*osvRecord { return o.byPackage[p.Package] },
		func(p RPMPackage, ecosystem, name string) bool {
			return ecosystem == almaLinuxEcosystem && name == p.Package
		})
	less := rangesOrder(t, o.rpm, ranges, RPMPackage.EVR)
	return expectFindings(ranges, findingRules[RPMPackage, ExpectedFinding]{
		keys: func(r osvRange[RPMPackage]) []ExpectedFinding {
			return []ExpectedFinding{{ID: r.rec.ID, Package: r.pkg.Package, LayerDiffID: diffID}}
		},
		covers: func(r osvRange[RPMPackage]) (string, bool) {
			introduced, fixed := rangeEvents(t, r.rec.ID, r.typ, r.events)
			return intervalCovers(r.pkg.EVR(), introduced, fixed, less)
		},
		collapse: func(_ ExpectedFinding, fixes []string) string {
			return highestFix(fixes, o.rpm.lessFunc(t))
		},
	})
}

// lessFunc orders two EVRs with rpm, one subprocess per comparison.
func (v *RPMVersions) lessFunc(t testing.TB) func(a, b string) bool {
	return func(a, b string) bool { return v.CompareAll(t, [][2]string{{a, b}})[0] < 0 }
}

// rangesOrder asks rpm, in one subprocess, to order each package's EVR against the
// bounds of its ranges, and returns that order; a pair rpm was not asked fails the
// test.
func rangesOrder[P any](t testing.TB, rpm *RPMVersions, ranges []osvRange[P], evr func(P) string) func(a, b string) bool {
	t.Helper()
	var pairs [][2]string
	for _, r := range ranges {
		introduced, fixed := rangeEvents(t, r.rec.ID, r.typ, r.events)
		if introduced != "0" {
			pairs = append(pairs, [2]string{evr(r.pkg), introduced})
		}
		if fixed != "" {
			pairs = append(pairs, [2]string{evr(r.pkg), fixed})
		}
	}
	answers := rpm.CompareAll(t, pairs)
	order := make(map[[2]string]int, len(pairs))
	for i, pair := range pairs {
		order[pair] = answers[i]
	}
	return func(a, b string) bool {
		n, ok := order[[2]string{a, b}]
		if !ok {
			t.Fatalf("rpm was not asked to order %q against %q", a, b)
		}
		return n < 0
	}
}

// rangeEvents returns the introduced and fixed versions of an "introduced X [,
// fixed Y]" ECOSYSTEM range.
func rangeEvents(t testing.TB, id, typ string, events []map[string]string) (introduced, fixed string) {
	t.Helper()
	if typ != "ECOSYSTEM" {
		t.Fatalf("%s has a %s range; the oracle evaluates ECOSYSTEM only", id, typ)
	}
	for _, e := range events {
		for k, v := range e {
			switch k {
			case "introduced":
				introduced = v
			case "fixed":
				fixed = v
			default:
				t.Fatalf("%s has a %s event; the oracle evaluates introduced/fixed only", id, k)
			}
		}
	}
	if introduced == "" || len(events) > 2 {
		t.Fatalf("%s has a range of unexpected shape %v", id, events)
	}
	return introduced, fixed
}
