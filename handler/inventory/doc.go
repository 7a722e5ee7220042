// Package inventory finds what is installed in an image: extractors (osv-scalibr
// plugins) run over each layer's streamed tar entries once, producing a per-layer
// LayerResult that is cached by (diffID, analyzer version); Merge applies OCI layer
// semantics to those results to get the final packages, the layer that introduced
// each one, and the distribution that chooses the advisory ecosystem.
package inventory
