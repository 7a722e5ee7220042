package pipeline

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// The images row is the portal's view of a platform's scan health (issue 9): the
// OS and its advisory source, packages per ecosystem and every file or index entry
// the scan passed over, each with its reason.
func TestTheImagesRowCarriesThePlatformsScanHealth(t *testing.T) {
	m := newMemStore()
	p := unitPipeline(t, m, fakeRegistry{})
	task := store.ScanTask{Registry: testRegistry, Repository: testRepo, Digest: digestA, Tags: []string{"1"}, Reason: "push", RunID: "run-1"}
	res := &scanner.Result{
		Skipped: []image.SkippedManifest{{Digest: "sha256:sbom", MediaType: "application/vnd.oci.image.manifest.v1+json",
			ArtifactType: "application/spdx+json", Reason: "artifact manifest"}},
		Platforms: []scanner.PlatformResult{{
			Platform: "linux/amd64", Digest: digestA, Status: scanner.StatusIncomplete, AdvisorySource: "none",
			OS:       &inventory.OS{OSRelease: inventory.OSRelease{ID: "rhel", VersionID: "9.4"}},
			Packages: map[string]int{"npm": 12, "Go": 3},
			Skipped: []inventory.SkippedFile{
				{Path: "app/broken", LayerIndex: 2, Reason: "go/binary read nothing from it"},
				{Path: "app/app.jar", LayerIndex: 3, Reason: "nested 5 deep"},
			},
			Findings: []match.Finding{},
		}},
	}
	if err := p.writePlatform(context.Background(), task, res, res.Platforms[0], store.Activity{}, "gen-1", testNow); err != nil {
		t.Fatal(err)
	}
	row := m.images[key(testRegistry, testRepo, digestA)]
	got := map[string]string{"OS": row.OS, "OSVersion": row.OSVersion, "AdvisorySource": row.AdvisorySource,
		"Status": row.Status, "Packages": row.Packages, "Skipped": row.Skipped}
	want := map[string]string{"OS": "rhel", "OSVersion": "9.4", "AdvisorySource": "none", "Status": "incomplete",
		"Packages": "Go 3, npm 12",
		"Skipped": "sha256:sbom (application/vnd.oci.image.manifest.v1+json, application/spdx+json): artifact manifest; " +
			"app/broken (layer 2): go/binary read nothing from it; app/app.jar (layer 3): nested 5 deep"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("images row scan health (-want +got):\n%s", diff)
	}
}
