package image_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/tidewatch/tidewatch/handler/image"
)

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestFromIndexListsRunnablePlatforms(t *testing.T) {
	amd64, arm64, attestation, unknown := randomImage(t), randomImage(t), randomImage(t), randomImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: attestation, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
		}},
		mutate.IndexAddendum{Add: unknown, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	target, err := image.FromIndex("registry.example/app:1", idx)
	if err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	want := []platformDigest{
		{"linux/amd64", digestOf(t, amd64)},
		{"linux/arm64/v8", digestOf(t, arm64)},
	}
	var got []platformDigest
	for _, p := range target.Platforms {
		got = append(got, platformDigest{p.Platform.String(), p.Digest})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if target.IndexDigest != idxDigest.String() || target.Reference != "registry.example/app:1" {
		t.Errorf("target = %q %q, want %q %q", target.Reference, target.IndexDigest, "registry.example/app:1", idxDigest)
	}
}

func TestFromImageTakesPlatformFromConfig(t *testing.T) {
	base := randomImage(t)
	config, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	config = config.DeepCopy()
	config.OS, config.Architecture, config.Variant = "linux", "arm", "v7"
	img, err := mutate.ConfigFile(base, config)
	if err != nil {
		t.Fatal(err)
	}
	target, err := image.FromImage("r/app@sha256:x", img)
	if err != nil {
		t.Fatal(err)
	}
	want := []platformDigest{{"linux/arm/v7", digestOf(t, img)}}
	got := []platformDigest{{target.Platforms[0].Platform.String(), target.Platforms[0].Digest}}
	if diff := cmp.Diff(want, got); diff != "" || target.IndexDigest != "" {
		t.Errorf("platforms (-want +got):\n%s\nIndexDigest %q", diff, target.IndexDigest)
	}
}
