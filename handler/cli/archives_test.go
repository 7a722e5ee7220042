package cli_test

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// The archives the hostile-input tests hand to tidewatch scan --archive are built
// with testenv's builders: testenv.DockerArchive (docker-save tars of testenv.Tar
// layers) and testenv.LayoutTar (OCI layout tars).

// layerDiffIDs lists the diffIDs of img's layers.
func layerDiffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return testenv.DiffIDs(t, layers)
}
