package advisory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// Load reads the named ecosystem directories ("Debian", "Go") of the OSV bulk export
// at source, a local directory, and returns their index. Every requested ecosystem
// must be present and yield at least one usable record; otherwise the error wraps
// ErrNoAdvisories (or ErrUnsupportedEcosystem for a name Tidewatch cannot compare
// versions of).
func Load(ctx context.Context, source string, ecosystems []string, opts ...LoadOption) (*Index, error) {
	src, err := sourceFor(source)
	if err != nil {
		return nil, err
	}
	idx, err := LoadFrom(ctx, src, ecosystems, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading advisories from %s: %w", source, err)
	}
	return idx, nil
}

// LoadOption changes what Load reads besides the ecosystem directories.
type LoadOption func(*loadOptions)

type loadOptions struct{ severityFolder, generation string }

// WithGeneration names the data: every index built reports id as its Generation
// instead of a hash of the folders it holds (a Loader over one feed generation
// gives all its indexes, whatever folders they hold, that generation's id).
func WithGeneration(id string) LoadOption {
	return func(o *loadOptions) { o.generation = id }
}

// WithSeverityFolder also reads the directory folder ("GIT": the OSV export's
// NVD-converted CVE-* records) as severity data only: its records are never matched
// as packages, only found by SeverityOf. A source without that folder loads without
// it, so findings fall back to the ratings the matched records carry.
func WithSeverityFolder(folder string) LoadOption {
	return func(o *loadOptions) { o.severityFolder = folder }
}

// LoadFrom is Load over any Source: a NewLoader's Index of ecosystems, which must
// name at least one directory. Each directory's all.zip may be an OSV bulk-export
// zip or a compiled folder (see Compile).
func LoadFrom(ctx context.Context, src Source, ecosystems []string, opts ...LoadOption) (*Index, error) {
	if len(ecosystems) == 0 {
		return nil, fmt.Errorf("no advisory ecosystem requested: %w", ErrNoAdvisories)
	}
	return NewLoader(src, opts...).Index(ctx, ecosystems)
}

// checkEcosystems validates and deduplicates requested ecosystem directory names.
func checkEcosystems(ecosystems []string) ([]string, error) {
	names := slices.Clone(ecosystems)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, name := range names {
		if err := checkFolder(name); err != nil {
			return nil, err
		}
		if _, err := semantic.Parse("0", VersionScheme(name)); errors.Is(err, semantic.ErrUnsupportedEcosystem) {
			return nil, fmt.Errorf("ecosystem directory %q: %w", name, ErrUnsupportedEcosystem)
		}
	}
	return names, nil
}

// checkFolder rejects a folder name that is not one directory of the source.
func checkFolder(name string) error {
	if name == "" || strings.ContainsAny(name, `/\:`) || name == "." || name == ".." {
		return fmt.Errorf("ecosystem directory %q: %w", name, ErrUnsupportedEcosystem)
	}
	return nil
}

// readAll reads one file of the source into memory; the zip reader needs random
// access, and a remote source can only stream.
func readAll(ctx context.Context, src Source, name string) ([]byte, error) {
	rc, err := src.Open(ctx, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening %s: %w: %w", name, ErrNoAdvisories, err)
		}
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return data, nil
}
