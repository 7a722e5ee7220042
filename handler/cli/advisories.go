package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/feed"
)

func runAdvisories(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 || args[0] != "sync" {
		fmt.Fprintln(env.Stderr, "usage: tidewatch advisories sync --source URL|DIR --out DIR [flags]")
		return exitUsage
	}
	return runAdvisoriesSync(ctx, env, args[1:])
}

func runAdvisoriesSync(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("advisories sync", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: tidewatch advisories sync --source URL|DIR --out DIR [flags]")
		fs.PrintDefaults()
	}
	var source, ovalSource, out, ecosystems, severity string
	var budget time.Duration
	fs.StringVar(&source, "source", cmp.Or(env.getenv(config.EnvAdvisoriesURL), feed.DefaultBase), "OSV bulk export: an http(s) base URL or a directory with <Folder>/all.zip")
	fs.StringVar(&ovalSource, "oval-source", cmp.Or(env.getenv(config.EnvOVALURL), config.DefaultOVALURL), "Azure Linux / CBL-Mariner OVAL documents (read when --ecosystems lists \""+feed.OVALFolder+"\"): an http(s) base URL or a directory")
	fs.StringVar(&out, "out", "", "directory to write generations and current.json into (required)")
	fs.StringVar(&ecosystems, "ecosystems", cmp.Or(env.getenv(config.EnvEcosystems), config.DefaultEcosystems),
		"comma-separated OSV ecosystems to sync (default from "+config.EnvEcosystems+")")
	fs.StringVar(&severity, "severity-source", cmp.Or(env.getenv(config.EnvSeveritySource), config.DefaultSeveritySource), "folder of CVE records synced for severities; empty to skip")
	fs.DurationVar(&budget, "timeout", 10*time.Minute, "give up after this long")
	if positional, err := parseInterspersed(fs, args); err != nil {
		return exitUsage
	} else if len(positional) > 0 || out == "" {
		fs.Usage()
		return exitUsage
	}
	folders, err := config.ParseEcosystems(ecosystems)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch advisories sync: --ecosystems: %v\n", err)
		return exitUsage
	}
	if severity != "" {
		folders = append(folders, severity)
	}
	src, err := feed.OpenSources(source, ovalSource, folders)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch advisories sync: %v\n", err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res, err := feed.NewSyncer(src, feed.Dir(out)).Sync(ctx, folders)
	if res != nil {
		printSync(env.Stdout, res)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch advisories sync: %v\n", err)
		if errors.Is(err, feed.ErrRejected) && res != nil && res.Pointer != nil {
			fmt.Fprintln(env.Stderr, "tidewatch advisories sync: the other folders were synced; rejected folders keep their previous data")
		}
		return exitError
	}
	return exitOK
}

// printSync prints one line per folder, then rejected records and the generation.
func printSync(w io.Writer, res *feed.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FOLDER\tSTATUS\tRECORDS\tREJECTED\tREASON")
	for _, f := range res.Folders {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", f.Folder, f.Status, f.Records, f.Rejected, f.Reason)
	}
	tw.Flush()
	for _, f := range res.Folders {
		for _, id := range f.RejectedIDs {
			fmt.Fprintf(w, "rejected %s record %s\n", f.Folder, strings.ReplaceAll(id, "\n", " "))
		}
	}
	if res.Pointer != nil {
		state := "unchanged"
		if res.Changed {
			state = "new"
		}
		fmt.Fprintf(w, "generation %s (%s), checked %s\n", res.Pointer.Generation, state, res.Pointer.CheckedAt.Format(time.RFC3339))
	}
}
