package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// sleBCIProducts are the SLE 15 SP3 products and modules the records in
// testdata/sle15-bci-osv/SUSE name; their other entries are other releases or
// products (SP4, SLE Micro 5.1).
var sleBCIProducts = []string{
	"SUSE:Linux Enterprise Module for Basesystem 15 SP3",
	"SUSE:Linux Enterprise Module for Server Applications 15 SP3",
	"SUSE:Linux Enterprise Server 15 SP3-LTSS",
}

// sleBCIDB is where SLE 15 keeps its NDB database (/var/lib/rpm links to it).
const sleBCIDB = "usr/lib/sysimage/rpm/Packages.db"

// osReleaseAsShipped is os-release as SLE and Amazon Linux lay it out: the file
// under usr/lib, /etc/os-release a relative link to it.
func osReleaseAsShipped(body string) []testenv.TarEntry {
	return []testenv.TarEntry{testenv.File("usr/lib/os-release", body), testenv.Symlink("etc/os-release", "../usr/lib/os-release")}
}

// newSLEBCIFixture is go-rpmdb's SLE BCI 15.3 Packages.db with the packages rpm
// printed inside that image (its packages.csv) and the hand-written records of
// testdata/sle15-bci-osv/SUSE as the SUSE export.
func newSLEBCIFixture(t *testing.T) streamFixture {
	t.Helper()
	var installed []testenv.InstalledRPM
	for _, p := range testenv.GoRPMDBPackages(t, testenv.GoRPMDBSLEBCI) {
		installed = append(installed, testenv.InstalledRPM{Package: p.Package, EVR: p.EVR()})
	}
	records := filepath.Join("testdata", "sle15-bci-osv", "SUSE")
	return streamFixture{db: string(testenv.GoRPMDBFile(t, testenv.GoRPMDBSLEBCI, "Packages.db")), installed: installed,
		dir: exportRecords(t, records, "SUSE"), oracle: testenv.NewStreamOracle(t, records)}
}

func TestScanOfTheRealSLEBCIDatabaseHasTheStreamOraclesFindings(t *testing.T) {
	fx := newSLEBCIFixture(t)
	got := scanStreams(t, fx.dir, "SUSE", append(osReleaseAsShipped(testenv.SLEBCI153OSRelease), testenv.File(sleBCIDB, fx.db))...)
	want := fx.expected(t, sleBCIProducts...)
	if len(want) < 5 {
		t.Fatalf("the oracle expects %d findings: the records do not exercise this database", len(want))
	}
	if diff := cmp.Diff(want, got.findings); diff != "" {
		t.Errorf("findings as id package installed fixed (-oracle +scan):\n%s", diff)
	}
	if got.status != "scanned" || got.advisorySource != "SUSE" || got.os.Ecosystem != "SUSE" || got.os.ProductRelease != "15 SP3" {
		t.Errorf("status %q (%s), advisory source %q, OS %+v; want scanned from SUSE, release 15 SP3", got.status, got.errorText, got.advisorySource, got.os)
	}
	if diff := cmp.Diff(map[string]int{"SUSE": len(fx.installed)}, got.packages); diff != "" {
		t.Errorf("packages per ecosystem (-packages.csv +scan):\n%s", diff)
	}
	if len(got.unmatched) != 0 || len(got.skipped) != 0 {
		t.Errorf("unmatched %+v, skipped %+v; want neither", got.unmatched, got.skipped)
	}
}

func TestScanOfATruncatedSLEBCIDatabaseIsIncompleteAndNamesIt(t *testing.T) {
	fx := newSLEBCIFixture(t)
	const npm = "app/node_modules/a/package.json"
	entries := append(osReleaseAsShipped(testenv.SLEBCI153OSRelease), testenv.File(sleBCIDB, fx.db[:len(fx.db)/2]),
		testenv.File(npm, `{"name": "a", "version": "1.0.0"}`))
	got := scanStreams(t, fx.dir, "SUSE", entries...)
	if got.status != "incomplete" || len(got.findings) != 0 {
		t.Errorf("status %q (%s) with findings %v; want incomplete, none", got.status, got.errorText, got.findings)
	}
	if len(got.skipped) != 1 || got.skipped[0].Path != sleBCIDB || !strings.Contains(got.skipped[0].Reason, "past the end of the file") {
		t.Errorf("skipped %+v, want %s, cut short", got.skipped, sleBCIDB)
	}
	if diff := cmp.Diff(map[string]int{"npm": 1}, got.packages); diff != "" {
		t.Errorf("packages per ecosystem (-want +scan): the rest of the image is still scanned:\n%s", diff)
	}
}

func TestScanOfTheRealAmazonLinux2023DatabaseReportsNoAdvisorySource(t *testing.T) {
	var n int
	for _, p := range testenv.GoRPMDBPackages(t, testenv.GoRPMDBAmazonLinux2023) {
		if p.Package != "gpg-pubkey" {
			n++
		}
	}
	db := testenv.GoRPMDBFile(t, testenv.GoRPMDBAmazonLinux2023, "rpmdb.sqlite")
	archive := testenv.DockerArchive(t, testenv.Tar(append(osReleaseAsShipped(testenv.AmazonLinux2023OSRelease),
		testenv.File("var/lib/rpm/rpmdb.sqlite", string(db)))...))
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t),
		"--ecosystems", "AlmaLinux", "--format", "json", "--exit-code", "3")
	if r.code != 3 {
		t.Errorf("exit code = %d, want 3 (never clean); stderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) != 1 {
		t.Fatalf("%d platforms, want 1", len(got.Platforms))
	}
	p := got.Platforms[0]
	if p.Status != "unsupported" || !strings.Contains(p.Error, "OS amzn 2023: no advisory source") || p.AdvisorySource != "none" {
		t.Errorf("status %q (%s) advisory source %q, want unsupported, no advisory source, none", p.Status, p.Error, p.AdvisorySource)
	}
	if diff := cmp.Diff(map[string]int{"none": n}, p.Packages); diff != "" {
		t.Errorf("packages per ecosystem (-packages.csv +scan):\n%s", diff)
	}
	if len(p.Findings) != 0 {
		t.Errorf("%d findings, want none", len(p.Findings))
	}
}
