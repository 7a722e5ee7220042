// Package image resolves an image reference, registry index or OCI archive into the
// platform images to scan, and streams each layer's tar entries exactly once.
//
// It never extracts to disk: archives are indexed once and blobs are served through
// io.SectionReader, and layers are decompressed and walked as a stream with caps on
// per-file reads, total uncompressed bytes and entry count.
package image
