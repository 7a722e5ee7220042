package testenv

import (
	"cmp"
	"slices"
	"strings"
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

// rpmRange is one range of one record over one installed package.
type rpmRange struct {
	key                   ExpectedFinding
	introduced, fixed     string
	installed             string
	geIntroduced, ltFixed int // indexes into the comparison batch, -1 when not needed
}

// Findings returns the findings of packages (all introduced by layer diffID),
// sorted by ID and Package: every record whose AlmaLinux:9 range for the binary
// package covers its "[epoch:]version-release", per rpm. All comparisons run in
// two rpm subprocesses (ranges, then the fixes of one finding against each other).
func (o *AlmaLinuxOracle) findings(t testing.TB, pkgs []RPMPackage, diffID string) []ExpectedFinding {
	t.Helper()
	var ranges []rpmRange
	var pairs [][2]string
	ask := func(a, b string) int {
		pairs = append(pairs, [2]string{a, b})
		return len(pairs) - 1
	}
	for _, p := range pkgs {
		installed := p.EVR()
		for _, rec := range o.byPackage[p.Package] {
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != almaLinuxEcosystem || a.Package.Name != p.Package {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					introduced, fixed := rangeEvents(t, rec.ID, r.Type, r.Events)
					rr := rpmRange{key: ExpectedFinding{ID: rec.ID, Package: p.Package, LayerDiffID: diffID},
						introduced: introduced, fixed: fixed, installed: installed, geIntroduced: -1, ltFixed: -1}
					if introduced != "0" {
						rr.geIntroduced = ask(installed, introduced)
					}
					if fixed != "" {
						rr.ltFixed = ask(installed, fixed)
					}
					ranges = append(ranges, rr)
				}
			}
		}
	}
	answers := o.rpm.CompareAll(t, pairs)
	fixes := map[ExpectedFinding][]string{}
	for _, r := range ranges {
		if r.geIntroduced >= 0 && answers[r.geIntroduced] < 0 {
			continue
		}
		if r.ltFixed >= 0 && answers[r.ltFixed] >= 0 {
			continue
		}
		fixes[r.key] = append(fixes[r.key], r.fixed)
	}
	out := make([]ExpectedFinding, 0, len(fixes))
	for key, versions := range fixes {
		out = append(out, o.collapse(t, key, versions))
	}
	slices.SortFunc(out, func(a, b ExpectedFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package))
	})
	return out
}

// collapse gives a finding covered by several ranges the highest fix, and none if
// any range lacks one.
func (o *AlmaLinuxOracle) collapse(t testing.TB, f ExpectedFinding, fixes []string) ExpectedFinding {
	t.Helper()
	if slices.Contains(fixes, "") {
		return f
	}
	f.FixedVersion = fixes[0]
	for _, v := range fixes[1:] {
		if o.rpm.CompareAll(t, [][2]string{{v, f.FixedVersion}})[0] > 0 {
			f.FixedVersion = v
		}
	}
	return f
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
