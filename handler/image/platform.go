package image

import "strings"

// Platform is an image's os/architecture[/variant].
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String returns "os/arch" or "os/arch/variant", the form used in outputs and sidecars.
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) Platform {
	parts := strings.SplitN(s, "/", 3)
	var p Platform
	if len(parts) > 0 {
		p.OS = parts[0]
	}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p
}
