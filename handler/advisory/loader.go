package advisory

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sync"
)

// Loader builds indexes over one Source on demand, decoding each folder at most
// once and sharing it between the indexes it returns: a scan of a Debian image
// asks for "Debian" and never pays for Go or PyPI. A Source is one generation of
// data (a feed generation, a directory as it is): make a new Loader when it
// changes. A Loader is safe for concurrent use; concurrent requests for a folder
// wait for one decode. A folder that fails to load is not remembered, so the next
// request tries again.
type Loader struct {
	src            Source
	severityFolder string
	generation     string

	mu      sync.Mutex
	folders map[folderKey]*loading
}

// folderKey is one folder in one role (the severity folder is read for its
// severity entries only).
type folderKey struct {
	folder   string
	severity bool
}

// loading is one folder's decode, shared by everyone asking for it; done is
// closed when part or err is set. part is nil for an absent severity folder.
type loading struct {
	done chan struct{}
	part *part
	err  error
}

// NewLoader returns a Loader over src. WithSeverityFolder adds the severity folder
// to every index it builds; WithGeneration names their generation.
func NewLoader(src Source, opts ...LoadOption) *Loader {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	return &Loader{src: src, severityFolder: o.severityFolder, generation: o.generation, folders: make(map[folderKey]*loading)}
}

// Index returns the index of the named ecosystem directories ("Debian", "Go") plus
// the severity folder. Every named directory must be present and yield a usable
// record (errors wrap ErrNoAdvisories or ErrUnsupportedEcosystem as Load's). No
// directory is allowed: the index then covers nothing and holds only severity data.
func (l *Loader) Index(ctx context.Context, ecosystems []string) (*Index, error) {
	names, err := checkEcosystems(ecosystems)
	if err != nil {
		return nil, err
	}
	idx := &Index{ecosystems: names, byFolder: make(map[string]*part, len(names))}
	generation := sha256.New()
	for _, name := range names {
		p, err := l.part(ctx, folderKey{folder: name})
		if err != nil {
			return nil, err
		}
		if p.records == 0 {
			return nil, fmt.Errorf("%s/all.zip holds no usable record: %w", name, ErrNoAdvisories)
		}
		fmt.Fprintf(generation, "%s\x00%x\n", name, p.sum)
		idx.parts = append(idx.parts, p)
		idx.byFolder[name] = p
		if p.newest.After(idx.newest) {
			idx.newest = p.newest
		}
	}
	if l.severityFolder != "" {
		if err := checkFolder(l.severityFolder); err != nil {
			return nil, err
		}
		p, err := l.part(ctx, folderKey{folder: l.severityFolder, severity: true})
		if err != nil {
			return nil, err
		}
		if p != nil {
			fmt.Fprintf(generation, "severity %s\x00%x\n", l.severityFolder, p.sum)
			idx.severityPart = p
		}
	}
	idx.generation = cmp.Or(l.generation, hex.EncodeToString(generation.Sum(nil)[:16]))
	return idx, nil
}

// part returns the decoded folder, decoding it on first use.
func (l *Loader) part(ctx context.Context, key folderKey) (*part, error) {
	l.mu.Lock()
	ld, ok := l.folders[key]
	if !ok {
		ld = &loading{done: make(chan struct{})}
		l.folders[key] = ld
		l.mu.Unlock()
		ld.part, ld.err = l.decode(ctx, key)
		if ld.err != nil {
			l.mu.Lock()
			delete(l.folders, key)
			l.mu.Unlock()
		}
		close(ld.done)
		return ld.part, ld.err
	}
	l.mu.Unlock()
	select {
	case <-ld.done:
		if ld.err != nil {
			// The first caller's failure may be its own (a cancelled context): try
			// again with this caller's.
			return l.part(ctx, key)
		}
		return ld.part, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decode reads and decodes one folder's blob, compiled or an OSV zip.
func (l *Loader) decode(ctx context.Context, key folderKey) (*part, error) {
	archive := key.folder + "/all.zip"
	data, err := readAll(ctx, l.src, archive)
	if key.severity && errors.Is(err, fs.ErrNotExist) {
		return nil, nil // a source without the severity folder loads without it
	}
	if err != nil {
		return nil, err
	}
	d, err := decodeFolder(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", archive, err)
	}
	sum := sha256.Sum256(data)
	if key.severity {
		return severityPart(d, sum), nil
	}
	return ecosystemPart(d, sum), nil
}

// decodeFolder decodes a compiled folder, or else an OSV all.zip.
func decodeFolder(ctx context.Context, data []byte) (*folderData, error) {
	if IsCompiled(data) {
		return decodeCompiled(data)
	}
	decoded, err := decodeArchive(ctx, data, keepForFolder)
	if err != nil {
		return nil, err
	}
	return fromOSV(decoded, make(interner)), nil
}
