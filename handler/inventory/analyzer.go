package inventory

import (
	"fmt"
	"io"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"

	"github.com/tidewatch/tidewatch/handler/image"
)

// Analyzer names the version of the per-layer analysis: Tidewatch's own layer
// analysis version followed by each extractor's Name@Version. A LayerResult is valid
// only for the Analyzer that made it, so changing an extractor (or bumping
// osv-scalibr to a release that changes one) must change this string; a test checks
// it against the extractors actually in use.
const Analyzer = "tidewatch-layer/3 os/dpkg@0 go/binary@0 java/archive@0"

// analyzerBase is the part of Analyzer that Tidewatch's own code owns; bump it when
// the walk, whiteout handling, link following, caps or package mapping change.
const analyzerBase = "tidewatch-layer/3"

// plugin is one extractor and how Tidewatch feeds it and maps its packages.
type plugin struct {
	extractor filesystem.Extractor
	// convert maps one extracted package read from location; false drops it.
	convert func(p *extractor.Package, location string) (Package, bool)
	// randomAccess extractors need an io.ReaderAt: their file is buffered in memory,
	// up to maxBufferedFileBytes. The others read the entry as a stream.
	randomAccess bool
	// sniff, when set, is asked about a file's first sniffLen bytes before the file
	// is read: false means the file is not this extractor's after all.
	sniff func(head []byte) bool
	// guard, when set, wraps the stream the extractor reads, bounding what a
	// hostile file can make it hold in memory.
	guard func(r io.Reader) guardedReader
	// largeIsGoBinary says a wanted file too big to buffer is this extractor's
	// only if the stream holds Go build info: most large executables are not Go
	// binaries, and only those are reported skipped. Other extractors' large files
	// always are.
	largeIsGoBinary bool
	// followLinks says a symlink or hard link at a path this extractor wants is a
	// package database to follow (not, say, one more link to an executable).
	followLinks bool
}

// plugins returns a fresh set of the extractors Tidewatch runs over every layer.
func plugins() ([]plugin, error) {
	// The dpkg extractor streams, so its own 100 MiB size cap (which makes it
	// silently decline a bigger status file) is raised to the layer cap; stanzaGuard
	// bounds its memory instead.
	dpkgExtractor, err := dpkg.New(&cpb.PluginConfig{MaxFileSizeBytes: image.DefaultMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("creating dpkg extractor: %w", err)
	}
	// No size cap in the Go binary extractor: Tidewatch buffers candidates itself
	// and reports a bigger one as skipped instead of declining it silently.
	goExtractor, err := gobinary.New(&cpb.PluginConfig{})
	if err != nil {
		return nil, fmt.Errorf("creating Go binary extractor: %w", err)
	}
	javaArchive, err := newJavaArchivePlugin()
	if err != nil {
		return nil, err
	}
	return []plugin{
		{extractor: dpkgExtractor, convert: debPackage, guard: newStanzaGuard, followLinks: true},
		{extractor: goExtractor, convert: goPackage, randomAccess: true, sniff: isExecutableFormat, largeIsGoBinary: true},
		javaArchive,
	}, nil
}

// guardedReader is a stream that may stop a read when its contents exceed a bound;
// Err says whether it did, whatever the extractor made of the error.
type guardedReader interface {
	io.Reader
	Err() error
}

// analyzerVersion computes the analyzer string for a set of plugins.
func analyzerVersion(ps []plugin) string {
	parts := []string{analyzerBase}
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s@%d", p.extractor.Name(), p.extractor.Version()))
	}
	return strings.Join(parts, " ")
}
