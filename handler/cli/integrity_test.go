package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// rawBlob is a blob of a hand-written OCI layout and its descriptor.
type rawBlob struct {
	MediaType string            `json:"mediaType"`
	Digest    string            `json:"digest"`
	Size      int               `json:"size"`
	Platform  map[string]string `json:"platform,omitempty"`
	body      []byte
}

func blobOf(mediaType string, body []byte) rawBlob {
	sum := sha256.Sum256(body)
	return rawBlob{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: len(body), body: body}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lyingLayoutTar writes, byte for byte, an OCI layout of one linux/amd64 image whose
// manifest lists layer, whose config claims diffIDs and whose blob file for layer holds
// stored: lies go-containerregistry would not write.
func lyingLayoutTar(t *testing.T, mediaType string, layer, stored []byte, diffIDs ...string) string {
	t.Helper()
	config := blobOf("application/vnd.oci.image.config.v1+json", mustJSON(t, map[string]any{
		"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}}))
	layerBlob := blobOf(mediaType, layer)
	manifest := blobOf("application/vnd.oci.image.manifest.v1+json", mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": config, "layers": []rawBlob{layerBlob}}))
	manifest.Platform = map[string]string{"os": "linux", "architecture": "amd64"}
	index := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []rawBlob{manifest}})

	path := filepath.Join(t.TempDir(), "lying.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"index.json", index},
		{blobPath(config), config.body}, {blobPath(layerBlob), stored}, {blobPath(manifest), manifest.body},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func blobPath(b rawBlob) string { return "blobs/" + strings.Replace(b.Digest, ":", "/", 1) }

// emptyLayer is a gzip of an empty tar.
func emptyLayer(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := tar.NewWriter(zw).Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestScanOfAnImageClaimingAnotherLayersDiffIDFailsNamingTheDiffID(t *testing.T) {
	claimed := readSidecar(t, "debian12-minbase").Manifests[0].Layers[0].DiffID
	empty := emptyLayer(t)
	archive := lyingLayoutTar(t, "application/vnd.oci.image.layer.v1.tar+gzip", empty, empty, claimed)
	for _, tt := range []struct {
		name  string
		flags []string
	}{{"without --exit-code", nil}, {"with --exit-code 3", []string{"--exit-code", "3"}}} {
		flags := tt.flags
		t.Run(tt.name+" the scan fails naming the diffID, never clean", func(t *testing.T) {
			args := append([]string{"scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", "json"}, flags...)
			r := runCLI(t, "", args...)
			if r.code == 0 {
				t.Fatalf("exit code 0 for a layer that is not what its config claims; stdout:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr, "diffID") || !strings.Contains(r.stderr, claimed) {
				t.Errorf("stderr does not name the diffID mismatch and %s:\n%s", claimed, r.stderr)
			}
			if r.stdout == "" {
				return
			}
			for _, p := range decodeScan(t, r).Platforms {
				if p.Status != "failed" || len(p.Findings) != 0 || !strings.Contains(p.Error, "diffID") {
					t.Errorf("%s: status %q, %d findings, error %q; want failed naming the diffID", p.Platform, p.Status, len(p.Findings), p.Error)
				}
			}
		})
	}
}

// tamperedCopy copies archive with one byte flipped in the middle of its largest
// blob, keeping every name and size.
func tamperedCopy(t *testing.T, archive string) string {
	t.Helper()
	in, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var largest string
	var largestSize int64
	tr := tar.NewReader(in)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(hdr.Name, "blobs/") && hdr.Size > largestSize {
			largest, largestSize = hdr.Name, hdr.Size
		}
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tampered.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	tr = tar.NewReader(in)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == largest {
			body[len(body)/2] ^= 0xff
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScanOfATamperedArchiveFailsCleanly(t *testing.T) {
	var layer bytes.Buffer
	if err := testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File(testenv.DpkgStatus, testenv.OpensslStanza))(&layer); err != nil {
		t.Fatal(err)
	}
	diffID := blobOf("", layer.Bytes()).Digest
	// The same tar with openssl 3.0.0-1 rewritten to 9.0.0-1: it parses, and only
	// its digest gives it away.
	tampered := bytes.Replace(layer.Bytes(), []byte("Version: 3.0.0-1"), []byte("Version: 9.0.0-1"), 1)
	tests := []struct {
		name    string
		archive string
		want    []string
	}{
		{name: "a shared fixture with a byte of its layer flipped",
			archive: tamperedCopy(t, testenv.Image(t, "debian12-minbase")), want: []string{"malformed image", "layer"}},
		{name: "a layer whose file content was edited under its old digest",
			archive: lyingLayoutTar(t, "application/vnd.oci.image.layer.v1.tar", layer.Bytes(), tampered, diffID),
			want:    []string{"digest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" fails naming what was wrong", func(t *testing.T) {
			r := runCLI(t, "", "scan", "--archive", tt.archive, "--advisories", testenv.Advisories(t), "--format", "json")
			if r.code == 0 {
				t.Fatalf("exit code 0 for a tampered layer; stdout:\n%.2000s", r.stdout)
			}
			for _, s := range tt.want {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stdout, `"findings": [{`) {
				t.Errorf("a tampered archive panicked or reported findings:\nstdout %.2000s\nstderr %s", r.stdout, r.stderr)
			}
		})
	}
}

func TestScanWritesNothingOnTheHostThroughTraversalOrLinks(t *testing.T) {
	host := t.TempDir()
	escapes := []string{
		strings.Repeat("../", 32) + strings.TrimPrefix(filepath.Join(host, "dotdot"), "/"),
		filepath.Join(host, "absolute"),
		"etc/hostdir/through-link",
	}
	archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease),
		testenv.File(escapes[0], testenv.OpensslStanza), testenv.File(escapes[1], testenv.OpensslStanza),
		testenv.Symlink("etc/hostdir", host), testenv.File(escapes[2], testenv.OpensslStanza),
		testenv.Hardlink("etc/hard", filepath.Join(host, "absolute"))))
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", "json")
	if len(decodeScan(t, r).Platforms) != 1 {
		t.Errorf("no platform reported; exit %d, stderr:\n%s", r.code, r.stderr)
	}
	entries, err := os.ReadDir(host)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("the scan wrote %s on the host", filepath.Join(host, e.Name()))
	}
}

func TestScanOfADockerSaveManifestNamingHostFilesReadsNothingOfTheHost(t *testing.T) {
	// The host holds a valid config and layer (openssl 3.0.0-1 on bookworm); the
	// archive's manifest.json points at them by absolute and by climbing paths.
	host := t.TempDir()
	var layer bytes.Buffer
	if err := testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File(testenv.DpkgStatus, testenv.OpensslStanza))(&layer); err != nil {
		t.Fatal(err)
	}
	config := mustJSON(t, map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{blobOf("", layer.Bytes()).Digest}}})
	for name, body := range map[string][]byte{"config.json": config, "layer.tar": layer.Bytes()} {
		if err := os.WriteFile(filepath.Join(host, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	climb := strings.Repeat("../", 32) + strings.TrimPrefix(host, "/")
	for _, tt := range []struct{ name, dir string }{{"absolute paths", host}, {"paths climbing out with ..", climb}} {
		dir := tt.dir
		t.Run(tt.name+" to host files are a malformed archive, not a scan of the host's files", func(t *testing.T) {
			manifest := mustJSON(t, []map[string]any{{"Config": dir + "/config.json", "RepoTags": []string{"evil:1"},
				"Layers": []string{dir + "/layer.tar"}}})
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			if err := tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(manifest))}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(manifest); err != nil {
				t.Fatal(err)
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(t.TempDir(), "evil.tar")
			if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", "json")
			if r.code != 1 || r.stdout != "" {
				t.Errorf("exit code %d, stdout %.500s; want 1 and no result", r.code, r.stdout)
			}
			if !strings.Contains(r.stderr, "malformed image") {
				t.Errorf("stderr does not call the archive malformed:\n%s", r.stderr)
			}
		})
	}
}
