package pipeline

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// openedFiles is a Source over the shared export recording what is opened.
type openedFiles struct {
	dir    string
	mu     sync.Mutex
	opened []string
}

func (o *openedFiles) Open(_ context.Context, name string) (io.ReadCloser, error) {
	o.mu.Lock()
	o.opened = append(o.opened, name)
	o.mu.Unlock()
	return os.Open(filepath.Join(o.dir, filepath.FromSlash(name)))
}

func TestAnAdvisorySetLoadsOnlyConfiguredFoldersItHolds(t *testing.T) {
	src := &openedFiles{dir: testenv.Advisories(t)}
	// Debian and Go configured, but the generation holds only Debian.
	set := &advisorySet{loader: advisory.NewLoader(src, advisory.WithGeneration("gen-1")), generation: "gen-1", folders: []string{"Debian"}}
	idx, err := set.Index(context.Background(), []string{"Debian", "Go", "PyPI"})
	if err != nil {
		t.Fatal(err)
	}
	if !idx.Covers("Debian:12") || idx.Covers("Go") || idx.Covers("PyPI") {
		t.Errorf("Covers Debian:12 %v, Go %v, PyPI %v; want only Debian:12 (the others are gaps)",
			idx.Covers("Debian:12"), idx.Covers("Go"), idx.Covers("PyPI"))
	}
	if diff := cmp.Diff([]string{"Debian/all.zip"}, src.opened); diff != "" {
		t.Errorf("files opened (-want +got):\n%s", diff)
	}
	if idx.Generation() != "gen-1" {
		t.Errorf("generation %q, want the set's gen-1", idx.Generation())
	}
}
