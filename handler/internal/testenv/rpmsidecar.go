package testenv

import "strconv"

// RPMInventory is what `rpm --dbpath <copy> -qa` reported for one platform's root
// filesystem (gpg-pubkey entries left out by the sidecar's builder).
type RPMInventory struct {
	PackageCount int          `json:"packageCount"`
	Packages     []RPMPackage `json:"packages"`
}

// RPMPackage is one installed binary rpm.
type RPMPackage struct {
	Package string `json:"package"`
	// Epoch is nil when the header has none.
	Epoch         *int   `json:"epoch"`
	Version       string `json:"version"`
	Release       string `json:"release"`
	Arch          string `json:"arch"`
	SourceRPM     string `json:"sourceRpm"`
	SourcePackage string `json:"sourcePackage"`
}

// EVR is the package's "[epoch:]version-release", the epoch written only when it
// is set and not 0 (rpm orders a missing epoch as 0).
func (p RPMPackage) EVR() string {
	evr := p.Version + "-" + p.Release
	if p.Epoch != nil && *p.Epoch != 0 {
		evr = strconv.Itoa(*p.Epoch) + ":" + evr
	}
	return evr
}
