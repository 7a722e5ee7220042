package image_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// skippedDigest is what a test checks of a skipped entry: which one, and that it
// says why.
type skippedDigest struct {
	Digest, MediaType string
	HasReason         bool
}

func skippedDigests(target *image.Target) []skippedDigest {
	var out []skippedDigest
	for _, s := range target.Skipped {
		out = append(out, skippedDigest{s.Digest, s.MediaType, s.Reason != ""})
	}
	return out
}

func platformDigests(target *image.Target) []platformDigest {
	var out []platformDigest
	for _, p := range target.Platforms {
		out = append(out, platformDigest{p.Platform.String(), p.Digest})
	}
	return out
}

func descriptorOf(t *testing.T, a mutate.Appendable) (v1.Hash, types.MediaType) {
	t.Helper()
	d, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := a.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return d, mt
}

// resolveArchive resolves idx written as an OCI layout archive whose index.json
// names idx, like the shared fixtures.
func resolveArchive(t *testing.T, idx v1.ImageIndex) (*image.Target, error) {
	t.Helper()
	return image.FromArchive(testenv.LayoutTar(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx})))
}

// resolveRemote pushes idx to a fresh docker-registry and resolves it there.
func resolveRemote(t *testing.T, idx v1.ImageIndex) (*image.Target, error) {
	t.Helper()
	reg := testenv.StartRegistry(t)
	ref, err := name.ParseReference(reg.Ref("team/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing the index: %v", err)
	}
	c, err := registry.New(reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	return c.Target(t.Context(), "team/app:1")
}

var resolvers = []struct {
	name    string
	resolve func(*testing.T, v1.ImageIndex) (*image.Target, error)
}{
	{"an OCI layout archive", resolveArchive},
	{"an index in docker-registry", resolveRemote},
}

func TestArtifactsInAnIndexAreSkippedAndListed(t *testing.T) {
	sidecar := testenv.ReadSidecar(t, "debian12-multiarch")
	var wantPlatforms []platformDigest
	for _, m := range sidecar.Manifests {
		wantPlatforms = append(wantPlatforms, platformDigest{m.Platform, m.ManifestDigest})
	}
	sbom, attestation, signature := sbomArtifact(t), attestationManifest(t), cosignSignature(t)
	idx := mutate.AppendManifests(testenv.FixtureIndex(t, "debian12-multiarch"),
		mutate.IndexAddendum{Add: sbom},
		mutate.IndexAddendum{Add: attestation, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{
				"vnd.docker.reference.type":   "attestation-manifest",
				"vnd.docker.reference.digest": sidecar.Manifests[0].ManifestDigest,
			},
		}},
		mutate.IndexAddendum{Add: signature},
	)
	var wantSkipped []skippedDigest
	for _, a := range []mutate.Appendable{sbom, attestation, signature} {
		d, mt := descriptorOf(t, a)
		wantSkipped = append(wantSkipped, skippedDigest{d.String(), string(mt), true})
	}
	for _, r := range resolvers {
		t.Run("from "+r.name+" only the two platform images are resolved and the artifacts are listed as skipped", func(t *testing.T) {
			target, err := r.resolve(t, idx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantPlatforms, platformDigests(target)); diff != "" {
				t.Errorf("platforms (-sidecar +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantSkipped, skippedDigests(target)); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
			if target.Skipped[0].ArtifactType != spdxArtifactType {
				t.Errorf("the SBOM is listed with artifact type %q, want %q", target.Skipped[0].ArtifactType, spdxArtifactType)
			}
		})
	}
	t.Run("an index entry that is a blob, not a manifest, is skipped", func(t *testing.T) {
		blob := static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v1"}`), inTotoLayer)
		withBlob := mutate.AppendManifests(testenv.FixtureIndex(t, "debian12-multiarch"), mutate.IndexAddendum{Add: blob})
		target, err := resolveArchive(t, withBlob)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := descriptorOf(t, blob)
		if diff := cmp.Diff(wantPlatforms, platformDigests(target)); diff != "" {
			t.Errorf("platforms (-sidecar +got):\n%s", diff)
		}
		if diff := cmp.Diff([]skippedDigest{{d.String(), inTotoLayer, true}}, skippedDigests(target)); diff != "" {
			t.Errorf("skipped (-want +got):\n%s", diff)
		}
	})
}

func TestAnIndexWithNothingScannableIsAnError(t *testing.T) {
	unknown := randomImage(t)
	onlyArtifacts := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: sbomArtifact(t)},
		mutate.IndexAddendum{Add: attestationManifest(t), Descriptor: v1.Descriptor{
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
		}},
		mutate.IndexAddendum{Add: unknown, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
		mutate.IndexAddendum{Add: cosignSignature(t)},
	)
	m, err := onlyArtifacts.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, image.ErrNothingToScan) || !errors.Is(err, image.ErrMalformed) {
			t.Fatalf("error = %v, want ErrNothingToScan matching ErrMalformed", err)
		}
		if registry.IsTransient(err) {
			t.Errorf("%v is transient, want permanent", err)
		}
		for _, d := range m.Manifests {
			if !strings.Contains(err.Error(), d.Digest.String()) {
				t.Errorf("error %q does not list skipped %s", err, d.Digest)
			}
		}
	}
	for _, r := range resolvers {
		t.Run("from "+r.name+" it fails listing every skipped entry", func(t *testing.T) {
			_, err := r.resolve(t, onlyArtifacts)
			check(t, err)
		})
	}
	t.Run("resolved in process it fails listing every skipped entry", func(t *testing.T) {
		_, err := image.FromIndex("r/app:1", onlyArtifacts)
		check(t, err)
	})
	t.Run("a reference to a single artifact manifest is nothing to scan", func(t *testing.T) {
		sbom := sbomArtifact(t)
		_, err := image.FromImage("r/app@sbom", sbom)
		if !errors.Is(err, image.ErrNothingToScan) {
			t.Fatalf("error = %v, want ErrNothingToScan", err)
		}
		if d, _ := descriptorOf(t, sbom); !strings.Contains(err.Error(), d.String()) || !strings.Contains(err.Error(), spdxArtifactType) {
			t.Errorf("error %q does not name the artifact %s of type %s", err, d, spdxArtifactType)
		}
	})
}

