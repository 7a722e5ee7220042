package advisory

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// sharedFolders lists the folders of the shared OSV export (every one: ecosystems
// and the GIT severity folder).
func sharedFolders(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(testenv.Advisories(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) < 2 {
		t.Fatalf("shared advisories hold %d folders", len(out))
	}
	return out
}

func readShared(t testing.TB, folder string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.Advisories(t), folder, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// memSource is a Source over in-memory files.
type memSource map[string][]byte

func (m memSource) Open(_ context.Context, name string) (io.ReadCloser, error) {
	data, ok := m[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

var compareFolders = cmp.Options{
	cmp.AllowUnexported(folderData{}, folderRecord{}, idSeverity{}),
}

func TestACompiledFolderDecodesToWhatItsJSONDecodesTo(t *testing.T) {
	ctx := context.Background()
	for _, folder := range sharedFolders(t) {
		t.Run("the shared "+folder+" folder round-trips through the compiled format", func(t *testing.T) {
			archive := readShared(t, folder)
			decoded, err := decodeArchive(ctx, archive, keepForFolder)
			if err != nil {
				t.Fatal(err)
			}
			want := fromOSV(decoded, make(interner))
			blob, err := Compile(ctx, archive)
			if err != nil {
				t.Fatal(err)
			}
			if !IsCompiled(blob) || IsCompiled(archive) {
				t.Fatalf("IsCompiled(compiled) = %v, IsCompiled(zip) = %v", IsCompiled(blob), IsCompiled(archive))
			}
			got, err := decodeCompiled(blob)
			if err != nil {
				t.Fatal(err)
			}
			if len(want.records)+len(want.severity) == 0 {
				t.Fatal("the folder decoded to nothing: the comparison would prove nothing")
			}
			if diff := cmp.Diff(want, got, compareFolders); diff != "" {
				t.Errorf("compiled decode differs from JSON decode (-json +compiled):\n%s", diff)
			}
		})
	}
}

// compareIndexes compares indexes whole, except the blob hashes (a compiled blob is
// other bytes than its zip).
var compareIndexes = cmp.Options{
	cmp.AllowUnexported(Index{}, part{}, packageKey{}),
	cmpopts.IgnoreFields(Index{}, "generation"),
	cmpopts.IgnoreFields(part{}, "sum"),
}

func TestAnIndexOfCompiledFoldersEqualsTheIndexOfTheirZips(t *testing.T) {
	ctx := context.Background()
	// The folder round trip above covers every folder; whole indexes are compared
	// over the small ones (cmp over the big ones takes minutes) with the severity
	// folder, so parts, CVE severity and look-ups are assembled from both forms.
	folders := []string{"Alpine", "GIT", "npm"}
	raw, compiled := memSource{}, memSource{}
	var ecosystems []string
	for _, folder := range folders {
		archive := readShared(t, folder)
		blob, err := Compile(ctx, archive)
		if err != nil {
			t.Fatal(err)
		}
		raw[folder+"/all.zip"], compiled[folder+"/all.zip"] = archive, blob
		if folder != "GIT" {
			ecosystems = append(ecosystems, folder)
		}
	}
	want, err := LoadFrom(ctx, raw, ecosystems, WithSeverityFolder("GIT"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadFrom(ctx, compiled, ecosystems, WithSeverityFolder("GIT"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, compareIndexes); diff != "" {
		t.Errorf("index of compiled folders differs (-zip +compiled):\n%s", diff)
	}
	if want.Generation() == got.Generation() {
		t.Errorf("generation %s is the same for other bytes", got.Generation())
	}
}

// withChecksum rewrites a compiled blob's header for payload, so a test reaches the
// structural checks behind the checksum.
func withChecksum(payload []byte) []byte {
	out := append([]byte(compiledMagic), compiledVersion)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(payload, castagnoli))
	out = binary.LittleEndian.AppendUint64(out, uint64(len(payload)))
	return append(out, payload...)
}

func TestABrokenCompiledFolderIsAnErrorNeverAPartialIndex(t *testing.T) {
	ctx := context.Background()
	blob, err := Compile(ctx, readShared(t, "npm"))
	if err != nil {
		t.Fatal(err)
	}
	payload := blob[headerLen:]
	flipped := bytes.Clone(blob)
	flipped[len(flipped)/2] ^= 0x40
	badVersion := bytes.Clone(blob)
	badVersion[len(compiledMagic)] = 2

	// A payload whose string table claims 2^62 strings, checksummed.
	absurdStrings := withChecksum(binary.AppendUvarint(binary.AppendUvarint(nil, 0), 1<<62))
	// Good strings, then totals claiming 2^40 records.
	var totals []byte
	totals = binary.AppendUvarint(binary.AppendUvarint(totals, 0), 0) // empty table
	totals = binary.AppendUvarint(totals, 1<<40)
	absurdRecords := withChecksum(append(totals, make([]byte, 64)...))
	// A string index past the table.
	var badIndex []byte
	badIndex = binary.AppendUvarint(badIndex, 0)
	badIndex = binary.AppendUvarint(badIndex, 0)
	for _, n := range []uint64{1, 0, 0, 0, 0} {
		badIndex = binary.AppendUvarint(badIndex, n)
	}
	badIndex = append(badIndex, 7, 0, 0, 0, 0, 0, 0, 0, 0)

	tests := []struct {
		name string
		blob []byte
	}{
		{"a blob cut inside its header is refused", blob[:headerLen-3]},
		{"a blob missing its last byte is refused", blob[:len(blob)-1]},
		{"a blob cut in half is refused", blob[:len(blob)/2]},
		{"a blob with one flipped byte is refused by its checksum", flipped},
		{"a blob of another format version is refused", badVersion},
		{"a payload cut short with a matching checksum is refused", withChecksum(payload[:len(payload)-5])},
		{"a payload with bytes after its last record is refused", withChecksum(append(bytes.Clone(payload), 0))},
		{"a string table claiming 2^62 strings is refused before allocating", absurdStrings},
		{"totals claiming 2^40 records are refused before allocating", absurdRecords},
		{"a string index past the table is refused", badIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFrom(ctx, memSource{"npm/all.zip": tt.blob}, []string{"npm"})
			if !errors.Is(err, ErrNoAdvisories) {
				t.Errorf("LoadFrom = %v, want an error wrapping ErrNoAdvisories", err)
			}
		})
	}
	t.Run("every truncation of a payload with a matching checksum is refused", func(t *testing.T) {
		for n := range len(payload) {
			if _, err := decodeCompiled(withChecksum(payload[:n])); err == nil {
				t.Fatalf("a payload cut to %d of %d bytes decoded", n, len(payload))
			}
		}
	})
}

// FuzzDecodeCompiled feeds arbitrary payloads behind a valid checksum: decoding
// must fail or succeed, never panic or allocate past the payload's bound.
func FuzzDecodeCompiled(f *testing.F) {
	blob, err := Compile(context.Background(), readShared(f, "npm"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob[headerLen:])
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := decodeCompiled(withChecksum(payload))
		if err == nil && d == nil {
			t.Fatal("no error and no folder")
		}
	})
}
