package cli_test

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// copyFolders copies <from>/<folder>/all.zip for each folder into a new directory.
func copyFolders(t *testing.T, from string, folders ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, folder := range folders {
		data, err := os.ReadFile(filepath.Join(from, folder, "all.zip"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, folder), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, folder, "all.zip"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dropFirstMember rewrites a zip without its first member: a different, still valid export.
func dropFirstMember(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := os.Create(path + ".new")
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for _, f := range zr.File[1:] {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// cacheEntries lists the entry directories of an advisory cache root, leaving out
// build and trash directories.
func cacheEntries(t *testing.T, root string) []string {
	t.Helper()
	des, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, de := range des {
		if de.IsDir() && !strings.HasPrefix(de.Name(), ".") {
			out = append(out, de.Name())
		}
	}
	return out
}

// snapshot maps every file below dir to its content's sha256 and modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:]) + " " + info.ModTime().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// oracleFindings are the Debian oracle's (id, package) pairs for one platform of a fixture.
func oracleFindings(t *testing.T, oracle *testenv.DebianOracle, image, platform string) []string {
	t.Helper()
	want := []string{}
	for _, f := range oracle.Findings(t, readSidecar(t, image).DpkgInventory[platform].Packages) {
		want = append(want, f.ID+" "+f.Package)
	}
	return want
}

// checkOracleFindings checks a successful JSON scan of image has exactly the
// oracle's findings on every platform.
func checkOracleFindings(t *testing.T, oracle *testenv.DebianOracle, image string, r cliRun) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) == 0 {
		t.Fatal("no platform scanned")
	}
	for _, p := range got.Platforms {
		if diff := cmp.Diff(oracleFindings(t, oracle, image, p.Platform), idPackages(t, p.Findings)); diff != "" {
			t.Errorf("%s (id, package) (-oracle +scan):\n%s", p.Platform, diff)
		}
	}
}

func TestScanWithAnAdvisoryDirectoryCompilesItOnceIntoTheUserCache(t *testing.T) {
	oracle := testenv.NewDebianOracle(t)
	export := copyFolders(t, testenv.Advisories(t), "Debian", "GIT")
	xdg := t.TempDir()
	environ := []string{"XDG_CACHE_HOME=" + xdg}
	root := filepath.Join(xdg, "tidewatch", "advisories")
	scanArgs := []string{"scan", "--archive", testenv.Image(t, "debian12-minbase"), "--advisories", export,
		"--ecosystems", "Debian", "--severity-source", "GIT", "--format", "json"}
	scanCached := func(t *testing.T, extra ...string) cliRun {
		t.Helper()
		return runCLIWithEnviron(t, environ, "", append(append([]string{}, scanArgs...), extra...)...)
	}

	raw := scanCached(t, "--no-cache")
	t.Run("the uncached scan has the oracle's findings and leaves the cache alone", func(t *testing.T) {
		checkOracleFindings(t, oracle, "debian12-minbase", raw)
		if _, err := os.Stat(root); !os.IsNotExist(err) {
			t.Errorf("--no-cache touched the cache at %s (stat: %v)", root, err)
		}
	})

	first := scanCached(t)
	var entry string
	t.Run("the first run compiles the export into <XDG_CACHE_HOME>/tidewatch/advisories", func(t *testing.T) {
		checkOracleFindings(t, oracle, "debian12-minbase", first)
		entries := cacheEntries(t, root)
		if len(entries) != 1 {
			t.Fatalf("cache entries %v, want one", entries)
		}
		entry = filepath.Join(root, entries[0])
		if want := "advisories compiled into cache " + entry; !strings.Contains(first.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, first.stderr)
		}
		if _, err := os.Stat(filepath.Join(entry, "current.json")); err != nil {
			t.Errorf("the entry has no pointer: %v", err)
		}
	})
	if entry == "" {
		t.FailNow()
	}
	before := snapshot(t, entry)

	second := scanCached(t)
	t.Run("the second run loads the entry without compiling it again", func(t *testing.T) {
		checkOracleFindings(t, oracle, "debian12-minbase", second)
		if want := "advisories loaded from cache " + entry; !strings.Contains(second.stderr, want) || strings.Contains(second.stderr, "compiled") {
			t.Errorf("stderr does not say %q alone:\n%s", want, second.stderr)
		}
		if diff := cmp.Diff(before, snapshot(t, entry)); diff != "" {
			t.Errorf("the entry's files changed (-first run +second run):\n%s", diff)
		}
		if diff := cmp.Diff([]string{filepath.Base(entry)}, cacheEntries(t, root)); diff != "" {
			t.Errorf("cache entries (-want +got):\n%s", diff)
		}
	})
	t.Run("cached and uncached scans print the same result", func(t *testing.T) {
		for name, r := range map[string]cliRun{"first": first, "second": second} {
			if diff := cmp.Diff(raw.stdout, r.stdout); diff != "" {
				t.Errorf("%s cached run (-uncached +cached):\n%.2000s", name, diff)
			}
		}
	})

	t.Run("an ecosystem folder missing from the directory is an error naming it", func(t *testing.T) {
		r := scanCached(t, "--ecosystems", "Debian,Maven")
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Maven/all.zip") {
			t.Errorf("exit %d, stdout %q; want 1, nothing, and stderr naming Maven/all.zip:\n%s", r.code, r.stdout, r.stderr)
		}
	})

	dropFirstMember(t, filepath.Join(export, "GIT", "all.zip"))
	third := scanCached(t)
	t.Run("changing one zip compiles a new entry beside the old one", func(t *testing.T) {
		if third.code != 0 || !strings.Contains(third.stderr, "advisories compiled into cache") {
			t.Fatalf("exit %d; want 0 and a compile\nstderr:\n%s", third.code, third.stderr)
		}
		if entries := cacheEntries(t, root); len(entries) != 2 {
			t.Errorf("cache entries %v, want the old and the new one", entries)
		}
		if diff := cmp.Diff(before, snapshot(t, entry)); diff != "" {
			t.Errorf("the old entry's files changed (-before +after):\n%s", diff)
		}
	})
}

func TestScanRebuildsACorruptedCacheEntryInsteadOfUsingIt(t *testing.T) {
	export := copyFolders(t, testenv.Advisories(t), "Debian")
	args := func(cache string) []string {
		return []string{"scan", "--archive", testenv.Image(t, "debian12-minbase"), "--advisories", export,
			"--ecosystems", "Debian", "--severity-source", "", "--format", "json", "--cache-dir", cache}
	}
	primed := t.TempDir()
	clean := runCLI(t, "", args(primed)...)
	if clean.code != 0 {
		t.Fatalf("priming the cache: exit %d\nstderr:\n%s", clean.code, clean.stderr)
	}
	primedRoot := filepath.Join(primed, "advisories")
	entries := cacheEntries(t, primedRoot)
	if len(entries) != 1 {
		t.Fatalf("primed cache entries %v, want one", entries)
	}
	debianBlob := func(t *testing.T, entry string) string {
		t.Helper()
		blobs, err := filepath.Glob(filepath.Join(entry, "Debian", "*"))
		if err != nil || len(blobs) != 1 {
			t.Fatalf("Debian blobs of %s: %v (%v), want one", entry, blobs, err)
		}
		return blobs[0]
	}
	tests := []struct {
		name    string
		corrupt func(t *testing.T, entry string)
	}{
		{"a blob overwritten with garbage", func(t *testing.T, entry string) {
			if err := os.WriteFile(debianBlob(t, entry), []byte("not an index"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"a blob cut in half", func(t *testing.T, entry string) {
			blob := debianBlob(t, entry)
			info, err := os.Stat(blob)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(blob, info.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"a blob deleted", func(t *testing.T, entry string) {
			if err := os.Remove(debianBlob(t, entry)); err != nil {
				t.Fatal(err)
			}
		}},
		{"a pointer that is not JSON", func(t *testing.T, entry string) {
			if err := os.WriteFile(filepath.Join(entry, "current.json"), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is rebuilt with a warning and scans as before", func(t *testing.T) {
			cache := t.TempDir()
			entry := filepath.Join(cache, "advisories", entries[0])
			copyTree(t, filepath.Join(primedRoot, entries[0]), entry)
			tt.corrupt(t, entry)
			broken := snapshot(t, entry)

			r := runCLI(t, "", args(cache)...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
			}
			for _, want := range []string{"warning: cached advisories in " + entry + " are unusable", "rebuilding", "advisories compiled into cache " + entry} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
				}
			}
			if diff := cmp.Diff(clean.stdout, r.stdout); diff != "" {
				t.Errorf("result (-before the corruption +after):\n%.2000s", diff)
			}
			if cmp.Equal(broken, snapshot(t, entry)) {
				t.Error("the corrupted entry is still in place")
			}
			again := runCLI(t, "", args(cache)...)
			if again.code != 0 || !strings.Contains(again.stderr, "advisories loaded from cache "+entry) {
				t.Errorf("the run after the rebuild: exit %d, want 0 and a load from cache\nstderr:\n%s", again.code, again.stderr)
			}
		})
	}
}

// copyTree copies the regular files below from into to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentScansShareOneCacheEntry(t *testing.T) {
	export := copyFolders(t, testenv.Advisories(t), "Debian")
	srv := httptest.NewServer(http.FileServer(http.Dir(export)))
	t.Cleanup(srv.Close)
	for _, source := range []struct{ name, advisories string }{
		{"a directory", export},
		{"a URL", srv.URL},
	} {
		t.Run("two first runs from "+source.name+" at once both scan and leave one usable entry", func(t *testing.T) {
			cache := t.TempDir()
			args := []string{"scan", "--archive", testenv.Image(t, "debian12-minbase"), "--advisories", source.advisories,
				"--ecosystems", "Debian", "--severity-source", "", "--format", "json", "--cache-dir", cache}
			var runs [2]cliRun
			var wg sync.WaitGroup
			for i := range runs {
				wg.Go(func() { runs[i] = runCLI(t, "", args...) })
			}
			wg.Wait()
			for i, r := range runs {
				if r.code != 0 {
					t.Fatalf("run %d: exit %d\nstderr:\n%s", i, r.code, r.stderr)
				}
				if strings.Contains(r.stderr, "warning") {
					t.Errorf("run %d warned:\n%s", i, r.stderr)
				}
			}
			if diff := cmp.Diff(runs[0].stdout, runs[1].stdout); diff != "" {
				t.Errorf("(-run 0 +run 1):\n%.2000s", diff)
			}
			if entries := cacheEntries(t, filepath.Join(cache, "advisories")); len(entries) != 1 {
				t.Errorf("cache entries %v, want one", entries)
			}
			after := runCLI(t, "", args...)
			if after.code != 0 || strings.Contains(after.stderr, "warning") {
				t.Errorf("the run after: exit %d, want 0 without a warning\nstderr:\n%s", after.code, after.stderr)
			}
			if diff := cmp.Diff(runs[0].stdout, after.stdout); diff != "" {
				t.Errorf("(-concurrent run +the run after):\n%.2000s", diff)
			}
		})
	}
}
