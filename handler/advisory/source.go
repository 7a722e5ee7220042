package advisory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Source opens files of an OSV bulk export by slash-separated name relative to its
// base ("Debian/all.zip"). A missing file is reported with an error wrapping
// fs.ErrNotExist. A local directory is a Source; an http(s) base can be one too.
type Source interface {
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// localDir is a Source reading a local directory in OSV bulk-export layout.
type localDir string

var _ Source = localDir("")

// Open opens name below the directory.
func (d localDir) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
}

// sourceFor turns the user-facing source string into a Source. URLs are reserved
// for TIDEWATCH_ADVISORIES_URL support and rejected for now.
func sourceFor(source string) (Source, error) {
	if source == "" {
		return nil, fmt.Errorf("advisory source is empty: %w", ErrNoAdvisories)
	}
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		return nil, fmt.Errorf("opening %s: URL sources are not supported yet: %w", source, ErrUnsupportedSource)
	}
	info, err := os.Stat(source)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening advisory directory %s: %w: %w", source, ErrNoAdvisories, err)
		}
		return nil, fmt.Errorf("opening advisory directory %s: %w", source, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("advisory source %s is not a directory: %w", source, ErrNoAdvisories)
	}
	return localDir(source), nil
}

// Dir returns the Source of a local directory in OSV bulk-export layout; like
// Load, it refuses a missing directory (ErrNoAdvisories) and URLs.
func Dir(dir string) (Source, error) { return sourceFor(dir) }
