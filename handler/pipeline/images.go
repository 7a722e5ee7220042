package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/store"
)

// findings returns the findings lifecycle over the pipeline's finding rows.
func (p *Pipeline) findings() *lifecycle.Lifecycle { return lifecycle.New(p.findingStore) }

// findingRows converts matched findings to rows; lifecycle fills in the state.
func findingRows(fs []match.Finding) []store.Finding {
	rows := make([]store.Finding, 0, len(fs))
	for _, f := range fs {
		row := store.Finding{
			VulnerabilityID:  f.ID,
			Aliases:          f.Aliases,
			Severity:         f.Severity,
			SeveritySource:   f.SeveritySource,
			Package:          f.Package,
			SourcePackage:    f.SourcePackage,
			Ecosystem:        f.Ecosystem,
			InstalledVersion: f.InstalledVersion,
			FixedVersion:     f.FixedVersion,
			FixStatus:        f.FixStatus,
			Remediation:      f.Remediation,
			LayerDigest:      f.Layer.DiffID,
			LayerIndex:       f.Layer.Index,
			Location:         f.Location,
			Purl:             f.PURL,
		}
		if f.CVSS != nil {
			row.CvssScore = f.CVSS.Score
			row.CvssVector = f.CVSS.Vector
		}
		rows = append(rows, row)
	}
	return rows
}

// imagesOf returns the rows among images of digest: the row keyed by it (a
// single-platform manifest, or a failure row) or the rows of its platforms (an index).
func imagesOf(images []store.Image, digest string) []store.Image {
	var out []store.Image
	for _, img := range images {
		if img.Digest == digest || img.IndexDigest == digest {
			out = append(out, img)
		}
	}
	return out
}

// imageTags returns, for each images row whose Tags column differs from what the
// tag view says now, the tags that reference it (directly or through its index).
func imageTags(images []store.Image, view []store.Tag) map[string][]string {
	byDigest := lifecycle.TagsByDigest(view)
	changed := map[string][]string{}
	for _, img := range images {
		tags := slices.Clone(byDigest[img.Digest])
		if img.IndexDigest != "" && img.IndexDigest != img.Digest {
			tags = append(tags, byDigest[img.IndexDigest]...)
		}
		slices.Sort(tags)
		tags = slices.Compact(tags)
		if !slices.Equal(tags, img.Tags) {
			changed[img.Digest] = tags
		}
	}
	return changed
}

// packageCounts renders packages per ecosystem for the images Packages column,
// ecosystems in order: "Debian:12 97, Go 12".
func packageCounts(byEcosystem map[string]int) string {
	parts := make([]string, 0, len(byEcosystem))
	for _, eco := range slices.Sorted(maps.Keys(byEcosystem)) {
		parts = append(parts, fmt.Sprintf("%s %d", eco, byEcosystem[eco]))
	}
	return strings.Join(parts, ", ")
}

// skippedColumn renders what a platform's scan passed over for the images Skipped
// column: the index entries that are not images, then the files not inventoried.
func skippedColumn(manifests []image.SkippedManifest, files []inventory.SkippedFile) string {
	parts := make([]string, 0, len(manifests)+len(files))
	for _, m := range manifests {
		parts = append(parts, m.String())
	}
	for _, f := range files {
		parts = append(parts, fmt.Sprintf("%s (layer %d): %s", f.Path, f.LayerIndex, f.Reason))
	}
	return strings.Join(parts, "; ")
}
