package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// TestALayerWhoseConfigClaimsAnotherDiffIDFailsItsWalk is the cache-poisoning attack:
// a config claiming debian12-minbase's base-layer diffID over some other layer must
// not pass for that base layer, whether it comes from an archive or a registry.
func TestALayerWhoseConfigClaimsAnotherDiffIDFailsItsWalk(t *testing.T) {
	claimed, err := v1.NewHash(testenv.ReadSidecar(t, "debian12-minbase").Manifests[0].Layers[0].DiffID)
	if err != nil {
		t.Fatal(err)
	}
	hostile := imageClaiming(t, claimed)
	layers, err := hostile.Layers()
	if err != nil {
		t.Fatal(err)
	}
	actual, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	actualDiffID, _, err := v1.SHA256(actual)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		target func(t *testing.T) *image.Target
	}{
		{"an OCI layout archive", func(t *testing.T) *image.Target {
			target, err := image.FromArchive(testenv.LayoutTar(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: hostile})))
			if err != nil {
				t.Fatal(err)
			}
			return target
		}},
		{"an image in docker-registry", func(t *testing.T) *image.Target {
			reg := testenv.StartRegistry(t)
			ref, err := name.ParseReference(reg.Ref("evil/base:1"))
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, hostile, remote.WithContext(t.Context())); err != nil {
				t.Fatal(err)
			}
			c, err := registry.New(reg.Host)
			if err != nil {
				t.Fatal(err)
			}
			target, err := c.Target(t.Context(), "evil/base:1")
			if err != nil {
				t.Fatal(err)
			}
			return target
		}},
	}
	for _, tt := range tests {
		t.Run("the walk of "+tt.name+" fails permanently naming both diffIDs", func(t *testing.T) {
			target := tt.target(t)
			if len(target.Platforms) != 1 {
				t.Fatalf("resolved %d platforms, want 1", len(target.Platforms))
			}
			layers, err := target.Platforms[0].Image.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if got, err := layers[0].DiffID(); err != nil || got != claimed {
				t.Fatalf("layer claims diffID %v (%v), want the config's claim %s", got, err, claimed)
			}
			_, err = image.WalkLayer(context.Background(), layers[0], func(image.Entry) error { return nil })
			if !errors.Is(err, image.ErrDiffIDMismatch) || !errors.Is(err, image.ErrMalformed) {
				t.Fatalf("WalkLayer error = %v, want ErrDiffIDMismatch matching ErrMalformed", err)
			}
			if registry.IsTransient(err) {
				t.Errorf("%v is transient, want permanent", err)
			}
			for _, want := range []string{claimed.String(), actualDiffID.String()} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		})
	}
}

func TestWalkingEveryFixtureLayerVerifiesTheSidecarDiffIDs(t *testing.T) {
	dockerSave := copyArchive(t, testenv.Image(t, "distroless-style"), func(hdr *tar.Header) bool {
		return hdr.Name != "index.json" && hdr.Name != "oci-layout"
	})
	tests := []struct {
		name, fixture, path string
	}{
		{"debian12-minbase", "debian12-minbase", testenv.Image(t, "debian12-minbase")},
		{"debian12-layered", "debian12-layered", testenv.Image(t, "debian12-layered")},
		{"debian12-multiarch", "debian12-multiarch", testenv.Image(t, "debian12-multiarch")},
		{"distroless-style as a docker-save tarball", "distroless-style", dockerSave},
	}
	for _, tt := range tests {
		t.Run(tt.name+" walks to the sidecar's diffIDs", func(t *testing.T) {
			want := map[string][]string{}
			for _, m := range testenv.ReadSidecar(t, tt.fixture).Manifests {
				for _, l := range m.Layers {
					want[m.Platform] = append(want[m.Platform], l.DiffID)
				}
			}
			target, err := image.FromArchive(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, p := range target.Platforms {
				layers, err := p.Image.Layers()
				if err != nil {
					t.Fatal(err)
				}
				for i, l := range layers {
					stats, err := image.WalkLayer(context.Background(), l, func(image.Entry) error { return nil })
					if err != nil {
						t.Fatalf("%s layer %d: %v", p.Platform, i, err)
					}
					got[p.Platform.String()] = append(got[p.Platform.String()], stats.DiffID.String())
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("verified diffIDs (-sidecar +got):\n%s", diff)
			}
		})
	}
}
