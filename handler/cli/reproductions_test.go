package cli

// End-to-end reproductions of the "Findings that stay true" defects: real
// docker-registry, Azurite and the whole queue loop of `tidewatch run`. The tables are
// read back with a plain aztables client and the documented column names only, and
// the expected findings come from the independent Debian oracle, so neither the
// store's key design nor its decoding judges itself.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// tableReader reads the tables of one test's store with a plain aztables client.
type tableReader struct {
	findings, images *aztables.Client
	registry         string
}

func newTableReader(t *testing.T, h *runTestHost) *tableReader {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(testenv.Storage(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &tableReader{
		findings: svc.NewClient("findings" + h.suffix),
		images:   svc.NewClient("images" + h.suffix),
		registry: h.registry,
	}
}

// rows returns every entity of c matching filter, decoded as plain JSON maps.
func (r *tableReader) rows(t *testing.T, c *aztables.Client, filter string) []map[string]any {
	t.Helper()
	pager := c.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	var out []map[string]any
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing %s: %v", filter, err)
		}
		for _, raw := range page.Entities {
			var e map[string]any
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
	return out
}

// active returns the (vulnerability id, package) pairs of repository's active findings.
func (r *tableReader) active(t *testing.T, repository string) map[[2]string]bool {
	t.Helper()
	filter := fmt.Sprintf("Registry eq '%s' and Repository eq '%s' and State eq 'active'", r.registry, repository)
	out := map[[2]string]bool{}
	for _, e := range r.rows(t, r.findings, filter) {
		out[[2]string{str(e["VulnerabilityId"]), str(e["Package"])}] = true
	}
	return out
}

// checkCounts asserts that every images row's severity counts add up to the number
// of active findings of its repository and platform digest.
func (r *tableReader) checkCounts(t *testing.T) {
	t.Helper()
	active := map[[2]string]int{} // (repository, digest) → active findings
	for _, e := range r.rows(t, r.findings, "State eq 'active'") {
		active[[2]string{str(e["Repository"]), str(e["Digest"])}]++
	}
	for _, img := range r.rows(t, r.images, "") {
		key := [2]string{str(img["Repository"]), str(img["RowKey"])}
		sum := 0
		for _, col := range []string{"Critical", "High", "Medium", "Low", "Unknown"} {
			n, _ := img[col].(float64)
			sum += int(n)
		}
		if sum != active[key] {
			t.Errorf("images row %s@%s counts %d findings, the findings table has %d active", key[0], key[1], sum, active[key])
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }

// oracleFindings is the independent (id, package) set of one fixture platform.
func oracleFindings(t *testing.T, oracle *testenv.DebianOracle, fixture, platform string) map[[2]string]bool {
	t.Helper()
	return independentFindings(t, oracle, testenv.ReadSidecar(t, fixture), platform)
}

// steppedClock is a pipeline clock tests advance between runs.
type steppedClock struct{ now atomic.Value }

func newSteppedClock(t testing.TB) *steppedClock {
	c := &steppedClock{}
	c.now.Store(startOfTest(t))
	return c
}

func (c *steppedClock) Now() time.Time { return c.now.Load().(time.Time) }
func (c *steppedClock) Advance(d time.Duration) {
	c.now.Store(c.Now().Add(d))
}

func TestRunKeepsFindingsTruePerRepository(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	layered := oracleFindings(t, oracle, "debian12-layered", "linux/amd64")
	minbase := oracleFindings(t, oracle, "debian12-minbase", "linux/amd64")
	clk := newSteppedClock(t)
	h := startRunTestHost(t, reg.Host, clk.Now)
	tr := newTableReader(t, h)

	reg.Push(t, "debian12-layered", "x/app:1")
	reg.Push(t, "debian12-layered", "y/app:1")
	reg.Push(t, "debian12-minbase", "z/app:1")
	h.run(t)
	t.Run("one digest in two repositories gives each repository all its findings", func(t *testing.T) {
		for repo, want := range map[string]map[[2]string]bool{"x/app": layered, "y/app": layered, "z/app": minbase} {
			if diff := cmp.Diff(want, tr.active(t, repo)); diff != "" {
				t.Errorf("active findings of %s (-oracle +stored):\n%s", repo, diff)
			}
		}
		tr.checkCounts(t)
	})

	reg.Push(t, "debian12-minbase", "x/app:1")
	clk.Advance(30 * time.Minute)
	h.run(t)
	t.Run("a tag moved in one repository leaves the other repository's findings active", func(t *testing.T) {
		if diff := cmp.Diff(layered, tr.active(t, "y/app")); diff != "" {
			t.Errorf("active findings of y/app (-oracle +stored):\n%s", diff)
		}
		if diff := cmp.Diff(minbase, tr.active(t, "x/app")); diff != "" {
			t.Errorf("active findings of x/app after its tag moved to minbase (-oracle +stored):\n%s", diff)
		}
		tr.checkCounts(t)
	})

	// A→B→C between two runs: B is never observed.
	reg.Push(t, "distroless-style", "z/app:1")
	reg.Push(t, "debian12-layered", "z/app:1")
	clk.Advance(30 * time.Minute)
	h.run(t)
	t.Run("a tag moved twice between runs shows only the last image's findings", func(t *testing.T) {
		if diff := cmp.Diff(layered, tr.active(t, "z/app")); diff != "" {
			t.Errorf("active findings of z/app (-oracle +stored):\n%s", diff)
		}
		tr.checkCounts(t)
	})
}

// emptyLayerClaiming is an image of one empty layer whose config claims diffID.
func emptyLayerClaiming(t *testing.T, diffID string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer := static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	h, err := v1.NewHash(diffID)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootFS.DiffIDs = []v1.Hash{h}
	cfg.OS, cfg.Architecture = "linux", "amd64"
	lying, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return lying
}

func TestRunDoesNotLetALyingConfigPoisonTheLayerCache(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	minbaseFx := testenv.ReadSidecar(t, "debian12-minbase")
	clk := newSteppedClock(t)
	h := startRunTestHost(t, reg.Host, clk.Now)
	tr := newTableReader(t, h)

	ref, err := name.ParseReference(reg.Ref("evil/app:1"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, emptyLayerClaiming(t, minbaseFx.Manifests[0].Layers[0].DiffID)); err != nil {
		t.Fatal(err)
	}
	h.run(t)
	evil := tr.rows(t, tr.images, "Repository eq 'evil/app'")
	if len(evil) != 1 || str(evil[0]["Status"]) != "failed" || !strings.Contains(strings.ToLower(str(evil[0]["Error"])), "diffid") {
		t.Errorf("images rows of the lying image = %v, want one failed row naming the diffID mismatch", evil)
	}

	reg.Push(t, "debian12-minbase", "good/app:1")
	clk.Advance(30 * time.Minute)
	h.run(t)
	want := oracleFindings(t, oracle, "debian12-minbase", "linux/amd64")
	if diff := cmp.Diff(want, tr.active(t, "good/app")); diff != "" {
		t.Errorf("active findings of minbase scanned after the lying image (-oracle +stored):\n%s", diff)
	}
	tr.checkCounts(t)
}

func TestRunScansAnIndexCarryingAnSBOMAndAnAttestation(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	multi := testenv.ReadSidecar(t, "debian12-multiarch")
	reg.Push(t, "debian12-multiarch", "staging/multi:1") // only to read the index back
	plainRef, err := name.ParseReference(reg.Ref("staging/multi:1"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(plainRef)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := mutate.AppendLayers(
		mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.oci.empty.v1+json"),
		static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3"}`), "application/spdx+json"))
	if err != nil {
		t.Fatal(err)
	}
	attestation, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json"))
	if err != nil {
		t.Fatal(err)
	}
	amd64 := multi.ManifestDigests()["linux/amd64"]
	withArtifacts := mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: sbom, Descriptor: v1.Descriptor{ArtifactType: "application/spdx+json"}},
		mutate.IndexAddendum{Add: attestation, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd64},
		}})
	ref, err := name.ParseReference(reg.Ref("m/app:1"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, withArtifacts); err != nil {
		t.Fatal(err)
	}
	clk := newSteppedClock(t)
	h := startRunTestHost(t, reg.Host, clk.Now)
	tr := newTableReader(t, h)
	h.run(t)

	want := map[[2]string]bool{}
	for _, m := range multi.Manifests {
		for k := range oracleFindings(t, oracle, "debian12-multiarch", m.Platform) {
			want[k] = true
		}
		rows := tr.rows(t, tr.images, fmt.Sprintf("Repository eq 'm/app' and RowKey eq '%s'", m.ManifestDigest))
		if len(rows) != 1 || str(rows[0]["Status"]) != "scanned" {
			t.Errorf("images row of %s (%s) = %v, want one scanned row", m.Platform, m.ManifestDigest, rows)
		}
	}
	if diff := cmp.Diff(want, tr.active(t, "m/app")); diff != "" {
		t.Errorf("active findings of the index with artifacts (-oracle +stored):\n%s", diff)
	}
	for _, img := range tr.rows(t, tr.images, "Repository eq 'm/app'") {
		if str(img["Status"]) == "failed" {
			t.Errorf("images row %s failed: %s", str(img["RowKey"]), str(img["Error"]))
		}
		for _, artifact := range []string{"application/spdx+json", "attestation"} {
			if !strings.Contains(str(img["Skipped"]), artifact) {
				t.Errorf("images row %s: Skipped %q does not list the %s manifest", str(img["RowKey"]), str(img["Skipped"]), artifact)
			}
		}
	}
	tr.checkCounts(t)
}

func TestRunScansAGoBinaryImageWithoutOSRelease(t *testing.T) {
	reg := testenv.StartRegistry(t)
	fx := testenv.ReadSidecar(t, "go-app")
	reg.Push(t, "go-app", "g/app:1")
	clk := newSteppedClock(t)
	h := startRunTestHostWith(t, testenv.Storage(t), reg.Host, clk.Now, []string{config.EnvEcosystems + "=Debian,Go"})
	tr := newTableReader(t, h)
	h.run(t)

	want := map[[2]string]bool{}
	for _, f := range testenv.NewGoOracle(t).Findings(t, testenv.ReadGoBinary(t, "go-app").Modules(t)) {
		want[[2]string{f.ID, f.Package}] = true
	}
	if len(want) == 0 {
		t.Fatal("the Go oracle expects nothing for go-app; the fixture or the advisory data changed")
	}
	if diff := cmp.Diff(want, tr.active(t, "g/app")); diff != "" {
		t.Errorf("active findings of the Go-only image (-oracle +stored):\n%s", diff)
	}
	rows := tr.rows(t, tr.images, "Repository eq 'g/app'")
	if len(rows) != 1 || str(rows[0]["Status"]) != "scanned" || str(rows[0]["Os"]) != "" || str(rows[0]["RowKey"]) != fx.ManifestDigest ||
		!strings.HasPrefix(str(rows[0]["Packages"]), "Go ") {
		t.Errorf("images rows of the Go-only image = %v, want one scanned row of %s with no OS and its Go packages counted", rows, fx.ManifestDigest)
	}
	filter := "Repository eq 'g/app' and State eq 'active' and Location ne 'app/go-app'"
	if stray := tr.rows(t, tr.findings, filter); len(stray) > 0 {
		t.Errorf("%d active findings do not name the binary app/go-app as their location: %v", len(stray), stray[0])
	}
	tr.checkCounts(t)
}
