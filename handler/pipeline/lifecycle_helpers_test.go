package pipeline_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// sweep does what a run does for one repository: deliver its list task, then every
// scan task the listing enqueued (each message deleted once handled).
func (h *harness) sweep(t *testing.T, repository string) {
	t.Helper()
	list := delivery(pipeline.FuncListRepo, h.listTask(t, repository), 1, host.HostEncoding)
	if status := h.call(t, pipeline.FuncListRepo, list); status != okStatus {
		t.Fatalf("listrepo %s: HTTP %d, want %d", repository, status, okStatus)
	}
	ctx := context.Background()
	for {
		msgs, err := h.store.ScanTasks().Receive(ctx, 32, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, m.Text, 1, host.HostEncoding)); status != okStatus {
				t.Fatalf("scan %s: HTTP %d, want %d", m.Text, status, okStatus)
			}
			if err := h.store.ScanTasks().Delete(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// scan delivers one scan task for repository@digest and returns the HTTP status.
func (h *harness) scan(t *testing.T, repository, digest string, tags ...string) int {
	t.Helper()
	return h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, h.scanTask(t, repository, digest, tags...), 1, host.HostEncoding))
}

// rowState is what the lifecycle decided for one finding row.
type rowState struct {
	State, Reason, ResolvedBy string
}

// states returns the state of every finding row of repository@digest, keyed by
// (vulnerability id, package).
func (h *harness) states(t *testing.T, repository, digest string) map[[2]string]rowState {
	t.Helper()
	rows, err := h.store.ListFindings(context.Background(), store.FindingFilter{Registry: h.registry, Repository: repository, Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]rowState{}
	for _, f := range rows {
		if f.Repository != repository || f.Digest != digest || f.Registry != h.registry {
			t.Errorf("row %s of %s@%s names %s/%s@%s", f.RowKey(), repository, digest, f.Registry, f.Repository, f.Digest)
		}
		out[[2]string{f.VulnerabilityID, f.Package}] = rowState{f.State, f.ResolvedReason, f.ResolvedByDigest}
	}
	return out
}

// expected is the Debian oracle's (id, package) findings of one platform of a
// fixture, matched without Tidewatch.
func expected(t *testing.T, oracle *testenv.DebianOracle, fx testenv.Sidecar, platform string) map[[2]string]bool {
	t.Helper()
	want := map[[2]string]bool{}
	for _, f := range oracle.Findings(t, fx.DpkgInventory[platform].Packages) {
		want[[2]string{f.ID, f.Package}] = true
	}
	if len(want) == 0 {
		t.Fatalf("the oracle expects no findings on %s; the fixture or the advisory data changed", platform)
	}
	return want
}

// allIn returns the same state for every key of keys.
func allIn(keys map[[2]string]bool, s rowState) map[[2]string]rowState {
	out := map[[2]string]rowState{}
	for k := range keys {
		out[k] = s
	}
	return out
}

var active = rowState{State: "active"}

// assertCountsMatchActiveFindings checks every images row of the harness's tables:
// its severity counts and FixableCount must equal its active finding rows, counted
// here from the findings table.
func assertCountsMatchActiveFindings(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	partitions, err := h.store.ListImagePartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, pk := range partitions {
		images, _, err := h.store.ListImagesPage(ctx, pk, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range images {
			rows, err := h.store.ListFindings(ctx, store.FindingFilter{Registry: img.Registry, Repository: img.Repository, Digest: img.Digest, State: "active"})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{}
			for _, f := range rows {
				want[f.Severity]++
				if f.FixStatus == "fixed" {
					want["fixable"]++
				}
			}
			got := map[string]int{"CRITICAL": img.Critical, "HIGH": img.High, "MEDIUM": img.Medium, "LOW": img.Low,
				"UNKNOWN": img.Unknown, "fixable": img.FixableCount}
			for k, v := range got {
				if v != want[k] {
					t.Errorf("images row %s/%s@%s counts %d %s, its active findings %d", img.Registry, img.Repository, img.Digest, v, k, want[k])
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no images rows to check")
	}
}

// deleteManifest deletes repository@digest from the registry, and with it every tag
// that points at it.
func deleteManifest(t *testing.T, reg *testenv.Registry, repository, digest string) {
	t.Helper()
	ref, err := name.NewDigest(reg.Ref(repository)+"@"+digest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("deleting %s: %v", ref, err)
	}
}

// pushWithoutPlatform pushes to dst the index at src minus its platform arch
// manifests, and returns the new index digest.
func pushWithoutPlatform(t *testing.T, src, dst, arch string) string {
	t.Helper()
	from, err := name.ParseReference(src, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	to, err := name.ParseReference(dst, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(from, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	smaller := mutate.RemoveManifests(idx, func(d v1.Descriptor) bool { return d.Platform != nil && d.Platform.Architecture == arch })
	if err := remote.WriteIndex(to, smaller, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	d, err := smaller.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// advisoriesWithout copies the shared Debian export into a new directory, leaving
// out every record that names cve (as id, alias or upstream).
func advisoriesWithout(t *testing.T, cve string) string {
	t.Helper()
	src := filepath.Join(testenv.Advisories(t), "Debian")
	r, err := zip.OpenReader(filepath.Join(src, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	dropped := 0
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID       string   `json:"id"`
			Aliases  []string `json:"aliases"`
			Upstream []string `json:"upstream"`
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if rec.ID == cve || contains(rec.Aliases, cve) || contains(rec.Upstream, cve) {
			dropped++
			continue
		}
		out, err := w.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := out.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if dropped == 0 {
		t.Fatalf("no record names %s", cve)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Debian", "all.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if csv, err := os.ReadFile(filepath.Join(src, "modified_id.csv")); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "Debian", "modified_id.csv"), csv, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
