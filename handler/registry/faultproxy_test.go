package registry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// injectedFault is one line of faultproxy's -log file.
type injectedFault struct {
	Method, Path, Fault string
}

// startFaultProxy builds ../shared/tools/faultproxy and runs it with its default
// fault mix (429 with Retry-After: 1, 500, resets, truncated blobs, slow answers) in
// front of upstream. It returns the proxy's host and a function reading the faults
// it has logged.
func startFaultProxy(t *testing.T, upstream string, args ...string) (string, func() []injectedFault) {
	t.Helper()
	dir := t.TempDir()
	bin := buildFaultProxy(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	logPath := filepath.Join(dir, "faults.jsonl")
	cmd := exec.Command(bin, append([]string{"-listen", host, "-upstream", "http://" + upstream, "-log", logPath}, args...)...)
	out, err := os.Create(filepath.Join(dir, "faultproxy.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting faultproxy: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		out.Close()
	})
	waitListening(t, host, exited, out.Name())
	return host, func() []injectedFault { return readFaults(t, logPath) }
}

// buildFaultProxy builds the shared faultproxy tool into dir and returns its path.
func buildFaultProxy(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "faultproxy")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(testenv.Shared(t), "tools", "faultproxy")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building faultproxy: %v\n%s", err, out)
	}
	return bin
}

// waitListening waits until host accepts connections; the process exiting first (its
// output is in outPath) or 10 s passing fails the test.
func waitListening(t *testing.T, host string, exited <-chan error, outPath string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", host); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(outPath)
			t.Fatalf("faultproxy exited: %v\n%s", err, log)
		case <-deadline:
			t.Fatal("faultproxy did not listen within 10s")
		case <-tick.C:
		}
	}
}

// readFaults returns the faults faultproxy has logged to logPath so far.
func readFaults(t *testing.T, logPath string) []injectedFault {
	t.Helper()
	f, err := os.Open(logPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var all []injectedFault
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fl injectedFault
		if err := json.Unmarshal(sc.Bytes(), &fl); err != nil {
			t.Fatalf("faultproxy log line %q: %v", sc.Text(), err)
		}
		all = append(all, fl)
	}
	return all
}

func TestTargetResolutionSurvivesTheDefaultRegistryFaultMix(t *testing.T) {
	reg := testenv.StartRegistry(t)
	images := []struct {
		fixture, ref string
		resolutions  int
	}{
		{"debian12-multiarch", "team/multi:1", 40}, // an index: child manifests and configs
		{"debian12-minbase", "team/min:1", 20},     // a single manifest and its config
	}
	type resolution struct {
		ref  string
		want []platformLayers
	}
	var todo []resolution
	for _, im := range images {
		reg.Push(t, im.fixture, im.ref)
		var want []platformLayers
		for _, m := range testenv.ReadSidecar(t, im.fixture).Manifests {
			p := platformLayers{Platform: m.Platform, Digest: m.ManifestDigest}
			for _, l := range m.Layers {
				p.DiffIDs = append(p.DiffIDs, l.DiffID)
			}
			want = append(want, p)
		}
		for range im.resolutions {
			todo = append(todo, resolution{im.ref, want})
		}
	}
	proxy, faults := startFaultProxy(t, reg.Host, "-seed", "7")
	c, err := registry.New(proxy)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const concurrent = 8
	results := make([]error, len(todo))
	var wg sync.WaitGroup
	slots := make(chan struct{}, concurrent)
	for i, r := range todo {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			results[i] = resolveAndReadConfigs(ctx, c, r.ref, r.want)
		})
	}
	wg.Wait()
	failed := 0
	for i, err := range results {
		if err != nil {
			failed++
			t.Errorf("resolution %d of %s: %v", i, todo[i].ref, err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d resolutions failed under the default fault mix, want none", failed, len(todo))
	}

	// The test proves nothing unless the fetches it is about were faulted.
	var onConfigs, onChildManifests int
	for _, f := range faults() {
		switch {
		case f.Fault == "slow":
		case strings.Contains(f.Path, "/blobs/"):
			onConfigs++ // the only blobs resolution reads are configs
		case strings.Contains(f.Path, "/manifests/sha256:"):
			onChildManifests++
		}
	}
	t.Logf("faults injected on config blobs: %d, on child manifests: %d", onConfigs, onChildManifests)
	if onConfigs == 0 || onChildManifests == 0 {
		t.Errorf("faultproxy injected %d faults on configs and %d on child manifests; want some of each", onConfigs, onChildManifests)
	}
}

// platformLayers is what a test compares of a resolved platform image.
type platformLayers struct {
	Platform, Digest string
	DiffIDs          []string
}

// resolveAndReadConfigs resolves ref and reads each platform's config, comparing
// platforms, digests and diffIDs with the sidecar's.
func resolveAndReadConfigs(ctx context.Context, c *registry.Client, ref string, want []platformLayers) error {
	target, err := c.Target(ctx, ref)
	if err != nil {
		return err
	}
	var got []platformLayers
	for _, p := range target.Platforms {
		config, err := p.Image.ConfigFile()
		if err != nil {
			return fmt.Errorf("reading config of %s: %w", p.Digest, err)
		}
		var diffIDs []string
		for _, d := range config.RootFS.DiffIDs {
			diffIDs = append(diffIDs, d.String())
		}
		got = append(got, platformLayers{p.Platform.String(), p.Digest, diffIDs})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		return fmt.Errorf("resolved (-sidecar +got):\n%s", diff)
	}
	return nil
}
