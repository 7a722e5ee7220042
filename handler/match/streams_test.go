package match_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

const (
	baseOS    = "Red Hat:enterprise_linux:9::baseos"
	appStream = "Red Hat:enterprise_linux:9::appstream"
	eus92     = "Red Hat:rhel_eus:9.2::baseos"
	crb       = "Red Hat:enterprise_linux:9::crb"
)

// rhelRPM is an installed RHEL 9 rpm, "[epoch:]version-release" as the inventory
// writes it.
func rhelRPM(name, version string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: name, SourceVersion: version,
		Arch: "x86_64", Type: "rpm", Ecosystem: "Red Hat", Location: "var/lib/rpm/rpmdb.sqlite/" + name + "-" + version}
}

// TestRHELPackagesAreMatchedAgainstEveryStreamOfTheImage matches installed
// versions around the bounds of the hand-written Red Hat records and expects what
// the stream oracle (encoding/json over the records, rpm.labelCompare) says.
func TestRHELPackagesAreMatchedAgainstEveryStreamOfTheImage(t *testing.T) {
	idx := loadTestdata(t, "Red Hat")
	oracle := testenv.NewStreamOracle(t, filepath.Join("testdata", "osv", "Red Hat"))
	pkgs := []inventory.Package{
		// BaseOS and AppStream both list glibc: one finding; glibc-common is BaseOS only.
		rhelRPM("glibc", "2.34-28.el9_0"), rhelRPM("glibc", "2.34-28.el9_0.2"), rhelRPM("glibc-common", "2.34-28.el9_0.1"),
		// AppStream only.
		rhelRPM("pcre2", "10.37-3.el9.1"), rhelRPM("pcre2-syntax", "10.40-2.el9"),
		// Epochs: the record's 1: outranks a higher version without one, and an
		// installed version without an epoch equals the record's 0:.
		rhelRPM("openssl-libs", "1:3.0.7-24.el9"), rhelRPM("openssl-libs", "3.0.9-1.el9"),
		rhelRPM("openssl-libs", "1:3.0.7-27.el9"), rhelRPM("openssl-libs", "2:1.0-1.el9"),
		rhelRPM("libcap", "2.48-8.el9"), rhelRPM("libcap", "0:2.48-9.el9_2"), rhelRPM("bash", "5.1.8-4.el9"),
		// EUS only.
		rhelRPM("tzdata", "2022a-1.el9_0"),
	}
	tests := []struct {
		name    string
		streams []string
	}{
		{"BaseOS and AppStream", []string{appStream, baseOS}},
		{"BaseOS alone", []string{baseOS}},
		{"AppStream alone", []string{appStream}},
		{"EUS 9.2 with its main stream", []string{baseOS, eus92}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os := &inventory.OS{Ecosystem: "Red Hat", Streams: tt.streams}
			res := match.MatchImage(idx, os, pkgs)
			if diff := cmp.Diff(res, match.NewMatcher(idx).MatchImage(os, pkgs)); diff != "" {
				t.Errorf("a Matcher's result differs from MatchImage's (-MatchImage +Matcher):\n%s", diff)
			}
			// Each installed version is asked of the oracle on its own: it keys
			// findings by package name.
			var want []string
			for _, p := range pkgs {
				for _, e := range oracle.Findings(t, tt.streams, []testenv.InstalledRPM{{Package: p.Name, EVR: p.Version}}) {
					want = append(want, strings.Join([]string{e.ID, p.Name, p.Version, e.FixedVersion}, " "))
				}
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, strings.Join([]string{f.ID, f.Package, f.InstalledVersion, f.FixedVersion}, " "))
				if !slices.Contains(tt.streams, f.Ecosystem) {
					t.Errorf("%s %s has ecosystem %q, not one of the image's streams", f.ID, f.Package, f.Ecosystem)
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if len(want) == 0 {
				t.Fatal("the oracle expects no finding; the versions do not exercise the records")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings as id package fixed (-oracle +match):\n%s", diff)
			}
			if res.MatchedPackages != len(pkgs) || len(res.Gaps) != 0 {
				t.Errorf("matched %d with gaps %+v, want %d and none", res.MatchedPackages, res.Gaps, len(pkgs))
			}
		})
	}
}

