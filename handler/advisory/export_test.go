package advisory

import "slices"

// Ecosystems lists the loaded ecosystem directories ("Debian", "Go"), sorted.
func (x *Index) Ecosystems() []string { return slices.Clone(x.ecosystems) }

// Records is the number of usable (not withdrawn) records loaded from an ecosystem
// directory.
func (x *Index) Records(ecosystemDir string) int { return x.records[ecosystemDir] }
