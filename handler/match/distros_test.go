package match_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// sampleRange is the one ECOSYSTEM range of a hand-written record's affected entry,
// read with encoding/json (not Tidewatch's advisory decoder).
type sampleRange struct{ ecosystem, name, introduced, fixed string }

func readSampleRanges(t *testing.T, folder, file string) []sampleRange {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "osv", folder, file))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Affected []struct {
			Package struct{ Ecosystem, Name string }
			Ranges  []struct {
				Type   string
				Events []map[string]string
			}
		}
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	var out []sampleRange
	for _, a := range rec.Affected {
		if len(a.Ranges) != 1 || a.Ranges[0].Type != "ECOSYSTEM" || len(a.Ranges[0].Events) != 2 {
			t.Fatalf("%s: the test reads one ECOSYSTEM range of introduced, fixed", file)
		}
		ev := a.Ranges[0].Events
		out = append(out, sampleRange{a.Package.Ecosystem, a.Package.Name, ev[0]["introduced"], ev[1]["fixed"]})
	}
	return out
}

// TestSchemaTrueDistroSamplesMatchInTheDistrosOwnVersionOrder matches installed
// versions around each sample record's bounds and expects what the distribution's
// reference implementation says: dpkg --compare-versions for Ubuntu, rpm's
// labelCompare for Rocky Linux and openSUSE (introduced <= installed < fixed). A
// Rocky record names its CVEs under "related", which are not aliases: the finding
// is the record id, as for AlmaLinux.
func TestSchemaTrueDistroSamplesMatchInTheDistrosOwnVersionOrder(t *testing.T) {
	tests := []struct {
		name, folder, file, id, location string
		versions                         []string
		source                           bool // Ubuntu: the record names the source package
		order                            func(t *testing.T, pairs [][2]string) []int
	}{
		{name: "Ubuntu 24.04 curl is matched on its source in dpkg order", folder: "Ubuntu", file: "UBUNTU-CVE-2099-0101.json",
			id: "CVE-2099-0101", location: "var/lib/dpkg/status", source: true,
			versions: []string{"8.5.0-2ubuntu0", "8.5.0-2ubuntu1", "8.5.0-2ubuntu10.3", "8.5.0-2ubuntu10.3~esm1", "8.5.0-2ubuntu10.4", "8.5.0-2ubuntu10.4~1", "8.5.0-2ubuntu9", "1:8.0-1", "8.5.0-2ubuntu10.10"},
			order:    dpkgOrder},
		{name: "Rocky Linux 9 openssl binaries are matched by binary name in rpm order", folder: "Rocky Linux", file: "RLSA-2099:0101.json",
			id: "RLSA-2099:0101", location: "var/lib/rpm/rpmdb.sqlite",
			versions: []string{"1:3.0.7-24.el9", "1:3.0.7-25.el9", "1:3.0.7-25.el9_3", "1:3.0.7-25.el9_3.1", "3.0.9-1.el9", "1:3.0.7-3.el9_3", "1:3.0.10-1.el9"},
			order:    rpmOrder},
		{name: "openSUSE Leap 15.5 bash is matched by binary name in rpm order", folder: "openSUSE", file: "openSUSE-SU-2099:0101-1.json",
			id: "CVE-2099-0103", location: "usr/lib/sysimage/rpm/Packages.db",
			versions: []string{"4.4-150400.27.3.2", "4.4-150400.27.6.1", "4.4-150400.27.10.1", "4.4-150400.27.6", "5.1-1.1", "4.4-150400.9.1"},
			order:    rpmOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx := loadTestdata(t, tt.folder)
			ranges := readSampleRanges(t, tt.folder, tt.file)
			var pkgs []inventory.Package
			var pairs [][2]string
			// Each version at its own location: one package listed twice at one location
			// is reported once, which is not what this test is about.
			for _, r := range ranges {
				for _, v := range tt.versions {
					p := inventory.Package{Name: r.name, Version: v, Ecosystem: r.ecosystem, Location: tt.location + "/" + v}
					if tt.source {
						// A binary of the source, at the source's version.
						p.Name, p.SourceName, p.SourceVersion = r.name+"-bin", r.name, v
					}
					pkgs = append(pkgs, p)
					if r.introduced != "0" {
						pairs = append(pairs, [2]string{r.introduced, v})
					}
					pairs = append(pairs, [2]string{v, r.fixed})
				}
			}
			cmpResults := tt.order(t, pairs)
			want := []string{}
			i := 0
			for _, r := range ranges {
				for _, v := range tt.versions {
					afterIntro := true
					if r.introduced != "0" {
						afterIntro = cmpResults[i] <= 0
						i++
					}
					beforeFix := cmpResults[i] < 0
					i++
					if afterIntro && beforeFix {
						name := r.name
						if tt.source {
							name += "-bin"
						}
						want = append(want, tt.id+" "+name+" "+v)
					}
				}
			}
			sort.Strings(want)
			if len(want) == 0 || len(want) == len(pkgs) {
				t.Fatalf("the reference order finds %d of %d affected; the versions do not straddle the bounds", len(want), len(pkgs))
			}
			res := match.Match(idx, pkgs)
			got := []string{}
			for _, f := range res.Findings {
				got = append(got, f.ID+" "+f.Package+" "+f.InstalledVersion)
			}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings as id package version (-reference order +match):\n%s", diff)
			}
			if len(res.Gaps) != 0 {
				t.Errorf("gaps %+v, want none", res.Gaps)
			}
		})
	}
}

func dpkgOrder(t *testing.T, pairs [][2]string) []int {
	d := testenv.NewDpkgVersions(t)
	out := make([]int, len(pairs))
	for i, p := range pairs {
		out[i] = d.Compare(t, p[0], p[1])
	}
	return out
}

func rpmOrder(t *testing.T, pairs [][2]string) []int {
	return testenv.NewRPMVersions(t).CompareAll(t, pairs)
}
