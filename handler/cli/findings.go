package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/store"
)

// runFindings prints findings from the findings table.
func runFindings(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("findings", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var f store.FindingFilter
	var severity, format string
	fs.StringVar(&f.Registry, "registry", "", "only this registry host")
	fs.StringVar(&f.Repository, "repository", "", "only this repository")
	fs.StringVar(&f.Digest, "digest", "", "only this platform digest")
	fs.StringVar(&f.State, "state", lifecycle.StateActive, "active, resolved or all")
	fs.StringVar(&severity, "severity", "", "comma-separated severities (CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN)")
	fs.StringVar(&format, "format", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	switch f.State {
	case "all":
		f.State = ""
	case lifecycle.StateActive, lifecycle.StateResolved:
	default:
		fmt.Fprintf(env.Stderr, "tidewatch findings: --state %q: want active, resolved or all\n", f.State)
		return exitUsage
	}
	var err error
	if f.Severities, err = parseSeverities(severity); err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch findings: %v\n", err)
		return exitUsage
	}
	cfg, err := config.Load(env.Environ)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch findings: %v\n", err)
		return exitError
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch findings: %v\n", err)
		return exitError
	}
	findings, err := st.ListFindings(ctx, f)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch findings: %v\n", err)
		return exitError
	}
	if format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(findings); err != nil {
			return exitError
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tDIGEST\tID\tSEVERITY\tPACKAGE\tINSTALLED\tFIXED\tSTATE")
	for _, x := range findings {
		fixed := x.FixedVersion
		if fixed == "" {
			fixed = "-"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Registry, x.Repository, shortDigest(x.Digest),
			x.VulnerabilityID, x.Severity, x.Package, x.InstalledVersion, fixed, describeState(x))
	}
	if err := tw.Flush(); err != nil {
		return exitError
	}
	fmt.Fprintf(env.Stdout, "%d findings\n", len(findings))
	return exitOK
}

// describeState says "active", or "resolved: <reason>" and the digest that fixed it.
func describeState(f store.Finding) string {
	if f.State != lifecycle.StateResolved {
		return f.State
	}
	state := f.State + ": " + f.ResolvedReason
	if f.ResolvedByDigest != "" {
		state += " by " + shortDigest(f.ResolvedByDigest)
	}
	return state
}
