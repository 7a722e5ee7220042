package inventory_test

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// sysimageDB is where SLE 15 keeps its NDB database (/var/lib/rpm links to it).
const sysimageDB = "usr/lib/sysimage/rpm/Packages.db"

// csvRows are a go-rpmdb fixture's packages.csv as the rows an inventory at location
// should list, sorted, gpg-pubkey entries left out; pubkeys counts those.
func csvRows(t *testing.T, fixture, location string) (rows []rpmRow, pubkeys int) {
	t.Helper()
	for _, p := range testenv.GoRPMDBPackages(t, fixture) {
		if p.Package == "gpg-pubkey" {
			pubkeys++
			continue
		}
		rows = append(rows, rpmRow{p.Package, p.EVR(), p.Arch, p.SourcePackage, location})
	}
	sortRows(rows)
	return rows, pubkeys
}

func sortRows(rows []rpmRow) {
	slices.SortFunc(rows, func(a, b rpmRow) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version))
	})
}

// osReleaseFiles are os-release as SLE and Amazon Linux lay it out: the file under
// usr/lib, /etc/os-release a relative link to it.
func osReleaseFiles(body string) []tarFile {
	return []tarFile{{name: "usr/lib/os-release", body: body}, {name: "etc/os-release", symlink: "../usr/lib/os-release"}}
}

func TestRealRPMDatabasesListWhatRPMPrintedInTheirImages(t *testing.T) {
	sle := string(testenv.GoRPMDBFile(t, testenv.GoRPMDBSLEBCI, "Packages.db"))
	al2023 := string(testenv.GoRPMDBFile(t, testenv.GoRPMDBAmazonLinux2023, "rpmdb.sqlite"))
	tests := []struct {
		name, fixture, location, wantEcosystem, wantRelease string
		files                                               []tarFile
		wantPubkeys                                         int
	}{
		{name: "SLE BCI 15.3's NDB Packages.db lists every package rpm -qa printed, in the SUSE family",
			fixture: testenv.GoRPMDBSLEBCI, location: sysimageDB, wantEcosystem: "SUSE", wantRelease: "15 SP3",
			files: append(osReleaseFiles(testenv.SLEBCI153OSRelease), tarFile{name: sysimageDB, body: sle})},
		{name: "with /var/lib/rpm a link to the sysimage directory, as SLE ships it, each package is listed once",
			fixture: testenv.GoRPMDBSLEBCI, location: sysimageDB, wantEcosystem: "SUSE", wantRelease: "15 SP3",
			files: append(osReleaseFiles(testenv.SLEBCI153OSRelease), tarFile{name: sysimageDB, body: sle},
				tarFile{name: "var/lib/rpm", symlink: "../../usr/lib/sysimage/rpm"})},
		{name: "Amazon Linux 2023's rpmdb.sqlite lists every package rpm -qa printed but its signing key, with no ecosystem",
			fixture: testenv.GoRPMDBAmazonLinux2023, location: "var/lib/rpm/rpmdb.sqlite", wantPubkeys: 1,
			files: append(osReleaseFiles(testenv.AmazonLinux2023OSRelease), tarFile{name: "var/lib/rpm/rpmdb.sqlite", body: al2023})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, pubkeys := csvRows(t, tt.fixture, tt.location)
			if pubkeys != tt.wantPubkeys || len(want) == 0 {
				t.Fatalf("packages.csv has %d packages and %d gpg-pubkey entries, want some and %d", len(want), pubkeys, tt.wantPubkeys)
			}
			inv := scanLayers(t, tarLayer(t, tt.files...))
			got := rpmOf(inv)
			sortRows(got)
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("packages (-packages.csv +scanned):\n%s", diff)
			}
			if len(inv.Skipped) != 0 {
				t.Errorf("skipped: %+v", inv.Skipped)
			}
			if inv.OS == nil || inv.OS.Ecosystem != tt.wantEcosystem || inv.OS.ProductRelease != tt.wantRelease {
				t.Fatalf("OS = %+v, want ecosystem %q, product release %q", inv.OS, tt.wantEcosystem, tt.wantRelease)
			}
			for _, p := range inv.Packages {
				if p.Ecosystem != tt.wantEcosystem || p.Type != "rpm" {
					t.Errorf("%s: ecosystem %q, type %q; want %q, rpm", p.Name, p.Ecosystem, p.Type, tt.wantEcosystem)
				}
			}
		})
	}
}

