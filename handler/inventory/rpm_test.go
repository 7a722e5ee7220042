package inventory_test

import (
	"archive/tar"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	scalibreco "github.com/google/osv-scalibr/extractor/filesystem/os/ecosystem"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/osv-scalibr/purl"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// rpmRow is the part of an rpm package both the sidecar and the inventory state.
type rpmRow struct {
	Name, Version, Arch, SourceName, Location string
}

func TestScanMatchesRPMSidecarInventory(t *testing.T) {
	const name = "almalinux-9-micro"
	want := testenv.ReadSidecar(t, name)
	target, err := image.FromArchive(testenv.Image(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if len(target.Platforms) != 1 {
		t.Fatalf("%s has %d platforms, want 1", name, len(target.Platforms))
	}
	p := target.Platforms[0]
	platform := p.Platform.String()
	t.Run("the BerkeleyDB rpmdb lists exactly the packages rpm -qa lists", func(t *testing.T) {
		inv, err := inventory.Scan(context.Background(), p, inventory.NewMemoryCache())
		if err != nil {
			t.Fatal(err)
		}
		var wantRows []rpmRow
		for _, pkg := range want.RPMInventory[platform].Packages {
			wantRows = append(wantRows, rpmRow{pkg.Package, pkg.EVR(), pkg.Arch, pkg.SourcePackage, "var/lib/rpm/Packages"})
		}
		if len(wantRows) != want.RPMInventory[platform].PackageCount || len(wantRows) == 0 {
			t.Fatalf("sidecar lists %d packages for %s, counts %d", len(wantRows), platform, want.RPMInventory[platform].PackageCount)
		}
		var got []rpmRow
		for _, pkg := range inv.Packages {
			got = append(got, rpmRow{pkg.Name, pkg.Version, pkg.Arch, pkg.SourceName, pkg.Location})
		}
		order := func(a, b rpmRow) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch)) }
		slices.SortFunc(wantRows, order)
		if diff := gocmp.Diff(wantRows, got); diff != "" {
			t.Errorf("packages (-rpm -qa +scanned):\n%s", diff)
		}
		if len(inv.Skipped) != 0 {
			t.Errorf("skipped files: %+v", inv.Skipped)
		}
	})
	t.Run("the relative os-release symlink makes the packages AlmaLinux:9 with rpm PURLs", func(t *testing.T) {
		inv, err := inventory.Scan(context.Background(), p, inventory.NewMemoryCache())
		if err != nil {
			t.Fatal(err)
		}
		if inv.OS == nil || inv.OS.ID != want.OSRelease.ID || inv.OS.VersionID != want.OSRelease.VersionID || inv.OS.Ecosystem != "AlmaLinux:9" {
			t.Fatalf("OS = %+v, want %v and ecosystem AlmaLinux:9", inv.OS, want.OSRelease)
		}
		for _, pkg := range inv.Packages {
			if pkg.Ecosystem != "AlmaLinux:9" || pkg.Type != "rpm" {
				t.Errorf("%s: ecosystem %q type %q, want AlmaLinux:9 rpm", pkg.Name, pkg.Ecosystem, pkg.Type)
			}
			u, err := purl.FromString(pkg.PURL)
			if err != nil {
				t.Errorf("%s: PURL %q: %v", pkg.Name, pkg.PURL, err)
				continue
			}
			q := map[string]string{}
			for _, kv := range u.Qualifiers {
				q[kv.Key] = kv.Value
			}
			got := []string{u.Type, u.Namespace, u.Name, u.Version, q["arch"], q["distro"]}
			wantPURL := []string{"rpm", "almalinux", pkg.Name, pkg.Version, pkg.Arch, "almalinux-9.0"}
			if diff := gocmp.Diff(wantPURL, got); diff != "" {
				t.Errorf("%s: PURL %q (-want +got):\n%s", pkg.Name, pkg.PURL, diff)
			}
		}
	})
}

// rpmOf lists an inventory's packages as the rows rpm -qa would print.
func rpmOf(inv *inventory.Inventory) []rpmRow {
	var out []rpmRow
	for _, pkg := range inv.Packages {
		out = append(out, rpmRow{pkg.Name, pkg.Version, pkg.Arch, pkg.SourceName, pkg.Location})
	}
	return out
}

