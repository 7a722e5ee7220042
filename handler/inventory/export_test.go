package inventory

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
)

// AnalyzerOfPlugins is the analyzer string computed from the extractors in use.
func AnalyzerOfPlugins() string {
	ps, err := plugins()
	if err != nil {
		panic(err)
	}
	return analyzerVersion(ps)
}

// AnalyzeLayerWith analyzes layer with one extractor instead of Tidewatch's, fed as
// a streaming or a random-access plugin; its packages keep name and version.
func AnalyzeLayerWith(ctx context.Context, layer v1.Layer, e filesystem.Extractor, randomAccess bool) (*LayerResult, error) {
	convert := func(p *extractor.Package, location string) (Package, bool) {
		return Package{Name: p.Name, Version: p.Version, Type: "test", Location: location}, true
	}
	return analyzeLayer(ctx, layer, []plugin{{extractor: e, convert: convert, randomAccess: randomAccess}})
}
