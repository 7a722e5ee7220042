package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// The small fill every check below reads: 20 repositories × 3 tags, a third of the
// images as indexes so that some certainly are.
const (
	testRepos = 20
	testTags  = 3
	testIndex = "0.3"
)

// TestSeededRegistry seeds a real docker-registry's storage and reads it back only
// through the registry's HTTP API, with go-containerregistry and with regfill.
func TestSeededRegistry(t *testing.T) {
	reg := testenv.StartRegistry(t)
	regfill := buildRegfill(t)
	report := filepath.Join(t.TempDir(), "seeded.tsv")
	// The test registry is already serving; it keeps no state of its own (no blob
	// descriptor cache configured), so files written now are what it serves.
	var out bytes.Buffer
	err := run(t.Context(), []string{"-root", filepath.Join(reg.Dir, "data"), "-repos", fmt.Sprint(testRepos),
		"-tags", fmt.Sprint(testTags), "-index-fraction", testIndex, "-digests", report}, &out, io.Discard)
	if err != nil {
		t.Fatalf("seeding: %v", err)
	}
	t.Logf("%s", out.String())
	seeded := readDigests(t, report)
	if len(seeded) != testRepos*testTags {
		t.Fatalf("regseed reported %d tags, want %d", len(seeded), testRepos*testTags)
	}

	t.Run("the catalog lists every repository and tags/list every tag", func(t *testing.T) {
		want := map[string][]string{}
		for ref := range seeded {
			want[ref.repo] = append(want[ref.repo], ref.tag)
		}
		repos, err := remote.Catalog(t.Context(), mustRegistry(t, reg.Host))
		if err != nil {
			t.Fatalf("catalog: %v", err)
		}
		if len(repos) != testRepos {
			t.Errorf("catalog lists %d repositories, want %d", len(repos), testRepos)
		}
		got := map[string][]string{}
		for _, repo := range repos {
			tags, err := remote.List(mustRepo(t, reg.Host, repo), remote.WithContext(t.Context()))
			if err != nil {
				t.Fatalf("tags/list %s: %v", repo, err)
			}
			got[repo] = tags
		}
		for _, m := range []map[string][]string{want, got} {
			for _, tags := range m {
				slices.Sort(tags)
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("repositories and tags (-seeded +served):\n%s", d)
		}
	})

	t.Run("every tag's manifest, config and layers are served under their digests", func(t *testing.T) {
		indexes := 0
		for ref, digest := range seeded {
			if verifyTag(t, reg.Host, ref, digest) {
				indexes++
			}
		}
		if indexes == 0 {
			t.Errorf("no tag is an index: the fill does not cover index children")
		}
	})

	t.Run("regfill -list walks it without errors and sees the reported digests", func(t *testing.T) {
		listed := regfillList(t, regfill, reg.Host)
		if d := cmp.Diff(seeded, listed, cmp.AllowUnexported(tagRef{})); d != "" {
			t.Errorf("digests (-seeded +regfill -list):\n%s", d)
		}
	})

	t.Run("the storage is the tree a regfill push over HTTP leaves", func(t *testing.T) {
		pushed := testenv.StartRegistry(t)
		runRegfill(t, regfill, "-registry", pushed.Host, "-repos", fmt.Sprint(testRepos), "-tags", fmt.Sprint(testTags),
			"-index-fraction", testIndex, "-concurrency", "4")
		want := storageFiles(t, filepath.Join(pushed.Dir, "data"))
		got := storageFiles(t, filepath.Join(reg.Dir, "data"))
		if len(want) == 0 {
			t.Fatal("the pushed registry's storage holds no files")
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("storage files (-pushed +seeded):\n%s", d)
		}
	})

	t.Run("regfill -update re-pushes tags over HTTP on top of the seeded storage", func(t *testing.T) {
		changesPath := filepath.Join(t.TempDir(), "changes.jsonl")
		runRegfill(t, regfill, "-registry", reg.Host, "-repos", fmt.Sprint(testRepos), "-tags", fmt.Sprint(testTags),
			"-index-fraction", testIndex, "-update", "4", "-changes", changesPath)
		changes := readChanges(t, changesPath)
		if len(changes) != 4 {
			t.Fatalf("regfill -update wrote %d changes, want 4", len(changes))
		}
		want := maps.Clone(seeded)
		for _, c := range changes {
			ref := tagRef{repo: c.Repo, tag: c.Tag}
			if c.Old != seeded[ref] {
				t.Errorf("%s:%s: regfill saw old digest %s, seeded %s", c.Repo, c.Tag, c.Old, seeded[ref])
			}
			if c.New == c.Old {
				t.Errorf("%s:%s: the re-push kept digest %s", c.Repo, c.Tag, c.New)
			}
			want[ref] = c.New
			verifyTag(t, reg.Host, ref, c.New)
		}
		listed := regfillList(t, regfill, reg.Host)
		if d := cmp.Diff(want, listed, cmp.AllowUnexported(tagRef{})); d != "" {
			t.Errorf("digests after the update (-expected +regfill -list):\n%s", d)
		}
	})
}

// tagRef is one tag of one repository.
type tagRef struct{ repo, tag string }

// readDigests reads a "repo<TAB>tag<TAB>digest" file, failing on a repeated tag.
func readDigests(t *testing.T, path string) map[tagRef]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[tagRef]string{}
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 3 {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		ref := tagRef{repo: f[0], tag: f[1]}
		if _, dup := m[ref]; dup {
			t.Fatalf("%s: %s:%s twice", path, f[0], f[1])
		}
		m[ref] = f[2]
	}
	return m
}