// memfdLeftover is the host path sqlite's own unix VFS creates when it is handed
// /proc/self/fd/N of a memory file: it resolves the link to this name.
const memfdLeftover = "/memfd:tidewatch-rpmdb (deleted)"

func TestTheRealMarinerSqliteRPMDBEqualsRPMQueryAll(t *testing.T) {
	db := testenv.MarinerRPMDB(t)
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	want := testenv.RPMQueryAll(t, db)
	for _, location := range []string{"var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"} {
		t.Run("read at "+location+" it lists what rpm -qa lists, in the Azure Linux:2.0 ecosystem", func(t *testing.T) {
			inv := scanLayers(t, tarLayer(t, tarFile{name: "etc/os-release", body: testenv.MarinerOSRelease},
				tarFile{name: location, body: string(data)}))
			var wantRows []rpmRow
			for _, p := range want {
				wantRows = append(wantRows, rpmRow{p.Package, p.EVR(), p.Arch, p.SourcePackage, location})
			}
			order := func(a, b rpmRow) int {
				return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version))
			}
			slices.SortFunc(wantRows, order)
			got := rpmOf(inv)
			slices.SortFunc(got, order)
			if diff := gocmp.Diff(wantRows, got); diff != "" {
				t.Errorf("packages (-rpm -qa +scanned):\n%s", diff)
			}
			if inv.OS == nil || inv.OS.ID != "mariner" || inv.OS.Ecosystem != "Azure Linux:2.0" {
				t.Errorf("OS = %+v, want mariner in Azure Linux:2.0 (its advisories: Microsoft's OVAL)", inv.OS)
			}
			if len(inv.Skipped) != 0 {
				t.Errorf("skipped: %+v", inv.Skipped)
			}
			if _, err := os.Lstat(memfdLeftover); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("reading the database left %q on the host (%v)", memfdLeftover, err)
			}
		})
	}
}

// bdbWithLoopingChain is a BerkeleyDB hash file (512-byte pages) whose one value
// lives in an overflow chain that leads back to itself.
func bdbWithLoopingChain() []byte {
	le := binary.LittleEndian
	b := make([]byte, 3*512)
	le.PutUint32(b[12:], 0x00061561) // hash magic
	le.PutUint32(b[16:], 9)          // version
	le.PutUint32(b[20:], 512)        // page size
	b[25] = 8                        // hash metadata page
	le.PutUint32(b[32:], 2)          // last page
	hash := b[512:1024]
	le.PutUint32(hash[8:], 1)
	le.PutUint16(hash[20:], 2)
	hash[25] = 13
	le.PutUint16(hash[26:], 500) // key
	le.PutUint16(hash[28:], 488) // value
	hash[500] = 1
	hash[488] = 3 // H_OFFPAGE
	le.PutUint32(hash[492:], 2)
	le.PutUint32(hash[496:], 100)
	over := b[1024:]
	le.PutUint32(over[8:], 2)
	le.PutUint32(over[16:], 2) // next page: itself
	over[25] = 7
	return b
}

// ndbWithHugeBlob is an NDB Packages.db whose one package claims a 4 GiB blob.
func ndbWithHugeBlob() []byte {
	le := binary.LittleEndian
	b := make([]byte, 4096+32)
	copy(b, "RpmP")
	le.PutUint32(b[12:], 1) // one slot page
	for off := 32; off < 4096; off += 16 {
		copy(b[off:], "Slot")
	}
	le.PutUint32(b[36:], 1)       // package 1
	le.PutUint32(b[40:], 4096/16) // its blob block
	copy(b[4096:], "BlbS")
	le.PutUint32(b[4100:], 1)
	le.PutUint32(b[4108:], 0xFFFFFFF0)
	return b
}

