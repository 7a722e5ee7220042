// Package oval converts the OVAL vulnerability definitions Microsoft publishes for
// Azure Linux and CBL-Mariner (github.com/microsoft/AzureLinuxVulnerabilityData) into
// OSV records, so they are verified, compiled and matched like any OSV folder.
//
// Each definition says "CVE-X affects package P for versions less than V" (or "less
// than or equal to V" when no fix exists): one rpminfo_test whose object names the
// package and whose state holds the evr bound. It becomes one OSV record: the CVE as
// alias, one affected entry in the caller's ecosystem ("Azure Linux:3.0") with an
// ECOSYSTEM range introduced 0 and fixed V (or last_affected V), and the
// definition's severity as a distribution rating in database_specific.
package oval

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ErrMalformed reports OVAL that cannot be converted: not OVAL definitions, a
// definition whose test, object or state is missing, or a bound exceeded. It is
// permanent: fetching the same document again cannot help.
var ErrMalformed = errors.New("malformed OVAL")

// Limits bound what one document may hold; zero fields take the defaults.
type Limits struct {
	// MaxBytes bounds the document (default 256 MiB; the real files are ~5 MB).
	MaxBytes int64
	// MaxDefinitions bounds the definitions (default 200,000).
	MaxDefinitions int
	// MaxCriteria bounds the criteria of one definition (default 64).
	MaxCriteria int
	// MaxField bounds a package name, version or id (default 256 bytes).
	MaxField int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 256 << 20
	}
	if l.MaxDefinitions <= 0 {
		l.MaxDefinitions = 200_000
	}
	if l.MaxCriteria <= 0 {
		l.MaxCriteria = 64
	}
	if l.MaxField <= 0 {
		l.MaxField = 256
	}
	return l
}

// Record is one converted OSV record: its id and its JSON.
type Record struct {
	ID   string
	JSON []byte
}

// Result is a converted document.
type Result struct {
	Records []Record
	// Skipped are the definitions left out and why (not a vulnerability class, no
	// package test); they are counted, not fatal.
	Skipped []string
}

// Convert reads one OVAL document and returns its definitions as OSV records of
// ecosystem ("Azure Linux:3.0"), sorted by id.
func Convert(ctx context.Context, r io.Reader, ecosystem string, lim Limits) (*Result, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading OVAL: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: document larger than %d bytes", ErrMalformed, lim.MaxBytes)
	}
	var doc document
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: decoding: %v", ErrMalformed, err)
	}
	if doc.XMLName.Local != "oval_definitions" {
		return nil, fmt.Errorf("%w: root element is <%s>, not <oval_definitions>", ErrMalformed, doc.XMLName.Local)
	}
	if n := len(doc.Definitions); n == 0 || n > lim.MaxDefinitions {
		return nil, fmt.Errorf("%w: %d definitions (want 1..%d)", ErrMalformed, n, lim.MaxDefinitions)
	}
	c := newConverter(&doc, ecosystem, lim)
	res := &Result{}
	seen := make(map[string]bool, len(doc.Definitions))
	for i := range doc.Definitions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		def := &doc.Definitions[i]
		rec, skip, err := c.convert(def)
		if err != nil {
			return nil, fmt.Errorf("converting definition %s: %w", bounded(def.ID, lim.MaxField), err)
		}
		if skip != "" {
			res.Skipped = append(res.Skipped, bounded(def.ID, lim.MaxField)+": "+skip)
			continue
		}
		if seen[rec.ID] {
			return nil, fmt.Errorf("%w: two definitions convert to id %s", ErrMalformed, rec.ID)
		}
		seen[rec.ID] = true
		res.Records = append(res.Records, rec)
	}
	slices.SortFunc(res.Records, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	return res, nil
}

// converter resolves definitions through the document's tests, objects and states.
type converter struct {
	ecosystem string
	lim       Limits
	tests     map[string]*rpminfoTest
	objects   map[string]string // object id → package name
	states    map[string]*evr
	generated time.Time
}

func newConverter(doc *document, ecosystem string, lim Limits) *converter {
	c := &converter{
		ecosystem: ecosystem, lim: lim,
		tests:   make(map[string]*rpminfoTest, len(doc.Tests)),
		objects: make(map[string]string, len(doc.Objects)),
		states:  make(map[string]*evr, len(doc.States)),
	}
	for i := range doc.Tests {
		c.tests[doc.Tests[i].ID] = &doc.Tests[i]
	}
	for _, o := range doc.Objects {
		c.objects[o.ID] = strings.TrimSpace(o.Name)
	}
	for i := range doc.States {
		c.states[doc.States[i].ID] = &doc.States[i].EVR
	}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(doc.Generator.Timestamp)); err == nil {
		c.generated = t.UTC()
	}
	return c
}

