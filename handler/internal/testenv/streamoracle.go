package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// InstalledRPM is one installed rpm package as a stream oracle takes it.
type InstalledRPM struct {
	// Package is the binary package name, EVR its "[epoch:]version-release".
	Package, EVR string
	// LayerDiffID is the layer that introduced it.
	LayerDiffID string
}

// StreamOracle derives the findings of rpm packages matched against the product
// streams of Red Hat's or SUSE's records (ecosystems "Red Hat:enterprise_linux:9::baseos",
// "SUSE:Linux Enterprise Module for Basesystem 15 SP5") independently of Tidewatch:
// it reads a directory of OSV records with encoding/json, matches affected entries
// by ecosystem (one of the image's streams) and BINARY package name, and decides
// every range with rpm's own rpm.labelCompare. A modular package (release
// "….module+el…") is expected unmatched: its module stream cannot be told.
type StreamOracle struct {
	rpm     *RPMVersions
	records []*osvRecord
}

// NewStreamOracle reads every *.json record in dir; without python3-rpm the test
// is skipped (failed under TIDEWATCH_TEST_REQUIRE_SERVICES=1).
func NewStreamOracle(t testing.TB, dir string) *StreamOracle {
	t.Helper()
	o := &StreamOracle{rpm: NewRPMVersions(t)}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no OSV records in %s (%v)", dir, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rec := new(osvRecord)
		if err := json.Unmarshal(raw, rec); err != nil {
			t.Fatalf("decoding %s: %v", f, err)
		}
		if rec.Withdrawn == "" {
			o.records = append(o.records, rec)
		}
	}
	return o
}

// Findings returns, sorted by ID and Package, one finding per (vulnerability,
// package): the vulnerability is each CVE the record's id, aliases and upstream
// name, else the record id; the fix is the highest of the affecting ranges', none
// if one has none.
func (o *StreamOracle) Findings(t testing.TB, streams []string, pkgs []InstalledRPM) []ExpectedFinding {
	t.Helper()
	pkgs = slices.DeleteFunc(slices.Clone(pkgs), func(p InstalledRPM) bool { return strings.Contains(p.EVR, ".module+el") })
	ranges := namingRanges(t, pkgs,
		func(InstalledRPM) []*osvRecord { return o.records },
		func(p InstalledRPM, ecosystem, name string) bool {
			return name == p.Package && slices.Contains(streams, ecosystem)
		})
	less := rangesOrder(t, o.rpm, ranges, func(p InstalledRPM) string { return p.EVR })
	return expectFindings(ranges, findingRules[InstalledRPM, ExpectedFinding]{
		keys: func(r osvRange[InstalledRPM]) []ExpectedFinding {
			return perVulnerability(r.rec, func(id string) ExpectedFinding {
				return ExpectedFinding{ID: id, Package: r.pkg.Package, LayerDiffID: r.pkg.LayerDiffID}
			})
		},
		covers: func(r osvRange[InstalledRPM]) (string, bool) {
			introduced, fixed := rangeEvents(t, r.rec.ID, r.typ, r.events)
			return intervalCovers(r.pkg.EVR, introduced, fixed, less)
		},
		collapse: func(_ ExpectedFinding, fixes []string) string {
			return highestFix(fixes, o.rpm.lessFunc(t))
		},
	})
}
