// Package scanner turns a resolved image into per-platform inventories and findings:
// layers are analyzed (or taken from the layer cache) and merged, every package is
// matched in its own advisory ecosystem, and each platform gets one of the statuses
// defined here (scanned, incomplete, unsupported, failed) with the reason.
//
// It is the one place both the CLI and the queue-triggered scan function use, so the
// two can never disagree about what an image contains.
package scanner
