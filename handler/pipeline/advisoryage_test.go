package pipeline_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

// copyAdvisories copies the shared Debian advisories to a temporary directory with
// their files' modification time set to retrieved.
func copyAdvisories(t *testing.T, retrieved time.Time) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "Debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"all.zip", "modified_id.csv"} {
		src, err := os.Open(filepath.Join(testenv.Advisories(t), "Debian", name))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "Debian", name)
		out, err := os.Create(dst)
		if err == nil {
			_, err = io.Copy(out, src)
			err = errors.Join(err, out.Close())
		}
		src.Close()
		if err == nil {
			err = os.Chtimes(dst, retrieved, retrieved)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAdvisoryAgeIsJudgedByTheInjectedClock retrieves advisories three days before the
// wall clock: whether they are stale depends on the pipeline's clock only.
func TestAdvisoryAgeIsJudgedByTheInjectedClock(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	retrieved := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	dir := copyAdvisories(t, retrieved)

	t.Run("advisories retrieved three days ago are fresh when the clock says it is an hour later", func(t *testing.T) {
		h := newHarness(t, reg.Host, withAdvisories(dir))
		h.clock.Set(retrieved.Add(time.Hour))
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", truth.ManifestDigest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		if img := h.images(t, "demo/base")[truth.ManifestDigest]; img.Status != scanner.StatusScanned {
			t.Errorf("images row = %+v, want Status scanned", img)
		}
	})

	t.Run("the same advisories are stale when the clock says three days later", func(t *testing.T) {
		h := newHarness(t, reg.Host, withAdvisories(dir))
		h.clock.Set(retrieved.Add(72 * time.Hour))
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", truth.ManifestDigest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		if img := h.images(t, "demo/base")[truth.ManifestDigest]; img.Status != scanner.StatusFailed || !strings.Contains(img.Error, "stale") {
			t.Errorf("images row = %+v, want Status failed saying the data is stale", img)
		}
	})
}
