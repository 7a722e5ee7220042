package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

type scanOptions struct {
	archive       string
	advisories    string
	cacheDir      string
	noCache       bool
	maxDBAge      time.Duration
	ecosystems    []string
	severityDir   string
	format        string
	severities    []string
	ignoreUnknown bool
	exitCode      int
	username      string
	passwordStdin bool
	insecure      bool
}

func runScan(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: tidewatch scan IMAGE | --archive FILE [flags]")
		fs.PrintDefaults()
	}
	var o scanOptions
	var severity, ecosystems string
	fs.StringVar(&o.archive, "archive", "", "scan an image archive (OCI layout tar or docker save tar) instead of a registry reference")
	fs.StringVar(&o.advisories, "advisories", env.getenv(config.EnvAdvisoriesURL), "OSV advisory source: a directory in OSV bulk-export layout (`<Ecosystem>/all.zip`) or an http(s) base of one (default from "+config.EnvAdvisoriesURL+")")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "directory of the compiled advisory cache (default <user cache dir>/tidewatch)")
	fs.BoolVar(&o.noCache, "no-cache", false, "read the advisory export without the cache (a URL source is synced into a temporary directory)")
	fs.StringVar(&ecosystems, "ecosystems", cmp.Or(env.getenv(config.EnvEcosystems), config.DefaultEcosystems),
		"comma-separated OSV ecosystems to load from the advisory source (default from "+config.EnvEcosystems+")")
	fs.StringVar(&o.format, "format", "table", "output format: table or json")
	fs.StringVar(&o.severityDir, "severity-source", cmp.Or(env.getenv(config.EnvSeveritySource), config.DefaultSeveritySource),
		"folder of the advisory source whose CVE-* records supply CVSS for findings without their own (default from "+config.EnvSeveritySource+")")
	fs.StringVar(&severity, "severity", "", "comma-separated severities to report (CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN); default all. UNKNOWN findings are reported too unless --ignore-unknown")
	fs.BoolVar(&o.ignoreUnknown, "ignore-unknown", false, "leave out findings whose severity is UNKNOWN, so they neither show nor count for --exit-code")
	fs.IntVar(&o.exitCode, "exit-code", 0, "exit code when findings (after --severity) are reported, or a platform is not plainly scanned (incomplete, unsupported)")
	fs.StringVar(&o.username, "username", "", "registry username (basic auth)")
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the registry password from standard input")
	fs.BoolVar(&o.insecure, "insecure", false, "use plain HTTP for the registry (implied for 127.0.0.1 and localhost)")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if (o.archive == "") == (len(positional) != 1) {
		fmt.Fprintln(env.Stderr, "tidewatch scan: give exactly one of IMAGE or --archive FILE")
		return exitUsage
	}
	if o.format != "table" && o.format != "json" {
		fmt.Fprintf(env.Stderr, "tidewatch scan: unknown --format %q (table or json)\n", o.format)
		return exitUsage
	}
	if o.ecosystems, err = config.ParseEcosystems(ecosystems); err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch scan: --ecosystems: %v\n", err)
		return exitUsage
	}
	if o.severities, err = parseSeverities(severity); err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch scan: %v\n", err)
		return exitUsage
	}
	if o.severityDir, err = config.ParseSeveritySource(o.severityDir); err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch scan: --severity-source: %v\n", err)
		return exitUsage
	}
	if o.maxDBAge, err = config.ParseMaxDBAge(cmp.Or(env.getenv(config.EnvMaxDBAge), config.DefaultMaxDBAge.String())); err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch scan: %v\n", err)
		return exitUsage
	}
	if o.passwordStdin && o.username == "" {
		fmt.Fprintln(env.Stderr, "tidewatch scan: --password-stdin needs --username")
		return exitUsage
	}
	var password string
	if o.passwordStdin {
		password, err = readPassword(env)
		if err != nil {
			fmt.Fprintf(env.Stderr, "tidewatch scan: reading password from stdin: %v\n", err)
			return exitUsage
		}
	}

	res, err := scan(ctx, env, o, positional, password)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch scan: %v\n", err)
		return exitError
	}
	filterSeverities(res, o.severities, o.ignoreUnknown)
	if err := writeResult(env.Stdout, o.format, res); err != nil {
		fmt.Fprintf(env.Stderr, "tidewatch scan: writing output: %v\n", err)
		return exitError
	}
	for _, p := range res.Platforms {
		if p.Status != scanner.StatusScanned || p.Error != "" {
			fmt.Fprintf(env.Stderr, "tidewatch scan: %s: %s: %s\n", p.Platform, p.Status, p.Error)
		}
	}
	if o.exitCode != 0 && needsAttention(res) {
		return o.exitCode
	}
	return exitOK
}

