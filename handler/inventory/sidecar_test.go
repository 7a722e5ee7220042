package inventory_test

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// sidecar is the ground truth written next to each fixture image, produced with
// dpkg-query on the merged root filesystem rather than by any scanner.
type sidecar struct {
	IndexDigest   string `json:"indexDigest"`
	DpkgInventory map[string]struct {
		Packages        []sidecarPackage `json:"packages"`
		RemovedPackages []struct {
			Package string `json:"package"`
			Version string `json:"version"`
		} `json:"removedPackages"`
	} `json:"dpkgInventory"`
	Manifests []struct {
		Platform       string `json:"platform"`
		ManifestDigest string `json:"manifestDigest"`
		Layers         []struct {
			DiffID string `json:"diffID"`
			Digest string `json:"digest"`
		} `json:"layers"`
	} `json:"manifests"`
}

// sidecarPackage doubles as the comparison form of a scanned package.
type sidecarPackage struct {
	Package                 string `json:"package"`
	Version                 string `json:"version"`
	Architecture            string `json:"architecture"`
	SourcePackage           string `json:"sourcePackage"`
	SourceVersion           string `json:"sourceVersion"`
	IntroducedInLayer       int    `json:"introducedInLayer"`
	IntroducedInLayerDiffID string `json:"introducedInLayerDiffID"`
}

func readSidecar(t *testing.T, name string) sidecar { return readSidecarB(t, name) }

func readSidecarB(t testing.TB, name string) sidecar {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t), "images", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var s sidecar
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decoding sidecar %s: %v", name, err)
	}
	return s
}

func sortPackages(ps []sidecarPackage) {
	slices.SortFunc(ps, func(a, b sidecarPackage) int {
		return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Architecture, b.Architecture))
	})
}

var debianImages = []string{"debian12-minbase", "debian12-layered", "debian12-multiarch", "distroless-style"}

func TestScanMatchesSidecarInventory(t *testing.T) {
	for _, name := range debianImages {
		t.Run(name+" inventory equals dpkg-query ground truth per platform", func(t *testing.T) {
			want := readSidecar(t, name)
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

func checkPlatform(t *testing.T, want sidecar, p image.PlatformImage, inv *inventory.Inventory) {
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
	if inv.Ecosystem != "Debian:12" {
		t.Errorf("%s: Ecosystem = %q, want Debian:12", platform, inv.Ecosystem)
	}

	wantPkgs := want.DpkgInventory[platform].Packages
	var got []sidecarPackage
	for _, pkg := range inv.Packages {
		if pkg.Type != "deb" {
			t.Errorf("%s: package %s has type %q, want deb", platform, pkg.Name, pkg.Type)
		}
		got = append(got, sidecarPackage{
			Package: pkg.Name, Version: pkg.Version, Architecture: pkg.Arch,
			SourcePackage: pkg.SourceName, SourceVersion: pkg.SourceVersion,
			IntroducedInLayer: pkg.LayerIndex, IntroducedInLayerDiffID: pkg.LayerDiffID,
		})
	}
	sortPackages(wantPkgs)
	if !slices.IsSortedFunc(got, func(a, b sidecarPackage) int {
		return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Architecture, b.Architecture))
	}) {
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
