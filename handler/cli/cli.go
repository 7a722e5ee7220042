// Package cli implements the tidewatch subcommands: scan, serve, run, findings.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Env is everything a command may touch of its process.
type Env struct {
	Args    []string
	Environ []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Version string
}

// getenv looks a variable up in e.Environ.
func (e Env) getenv(key string) string {
	for _, kv := range e.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Exit codes shared by the commands.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) int
}

func commands() []command {
	return []command{
		{"scan", "scan an image reference or an image archive", runScan},
		{"serve", "serve the Azure Functions custom-handler protocol", runServe},
		{"run", "run the whole pipeline once against local storage and registries", runPipeline},
		{"findings", "print stored findings", runFindings},
		{"advisories", "sync the OSV export into local advisory generations (advisories sync)", runAdvisories},
		{"version", "print the version", func(_ context.Context, env Env, _ []string) int {
			fmt.Fprintln(env.Stdout, "tidewatch", env.Version)
			return exitOK
		}},
	}
}

// Run runs the command named by env.Args[0] and returns the process exit code.
func Run(ctx context.Context, env Env) int {
	if len(env.Args) == 0 || env.Args[0] == "-h" || env.Args[0] == "--help" || env.Args[0] == "help" {
		usage(env.Stderr)
		if len(env.Args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == env.Args[0] {
			return c.run(ctx, env, env.Args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "tidewatch: unknown command %q\n", env.Args[0])
	usage(env.Stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tidewatch <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'tidewatch <command> -h' for a command's flags.")
}

// parseInterspersed parses flags that may come before or after positional arguments
// ("scan IMAGE --format json") and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// newLogger returns the JSON logger every command logs through.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
