// Package inventory finds what is installed in an image, in any number of
// ecosystems: extractors (osv-scalibr plugins: dpkg databases, Go binaries, installed
// npm package.json files and lockfiles, Python dist-info/egg-info metadata, Java archives and the archives nested in them) run over
// each layer's streamed tar entries once, producing a per-layer LayerResult that is
// cached by (diffID, analyzer version) and trusted only for the compressed digests
// whose walk produced it. A merger applies OCI layer semantics to those results one
// layer at a time, to get the final packages, the layer that introduced each one, and
// the distribution that names the OS packages' advisory ecosystem and package URLs.
//
// Extractors never see the worker's filesystem: they get the entry's stream, a
// virtual view holding only that entry, and a Root that cannot resolve on the host
// (see virtualRoot). Nothing a layer holds is silently dropped: a wanted file that
// is too large, unparseable or behind a link that cannot be followed is listed in
// Inventory.Skipped, which makes the scan incomplete rather than clean.
package inventory