// convert turns one definition into a record, or says why it is skipped.
func (c *converter) convert(def *definition) (Record, string, error) {
	if def.Class != "vulnerability" {
		return Record{}, "class " + bounded(def.Class, c.lim.MaxField), nil
	}
	criteria := def.Criteria.all()
	if len(criteria) == 0 {
		return Record{}, "no criteria", nil
	}
	if len(criteria) > c.lim.MaxCriteria {
		return Record{}, "", fmt.Errorf("%w: %d criteria (limit %d)", ErrMalformed, len(criteria), c.lim.MaxCriteria)
	}
	id, err := c.recordID(def.ID)
	if err != nil {
		return Record{}, "", err
	}
	rec := osvRecord{
		SchemaVersion: "1.6.0", ID: id,
		Summary:  bounded(strings.TrimSpace(def.Metadata.Title), 400),
		Details:  bounded(strings.TrimSpace(def.Metadata.Description), 1000),
		Modified: c.modified(def).Format(time.RFC3339),
		DatabaseSpecific: databaseSpecific{
			Severity: strings.TrimSpace(def.Metadata.Severity), Patchable: strings.TrimSpace(def.Metadata.Patchable),
			OVALID: def.ID, AdvisoryID: strings.TrimSpace(def.Metadata.AdvisoryID),
		},
	}
	for _, ref := range def.Metadata.References {
		if ref.Source == "CVE" && ref.RefID != "" {
			rec.Aliases = append(rec.Aliases, bounded(ref.RefID, c.lim.MaxField))
			rec.Upstream = append(rec.Upstream, bounded(ref.RefID, c.lim.MaxField))
		}
	}
	for _, cr := range criteria {
		a, err := c.affected(cr.TestRef)
		if err != nil {
			return Record{}, "", err
		}
		rec.Affected = append(rec.Affected, a)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return Record{}, "", fmt.Errorf("encoding record %s: %w", id, err)
	}
	return Record{ID: id, JSON: body}, "", nil
}

// affected resolves one criterion's rpminfo test to an affected entry.
func (c *converter) affected(testRef string) (osvAffected, error) {
	t, ok := c.tests[testRef]
	if !ok {
		return osvAffected{}, fmt.Errorf("%w: test %s not found", ErrMalformed, bounded(testRef, c.lim.MaxField))
	}
	name, ok := c.objects[t.Object.Ref]
	if !ok || name == "" {
		return osvAffected{}, fmt.Errorf("%w: object %s of test %s not found", ErrMalformed, bounded(t.Object.Ref, c.lim.MaxField), bounded(testRef, c.lim.MaxField))
	}
	state, ok := c.states[t.State.Ref]
	if !ok {
		return osvAffected{}, fmt.Errorf("%w: state %s of test %s not found", ErrMalformed, bounded(t.State.Ref, c.lim.MaxField), bounded(testRef, c.lim.MaxField))
	}
	version := rpmVersion(state.Value)
	if len(name) > c.lim.MaxField || version == "" || len(version) > c.lim.MaxField || strings.ContainsAny(name+version, " \t\n") {
		return osvAffected{}, fmt.Errorf("%w: package %q version %q out of bounds", ErrMalformed, bounded(name, c.lim.MaxField), bounded(version, c.lim.MaxField))
	}
	ev := event{Fixed: version}
	switch state.Operation {
	case "less than":
	case "less than or equal":
		ev = event{LastAffected: version}
	default:
		return osvAffected{}, fmt.Errorf("%w: state %s has operation %q", ErrMalformed, bounded(t.State.Ref, c.lim.MaxField), bounded(state.Operation, c.lim.MaxField))
	}
	a := osvAffected{Ranges: []osvRange{{Type: "ECOSYSTEM", Events: []event{{Introduced: "0"}, ev}}}}
	a.Package.Ecosystem, a.Package.Name = c.ecosystem, name
	return a, nil
}

// recordID names a definition "<NAMESPACE>-<number>": oval:com.microsoft.azurelinux:def:50124
// → AZURELINUX-50124, oval:com.microsoft.cbl-mariner:def:33517 → CBL-MARINER-33517.
func (c *converter) recordID(ovalID string) (string, error) {
	parts := strings.Split(ovalID, ":")
	if len(parts) != 4 || parts[0] != "oval" || parts[2] != "def" || parts[3] == "" || len(ovalID) > c.lim.MaxField {
		return "", fmt.Errorf("%w: definition id %q is not oval:<namespace>:def:<n>", ErrMalformed, bounded(ovalID, c.lim.MaxField))
	}
	ns := parts[1][strings.LastIndex(parts[1], ".")+1:]
	id := strings.ToUpper(ns) + "-" + parts[3]
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "", fmt.Errorf("%w: definition id %q has character %q", ErrMalformed, bounded(ovalID, c.lim.MaxField), r)
		}
	}
	return id, nil
}

// modified is the definition's advisory date, else the document's timestamp.
func (c *converter) modified(def *definition) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(def.Metadata.AdvisoryDate)); err == nil {
		return t.UTC()
	}
	return c.generated
}

// rpmVersion turns an OVAL evr ("0:2.6.7-3.azl3") into the version rpm databases
// report for the package: a zero epoch is dropped, others kept ("1:2.0-1"). Space
// around the epoch is dropped: the published files have "0: 1.20.10-1.azl3".
func rpmVersion(evr string) string {
	evr = strings.TrimSpace(evr)
	epoch, rest, ok := strings.Cut(evr, ":")
	if !ok {
		return evr
	}
	epoch, rest = strings.TrimSpace(epoch), strings.TrimSpace(rest)
	if epoch == "0" || epoch == "" {
		return rest
	}
	return epoch + ":" + rest
}

// bounded cuts s to n bytes for messages and fields.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
