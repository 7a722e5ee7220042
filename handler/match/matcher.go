package match

import (
	"sync"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// maxMemoized bounds a Matcher's memory: past it, the memo starts over.
const maxMemoized = 50_000

// Matcher matches against one index like [Match] and remembers each (ecosystem,
// advisory package name, version)'s evaluation, so that images sharing packages (the
// rows of one rematch page, often one base image's descendants) evaluate each once.
// It is safe for concurrent use; results equal Match's.
type Matcher struct {
	idx  *advisory.Index
	mu   sync.Mutex
	memo map[memoKey]memoized
}

type memoKey struct{ ecosystem, name, version string }

type memoized struct {
	templates []Finding
	parsed    bool
}

// NewMatcher returns a Matcher over idx.
func NewMatcher(idx *advisory.Index) *Matcher {
	return &Matcher{idx: idx, memo: make(map[memoKey]memoized)}
}

// Index is the index the Matcher matches against.
func (m *Matcher) Index() *advisory.Index { return m.idx }

// Match matches pkgs as [Match] does.
func (m *Matcher) Match(pkgs []inventory.Package) Result {
	return matchPackages(m.idx, m, nil, pkgs)
}

// MatchImage matches the packages of one image as [MatchImage] does.
func (m *Matcher) MatchImage(os *inventory.OS, pkgs []inventory.Package) Result {
	return matchPackages(m.idx, m, os, pkgs)
}

// vulnerabilities is the package-level vulnerabilities, remembered. The templates
// are shared between results: withPackage copies each into its finding.
func (m *Matcher) vulnerabilities(ecosystem, name, version string) ([]Finding, bool) {
	k := memoKey{ecosystem, name, version}
	m.mu.Lock()
	v, ok := m.memo[k]
	m.mu.Unlock()
	if ok {
		return v.templates, v.parsed
	}
	templates, parsed := vulnerabilities(m.idx, ecosystem, name, version)
	m.mu.Lock()
	if len(m.memo) >= maxMemoized {
		clear(m.memo)
	}
	m.memo[k] = memoized{templates, parsed}
	m.mu.Unlock()
	return templates, parsed
}
