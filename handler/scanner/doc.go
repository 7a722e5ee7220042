// Package scanner turns a resolved image into per-platform inventories and findings:
// layers are analyzed (or taken from the layer cache), merged, the distro picks the
// advisory ecosystem, and the inventory is matched against the advisory index.
//
// It is the one place both the CLI and the queue-triggered scan function use, so the
// two can never disagree about what an image contains.
package scanner