func TestHostileRPMDatabasesAreSkippedWithAReason(t *testing.T) {
	alma := testenv.FixtureFile(t, "almalinux-9-micro", "var/lib/rpm/Packages")
	mariner, err := os.ReadFile(testenv.MarinerRPMDB(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, body, reason string
	}{
		{"garbage at the BerkeleyDB path is not an rpm database", "var/lib/rpm/Packages", strings.Repeat("garbage\n", 1000), "not an rpm database"},
		{"an empty rpmdb.sqlite is not an rpm database", "var/lib/rpm/rpmdb.sqlite", "", "not an rpm database"},
		{"a BerkeleyDB cut in half is skipped", "var/lib/rpm/Packages", string(alma[:len(alma)/2]), "past the file"},
		{"a BerkeleyDB overflow chain that loops is refused before go-rpmdb follows it", "var/lib/rpm/Packages", string(bdbWithLoopingChain()), "again or past the last page"},
		{"an NDB blob longer than the file is refused before go-rpmdb allocates it", "var/lib/rpm/Packages.db", string(ndbWithHugeBlob()), "past the end of the file"},
		{"a sqlite database cut after two pages is skipped", "var/lib/rpm/rpmdb.sqlite", string(mariner[:8192]), "os/rpm cannot read it: reading rpmdb.sqlite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const npm = "app/node_modules/a/package.json"
			inv := scanLayers(t, tarLayer(t, tarFile{name: "etc/os-release", body: testenv.MarinerOSRelease}, tarFile{name: tt.path, body: tt.body},
				tarFile{name: npm, body: `{"name": "a", "version": "1.0.0"}`}))
			if len(inv.Skipped) != 1 || inv.Skipped[0].Path != tt.path || !strings.Contains(inv.Skipped[0].Reason, tt.reason) {
				t.Errorf("skipped = %+v, want %s skipped for %q", inv.Skipped, tt.path, tt.reason)
			}
			if !slices.ContainsFunc(inv.Packages, func(p inventory.Package) bool { return p.Location == npm && p.Name == "a" }) {
				t.Errorf("the npm package after the database was not inventoried: %+v", inv.Packages)
			}
		})
	}
	t.Run("an rpm database bigger than the buffer cap is skipped without being read into memory", func(t *testing.T) {
		const size = 65 << 20
		layer := newStreamedLayer(t, func(w io.Writer) error {
			tw := tar.NewWriter(w)
			if err := tw.WriteHeader(&tar.Header{Name: "var/lib/rpm/rpmdb.sqlite", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := io.CopyN(tw, io.MultiReader(strings.NewReader("SQLite format 3\x00"), zeros{}), size); err != nil {
				return err
			}
			return tw.Close()
		})
		inv := scanLayers(t, layer)
		if len(inv.Skipped) != 1 || !strings.Contains(inv.Skipped[0].Reason, "more than the 64 MiB") {
			t.Errorf("skipped = %+v, want the database skipped as too big", inv.Skipped)
		}
	})
}

func TestRPMDistributionsTakeTheirOSVEcosystem(t *testing.T) {
	const db = "var/lib/rpm/rpmdb.sqlite"
	tests := []struct {
		name, id, versionID, want string
	}{
		{"AlmaLinux 9.0 is AlmaLinux:9, as its OSV records name the major release", "almalinux", "9.0", "AlmaLinux:9"},
		{"AlmaLinux 8.10 is AlmaLinux:8", "almalinux", "8.10", "AlmaLinux:8"},
		{"Rocky Linux 9.3 is Rocky Linux:9", "rocky", "9.3", "Rocky Linux:9"},
		{"RHEL is the Red Hat family: its records name product streams, chosen per image", "rhel", "9.4", "Red Hat"},
		{"CBL-Mariner 2.0 is Azure Linux:2.0, as osv-scalibr names it (advisories from Microsoft's OVAL)", "mariner", "2.0", "Azure Linux:2.0"},
		{"Azure Linux 3.0 is Azure Linux:3.0", "azurelinux", "3.0", "Azure Linux:3.0"},
		{"an Azure Linux VERSION_ID without a minor release has no ecosystem", "azurelinux", "3", ""},
		{"an AlmaLinux without VERSION_ID has no ecosystem", "almalinux", "", ""},
		{"openSUSE Leap 15.5 is openSUSE:Leap 15.5, as OSV's openSUSE records name it", "opensuse-leap", "15.5", "openSUSE:Leap 15.5"},
		{"openSUSE Leap without a X.Y VERSION_ID has no ecosystem", "opensuse-leap", "15", ""},
		{"openSUSE Tumbleweed is openSUSE:Tumbleweed whatever its snapshot date", "opensuse-tumbleweed", "20241201", "openSUSE:Tumbleweed"},
		{"UBI 9 (ID rhel) is the Red Hat family", "rhel", "9.5", "Red Hat"},
		{"a RHEL without a numeric VERSION_ID has no ecosystem", "rhel", "", ""},
		{"SLES is the SUSE family: its records name products and modules of the release", "sles", "15.5", "SUSE"},
		{"SLE Micro is the SUSE family", "sle-micro", "5.5", "SUSE"},
		{"SUSE Linux Micro is the SUSE family", "sl-micro", "6.0", "SUSE"},
		{"a SLES without VERSION_ID has no ecosystem", "sles", "", ""},
		{"Amazon Linux 2023 has no advisory source: OSV has no Amazon Linux ecosystem", "amzn", "2023", ""},
		{"Amazon Linux 2 has no advisory source", "amzn", "2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inventory.Merge(layers(inventory.LayerResult{
				OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": {Release: release(tt.id, tt.versionID)}},
				PackageFiles: map[string][]inventory.Package{db: {{Name: "bash", Version: "1:5.1.8-4.el9", SourceName: "bash",
					SourceVersion: "5.1.8-4.el9", Arch: "x86_64", Type: "rpm", Location: db}}},
			}))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{inv.OS.Ecosystem, inv.Packages[0].Ecosystem}
			if diff := gocmp.Diff([]string{tt.want, tt.want}, got); diff != "" {
				t.Errorf("OS and package ecosystems (-want +got):\n%s", diff)
			}
			u, err := purl.FromString(inv.Packages[0].PURL)
			if err != nil {
				t.Fatalf("PURL %q: %v", inv.Packages[0].PURL, err)
			}
			q := map[string]string{}
			for _, kv := range u.Qualifiers {
				q[kv.Key] = kv.Value
			}
			if u.Type != "rpm" || u.Version != "5.1.8-4.el9" || q["epoch"] != "1" {
				t.Errorf("PURL %q, want type rpm, version 5.1.8-4.el9 and epoch=1", inv.Packages[0].PURL)
			}
		})
	}
}

