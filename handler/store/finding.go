package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/match"
)

// Finding states.
const (
	StateActive   = "active"
	StateResolved = "resolved"
)

// Finding is one vulnerability in one package of one platform image: a row of the
// findings table (PartitionKey the platform digest, RowKey
// "vulnId~ecosystem~package", escaped).
type Finding struct {
	// Digest is the platform manifest digest (the PartitionKey).
	Digest     string
	Registry   string
	Repository string

	VulnerabilityID  string
	Aliases          []string
	Severity         string
	CvssScore        float64
	Package          string
	SourcePackage    string
	Ecosystem        string
	InstalledVersion string
	FixedVersion     string
	FixStatus        string
	Remediation      string
	LayerDigest      string
	LayerIndex       int
	InBaseImage      bool

	FirstSeenAt      time.Time
	LastSeenAt       time.Time
	State            string
	ResolvedAt       time.Time
	ResolvedByDigest string
}

// NewFinding makes the row for a matched finding of image registry/repository.
// Digest and the bookkeeping columns are filled in by [Store.UpsertFindings].
func NewFinding(registry, repository string, f match.Finding) Finding {
	row := Finding{
		Registry:         registry,
		Repository:       repository,
		VulnerabilityID:  f.ID,
		Aliases:          f.Aliases,
		Severity:         f.Severity,
		Package:          f.Package,
		SourcePackage:    f.SourcePackage,
		Ecosystem:        f.Ecosystem,
		InstalledVersion: f.InstalledVersion,
		FixedVersion:     f.FixedVersion,
		FixStatus:        f.FixStatus,
		Remediation:      f.Remediation,
		LayerDigest:      f.Layer.DiffID,
		LayerIndex:       f.Layer.Index,
	}
	if f.CVSS != nil {
		row.CvssScore = f.CVSS.Score
	}
	return row
}

// RowKey is the finding's RowKey: "vulnId~ecosystem~package", escaped.
func (f Finding) RowKey() string {
	return EscapeKey(f.VulnerabilityID + "~" + f.Ecosystem + "~" + f.Package)
}

// dataEntity holds the columns a scan determines; bookkeeping columns (FirstSeenAt,
// State, resolution) are added by the caller that knows whether the row is new.
func (f Finding) dataEntity() entity {
	e := newEntity(EscapeKey(f.Digest), f.RowKey())
	e.setString("Registry", f.Registry)
	e.setString("Repository", f.Repository)
	e.setString("VulnerabilityId", f.VulnerabilityID)
	e.setString("Aliases", strings.Join(f.Aliases, ","))
	e.setString("Severity", f.Severity)
	e.setFloat("CvssScore", f.CvssScore)
	e.setString("Package", f.Package)
	e.setString("SourcePackage", f.SourcePackage)
	e.setString("Ecosystem", f.Ecosystem)
	e.setString("InstalledVersion", f.InstalledVersion)
	e.setString("FixedVersion", f.FixedVersion)
	e.setString("FixStatus", f.FixStatus)
	e.setString("Remediation", f.Remediation)
	e.setString("LayerDigest", f.LayerDigest)
	e.setInt32("LayerIndex", f.LayerIndex)
	e.setBool("InBaseImage", f.InBaseImage)
	e.setTime("LastSeenAt", f.LastSeenAt)
	return e
}

func findingFromRow(r row) (Finding, error) {
	digest, err := UnescapeKey(r.partitionKey())
	if err != nil {
		return Finding{}, err
	}
	return Finding{
		Digest:           digest,
		Registry:         r.str("Registry"),
		Repository:       r.str("Repository"),
		VulnerabilityID:  r.str("VulnerabilityId"),
		Aliases:          splitList(r.str("Aliases")),
		Severity:         r.str("Severity"),
		CvssScore:        r.float("CvssScore"),
		Package:          r.str("Package"),
		SourcePackage:    r.str("SourcePackage"),
		Ecosystem:        r.str("Ecosystem"),
		InstalledVersion: r.str("InstalledVersion"),
		FixedVersion:     r.str("FixedVersion"),
		FixStatus:        r.str("FixStatus"),
		Remediation:      r.str("Remediation"),
		LayerDigest:      r.str("LayerDigest"),
		LayerIndex:       r.int("LayerIndex"),
		InBaseImage:      r.bool("InBaseImage"),
		FirstSeenAt:      r.time("FirstSeenAt"),
		LastSeenAt:       r.time("LastSeenAt"),
		State:            r.str("State"),
		ResolvedAt:       r.time("ResolvedAt"),
		ResolvedByDigest: r.str("ResolvedByDigest"),
	}, nil
}

// FindingFilter selects findings for [Store.ListFindings]. Empty fields match all.
type FindingFilter struct {
	Registry   string
	Repository string
	Digest     string
	// Severities lists the severities to include (see [SeveritiesAtLeast]).
	Severities []string
	State      string
}

// severityOrder lists severities highest first.
var severityOrder = [...]string{match.SeverityCritical, match.SeverityHigh, match.SeverityMedium, match.SeverityLow, match.SeverityUnknown}

// SeveritiesAtLeast returns min and every severity above it ("HIGH" → CRITICAL, HIGH).
// An unknown min returns nil (no severity filter).
func SeveritiesAtLeast(min string) []string {
	for i, s := range severityOrder {
		if strings.EqualFold(s, min) {
			return append([]string(nil), severityOrder[:i+1]...)
		}
	}
	return nil
}

// odataFilter renders the filter as an OData expression ("" for everything).
func (ff FindingFilter) odataFilter() string {
	var clauses []string
	add := func(column, value string) {
		if value != "" {
			clauses = append(clauses, column+" eq "+odataQuote(value))
		}
	}
	if ff.Digest != "" {
		add("PartitionKey", EscapeKey(ff.Digest))
	}
	add("Registry", ff.Registry)
	add("Repository", ff.Repository)
	add("State", ff.State)
	if len(ff.Severities) > 0 {
		var any []string
		for _, sev := range ff.Severities {
			any = append(any, "Severity eq "+odataQuote(sev))
		}
		clauses = append(clauses, "("+strings.Join(any, " or ")+")")
	}
	return strings.Join(clauses, " and ")
}

// ListFindings returns the findings matching ff, filtered by the service.
func (s *Store) ListFindings(ctx context.Context, ff FindingFilter) ([]Finding, error) {
	rows, err := listRows(ctx, s.findings, ff.odataFilter(), "")
	if err != nil {
		return nil, fmt.Errorf("listing findings: %w", err)
	}
	findings := make([]Finding, 0, len(rows))
	for _, r := range rows {
		f, err := findingFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("listing findings: %w", err)
		}
		findings = append(findings, f)
	}
	return findings, nil
}