// ndbBlobs returns, for each used slot of an NDB database, the byte offset of its
// blob (read here from rpm's layout, lib/backend/ndb/rpmpkg.c: a 32-byte header
// whose fourth word counts 4 KiB slot pages, 16-byte slots "Slot", package index,
// block offset, block count; 16-byte blocks, each blob starting with "BlbS").
func ndbBlobs(t *testing.T, db []byte) []int {
	t.Helper()
	le := binary.LittleEndian
	end := int(le.Uint32(db[12:])) * 4096
	var blobs []int
	for off := 32; off+16 <= end; off += 16 {
		if string(db[off:off+4]) != "Slot" {
			t.Fatalf("no slot magic at byte %d", off)
		}
		if le.Uint32(db[off+4:]) == 0 {
			continue
		}
		start := int(le.Uint32(db[off+8:])) * 16
		if string(db[start:start+4]) != "BlbS" {
			t.Fatalf("no blob magic at byte %d", start)
		}
		blobs = append(blobs, start)
	}
	return blobs
}

func TestABrokenRealNDBDatabaseIsSkippedByNameAndTheImageStillScanned(t *testing.T) {
	db := testenv.GoRPMDBFile(t, testenv.GoRPMDBSLEBCI, "Packages.db")
	want, _ := csvRows(t, testenv.GoRPMDBSLEBCI, sysimageDB)
	blobs := ndbBlobs(t, db)
	if len(blobs) != len(want) {
		t.Fatalf("%d used slots, packages.csv lists %d packages", len(blobs), len(want))
	}
	last := slices.Max(blobs)
	corrupt := func(at int, with string) []byte {
		b := slices.Clone(db)
		copy(b[at:], with)
		return b
	}
	tests := []struct {
		name   string
		body   []byte
		reason string
		lost   int // packages of the database not listed; -1: all of them
	}{
		{"cut inside its file header", db[:20], "shorter than its header", -1},
		{"cut inside its slot pages", db[:2048], "slot pages end at byte 4096", -1},
		{"cut halfway through its blobs", db[:len(db)/2], "past the end of the file", -1},
		{"cut inside its last blob", db[:last+64], "past the end of the file", -1},
		{"with a blob's magic overwritten", corrupt(blobs[3], "XXXX"), "has no blob header", -1},
		{"with one package header's index and data lengths overwritten", corrupt(blobs[3]+16, strings.Repeat("\xff", 8)),
			"could not read 1 of 36 package headers", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const npm = "app/node_modules/a/package.json"
			files := append(osReleaseFiles(testenv.SLEBCI153OSRelease), tarFile{name: sysimageDB, body: string(tt.body)},
				tarFile{name: npm, body: `{"name": "a", "version": "1.0.0"}`})
			inv := scanLayers(t, tarLayer(t, files...))
			if len(inv.Skipped) != 1 || inv.Skipped[0].Path != sysimageDB || !strings.Contains(inv.Skipped[0].Reason, tt.reason) {
				t.Errorf("skipped = %+v, want %s skipped for %q", inv.Skipped, sysimageDB, tt.reason)
			}
			if !slices.ContainsFunc(inv.Packages, func(p inventory.Package) bool { return p.Location == npm && p.Name == "a" }) {
				t.Errorf("the npm package beside the database was not inventoried: %+v", inv.Packages)
			}
			var got []rpmRow
			for _, r := range rpmOf(inv) {
				if r.Location == sysimageDB {
					got = append(got, r)
				}
			}
			if tt.lost < 0 {
				if len(got) != 0 {
					t.Errorf("%d rpm packages from an unreadable database: %+v", len(got), got)
				}
				return
			}
			if len(got) != len(want)-tt.lost {
				t.Errorf("%d rpm packages, want %d", len(got), len(want)-tt.lost)
			}
			for _, r := range got {
				if !slices.Contains(want, r) {
					t.Errorf("%+v is not in packages.csv", r)
				}
			}
		})
	}
}
