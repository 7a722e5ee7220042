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

type loadOptions struct{ severityFolder string }

// WithSeverityFolder also reads the directory folder ("GIT": the OSV export's
// NVD-converted CVE-* records) as severity data only: its records are never matched
// as packages, only found by SeverityOf. A source without that folder loads without
// it, so findings fall back to the ratings the matched records carry.
func WithSeverityFolder(folder string) LoadOption {
	return func(o *loadOptions) { o.severityFolder = folder }
}

// LoadFrom is Load over any Source.
func LoadFrom(ctx context.Context, src Source, ecosystems []string, opts ...LoadOption) (*Index, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	names, err := checkEcosystems(ecosystems)
	if err != nil {
		return nil, err
	}
	idx := &Index{
		ecosystems: names,
		records:    make(map[string]int, len(names)),
		entries:    make(map[string]int),
		packages:   make(map[packageKey][]*Affected),
		severity:   make(map[string][]Severity),
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

		decoded, err := decodeArchive(ctx, data, (*osvRecord).usable)
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
	if o.severityFolder != "" {
		if err := idx.loadSeverity(ctx, src, o.severityFolder, generation, strs); err != nil {
			return nil, err
		}
	}
	idx.generation = hex.EncodeToString(generation.Sum(nil)[:16])
	return idx, nil
}

// loadSeverity reads the severity entries of folder's records into the index; a
// missing folder adds nothing.
func (x *Index) loadSeverity(ctx context.Context, src Source, folder string, generation io.Writer, strs interner) error {
	if err := checkFolder(folder); err != nil {
		return err
	}
	archive := folder + "/all.zip"
	data, err := readAll(ctx, src, archive)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	fmt.Fprintf(generation, "severity %s\x00%x\n", folder, sum)
	decoded, err := decodeArchive(ctx, data, func(r *osvRecord) bool {
		return r.ID != "" && r.Withdrawn == "" && len(r.Severity) > 0
	})
	if err != nil {
		return fmt.Errorf("decoding %s: %w", archive, err)
	}
	for _, r := range decoded {
		if r != nil {
			x.severity[strs.get(r.ID)] = internSeverity(r.Severity, strs)
		}
	}
	return nil
}

// add puts one decoded record into the index.
func (x *Index) add(r *osvRecord, dir string, strs interner) {
	rec, entries := r.convert(strs)
	x.records[dir]++
	// A loaded CVE-* record is a severity source for its CVE like the severity
	// folder's; other ids are never looked up.
	if len(rec.Severity) > 0 && strings.HasPrefix(rec.ID, "CVE-") {
		if _, ok := x.severity[rec.ID]; !ok {
			x.severity[rec.ID] = rec.Severity
		}
	}
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
