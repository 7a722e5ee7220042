// Package advisory loads OSV advisories from a bulk export into a compact in-memory
// index keyed by (ecosystem, package name).
//
// A source holds one directory per ecosystem, as the public OSV export does:
// <base>/<Ecosystem>/all.zip (one <ID>.json per record) and an optional
// <base>/<Ecosystem>/modified_id.csv. Load decodes only the fields matching needs,
// skips withdrawn records and refuses to return an empty index: a missing, corrupt or
// empty source is an error wrapping ErrNoAdvisories, so a scan can never mistake
// "no data" for "no findings".
//
// A folder's all.zip may instead be compiled (Compile, Compiler: what feed writes as
// each generation's .idx): the same records reduced to what the index reads, behind
// a checksummed header, decoded without JSON. It loads to the same index as its zip.
//
// An Index is made of one decoded part per folder. A Loader over one Source (one
// generation) decodes each folder the first time an index needs it and shares it
// with every later index, so a scan asks for the folders of its own packages'
// ecosystems (Folder) and pays for nothing else.
package advisory