func TestOpenSUSELeapIsNamedAsOSVScalibrNamesIt(t *testing.T) {
	// osv-scalibr's ecosystem table (checked against OSV.dev) is the oracle.
	oracle := scalibreco.MakeEcosystem(&rpmmeta.Metadata{OSID: "opensuse-leap", OSVersionID: "15.6"}).String()
	inv, err := inventory.Merge(layers(inventory.LayerResult{
		OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": {Release: release("opensuse-leap", "15.6")}},
		PackageFiles: map[string][]inventory.Package{"usr/lib/sysimage/rpm/Packages.db": {{Name: "bash", Version: "4.4-150400.27.3.2",
			Arch: "x86_64", Type: "rpm", Location: "usr/lib/sysimage/rpm/Packages.db"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if inv.OS.Ecosystem != oracle || oracle != "openSUSE:Leap 15.6" {
		t.Errorf("ecosystem %q, osv-scalibr says %q, want both openSUSE:Leap 15.6", inv.OS.Ecosystem, oracle)
	}
}

func TestAnImportedSigningKeyIsNotAPackage(t *testing.T) {
	db := testenv.MarinerRPMDBWithImportedKey(t)
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	const location = "var/lib/rpm/rpmdb.sqlite"
	inv := scanLayers(t, tarLayer(t, tarFile{name: "etc/os-release", body: testenv.MarinerOSRelease},
		tarFile{name: location, body: string(data)}))
	names := map[string]bool{}
	for _, r := range rpmOf(inv) {
		names[r.Name] = true
	}
	if names["gpg-pubkey"] {
		t.Error("the imported key gpg-pubkey is listed as a package")
	}
	// Everything else rpm -qa lists is still there (the shared database has 129).
	for _, p := range testenv.RPMQueryAll(t, db) {
		if !names[p.Package] {
			t.Errorf("%s, which rpm -qa lists, is missing", p)
		}
	}
	if len(inv.Skipped) != 0 {
		t.Errorf("skipped: %+v", inv.Skipped)
	}
}
