// Package match matches an image's installed packages against an advisory index and
// turns the hits into findings: one per (vulnerability, ecosystem, package,
// location), with severity, fix status and remediation text.
//
// Rules:
//   - Each package is matched in its own ecosystem (Package.Ecosystem: "Debian:12",
//     "Go", "npm"); packages without one are not matched, and an ecosystem the
//     index holds nothing for is reported as a gap, never as "no findings".
//   - Debian, Ubuntu, Alpine, Wolfi and Chainguard packages are matched by SOURCE
//     (apk: origin) name and SOURCE version, the others by name and version, compared with the ecosystem's own
//     ordering (osv-scalibr semantic), using OSV range semantics.
//   - RHEL/UBI ("Red Hat") and SLES ("SUSE") packages are matched by binary name
//     against every product stream of the image (MatchImage, streams.go): the Red Hat
//     streams its content manifests name, the SUSE products of its release. A
//     vulnerability several streams list is one finding, from the first stream;
//     unloaded streams, unknown content sets and modular packages are gaps.
//   - A record's vulnerability ids are the CVE ids among its id, aliases and
//     upstream; a record naming none is its own id (in PyPI, the lowest of its id
//     and its PYSEC-/GHSA- aliases, so the PyPA and GitHub records of one
//     vulnerability meet). PyPI names are compared PEP 503-normalized. Records sharing a vulnerability
//     id for the same package collapse into one finding keyed by that id; the other
//     record ids are its aliases.
//   - FixedVersion is the highest fixed version among the collapsed records, the one
//     that resolves all of them; it is empty when any of them has no fix.
//   - FixStatus is "fixed" with a FixedVersion; else "wont-fix" when a record's
//     tracker urgency (affected[].ecosystem_specific.urgency) is "unimportant" or
//     "end-of-life" (Debian's tracker uses these for issues it will not fix in a
//     release); else "not-fixed".
//   - Severity is the band of the highest CVSS v3.x base score computed from a
//     vector; else the distribution's rating (ecosystem_specific.urgency, Ubuntu's
//     severity entry); else UNKNOWN. CVSS v4 vectors are not scored (no vetted Go
//     library is available); a numeric v4 score stated by the record is used.
//   - Remediation names the source package, the fix and at most five installed
//     binaries, so output stays linear in packages × matching advisories.
package match
