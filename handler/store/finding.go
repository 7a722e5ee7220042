package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Finding is one vulnerability in one package of one platform image of one
// repository: a row of the findings table. PartitionKey is
// "registry/repository@digest" and RowKey "vulnId~ecosystem~package~location", both
// escaped, so the rows of one (repository, digest) form one partition and the same
// digest in two repositories has two independent sets of rows. States and resolution
// reasons are decided by package lifecycle; store only keeps them.
type Finding struct {
	Registry   string
	Repository string
	// Digest is the platform manifest digest.
	Digest string

	VulnerabilityID string
	Aliases         []string
	Severity        string
	CvssScore       float64
	// CvssVector is the vector CvssScore was computed from, empty without one.
	CvssVector string
	// SeveritySource says where Severity came from ("CVSS_V3 from CVE-2024-1234",
	// "debian urgency"), empty for UNKNOWN.
	SeveritySource   string
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
	// Location is the file inside the image the package was read from.
	Location string
	Purl     string

	FirstSeenAt      time.Time
	LastSeenAt       time.Time
	State            string
	ResolvedReason   string
	ResolvedAt       time.Time
	ResolvedByDigest string
	// ResolvedByGeneration is the advisory generation whose rematch resolved the
	// finding (reason "advisory"), empty otherwise.
	ResolvedByGeneration string
}

// FindingsKey is the PartitionKey of the findings of platform digest in
// registry/repository: "registry/repository@digest", escaped.
func FindingsKey(registry, repository, digest string) string {
	return EscapeKey(registry + "/" + repository + "@" + digest)
}

// RowKey is the finding's RowKey: "vulnId~ecosystem~package~location", escaped.
func (f Finding) RowKey() string {
	return EscapeKey(f.VulnerabilityID + "~" + f.Ecosystem + "~" + f.Package + "~" + f.Location)
}

// entity is the whole row; it is written with replace semantics, so a column left
// empty here (a cleared resolution) is removed from the stored row.
func (f Finding) entity() entity {
	e := newEntity(FindingsKey(f.Registry, f.Repository, f.Digest), f.RowKey())
	e.setString("Registry", f.Registry)
	e.setString("Repository", f.Repository)
	e.setString("Digest", f.Digest)
	e.setString("VulnerabilityId", f.VulnerabilityID)
	e.setString("Aliases", strings.Join(f.Aliases, ","))
	e.setString("Severity", f.Severity)
	e.setFloat("CvssScore", f.CvssScore)
	e.setString("CvssVector", f.CvssVector)
	e.setString("SeveritySource", f.SeveritySource)
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
	e.setString("Location", f.Location)
	e.setString("Purl", f.Purl)
	e.setTime("FirstSeenAt", f.FirstSeenAt)
	e.setTime("LastSeenAt", f.LastSeenAt)
	e.setString("State", f.State)
	if f.ResolvedReason != "" {
		e.setString("ResolvedReason", f.ResolvedReason)
	}
	e.setTime("ResolvedAt", f.ResolvedAt)
	if f.ResolvedByDigest != "" {
		e.setString("ResolvedByDigest", f.ResolvedByDigest)
	}
	if f.ResolvedByGeneration != "" {
		e.setString("ResolvedByGeneration", f.ResolvedByGeneration)
	}
	return e
}

func findingFromRow(r row) Finding {
	return Finding{
		Registry:             r.str("Registry"),
		Repository:           r.str("Repository"),
		Digest:               r.str("Digest"),
		VulnerabilityID:      r.str("VulnerabilityId"),
		Aliases:              splitList(r.str("Aliases")),
		Severity:             r.str("Severity"),
		CvssScore:            r.float("CvssScore"),
		CvssVector:           r.str("CvssVector"),
		SeveritySource:       r.str("SeveritySource"),
		Package:              r.str("Package"),
		SourcePackage:        r.str("SourcePackage"),
		Ecosystem:            r.str("Ecosystem"),
		InstalledVersion:     r.str("InstalledVersion"),
		FixedVersion:         r.str("FixedVersion"),
		FixStatus:            r.str("FixStatus"),
		Remediation:          r.str("Remediation"),
		LayerDigest:          r.str("LayerDigest"),
		LayerIndex:           r.int("LayerIndex"),
		InBaseImage:          r.bool("InBaseImage"),
		Location:             r.str("Location"),
		Purl:                 r.str("Purl"),
		FirstSeenAt:          r.time("FirstSeenAt"),
		LastSeenAt:           r.time("LastSeenAt"),
		State:                r.str("State"),
		ResolvedReason:       r.str("ResolvedReason"),
		ResolvedAt:           r.time("ResolvedAt"),
		ResolvedByDigest:     r.str("ResolvedByDigest"),
		ResolvedByGeneration: r.str("ResolvedByGeneration"),
	}
}

// FindingFilter selects findings for [Store.ListFindings]. Empty fields match all.
type FindingFilter struct {
	Registry   string
	Repository string
	// Digest is a platform digest; with Registry and Repository it selects one partition.
	Digest string
	// Severities lists the severities to include.
	Severities []string
	State      string
}

// odataFilter renders the filter as an OData expression ("" for everything).
func (ff FindingFilter) odataFilter() string {
	var clauses []string
	add := func(column, value string) {
		if value != "" {
			clauses = append(clauses, column+" eq "+odataQuote(value))
		}
	}
	if ff.Registry != "" && ff.Repository != "" && ff.Digest != "" {
		add("PartitionKey", FindingsKey(ff.Registry, ff.Repository, ff.Digest))
	} else {
		add("Registry", ff.Registry)
		add("Repository", ff.Repository)
		add("Digest", ff.Digest)
	}
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
		findings = append(findings, findingFromRow(r))
	}
	return findings, nil
}
