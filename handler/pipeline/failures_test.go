package pipeline_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// TestStorageFailuresAreTransient fails storage calls with 503: storage says a 503 is
// transient, so the scan goes back to the queue instead of being recorded failed.
func TestStorageFailuresAreTransient(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	digest := truth.ManifestDigest
	layersCall := func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/layers") }

	t.Run("a storage 503 on the layer cache returns the scan to the queue and records nothing failed", func(t *testing.T) {
		faults := testenv.NewStorageFaults()
		h := newHarness(t, reg.Host, withStoreOptions(store.WithPerCallPolicy(faults)))
		faults.FailMatching(layersCall)
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d (faults injected: %v)", status, http.StatusInternalServerError, faults.Failed())
		}
		faults.Clear()
		if img, ok := h.images(t, "demo/base")[digest]; ok {
			t.Errorf("a transient storage failure wrote an images row: %+v", img)
		}
	})

	t.Run("on the last delivery the same failure is recorded failed and still returned to the queue", func(t *testing.T) {
		faults := testenv.NewStorageFaults()
		h := newHarness(t, reg.Host, withStoreOptions(store.WithPerCallPolicy(faults)))
		faults.FailMatching(layersCall)
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), host.MaxDequeueCount, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		faults.Clear()
		img := h.images(t, "demo/base")[digest]
		if img.Status != store.StatusFailed || !strings.Contains(img.Error, "503") {
			t.Errorf("images row after the last delivery = %+v, want Status failed with an Error naming the 503", img)
		}
	})
}
