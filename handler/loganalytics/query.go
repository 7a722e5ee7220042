package loganalytics

import (
	"fmt"
	"strings"
)

// Column names of the query's result.
const (
	colRepository   = "Repository"
	colDigest       = "Digest"
	colLastPulledAt = "LastPulledAt"
	colPullCount    = "PullCount"
)

// pullQuery is the KQL for one registry's pulls: ACR logs one Pull row per manifest
// GET (repository, digest, caller's User-Agent, LoginServer) in
// ContainerRegistryRepositoryEvents; the window is the request's timespan.
func pullQuery(registryHost, ownUserAgent string) (string, error) {
	host, err := kqlString(registryHost)
	if err != nil {
		return "", fmt.Errorf("registry %q: %w", registryHost, err)
	}
	var b strings.Builder
	// The fuzzy union with an empty table of the same columns keeps the query valid in
	// a workspace where no registry has sent a log yet (the table does not exist there).
	b.WriteString("union isfuzzy=true ContainerRegistryRepositoryEvents,\n")
	b.WriteString("  (datatable(TimeGenerated: datetime, OperationName: string, LoginServer: string, Repository: string, Digest: string, UserAgent: string)[])\n")
	b.WriteString("| where OperationName =~ \"Pull\" and LoginServer =~ " + host + "\n")
	b.WriteString("| where isnotempty(Repository) and isnotempty(Digest)\n")
	if ownUserAgent != "" {
		ua, err := kqlString(ownUserAgent)
		if err != nil {
			return "", fmt.Errorf("user agent %q: %w", ownUserAgent, err)
		}
		b.WriteString("| where not(UserAgent startswith " + ua + ")\n")
	}
	fmt.Fprintf(&b, "| summarize %s = max(TimeGenerated), %s = count() by %s, %s\n",
		colLastPulledAt, colPullCount, colRepository, colDigest)
	return b.String(), nil
}

// kqlString quotes s as a KQL string literal. Control characters are refused rather
// than escaped: no host name or product token has them.
func kqlString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return "", fmt.Errorf("control character %U in a query string", r)
		case r == '"' || r == '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String(), nil
}