// readPassword reads one line from standard input.
func readPassword(env Env) (string, error) {
	if env.Stdin == nil {
		return "", errors.New("no standard input")
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func scan(ctx context.Context, env Env, o scanOptions, positional []string, password string) (*scanner.Result, error) {
	if o.advisories == "" {
		return nil, fmt.Errorf("no advisory source: pass --advisories DIR or set TIDEWATCH_ADVISORIES_URL (%w)", advisory.ErrNoAdvisories)
	}
	var (
		target *image.Target
		err    error
	)
	var scanOpts []scanner.Option
	if o.archive != "" {
		target, err = image.FromArchive(o.archive)
		if err != nil {
			return nil, err
		}
	} else {
		client, ref, err := registryClient(env, positional[0], o, password)
		if err != nil {
			return nil, err
		}
		target, err = client.Target(ctx, ref)
		if err != nil {
			return nil, err
		}
		scanOpts = append(scanOpts, scanner.WithRetry(client.Retry))
	}
	if len(target.Platforms) == 0 {
		return nil, fmt.Errorf("%s: nothing to scan: no image manifest of a known platform", target.Reference)
	}
	// Advisories load after the image resolves, so a bad reference fails fast.
	idx, err := loadAdvisories(ctx, env, o)
	if err != nil {
		return nil, err
	}
	s, err := scanner.New(idx, scanOpts...)
	if err != nil {
		return nil, err
	}
	return s.Scan(ctx, target)
}

func registryClient(env Env, refStr string, o scanOptions, password string) (*registry.Client, string, error) {
	ref, err := name.ParseReference(refStr)
	if err != nil {
		return nil, "", fmt.Errorf("parsing image reference %q: %w", refStr, err)
	}
	host := ref.Context().RegistryStr()
	opts := []registry.Option{registry.WithUserAgent("tidewatch/" + env.Version)}
	if o.insecure || registry.IsLoopback(host) {
		opts = append(opts, registry.WithInsecure())
	}
	if o.username != "" {
		opts = append(opts, registry.WithBasicAuth(o.username, password))
	}
	c, err := registry.New(host, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("creating registry client for %s: %w", host, err)
	}
	return c, refStr, nil
}

func parseSeverities(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		sev, err := match.ParseSeverity(part)
		if err != nil {
			return nil, fmt.Errorf("unknown severity %q in --severity (CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN)", part)
		}
		out = append(out, sev)
	}
	return out, nil
}

// filterSeverities keeps the findings of the listed severities (all when none are
// listed) and those whose severity is UNKNOWN, unless ignoreUnknown: a finding
// nobody could rate is not known to be below the threshold, so it is reported and
// counts for --exit-code.
func filterSeverities(res *scanner.Result, severities []string, ignoreUnknown bool) {
	if len(severities) == 0 && !ignoreUnknown {
		return
	}
	keep := map[string]bool{}
	if len(severities) == 0 {
		severities = match.Severities()
	}
	for _, s := range severities {
		keep[s] = true
	}
	keep[match.SeverityUnknown] = !ignoreUnknown
	for i := range res.Platforms {
		var kept []match.Finding
		for _, f := range res.Platforms[i].Findings {
			if keep[f.Severity] {
				kept = append(kept, f)
			}
		}
		if kept == nil {
			kept = []match.Finding{}
		}
		res.Platforms[i].Findings = kept
	}
}

// needsAttention reports whether --exit-code applies: findings remain, or a platform
// is not plainly scanned (an incomplete or unsupported platform is not known to be
// clean).
func needsAttention(res *scanner.Result) bool {
	for _, p := range res.Platforms {
		if len(p.Findings) > 0 || p.Status != scanner.StatusScanned {
			return true
		}
	}
	return false
}
