package cli_test

import (
	"archive/zip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// recordsIn counts the .json members of an all.zip: the oracle for printed counts.
func recordsIn(t *testing.T, path string) int {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	n := 0
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".json") {
			n++
		}
	}
	return n
}

// folderLines parses the per-folder table: folder → "status records rejected".
func folderLines(out string) map[string]string {
	rows := map[string]string{}
	line := regexp.MustCompile(`(?m)^(\S+)\s+(updated|unchanged|rejected)\s+(\d+)\s+(\d+)`)
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		rows[m[1]] = m[2] + " " + m[3] + " " + m[4]
	}
	return rows
}

func TestAdvisoriesSyncFromAURLPrintsEachFolderThenReportsItUnchanged(t *testing.T) {
	shared := testenv.Advisories(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(shared)))
	t.Cleanup(srv.Close)
	out := t.TempDir()
	args := []string{"advisories", "sync", "--source", srv.URL, "--out", out, "--ecosystems", "Go,npm", "--severity-source", "GIT"}
	count := func(folder string) string {
		return strconv.Itoa(recordsIn(t, filepath.Join(shared, folder, "all.zip")))
	}
	for _, tc := range []struct {
		name   string
		status string
	}{
		{"the first sync writes every folder", "updated"},
		{"the second sync finds every folder unchanged", "unchanged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", args...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			want := map[string]string{
				"GIT": tc.status + " " + count("GIT") + " 0",
				"Go":  tc.status + " " + count("Go") + " 0",
				"npm": tc.status + " " + count("npm") + " 0",
			}
			if diff := cmp.Diff(want, folderLines(r.stdout)); diff != "" {
				t.Errorf("folders (-want +got):\n%s\nstdout:\n%s", diff, r.stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(out, "current.json")); err != nil {
		t.Errorf("no pointer written: %v", err)
	}
}

func TestAdvisoriesSyncExitsNonZeroNamingTheRejectedFolderAndItsReason(t *testing.T) {
	shared := testenv.Advisories(t)
	src := t.TempDir()
	good, err := os.ReadFile(filepath.Join(shared, "npm", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	goZip, err := os.ReadFile(filepath.Join(shared, "Go", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	for folder, data := range map[string][]byte{"npm": good, "Go": goZip[:len(goZip)/3]} {
		if err := os.MkdirAll(filepath.Join(src, folder), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, folder, "all.zip"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runCLI(t, "", "advisories", "sync", "--source", src, "--out", t.TempDir(), "--ecosystems", "Go,npm", "--severity-source", "")
	if r.code != 1 {
		t.Fatalf("exit %d; want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "Go: not a complete zip archive") {
		t.Errorf("stderr does not name the folder and the reason:\n%s", r.stderr)
	}
	rows := folderLines(r.stdout)
	if !strings.HasPrefix(rows["Go"], "rejected ") || rows["npm"] != "updated "+strconv.Itoa(recordsIn(t, filepath.Join(shared, "npm", "all.zip")))+" 0" {
		t.Errorf("folders %v; want Go rejected and npm updated\nstdout:\n%s", rows, r.stdout)
	}
}

func TestAdvisoriesSyncWithoutOutIsAUsageError(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sync without --out", []string{"advisories", "sync", "--source", "."}},
		{"advisories without sync", []string{"advisories"}},
		{"an unknown ecosystem", []string{"advisories", "sync", "--out", ".", "--ecosystems", "NoSuchEcosystem"}},
	} {
		t.Run(tc.name+" exits 2", func(t *testing.T) {
			if r := runCLI(t, "", tc.args...); r.code != 2 {
				t.Errorf("exit %d; want 2\nstderr:\n%s", r.code, r.stderr)
			}
		})
	}
}
