// Package feed syncs the OSV bulk export into verified advisory generations.
//
// A sync fetches `<base>/<Folder>/all.zip` for each configured folder (an HTTP(S)
// base such as https://osv-vulnerabilities.storage.googleapis.com, or a local
// directory in the same layout) with conditional requests, verifies each archive
// (complete zip with good CRCs, every record parsed and bounded, no duplicate ids,
// not a collapse against the current generation), writes every verified folder as
// the blob `<folder>/<generation>.idx`, and switches the pointer `current.json`
// with an ETag-conditional write, so that two syncs at once never leave a mixed
// pointer. The three newest generations are kept; older blobs are deleted.
//
// The .idx format, for now, is a zip (deflate) holding the verified records
// verbatim, one `<id>.json` member per record, sorted by id: exactly the OSV
// bulk-export layout, so advisory.LoadFrom reads it through Generation (an
// advisory.Source). A compiled fast format can replace it behind Load.
//
// Memory: a folder's archive is buffered whole (the zip reader needs random access
// and the function must not use temporary files), capped at MaxArchiveBytes; its
// re-encoded .idx is built in memory next to it. Folders are synced one at a time,
// so a sync holds at most about twice MaxArchiveBytes plus one record.
package feed
