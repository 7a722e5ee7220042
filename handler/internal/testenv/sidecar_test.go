package testenv

import (
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadSidecarDecodesTheGroundTruth(t *testing.T) {
	t.Run("a multi-platform index has a manifest and an inventory per platform", func(t *testing.T) {
		s := ReadSidecar(t, "debian12-multiarch")
		want := []string{"linux/amd64", "linux/arm64/v8"}
		if diff := cmp.Diff(want, slices.Sorted(slices.Values(s.Platforms))); diff != "" {
			t.Errorf("Platforms (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, slices.Sorted(maps.Keys(s.ManifestDigests()))); diff != "" {
			t.Errorf("ManifestDigests platforms (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, slices.Sorted(maps.Keys(s.DpkgInventory))); diff != "" {
			t.Errorf("DpkgInventory platforms (-want +got):\n%s", diff)
		}
		if s.IndexDigest == "" || s.PushedDigest() != s.IndexDigest {
			t.Errorf("PushedDigest = %q, want the index digest %q", s.PushedDigest(), s.IndexDigest)
		}
	})
	t.Run("a layered image records purged packages and per-package layers", func(t *testing.T) {
		s := ReadSidecar(t, "debian12-layered")
		if s.PushedDigest() != s.ManifestDigest || s.IndexDigest != "" {
			t.Errorf("PushedDigest = %q, want the manifest digest %q", s.PushedDigest(), s.ManifestDigest)
		}
		inv := s.DpkgInventory["linux/amd64"]
		var removed []string
		for _, p := range inv.RemovedPackages {
			removed = append(removed, p.Package)
		}
		if diff := cmp.Diff([]string{"curl", "e2fsprogs"}, removed); diff != "" {
			t.Errorf("RemovedPackages (-want +got):\n%s", diff)
		}
		layers := s.Manifests[0].Layers
		for _, p := range inv.Packages {
			if p.IntroducedInLayer >= len(layers) || layers[p.IntroducedInLayer].DiffID != p.IntroducedInLayerDiffID {
				t.Errorf("%s: layer %d diffID %s does not name a manifest layer", p.Package, p.IntroducedInLayer, p.IntroducedInLayerDiffID)
			}
		}
		if installed := s.Installed("linux/amd64"); len(installed) != len(inv.Packages) || installed["curl "+inv.RemovedPackages[0].Version] {
			t.Errorf("Installed has %d entries for %d packages, or lists purged curl", len(installed), len(inv.Packages))
		}
	})
}
