package pipeline

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/store"
)

// claimingLayer serves its own bytes under another layer's diffID.
type claimingLayer struct {
	v1.Layer
	claimed v1.Hash
}

func (l claimingLayer) DiffID() (v1.Hash, error) { return l.claimed, nil }

func TestAClaimedBaseLayerDiffIDDoesNotPoisonTheStoredLayerCache(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{ConnectionString: testenv.Storage(t)}, store.WithNameSuffix(testenv.Name(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureResources(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.DeleteResources(context.Background()); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	})
	cache := storeLayerCache{st}

	target, err := image.FromArchive(testenv.Image(t, "debian12-minbase"))
	if err != nil {
		t.Fatal(err)
	}
	minbase := target.Platforms[0]
	layers, err := minbase.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	base, err := layers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	var emptyTar bytes.Buffer
	if err := tar.NewWriter(&emptyTar).Close(); err != nil {
		t.Fatal(err)
	}
	emptyLayer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(emptyTar.Bytes())), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, claimingLayer{Layer: emptyLayer, claimed: base})
	if err != nil {
		t.Fatal(err)
	}
	h, err := image.FromImage("hostile", img)
	if err != nil {
		t.Fatal(err)
	}
	hostile := h.Platforms[0]
	want := len(testenv.ReadSidecar(t, "debian12-minbase").DpkgInventory["linux/amd64"].Packages)

	scanHostile := func(t *testing.T) {
		inv, err := inventory.Scan(ctx, hostile, cache)
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
	t.Run("the hostile image scanned first lists no packages", scanHostile)
	t.Run("minbase scanned after it lists all its packages", func(t *testing.T) {
		inv, err := inventory.Scan(ctx, minbase, cache)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Packages) != want {
			t.Errorf("minbase has %d packages, want %d", len(inv.Packages), want)
		}
	})
	t.Run("the hostile image scanned after minbase does not get minbase's stored packages", scanHostile)
	t.Run("minbase scanned again lists its packages and the store trusts them for its blob only", func(t *testing.T) {
		inv, err := inventory.Scan(ctx, minbase, cache)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Packages) != want {
			t.Errorf("minbase has %d packages, want %d", len(inv.Packages), want)
		}
		digest, err := layers[0].Digest()
		if err != nil {
			t.Fatal(err)
		}
		r, ok, err := cache.GetLayer(ctx, base.String(), inventory.Analyzer)
		if err != nil || !ok {
			t.Fatalf("GetLayer = %v, %v", ok, err)
		}
		if diff := cmp.Diff([]string{digest.String()}, r.Digests); diff != "" {
			t.Errorf("stored result trusted for (-want +got):\n%s", diff)
		}
	})
}
