package infracheck

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

const packageVersion = "0.0.0-infracheck"

// buildPackage runs scripts/package.sh into a temporary directory and returns the zip.
func buildPackage(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("building the release binary is slow; skipped with -short")
	}
	root := repoRoot(t)
	dist := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "package.sh"))
	cmd.Env = append(os.Environ(), "TIDEWATCH_DIST="+dist, "TIDEWATCH_VERSION="+packageVersion)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, out)
	}
	return filepath.Join(dist, "tidewatch.zip")
}

func TestPackage(t *testing.T) {
	root := repoRoot(t)
	zr, err := zip.OpenReader(buildPackage(t))
	if err != nil {
		t.Fatalf("opening the package: %v", err)
	}
	defer zr.Close()
	entries := map[string]*zip.File{}
	var names []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		entries[f.Name] = f
		names = append(names, f.Name)
	}
	sort.Strings(names)

	t.Run("it holds host.json, the binary and every function.json at the root", func(t *testing.T) {
		want := []string{"host.json", "tidewatch"}
		dirs, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
		if err != nil || len(dirs) == 0 {
			t.Fatalf("listing functions/*/function.json: %v (%d found)", err, len(dirs))
		}
		for _, d := range dirs {
			want = append(want, filepath.Base(filepath.Dir(d))+"/function.json")
		}
		sort.Strings(want)
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("zip entries differ (-want +got):\n%s", diff)
		}
	})

	t.Run("metadata files are copied byte for byte", func(t *testing.T) {
		for name := range entries {
			if name == "tidewatch" {
				continue
			}
			source := filepath.Join(root, name)
			if name != "host.json" {
				source = filepath.Join(root, "functions", name)
			}
			want, err := os.ReadFile(source)
			if err != nil {
				t.Fatal(err)
			}
			if got := readEntry(t, entries[name]); !bytes.Equal(got, want) {
				t.Errorf("%s in the zip differs from %s", name, source)
			}
		}
	})

	bin, ok := entries["tidewatch"]
	if !ok {
		t.Fatal("no tidewatch executable in the zip")
	}
	t.Run("the executable has mode 0755", func(t *testing.T) {
		if got := bin.Mode().Perm(); got != 0o755 {
			t.Errorf("mode %v, want 0755", got)
		}
	})

	path := filepath.Join(t.TempDir(), "tidewatch")
	if err := os.WriteFile(path, readEntry(t, bin), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("the executable is static, stripped linux/amd64", func(t *testing.T) {
		checkELF(t, path)
	})
	t.Run("the build is trimmed, cgo-free, linux/amd64 and version-stamped", func(t *testing.T) {
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatalf("reading build info: %v", err)
		}
		got := map[string]string{}
		for _, s := range info.Settings {
			got[s.Key] = s.Value
		}
		want := map[string]string{"-trimpath": "true", "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("build setting %s = %q, want %q", k, got[k], v)
			}
		}
		// -trimpath keeps -ldflags out of the build info, so look for the stamped value.
		if raw, err := os.ReadFile(path); err != nil || !bytes.Contains(raw, []byte(packageVersion)) {
			t.Errorf("the executable does not contain the stamped version %q (read error: %v)", packageVersion, err)
		}
	})
	t.Run("serve answers on FUNCTIONS_CUSTOMHANDLER_PORT", func(t *testing.T) {
		checkServe(t, path)
	})
}

func readEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatalf("opening %s in the zip: %v", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s in the zip: %v", f.Name, err)
	}
	return b
}

func checkELF(t *testing.T, path string) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("reading the executable as ELF: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v, want EM_X86_64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("has a program interpreter: not statically linked")
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("has a .symtab section: not stripped")
	}
}

// checkServe starts `tidewatch serve` against Azurite and waits for any HTTP answer.
func checkServe(t *testing.T, path string) {
	storage := testenv.Storage(t)
	port := freeLoopbackPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + fmt.Sprint(port),
		"TIDEWATCH_STORAGE=" + storage,
		"TIDEWATCH_REGISTRIES=127.0.0.1:5000=anonymous", // not contacted: serve only answers the readiness probe
		"TIDEWATCH_ADVISORIES_URL=" + testenv.Advisories(t),
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting tidewatch serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel()
		<-exited
	}()

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: time.Second}
	retry := time.NewTicker(50 * time.Millisecond)
	defer retry.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			t.Logf("serve answered %s with %s", url, resp.Status)
			return
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("tidewatch serve exited before answering: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("tidewatch serve did not answer on %s: %v\n%s", url, err, stderr.String())
		case <-retry.C:
		}
	}
}

func freeLoopbackPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
