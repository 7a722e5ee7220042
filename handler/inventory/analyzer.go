package inventory

import (
	"fmt"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
)

// Analyzer names the version of the per-layer analysis: Tidewatch's own layer
// analysis version followed by each extractor's Name@Version. A LayerResult is valid
// only for the Analyzer that made it, so changing an extractor (or bumping
// osv-scalibr to a release that changes one) must change this string; a test checks
// it against the extractors actually in use.
const Analyzer = "tidewatch-layer/1 os/dpkg@0"

// analyzerBase is the part of Analyzer that Tidewatch's own code owns; bump it when
// the walk, whiteout handling or package mapping changes.
const analyzerBase = "tidewatch-layer/1"

// plugin is one extractor and how its packages become inventory Packages.
type plugin struct {
	extractor filesystem.Extractor
	// convert maps one extracted package read from location; false drops it.
	convert func(p *extractor.Package, location string) (Package, bool)
}

// plugins returns a fresh set of the extractors Tidewatch runs over every layer.
func plugins() ([]plugin, error) {
	dpkgExtractor, err := dpkg.New(&cpb.PluginConfig{})
	if err != nil {
		return nil, fmt.Errorf("creating dpkg extractor: %w", err)
	}
	return []plugin{
		{extractor: dpkgExtractor, convert: debPackage},
	}, nil
}

// analyzerVersion computes the analyzer string for a set of plugins.
func analyzerVersion(ps []plugin) string {
	parts := []string{analyzerBase}
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s@%d", p.extractor.Name(), p.extractor.Version()))
	}
	return strings.Join(parts, " ")
}
