package advisory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
func Load(ctx context.Context, source string, ecosystems []string) (*Index, error) {
	src, err := sourceFor(source)
	if err != nil {
		return nil, err
	}
	idx, err := LoadFrom(ctx, src, ecosystems)
	if err != nil {
		return nil, fmt.Errorf("loading advisories from %s: %w", source, err)
	}
	return idx, nil
}

// LoadFrom is Load over any Source.
func LoadFrom(ctx context.Context, src Source, ecosystems []string) (*Index, error) {
	names, err := checkEcosystems(ecosystems)
	if err != nil {
		return nil, err
	}
	idx := &Index{
		ecosystems: names,
		records:    make(map[string]int, len(names)),
		entries:    make(map[string]int),
		packages:   make(map[packageKey][]*Affected),
	}
	generation := sha256.New()
	strs := make(interner)
	for _, name := range names {
		archive := name + "/all.zip"
		data, err := readAll(ctx, src, archive)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(generation, "%s\x00%x\n", name, sum)

		decoded, err := decodeArchive(ctx, data)
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", archive, err)
		}
		for _, r := range decoded {
			if r == nil {
				continue
			}
			idx.add(r, name, strs)
		}
		if idx.records[name] == 0 {
			return nil, fmt.Errorf("%s holds no usable record: %w", archive, ErrNoAdvisories)
		}
	}
	idx.generation = hex.EncodeToString(generation.Sum(nil)[:16])
	return idx, nil
}

// add puts one decoded record into the index.
func (x *Index) add(r *osvRecord, dir string, strs interner) {
	rec, entries := r.convert(strs)
	x.records[dir]++
	if rec.Modified.After(x.newest) {
		x.newest = rec.Modified
	}
	for _, e := range entries {
		key := packageKey{e.Ecosystem, packageName(e.Ecosystem, e.Package)}
		x.packages[key] = append(x.packages[key], e)
		x.entries[e.Ecosystem]++
	}
}

// checkEcosystems validates and deduplicates requested ecosystem directory names.
func checkEcosystems(ecosystems []string) ([]string, error) {
	if len(ecosystems) == 0 {
		return nil, fmt.Errorf("no advisory ecosystem requested: %w", ErrNoAdvisories)
	}
	names := slices.Clone(ecosystems)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, name := range names {
		if name == "" || strings.ContainsAny(name, `/\:`) || name == "." || name == ".." {
			return nil, fmt.Errorf("ecosystem directory %q: %w", name, ErrUnsupportedEcosystem)
		}
		if _, err := semantic.Parse("0", name); errors.Is(err, semantic.ErrUnsupportedEcosystem) {
			return nil, fmt.Errorf("ecosystem directory %q: %w", name, ErrUnsupportedEcosystem)
		}
	}
	return names, nil
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
