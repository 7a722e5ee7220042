package scanner_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

// openLog is a Source over the shared export that records every file opened.
type openLog struct {
	dir    string
	mu     sync.Mutex
	opened []string
}

func (o *openLog) Open(_ context.Context, name string) (io.ReadCloser, error) {
	o.mu.Lock()
	o.opened = append(o.opened, name)
	o.mu.Unlock()
	return os.Open(filepath.Join(o.dir, filepath.FromSlash(name)))
}

// requests records the folders a scanner asks for, answering from a Loader.
type requests struct {
	loader *advisory.Loader
	asked  [][]string
}

func (r *requests) Index(ctx context.Context, folders []string) (*advisory.Index, error) {
	r.asked = append(r.asked, folders)
	return r.loader.Index(ctx, folders)
}

func TestAScannerLoadsOnlyTheFoldersOfTheImagesOwnEcosystems(t *testing.T) {
	tests := []struct {
		image      string
		wantAsked  [][]string
		wantOpened []string
	}{
		{"debian12-minbase", [][]string{{"Debian"}}, []string{"Debian/all.zip"}},
		{"go-app", [][]string{{"Go"}}, []string{"Go/all.zip"}},
	}
	for _, tt := range tests {
		t.Run("a "+tt.image+" scan asks for "+tt.wantOpened[0]+" and opens nothing else", func(t *testing.T) {
			src := &openLog{dir: testenv.Advisories(t)}
			adv := &requests{loader: advisory.NewLoader(src)}
			target, err := image.FromArchive(testenv.Image(t, tt.image))
			if err != nil {
				t.Fatal(err)
			}
			s, err := scanner.NewOnDemand(adv)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Scan(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Platforms) != 1 || res.Platforms[0].Status == scanner.StatusFailed {
				t.Fatalf("platforms = %+v, want one scanned", res.Platforms)
			}
			if diff := cmp.Diff(tt.wantAsked, adv.asked); diff != "" {
				t.Errorf("folders asked (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOpened, src.opened); diff != "" {
				t.Errorf("files opened (-want +got):\n%s", diff)
			}
		})
	}
}
