package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

func writeResult(w io.Writer, format string, res *scanner.Result) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeTable(w, res)
}

// writeTable prints the skipped index entries, then one block per platform: a
// summary line, the package counts, any note, then the findings.
func writeTable(w io.Writer, res *scanner.Result) error {
	fmt.Fprintf(w, "%s\n", res.Image)
	if res.IndexDigest != "" {
		fmt.Fprintf(w, "index %s\n", res.IndexDigest)
	}
	for _, m := range res.Skipped {
		fmt.Fprintf(w, "skipped %s  %s\n", m.Digest, m.Reason)
	}
	for _, p := range res.Platforms {
		fmt.Fprintf(w, "\n%s  %s  %s  OS: %s\n", p.Platform, p.Digest, p.Status, osLabel(p.OS))
		fmt.Fprintf(w, "Packages: %s\n", packageCounts(p.Packages))
		fmt.Fprintf(w, "Advisory source: %s\n", advisorySourceLabel(p.AdvisorySource))
		if p.Error != "" {
			fmt.Fprintf(w, "Note: %s\n", p.Error)
		}
		for _, f := range p.Skipped {
			fmt.Fprintf(w, "Skipped file: %s (layer %d: %s)\n", f.Path, f.LayerIndex, f.Reason)
		}
		fmt.Fprintf(w, "%s\n", severitySummary(p.Findings))
		if len(p.Findings) == 0 {
			continue
		}
		if err := writeFindings(w, p.Findings); err != nil {
			return err
		}
	}
	return nil
}

// osLabel names the distribution and its advisory ecosystem, "none" without one.
func osLabel(os *inventory.OS) string {
	if os == nil {
		return "none"
	}
	label := strings.TrimSpace(os.ID + " " + os.VersionID)
	if os.Ecosystem != "" {
		label += " (" + os.Ecosystem + ")"
	}
	return label
}

// advisorySourceLabel is the advisory folder OS packages were matched against, or
// "none" (also for a result that predates the field).
func advisorySourceLabel(source string) string {
	if source == "" {
		return scanner.NoAdvisorySource
	}
	return source
}

// packageCounts prints per-ecosystem counts sorted by ecosystem: "Debian:12 88, Go 16".
func packageCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "none found"
	}
	parts := make([]string, 0, len(counts))
	for _, eco := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", eco, counts[eco]))
	}
	return strings.Join(parts, ", ")
}

func writeFindings(w io.Writer, findings []match.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tPACKAGE\tINSTALLED\tFIXED\tSTATUS\tLAYER\tLOCATION")
	for _, f := range findings {
		pkg := f.Package
		if f.SourcePackage != "" && f.SourcePackage != f.Package {
			pkg += " (" + f.SourcePackage + ")"
		}
		fixed := f.FixedVersion
		if fixed == "" {
			fixed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d %s\t%s\n", f.ID, f.Severity, pkg, f.InstalledVersion,
			fixed, f.FixStatus, f.Layer.Index, shortDigest(f.Layer.DiffID), f.Location)
	}
	return tw.Flush()
}

func severitySummary(findings []match.Finding) string {
	counts := map[string]int{}
	for _, f := range findings {
		counts[f.Severity]++
	}
	parts := []string{fmt.Sprintf("Total: %d", len(findings))}
	for _, s := range match.Severities() {
		parts = append(parts, fmt.Sprintf("%s: %d", s, counts[s]))
	}
	return strings.Join(parts, ", ")
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