// nest wraps child n times in an index, each level listing the level below 20 times.
func nest(child mutate.Appendable, levels int, platform *v1.Platform) v1.ImageIndex {
	var idx v1.ImageIndex
	for range levels {
		adds := make([]mutate.IndexAddendum, 20)
		for i := range adds {
			adds[i] = mutate.IndexAddendum{Add: child, Descriptor: v1.Descriptor{Platform: platform}}
		}
		idx = mutate.AppendManifests(empty.Index, adds...)
		child, platform = idx, nil
	}
	return idx
}

func TestIndexFanOutIsBounded(t *testing.T) {
	img := randomImage(t)
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}
	t.Run("an index bomb of 20 times the same nested index, 4 deep, resolves its one image once", func(t *testing.T) {
		bomb := nest(img, 4, amd64)
		for _, r := range []struct {
			name    string
			resolve func() (*image.Target, error)
		}{
			{"in process", func() (*image.Target, error) { return image.FromIndex("r/bomb:1", bomb) }},
			{"from an archive", func() (*image.Target, error) { return resolveArchive(t, bomb) }},
		} {
			target, err := r.resolve()
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			if diff := cmp.Diff([]platformDigest{{"linux/amd64", digestOf(t, img)}}, platformDigests(target)); diff != "" {
				t.Errorf("%s: platforms (-want +got):\n%s", r.name, diff)
			}
		}
	})
	t.Run("indexes nested deeper than four levels are malformed", func(t *testing.T) {
		_, err := image.FromIndex("r/deep:1", nest(img, 6, amd64))
		if !errors.Is(err, image.ErrMalformed) || !strings.Contains(err.Error(), "deeper than 4") {
			t.Fatalf("error = %v, want ErrMalformed naming the depth cap", err)
		}
	})
	t.Run("more than 256 distinct platform images are refused naming the cap", func(t *testing.T) {
		adds := make([]mutate.IndexAddendum, 257)
		for i := range adds {
			adds[i] = mutate.IndexAddendum{Add: randomImage(t), Descriptor: v1.Descriptor{Platform: amd64}}
		}
		_, err := image.FromIndex("r/wide:1", mutate.AppendManifests(empty.Index, adds...))
		if !errors.Is(err, image.ErrMalformed) || !strings.Contains(err.Error(), "256") {
			t.Fatalf("error = %v, want ErrMalformed naming the cap of 256", err)
		}
	})
	t.Run("more than 1024 distinct index entries are refused even when all are skipped", func(t *testing.T) {
		adds := make([]mutate.IndexAddendum, 1025)
		for i := range adds {
			blob := static.NewLayer([]byte(fmt.Sprintf(`{"statement":%d}`, i)), inTotoLayer)
			adds[i] = mutate.IndexAddendum{Add: blob}
		}
		_, err := image.FromIndex("r/many:1", mutate.AppendManifests(empty.Index, adds...))
		if !errors.Is(err, image.ErrMalformed) || !strings.Contains(err.Error(), "1024") {
			t.Fatalf("error = %v, want ErrMalformed naming the cap of 1024", err)
		}
	})
	t.Run("256 distinct platform images are accepted", func(t *testing.T) {
		adds := make([]mutate.IndexAddendum, 256)
		for i := range adds {
			adds[i] = mutate.IndexAddendum{Add: randomImage(t), Descriptor: v1.Descriptor{Platform: amd64}}
		}
		target, err := image.FromIndex("r/wide:1", mutate.AppendManifests(empty.Index, adds...))
		if err != nil || len(target.Platforms) != 256 {
			t.Fatalf("FromIndex = %v, want 256 platforms and no error", err)
		}
	})
}
