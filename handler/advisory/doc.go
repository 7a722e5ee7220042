// Package advisory loads OSV advisories from a bulk export into a compact in-memory
// index keyed by (ecosystem, package name).
//
// A source holds one directory per ecosystem, as the public OSV export does:
// <base>/<Ecosystem>/all.zip (one <ID>.json per record) and an optional
// <base>/<Ecosystem>/modified_id.csv. Load decodes only the fields matching needs,
// skips withdrawn records and refuses to return an empty index: a missing, corrupt or
// empty source is an error wrapping ErrNoAdvisories, so a scan can never mistake
// "no data" for "no findings".
package advisory
