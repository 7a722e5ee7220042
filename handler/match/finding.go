package match

// Fix statuses of a Finding.
const (
	FixStatusFixed    = "fixed"     // a fixed version exists in the distribution
	FixStatusNotFixed = "not-fixed" // affected, no fix released
	FixStatusWontFix  = "wont-fix"  // the distribution will not fix it
)

// Severity names, highest first (see Severities).
const (
	SeverityCritical = "CRITICAL"
	SeverityHigh     = "HIGH"
	SeverityMedium   = "MEDIUM"
	SeverityLow      = "LOW"
	SeverityUnknown  = "UNKNOWN"
)

// Finding is one vulnerability affecting one installed package. Its identity is
// (ID, Ecosystem, Package, Location).
type Finding struct {
	// ID is the CVE where the records name one, else the advisory id.
	ID string `json:"id"`
	// Aliases are the other ids of the collapsed records (DSA-, DLA-, DEBIAN-CVE-…), sorted.
	Aliases []string `json:"aliases"`
	Package string   `json:"package"`
	// SourcePackage is the name the advisories know the package by: the source
	// package of a Debian binary, else Package itself.
	SourcePackage string `json:"sourcePackage"`
	// Ecosystem is the package's OSV ecosystem ("Debian:12", "Go").
	Ecosystem        string `json:"ecosystem"`
	InstalledVersion string `json:"installedVersion"`
	// FixedVersion is empty when no fix exists.
	FixedVersion string `json:"fixedVersion"`
	FixStatus    string `json:"fixStatus"`
	Severity     string `json:"severity"`
	// CVSS is the scored vector Severity comes from, nil when it comes from a
	// distribution rating or is UNKNOWN.
	CVSS *CVSS `json:"cvss,omitempty"`
	// SeveritySource says where Severity comes from: "CVSS_V3 from CVE-2024-1234"
	// (the record whose vector was scored), "debian urgency" (a rating a matched
	// record carries), or "" for UNKNOWN.
	SeveritySource string `json:"severitySource"`
	Layer          Layer  `json:"layer"`
	// Location is the file the package was read from (no leading slash): a package
	// database, a binary, a manifest. Part of a finding's identity.
	Location string `json:"location"`
	// PURL is the package URL of the installed package, when the extractor gave one.
	PURL        string `json:"purl,omitempty"`
	Remediation string `json:"remediation"`
	// Summary is a one-line description from the advisory.
	Summary string `json:"summary,omitempty"`
}

// CVSS is a base score computed from a record's vector: Version "2.0", "3.0", "3.1"
// or "4.0".
type CVSS struct {
	Version string  `json:"version"`
	Vector  string  `json:"vector"`
	Score   float64 `json:"score"`
}

// Layer names the layer that introduced the installed version.
type Layer struct {
	DiffID string `json:"diffID"`
	Index  int    `json:"index"`
}
