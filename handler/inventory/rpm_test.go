package inventory_test

import (
	"cmp"
	"context"
	"slices"
	"testing"

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
		if inv.OS == nil || inv.OS.ID != want.OSRelease["ID"] || inv.OS.VersionID != want.OSRelease["VERSION_ID"] || inv.OS.Ecosystem != "AlmaLinux:9" {
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