func mustRegistry(t *testing.T, host string) name.Registry {
	t.Helper()
	r, err := name.NewRegistry(host, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustRepo(t *testing.T, host, repo string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verifyTag checks that HEAD and GET of the tag give digest, and that the manifest
// (every child of an index) and its config and layers are served as their digests
// say. It reports whether the tag is an index.
func verifyTag(t *testing.T, host string, ref tagRef, digest string) (isIndex bool) {
	t.Helper()
	tag := mustRepo(t, host, ref.repo).Tag(ref.tag)
	head, err := remote.Head(tag, remote.WithContext(t.Context()))
	if err != nil {
		t.Errorf("HEAD %s: %v", tag, err)
		return false
	}
	if head.Digest.String() != digest {
		t.Errorf("HEAD %s: digest %s, want %s", tag, head.Digest, digest)
	}
	desc, err := remote.Get(tag, remote.WithContext(t.Context()))
	if err != nil {
		t.Errorf("GET %s: %v", tag, err)
		return false
	}
	if got := sha256Hex(desc.Manifest); "sha256:"+got != digest || desc.Digest.String() != digest {
		t.Errorf("GET %s: body digest sha256:%s, header %s, want %s", tag, got, desc.Digest, digest)
	}
	if !desc.MediaType.IsIndex() {
		verifyImage(t, host, ref.repo, digest)
		return false
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(desc.Manifest, &idx); err != nil {
		t.Errorf("%s: index: %v", tag, err)
		return true
	}
	if len(idx.Manifests) != 2 {
		t.Errorf("%s: index of %d manifests, want 2 (amd64, arm64)", tag, len(idx.Manifests))
	}
	for _, child := range idx.Manifests {
		verifyImage(t, host, ref.repo, child.Digest.String())
	}
	return true
}

// verifyImage fetches image repo@digest by digest and checks its manifest, config
// and every layer (compressed digest, size, and uncompressed digest against the
// config's diff_ids).
func verifyImage(t *testing.T, host, repo, digest string) {
	t.Helper()
	ref := mustRepo(t, host, repo).Digest(digest)
	desc, err := remote.Get(ref, remote.WithContext(t.Context()))
	if err != nil {
		t.Errorf("GET %s: %v", ref, err)
		return
	}
	if got := "sha256:" + sha256Hex(desc.Manifest); got != digest {
		t.Errorf("GET %s: body digest %s", ref, got)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Errorf("%s: manifest: %v", ref, err)
		return
	}
	cfgBytes := getBlob(t, host, repo, m.Config)
	var cfg v1.ConfigFile
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		t.Errorf("%s: config: %v", ref, err)
		return
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) || len(m.Layers) == 0 {
		t.Errorf("%s: %d layers, %d diff_ids", ref, len(m.Layers), len(cfg.RootFS.DiffIDs))
		return
	}
	for i, l := range m.Layers {
		gz := getBlob(t, host, repo, l)
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Errorf("%s layer %s: %v", ref, l.Digest, err)
			continue
		}
		tarBytes, err := io.ReadAll(zr)
		if err != nil {
			t.Errorf("%s layer %s: %v", ref, l.Digest, err)
			continue
		}
		if got := "sha256:" + sha256Hex(tarBytes); got != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("%s layer %d: uncompressed %s, config diff_id %s", ref, i, got, cfg.RootFS.DiffIDs[i])
		}
		if _, err := tar.NewReader(bytes.NewReader(tarBytes)).Next(); err != nil {
			t.Errorf("%s layer %d: not a tar: %v", ref, i, err)
		}
	}
}

// getBlob GETs blob desc from repo and checks its size and digest.
func getBlob(t *testing.T, host, repo string, desc v1.Descriptor) []byte {
	t.Helper()
	l, err := remote.Layer(mustRepo(t, host, repo).Digest(desc.Digest.String()), remote.WithContext(t.Context()))
	if err != nil {
		t.Errorf("blob %s in %s: %v", desc.Digest, repo, err)
		return nil
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Errorf("GET blob %s in %s: %v", desc.Digest, repo, err)
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("GET blob %s in %s: %v", desc.Digest, repo, err)
		return nil
	}
	if got := "sha256:" + sha256Hex(b); got != desc.Digest.String() || int64(len(b)) != desc.Size {
		t.Errorf("blob %s in %s: served %d bytes with digest %s, want %d bytes", desc.Digest, repo, len(b), got, desc.Size)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// storageFiles maps every file below root to its contents. Directories are left out:
// a push also leaves empty _uploads directories, which serve nothing.
func storageFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[rel] = fmt.Sprintf("%d bytes sha256:%s", len(b), sha256Hex(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// buildRegfill builds the shared regfill tool (../shared/tools/regfill).
func buildRegfill(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "regfill")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(testenv.Shared(t), "tools", "regfill")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building regfill: %v\n%s", err, out)
	}
	return bin
}

// runRegfill runs regfill and returns its standard output; a non-zero exit fails.
func runRegfill(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("regfill %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// regfillList runs regfill -list and returns the digests it saw; it fails on any
// error regfill counted.
func regfillList(t *testing.T, bin, host string) map[tagRef]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "listed.tsv")
	out := runRegfill(t, bin, "-list", "-registry", host, "-concurrency", "8", "-digests", path)
	if !strings.Contains(out, " errors=0 ") || !strings.Contains(out, fmt.Sprintf(" repos=%d ", testRepos)) {
		t.Errorf("regfill -list: %s", out)
	}
	return readDigests(t, path)
}

// change is one line of regfill -update -changes.
type change struct{ Repo, Tag, Old, New string }

func readChanges(t *testing.T, path string) []change {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var changes []change
	for line := range strings.Lines(string(b)) {
		var c change
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		changes = append(changes, c)
	}
	return changes
}
