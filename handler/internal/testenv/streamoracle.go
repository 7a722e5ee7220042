package testenv

import (
	"cmp"
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
func (o *StreamOracle) findings(t testing.TB, streams []string, pkgs []InstalledRPM) []ExpectedFinding {
	t.Helper()
	type candidate struct {
		keys                  []ExpectedFinding
		fixed                 string
		geIntroduced, ltFixed int
	}
	var candidates []candidate
	var pairs [][2]string
	ask := func(a, b string) int {
		pairs = append(pairs, [2]string{a, b})
		return len(pairs) - 1
	}
	for _, p := range pkgs {
		if strings.Contains(p.EVR, ".module+el") {
			continue
		}
		for _, rec := range o.records {
			for _, a := range rec.Affected {
				if a.Package.Name != p.Package || !slices.Contains(streams, a.Package.Ecosystem) {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					introduced, fixed := rangeEvents(t, rec.ID, r.Type, r.Events)
					c := candidate{fixed: fixed, geIntroduced: -1, ltFixed: -1}
					for _, id := range recordVulnerabilities(rec) {
						c.keys = append(c.keys, ExpectedFinding{ID: id, Package: p.Package, LayerDiffID: p.LayerDiffID})
					}
					if introduced != "0" {
						c.geIntroduced = ask(p.EVR, introduced)
					}
					if fixed != "" {
						c.ltFixed = ask(p.EVR, fixed)
					}
					candidates = append(candidates, c)
				}
			}
		}
	}
	answers := o.rpm.CompareAll(t, pairs)
	fixes := map[ExpectedFinding][]string{}
	for _, c := range candidates {
		if (c.geIntroduced >= 0 && answers[c.geIntroduced] < 0) || (c.ltFixed >= 0 && answers[c.ltFixed] >= 0) {
			continue
		}
		for _, k := range c.keys {
			fixes[k] = append(fixes[k], c.fixed)
		}
	}
	out := make([]ExpectedFinding, 0, len(fixes))
	for key, versions := range fixes {
		out = append(out, o.highestFix(t, key, versions))
	}
	slices.SortFunc(out, func(a, b ExpectedFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package))
	})
	return out
}

// highestFix gives f the highest of fixes, none if any is empty.
func (o *StreamOracle) highestFix(t testing.TB, f ExpectedFinding, fixes []string) ExpectedFinding {
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

// recordVulnerabilities are the CVEs a record names as its id, aliases or
// upstream, else its own id.
func recordVulnerabilities(rec *osvRecord) []string {
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
