package inventory_test

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/osv-scalibr/purl"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// readSidecarB reads a fixture's ground truth for benchmarks (bench_test.go).
func readSidecarB(tb testing.TB, name string) testenv.Sidecar {
	tb.Helper()
	return testenv.ReadSidecar(tb, name)
}

// byNameAndArch orders packages as Scan must report them.
func byNameAndArch(a, b testenv.DpkgPackage) int {
	return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Architecture, b.Architecture))
}

var debianImages = []string{"debian12-minbase", "debian12-layered", "debian12-multiarch", "distroless-style"}

func TestScanMatchesSidecarInventory(t *testing.T) {
	for _, name := range debianImages {
		t.Run(name+" inventory equals dpkg-query ground truth per platform", func(t *testing.T) {
			want := testenv.ReadSidecar(t, name)
			target, err := image.FromArchive(testenv.Image(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if target.IndexDigest != want.IndexDigest {
				t.Errorf("IndexDigest = %q, sidecar says %q", target.IndexDigest, want.IndexDigest)
			}
			var platforms []string
			for _, p := range target.Platforms {
				platforms = append(platforms, p.Platform.String())
			}
			var wantPlatforms []string
			for p := range want.DpkgInventory {
				wantPlatforms = append(wantPlatforms, p)
			}
			slices.Sort(platforms)
			slices.Sort(wantPlatforms)
			if diff := gocmp.Diff(wantPlatforms, platforms); diff != "" {
				t.Errorf("platforms (-sidecar +scanned):\n%s", diff)
			}

			cache := inventory.NewMemoryCache()
			for _, p := range target.Platforms {
				inv, err := inventory.Scan(context.Background(), p, cache)
				if err != nil {
					t.Fatalf("scanning %s: %v", p.Platform, err)
				}
				checkPlatform(t, want, p, inv)
			}
		})
	}
}

func checkPlatform(t *testing.T, want testenv.Sidecar, p image.PlatformImage, inv *inventory.Inventory) {
	t.Helper()
	platform := p.Platform.String()
	for _, m := range want.Manifests {
		if m.Platform != platform {
			continue
		}
		if p.Digest != m.ManifestDigest {
			t.Errorf("%s: digest = %s, sidecar manifestDigest %s", platform, p.Digest, m.ManifestDigest)
		}
		var wantDiffIDs, gotDiffIDs []string
		for _, l := range m.Layers {
			wantDiffIDs = append(wantDiffIDs, l.DiffID)
		}
		for _, l := range inv.Layers {
			gotDiffIDs = append(gotDiffIDs, l.DiffID)
		}
		if diff := gocmp.Diff(wantDiffIDs, gotDiffIDs); diff != "" {
			t.Errorf("%s: layer diffIDs (-sidecar +scanned):\n%s", platform, diff)
		}
	}
	if inv.OS == nil || inv.OS.Ecosystem != "Debian:12" {
		t.Errorf("%s: OS = %+v, want ecosystem Debian:12", platform, inv.OS)
	}

	wantPkgs := want.DpkgInventory[platform].Packages
	var got []testenv.DpkgPackage
	for _, pkg := range inv.Packages {
		if pkg.Type != "deb" {
			t.Errorf("%s: package %s has type %q, want deb", platform, pkg.Name, pkg.Type)
		}
		got = append(got, testenv.DpkgPackage{
			Package: pkg.Name, Version: pkg.Version, Architecture: pkg.Arch,
			SourcePackage: pkg.SourceName, SourceVersion: pkg.SourceVersion,
			IntroducedInLayer: pkg.LayerIndex, IntroducedInLayerDiffID: pkg.LayerDiffID,
		})
	}
	for _, pkg := range inv.Packages {
		checkDebPURL(t, platform, pkg)
	}
	slices.SortFunc(wantPkgs, byNameAndArch)
	if !slices.IsSortedFunc(got, byNameAndArch) {
		t.Errorf("%s: packages are not sorted by name and arch", platform)
	}
	if diff := gocmp.Diff(wantPkgs, got); diff != "" {
		t.Errorf("%s: packages (-sidecar +scanned):\n%s", platform, diff)
	}
	for _, removed := range want.DpkgInventory[platform].RemovedPackages {
		for _, pkg := range inv.Packages {
			if pkg.Name == removed.Package {
				t.Errorf("%s: purged package %s %s is reported", platform, removed.Package, removed.Version)
			}
		}
	}
	if strings.TrimSpace(inv.Analyzer) == "" {
		t.Errorf("%s: inventory names no analyzer", platform)
	}
}

// checkDebPURL checks a Debian package's URL against the purl-spec deb type: the
// namespace is the distribution, name, version and arch are the package's, distro the
// release codename (every fixture is bookworm).
func checkDebPURL(t *testing.T, platform string, pkg inventory.Package) {
	t.Helper()
	u, err := purl.FromString(pkg.PURL)
	if err != nil {
		t.Errorf("%s: package %s has PURL %q: %v", platform, pkg.Name, pkg.PURL, err)
		return
	}
	q := map[string]string{}
	for _, kv := range u.Qualifiers {
		q[kv.Key] = kv.Value
	}
	got := []string{u.Type, u.Namespace, u.Name, u.Version, q["arch"], q["distro"]}
	want := []string{"deb", "debian", pkg.Name, pkg.Version, pkg.Arch, "bookworm"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("%s: PURL %q of %s (-want +got):\n%s", platform, pkg.PURL, pkg.Name, diff)
	}
}
