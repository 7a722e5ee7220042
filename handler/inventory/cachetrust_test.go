package inventory_test

import (
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// claimingLayer serves its own bytes under another layer's diffID, as a pushed
// image whose config lies about its rootfs does.
type claimingLayer struct {
	v1.Layer
	claimed v1.Hash
}

func (l claimingLayer) DiffID() (v1.Hash, error) { return l.claimed, nil }

// poisonedBase returns minbase and an image whose only layer is empty but whose
// config claims minbase's base-layer diffID.
func poisonedBase(t *testing.T) (minbase, hostile image.PlatformImage) {
	t.Helper()
	target, err := image.FromArchive(testenv.Image(t, "debian12-minbase"))
	if err != nil {
		t.Fatal(err)
	}
	minbase = target.Platforms[0]
	layers, err := minbase.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	base, err := layers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, claimingLayer{Layer: tarLayer(t), claimed: base})
	if err != nil {
		t.Fatal(err)
	}
	h, err := image.FromImage("hostile", img)
	if err != nil {
		t.Fatal(err)
	}
	return minbase, h.Platforms[0]
}

// scanHostile scans the hostile image, which either fails as malformed (the walk
// checks the diffID) or inventories its empty layer; it must never list packages.
func scanHostile(t *testing.T, hostile image.PlatformImage, cache inventory.LayerCache) {
	t.Helper()
	inv, err := inventory.Scan(context.Background(), hostile, cache)
	if err != nil {
		if !errors.Is(err, image.ErrMalformed) {
			t.Fatalf("hostile scan: %v, want success or ErrMalformed", err)
		}
		return
	}
	if len(inv.Packages) != 0 {
		t.Errorf("the hostile image got %d packages of the layer it claims", len(inv.Packages))
	}
}

func TestAClaimedDiffIDDoesNotPoisonTheLayerCache(t *testing.T) {
	minbase, hostile := poisonedBase(t)
	want := len(testenv.ReadSidecar(t, "debian12-minbase").DpkgInventory["linux/amd64"].Packages)
	cache := inventory.NewMemoryCache()

	t.Run("the hostile image scanned first lists no packages", func(t *testing.T) {
		scanHostile(t, hostile, cache)
	})
	t.Run("minbase scanned after it lists all its packages", func(t *testing.T) {
		inv, err := inventory.Scan(context.Background(), minbase, cache)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Packages) != want {
			t.Errorf("minbase has %d packages, want %d", len(inv.Packages), want)
		}
	})
	t.Run("the hostile image scanned after minbase does not get minbase's cached packages", func(t *testing.T) {
		scanHostile(t, hostile, cache)
	})
}

func TestAFailedWalkIsNotCached(t *testing.T) {
	good := tarLayer(t, tarFile{name: "var/lib/dpkg/status", body: statusAC})
	corrupted := corruptedLayer(t, good)
	cache := &countingCache{MemoryCache: inventory.NewMemoryCache()}
	if _, err := inventory.ScanLayer(context.Background(), corrupted, cache); !errors.Is(err, image.ErrMalformed) {
		t.Fatalf("ScanLayer error = %v, want ErrMalformed", err)
	}
	if cache.puts != 0 {
		t.Errorf("%d results cached after a failed walk", cache.puts)
	}
}
