package pipeline_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// queued is the part of a scan task that identifies the work.
type queued struct {
	Digest string
	Tags   []string
}

func queuedOf(tasks []store.ScanTask) []queued {
	out := make([]queued, 0, len(tasks))
	for _, task := range tasks {
		tags := append([]string(nil), task.Tags...)
		sort.Strings(tags)
		out = append(out, queued{task.Digest, tags})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}

// TestListRepoEnqueuesEachDigestOncePerDay lists a repository whose two tags share a
// digest twice on one day, then again the next day while nothing has been scanned.
func TestListRepoEnqueuesEachDigestOncePerDay(t *testing.T) {
	reg := testenv.StartRegistry(t)
	app, base := loadSidecar(t, layered), loadSidecar(t, minbase)
	push(t, layered, reg.Ref("demo/app:1"))
	push(t, layered, reg.Ref("demo/app:latest"))
	push(t, minbase, reg.Ref("demo/app:2"))
	h := newHarness(t, reg.Host)
	env := delivery(pipeline.FuncListRepo, h.listTask(t, "demo/app"), 1, host.HostEncoding)
	want := queuedOf([]store.ScanTask{
		{Digest: app.ManifestDigest, Tags: []string{"1", "latest"}},
		{Digest: base.ManifestDigest, Tags: []string{"2"}},
	})
	day := h.clock.Now()

	for _, tc := range []struct {
		name string
		at   time.Time
		want []queued
	}{
		{"the first listing enqueues one task per digest with all its tags", day, want},
		{"a second listing the same day enqueues nothing", day.Add(30 * time.Minute), nil},
		{"the next day the still unscanned digests are enqueued again", day.Add(24 * time.Hour), want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.clock.Set(tc.at)
			if status := h.call(t, pipeline.FuncListRepo, env); status != okStatus {
				t.Fatalf("listrepo: HTTP %d, want %d", status, okStatus)
			}
			got := queuedOf(h.scanTasks(t))
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scan tasks enqueued (-want +got):\n%s", diff)
			}
		})
	}
	run, err := h.store.GetRun(context.Background(), day.Format(time.DateOnly), "test-run")
	if err != nil {
		t.Fatal(err)
	}
	if run.Enqueued != 2 {
		t.Errorf("runs row of the first day counts %d enqueued scans, want 2", run.Enqueued)
	}
}

// TestEnvelopeEncodings drives listrepo and then scan with both known envelope shapes:
// the host's (text JSON-encoded twice, DequeueCount "1") and the documented one.
func TestEnvelopeEncodings(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	for _, tc := range []struct {
		name string
		enc  host.Encoding
	}{
		{"the host's double-encoded envelope with string metadata works", host.HostEncoding},
		{"the documented envelope works", host.DocsEncoding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, reg.Host)
			list := delivery(pipeline.FuncListRepo, h.listTask(t, "demo/base"), 1, tc.enc)
			if status := h.call(t, pipeline.FuncListRepo, list); status != okStatus {
				t.Fatalf("listrepo: HTTP %d, want %d", status, okStatus)
			}
			tasks := h.scanTasks(t)
			if diff := cmp.Diff([]queued{{truth.ManifestDigest, []string{"1"}}}, queuedOf(tasks)); diff != "" {
				t.Fatalf("scan tasks enqueued (-want +got):\n%s", diff)
			}
			scan := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", tasks[0].Digest, tasks[0].Tags...), 1, tc.enc)
			if status := h.call(t, pipeline.FuncScan, scan); status != okStatus {
				t.Fatalf("scan: HTTP %d, want %d", status, okStatus)
			}
			img, ok := h.images(t, "demo/base")[truth.ManifestDigest]
			if !ok || img.Status != scanner.StatusScanned || img.Platform != truth.Manifests[0].Platform {
				t.Errorf("images row of %s = %+v, want a scanned %s row", truth.ManifestDigest, img, truth.Manifests[0].Platform)
			}
			// A Debian 12 image matched against the loaded Debian folder says so.
			if img.OS != "debian" || img.AdvisorySource != "Debian" {
				t.Errorf("images row OS %q, AdvisorySource %q; want debian matched against Debian", img.OS, img.AdvisorySource)
			}
		})
	}
}
