package cli_test

import (
	"encoding/json"
	"os"
	"runtime"
	"sort"
	"strconv"
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

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// artifactImage is a manifest over one layer of mediaType whose config has configType.
func artifactImage(t *testing.T, payload string, mediaType, configType types.MediaType, cfg *v1.ConfigFile) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer([]byte(payload), mediaType))
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), configType)
}

type skippedJSON struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Reason    string `json:"reason"`
}

func TestScanOfAMultiArchIndexWithArtifactsScansBothPlatformsAndListsTheArtifacts(t *testing.T) {
	truth := readSidecar(t, "debian12-multiarch")
	oracle := testenv.NewDebianOracle(t)
	sbom := artifactImage(t, `{"spdxVersion":"SPDX-2.3","name":"app"}`, "application/spdx+json", "application/vnd.oci.empty.v1+json", nil)
	statement := `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`
	attestation := artifactImage(t, statement, "application/vnd.in-toto+json", types.OCIConfigJSON,
		&v1.ConfigFile{OS: "unknown", Architecture: "unknown"})
	idx := mutate.AppendManifests(testenv.FixtureIndex(t, "debian12-multiarch"),
		mutate.IndexAddendum{Add: sbom},
		mutate.IndexAddendum{Add: attestation, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{
				"vnd.docker.reference.type":   "attestation-manifest",
				"vnd.docker.reference.digest": truth.Manifests[0].ManifestDigest,
			},
		}})
	var wantSkipped []string
	for _, a := range []v1.Image{sbom, attestation} {
		d, err := a.Digest()
		if err != nil {
			t.Fatal(err)
		}
		wantSkipped = append(wantSkipped, d.String()+" "+string(types.OCIManifestSchema1))
	}
	reg := testenv.StartRegistry(t)
	ref := reg.Ref("team/multiarch:1")
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(parsed, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing the index: %v", err)
	}
	archive := testenv.LayoutTar(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx}))

	for _, source := range []struct{ name, arg string }{
		{"an OCI layout archive", "--archive=" + archive},
		{"a docker-registry", ref},
	} {
		t.Run("from "+source.name+" both platforms have the oracle's findings and the artifacts are skipped", func(t *testing.T) {
			r := runCLI(t, "", "scan", source.arg, "--advisories", testenv.Advisories(t), "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			var platforms []string
			for _, p := range got.Platforms {
				platforms = append(platforms, p.Platform+" "+p.Digest+" "+p.Status)
				want := []string{}
				for _, f := range oracle.Findings(t, truth.DpkgInventory[p.Platform].Packages) {
					want = append(want, f.ID+" "+f.Package)
				}
				if diff := cmp.Diff(want, idPackages(t, p.Findings)); diff != "" {
					t.Errorf("%s (id, package) (-oracle +scan):\n%s", p.Platform, diff)
				}
			}
			var wantPlatforms []string
			for _, m := range truth.Manifests {
				wantPlatforms = append(wantPlatforms, m.Platform+" "+m.ManifestDigest+" scanned")
			}
			sort.Strings(platforms)
			sort.Strings(wantPlatforms)
			if diff := cmp.Diff(wantPlatforms, platforms); diff != "" {
				t.Errorf("platforms (-sidecar +scan):\n%s", diff)
			}
			var skipped []string
			for _, raw := range got.Skipped {
				var s skippedJSON
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				if s.Reason == "" {
					t.Errorf("skipped %s has no reason", s.Digest)
				}
				skipped = append(skipped, s.Digest+" "+s.MediaType)
			}
			if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanOfAnIndexOfOnlyArtifactsAndOddMediaTypesIsAnErrorThatCounts(t *testing.T) {
	odd := static.NewLayer([]byte(`{"odd":true}`), "application/vnd.example.odd+json")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: artifactImage(t, `{}`, "application/spdx+json", "application/vnd.oci.empty.v1+json", nil)},
		mutate.IndexAddendum{Add: odd},
		mutate.IndexAddendum{Add: artifactImage(t, `{}`, "application/vnd.in-toto+json", types.OCIConfigJSON,
			&v1.ConfigFile{OS: "unknown", Architecture: "unknown"}),
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	archive := testenv.LayoutTar(t, idx)
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", "json", "--exit-code", "0")
	if r.code != 1 {
		t.Errorf("exit code = %d, want 1 (an error, whatever --exit-code says); stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "nothing to scan") {
		t.Errorf("stderr does not say there is nothing to scan:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, "null") || strings.Contains(r.stdout, `"platforms"`) {
		t.Errorf("printed a result for nothing scanned:\n%s", r.stdout)
	}
}

// fanOut is an index listing child 13 times, levels deep: 13^levels leaves.
func fanOut(child mutate.Appendable, platform *v1.Platform, levels int) v1.ImageIndex {
	var idx v1.ImageIndex
	for range levels {
		adds := make([]mutate.IndexAddendum, 13)
		for i := range adds {
			adds[i] = mutate.IndexAddendum{Add: child, Descriptor: v1.Descriptor{Platform: platform}}
		}
		idx = mutate.AppendManifests(empty.Index, adds...)
		child, platform = idx, nil
	}
	return idx
}

// allocated is the heap the Go runtime handed out while run ran.
func allocated(run func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestScanOfAnIndexFanOutBombIsBounded(t *testing.T) {
	leaf, err := mutate.AppendLayers(empty.Image, testenv.GzipLayer(t, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File(testenv.DpkgStatus, testenv.OpensslStanza))))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err = mutate.ConfigFile(leaf, &v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: layerDiffIDs(t, leaf)}})
	if err != nil {
		t.Fatal(err)
	}
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}
	single := testenv.LayoutTar(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: leaf, Descriptor: v1.Descriptor{Platform: amd64}}))
	bomb := testenv.LayoutTar(t, fanOut(leaf, amd64, 5))
	info, err := os.Stat(bomb)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > 64<<10 {
		t.Fatalf("the bomb archive is %d bytes, want a small one", info.Size())
	}
	t.Logf("the bomb archive is %d bytes", info.Size())
	args := func(archive string) []string {
		return []string{"scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", "json"}
	}
	var plain, bombed cliRun
	plainAlloc := allocated(func() { plain = runCLI(t, "", args(single)...) })
	bombAlloc := allocated(func() { bombed = runCLI(t, "", args(bomb)...) })

	t.Run("the 371,293 references to one image are scanned as that one platform", func(t *testing.T) {
		if bombed.code != 0 {
			t.Fatalf("exit code = %d, want 0; stderr:\n%s", bombed.code, bombed.stderr)
		}
		var got []string
		for _, p := range decodeScan(t, bombed).Platforms {
			got = append(got, p.Platform+" "+p.Digest)
		}
		d, err := leaf.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"linux/amd64 " + d.String()}, got); diff != "" {
			t.Errorf("platforms (-want +got):\n%s", diff)
		}
	})
	t.Run("the bomb allocates about what scanning the image once does", func(t *testing.T) {
		if plain.code != 0 {
			t.Fatalf("the single image failed: %s", plain.stderr)
		}
		if bombAlloc > plainAlloc+64<<20 {
			t.Errorf("the bomb allocated %d MiB, the image once %d MiB", bombAlloc>>20, plainAlloc>>20)
		}
		t.Logf("allocated: bomb %d MiB, image once %d MiB", bombAlloc>>20, plainAlloc>>20)
	})
	t.Run("257 distinct platform images are refused naming the cap of 256", func(t *testing.T) {
		adds := make([]mutate.IndexAddendum, 257)
		for i := range adds {
			img := mutate.Annotations(leaf, map[string]string{"n": strconv.Itoa(i)}).(v1.Image)
			adds[i] = mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: amd64}}
		}
		r := runCLI(t, "", args(testenv.LayoutTar(t, mutate.AppendManifests(empty.Index, adds...)))...)
		if r.code != 1 || !strings.Contains(r.stderr, "256") {
			t.Errorf("exit code = %d, want 1 with an error naming the cap of 256; stderr:\n%s", r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("printed a result:\n%.300s", r.stdout)
		}
	})
}
