package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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

// writeTable prints one block per platform: a summary line, then the findings.
func writeTable(w io.Writer, res *scanner.Result) error {
	fmt.Fprintf(w, "%s\n", res.Image)
	if res.IndexDigest != "" {
		fmt.Fprintf(w, "index %s\n", res.IndexDigest)
	}
	for _, p := range res.Platforms {
		fmt.Fprintf(w, "\n%s  %s  %s", p.Platform, p.Digest, p.Status)
		if p.Ecosystem != "" {
			fmt.Fprintf(w, "  %s", p.Ecosystem)
		}
		if p.Error != "" {
			fmt.Fprintf(w, "  (%s)", p.Error)
		}
		fmt.Fprintf(w, "\n%s\n", severitySummary(p.Findings))
		if len(p.Findings) == 0 {
			continue
		}
		if err := writeFindings(w, p.Findings); err != nil {
			return err
		}
	}
	return nil
}

func writeFindings(w io.Writer, findings []match.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tPACKAGE\tINSTALLED\tFIXED\tSTATUS\tLAYER")
	for _, f := range findings {
		pkg := f.Package
		if f.SourcePackage != "" && f.SourcePackage != f.Package {
			pkg += " (" + f.SourcePackage + ")"
		}
		fixed := f.FixedVersion
		if fixed == "" {
			fixed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d %s\n", f.ID, f.Severity, pkg, f.InstalledVersion,
			fixed, f.FixStatus, f.Layer.Index, shortDigest(f.Layer.DiffID))
	}
	return tw.Flush()
}

func severitySummary(findings []match.Finding) string {
	counts := map[string]int{}
	for _, f := range findings {
		counts[f.Severity]++
	}
	parts := []string{fmt.Sprintf("Total: %d", len(findings))}
	for _, s := range []string{match.SeverityCritical, match.SeverityHigh, match.SeverityMedium, match.SeverityLow, match.SeverityUnknown} {
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
