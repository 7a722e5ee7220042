package advisory

import "slices"

// Ecosystems lists the loaded ecosystem directories ("Debian", "Go"), sorted.
func (x *Index) Ecosystems() []string { return slices.Clone(x.ecosystems) }