func TestRHELPackagesThatCannotBeMatchedAreGapsNeverClean(t *testing.T) {
	idx := loadTestdata(t, "Red Hat")
	modular := rhelRPM("nodejs", "1:18.19.0-1.module+el9.3.0+20000+12345678")
	plain := rhelRPM("glibc", "2.34-28.el9_0")
	tests := []struct {
		name         string
		os           *inventory.OS
		pkgs         []inventory.Package
		wantGaps     []match.EcosystemGap
		wantMatched  int
		wantFindings []string
	}{
		{name: "a modular package is a gap, the others are matched",
			os: &inventory.OS{Ecosystem: "Red Hat", Streams: []string{appStream, baseOS}}, pkgs: []inventory.Package{modular, plain},
			wantGaps:    []match.EcosystemGap{{Ecosystem: "Red Hat", Packages: 1, Reason: match.GapModular}},
			wantMatched: 1, wantFindings: []string{"CVE-2099-0201 glibc"}},
		{name: "a stream without records is a gap for every package, the others are matched",
			os: &inventory.OS{Ecosystem: "Red Hat", Streams: []string{baseOS, crb}}, pkgs: []inventory.Package{plain},
			wantGaps:    []match.EcosystemGap{{Ecosystem: crb, Packages: 1, Reason: match.GapNotLoaded}},
			wantMatched: 1, wantFindings: []string{"CVE-2099-0201 glibc"}},
		{name: "an image of a release without known streams matches nothing",
			os: &inventory.OS{Ecosystem: "Red Hat"}, pkgs: []inventory.Package{plain},
			wantGaps: []match.EcosystemGap{{Ecosystem: "Red Hat", Packages: 1, Reason: match.GapNoStreams}}},
		{name: "without the OS the streams are unknown",
			pkgs:     []inventory.Package{plain},
			wantGaps: []match.EcosystemGap{{Ecosystem: "Red Hat", Packages: 1, Reason: match.GapNoStreams}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := match.MatchImage(idx, tt.os, tt.pkgs)
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.ID+" "+f.Package)
			}
			if diff := cmp.Diff(tt.wantFindings, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGaps, res.Gaps); diff != "" {
				t.Errorf("gaps (-want +got):\n%s", diff)
			}
			if res.MatchedPackages != tt.wantMatched {
				t.Errorf("matched %d packages, want %d", res.MatchedPackages, tt.wantMatched)
			}
		})
	}
}

func TestSUSEProductsOfARelease(t *testing.T) {
	idx := loadTestdata(t, "SUSE")
	tests := []struct {
		release string
		want    []string
	}{
		{"15 SP5", []string{"SUSE:Linux Enterprise Module for Basesystem 15 SP5",
			"SUSE:Linux Enterprise Module for Server Applications 15 SP5", "SUSE:Linux Enterprise Server 15 SP5-LTSS"}},
		{"15 SP4", []string{"SUSE:Linux Enterprise Module for Basesystem 15 SP4"}},
		{"Micro 5.5", []string{"SUSE:Linux Enterprise Micro 5.5"}},
		{"5 SP5", []string{"SUSE:Linux Enterprise Server 5 SP5"}},
		{"15", nil},
	}
	for _, tt := range tests {
		t.Run(tt.release, func(t *testing.T) {
			got := match.Streams(idx, &inventory.OS{Ecosystem: "SUSE", ProductRelease: tt.release})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("products (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAStoredRHELInventoryIsRematchedAgainstTheSameStreams(t *testing.T) {
	idx := loadTestdata(t, "Red Hat")
	inv := &inventory.Inventory{
		OS: &inventory.OS{OSRelease: inventory.OSRelease{ID: "rhel", VersionID: "9.4"}, Ecosystem: "Red Hat",
			Streams: []string{baseOS}, StreamsFrom: "root/buildinfo/content_manifests/ubi9-minimal-container-9.4-1194.json"},
		Layers:   []inventory.Layer{{Index: 0, DiffID: "sha256:0"}},
		Packages: []inventory.Package{rhelRPM("glibc", "2.34-28.el9_0"), rhelRPM("pcre2", "10.37-3.el9.1")},
	}
	stored, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := inventory.Decode(stored)
	if err != nil {
		t.Fatal(err)
	}
	fresh := match.MatchImage(idx, inv.OS, inv.Packages)
	rematched := match.NewMatcher(idx).MatchImage(decoded.OS, decoded.Packages)
	if len(fresh.Findings) != 1 || fresh.Findings[0].Package != "glibc" {
		t.Fatalf("fresh findings %+v, want glibc's only (pcre2's record is AppStream's)", fresh.Findings)
	}
	if diff := cmp.Diff(fresh, rematched); diff != "" {
		t.Errorf("rematch of the stored inventory (-scan +rematch):\n%s", diff)
	}
}
