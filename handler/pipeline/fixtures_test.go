package pipeline_test

import (
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// Fixture images (shared OCI tarballs) and their ground-truth sidecars.
const (
	minbase   = "debian12-minbase"
	layered   = "debian12-layered"
	multiarch = "debian12-multiarch"
)

// loadSidecar reads the ground truth of a fixture image.
func loadSidecar(t testing.TB, image string) testenv.Sidecar {
	t.Helper()
	return testenv.ReadSidecar(t, image)
}

// push pushes the fixture image (or index) unchanged to ref ("HOST/repo:tag") over
// plain HTTP.
func push(t testing.TB, image, ref string) {
	t.Helper()
	testenv.PushImage(t, image, ref)
}
