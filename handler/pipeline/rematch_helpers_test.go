package pipeline_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// registryGate fronts a real registry: it forwards every request while open and,
// once closed, answers 500 to every request and counts them.
type registryGate struct {
	Host    string
	closed  atomic.Bool
	refused atomic.Int64
}

func startRegistryGate(t *testing.T, registryHost string) *registryGate {
	t.Helper()
	target, err := url.Parse("http://" + registryHost)
	if err != nil {
		t.Fatal(err)
	}
	g := &registryGate{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.closed.Load() {
			g.refused.Add(1)
			http.Error(w, "registry gate closed", http.StatusInternalServerError)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.Host = strings.TrimPrefix(srv.URL, "http://")
	return g
}

// rematchTask is the first page of a rematch chain.
func rematchTask(t *testing.T, generation string) []byte {
	t.Helper()
	b, err := store.EncodeRematchTask(store.RematchTask{Generation: generation, RunID: "rematch-run"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rematchAll delivers the first rematch page, then every page the chain enqueues
// (each delivered once and deleted), and returns the envelopes delivered, in order.
func (h *harness) rematchAll(t *testing.T, generation string) []host.Envelope {
	t.Helper()
	ctx := context.Background()
	first := delivery(pipeline.FuncRematch, rematchTask(t, generation), 1, host.HostEncoding)
	if status := h.call(t, pipeline.FuncRematch, first); status != okStatus {
		t.Fatalf("first rematch page: HTTP %d, want %d", status, okStatus)
	}
	delivered := []host.Envelope{first}
	for len(delivered) < 1000 {
		msgs, err := h.store.RematchTasks().Receive(ctx, 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return delivered
		}
		env := deliveryOf(msgs[0].ID, pipeline.FuncRematch, msgs[0].Text, 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncRematch, env); status != okStatus {
			t.Fatalf("rematch page %s: HTTP %d, want %d", msgs[0].Text, status, okStatus)
		}
		if err := h.store.RematchTasks().Delete(ctx, msgs[0]); err != nil {
			t.Fatal(err)
		}
		delivered = append(delivered, env)
	}
	t.Fatal("the rematch chain does not end")
	return nil
}

// redeliver delivers each envelope again, in order; the pages they enqueue again are
// drained unhandled.
func (h *harness) redeliver(t *testing.T, envs []host.Envelope) {
	t.Helper()
	for _, env := range envs {
		if status := h.call(t, pipeline.FuncRematch, env); status != okStatus {
			t.Fatalf("redelivered rematch page: HTTP %d, want %d", status, okStatus)
		}
	}
	drain(t, h.store.RematchTasks())
}

// snapshot is every images and findings row of a harness's registry.
type snapshot struct {
	Images   map[string]store.Image
	Findings map[string]store.Finding
}

func (h *harness) snapshot(t *testing.T, repositories ...string) snapshot {
	t.Helper()
	s := snapshot{Images: map[string]store.Image{}, Findings: map[string]store.Finding{}}
	for _, repo := range repositories {
		for d, img := range h.images(t, repo) {
			s.Images[repo+"@"+d] = img
			rows, err := h.store.ListFindings(context.Background(), store.FindingFilter{Registry: h.registry, Repository: repo, Digest: d})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rows {
				s.Findings[repo+"@"+d+"/"+f.RowKey()] = f
			}
		}
	}
	return s
}

// platformsOf is the (platform, platform digest) pairs of a fixture.
func platformsOf(fx testenv.Sidecar) []testenv.SidecarManifest {
	if len(fx.Manifests) > 0 {
		return fx.Manifests
	}
	return []testenv.SidecarManifest{{Platform: fx.Platforms[0], ManifestDigest: fx.ManifestDigest}}
}

// topDigest is what a scan task names for a fixture: its index, or its manifest.
func topDigest(fx testenv.Sidecar) string {
	if fx.IndexDigest != "" {
		return fx.IndexDigest
	}
	return fx.ManifestDigest
}

// advisoryChanges say how set A differs from the shared Debian export (set B).
type advisoryChanges struct {
	// removed CVEs: every record naming them is left out of A.
	removed []string
	// raised CVEs: every fixed event of their records gets "+tw1" appended in A, a
	// higher dpkg version, so the finding stays with another fixed version.
	raised []string
	// fixedAtInstalled are record ids whose fixed event equals an installed source
	// version: raised the same way, A reports them and B does not.
	fixedAtInstalled []string
}

// advisorySetA writes set A into a new directory (the GIT severity folder linked
// unchanged, so only the Debian data differs).
func advisorySetA(t *testing.T, ch advisoryChanges) string {
	t.Helper()
	src := filepath.Join(testenv.Advisories(t), "Debian")
	r, err := zip.OpenReader(filepath.Join(src, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	dropped, raised := 0, 0
	for _, f := range r.File {
		data := readZipMember(t, f)
		var rec map[string]any
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		names := recordNames(rec)
		switch {
		case slices.ContainsFunc(ch.removed, func(c string) bool { return slices.Contains(names, c) }):
			dropped++
			continue
		case slices.ContainsFunc(ch.raised, func(c string) bool { return slices.Contains(names, c) }),
			slices.Contains(ch.fixedAtInstalled, names[0]):
			raiseFixes(rec)
			raised++
			if data, err = json.Marshal(rec); err != nil {
				t.Fatal(err)
			}
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
	if dropped == 0 || raised == 0 {
		t.Fatalf("set A dropped %d and raised %d records; the changes %+v match nothing", dropped, raised, ch)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Debian", "all.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(testenv.Advisories(t), "GIT"), filepath.Join(dir, "GIT")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// recordsFixedAt returns the ids of Debian:12 records (at most n, in archive order)
// with a fixed event equal to the installed source version of one of pkgs.
func recordsFixedAt(t *testing.T, pkgs []testenv.DpkgPackage, n int) []string {
	t.Helper()
	installed := map[string]string{}
	for _, p := range pkgs {
		installed[p.SourcePackage] = p.SourceVersion
	}
	r, err := zip.OpenReader(filepath.Join(testenv.Advisories(t), "Debian", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ids []string
	for _, f := range r.File {
		var rec struct {
			ID       string `json:"id"`
			Affected []struct {
				Package struct{ Ecosystem, Name string }
				Ranges  []struct{ Events []map[string]string }
			}
		}
		if err := json.Unmarshal(readZipMember(t, f), &rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, a := range rec.Affected {
			v, ok := installed[a.Package.Name]
			if a.Package.Ecosystem != "Debian:12" || !ok {
				continue
			}
			for _, rg := range a.Ranges {
				for _, e := range rg.Events {
					if e["fixed"] == v && !slices.Contains(ids, rec.ID) {
						ids = append(ids, rec.ID)
					}
				}
			}
		}
		if len(ids) >= n {
			return ids[:n]
		}
	}
	return ids
}

func readZipMember(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// recordNames is a record's id, aliases and upstream ids.
func recordNames(rec map[string]any) []string {
	names := []string{rec["id"].(string)}
	for _, field := range []string{"aliases", "upstream"} {
		list, _ := rec[field].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok {
				names = append(names, s)
			}
		}
	}
	return names
}

// raiseFixes appends "+tw1" to every fixed event of the record's ranges.
func raiseFixes(rec map[string]any) {
	affected, _ := rec["affected"].([]any)
	for _, a := range affected {
		ranges, _ := a.(map[string]any)["ranges"].([]any)
		for _, rg := range ranges {
			events, _ := rg.(map[string]any)["events"].([]any)
			for _, e := range events {
				if ev, ok := e.(map[string]any); ok {
					if fixed, ok := ev["fixed"].(string); ok {
						ev["fixed"] = fixed + "+tw1"
					}
				}
			}
		}
	}
}
