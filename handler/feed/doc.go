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
// The .idx format is advisory's compiled folder (advisory.Compile): a header with
// magic, format version and CRC-32C of the payload, one string table, and the
// verified records (sorted by id) reduced to what matching and severity look-ups
// read, as uvarint string indexes. advisory.LoadFrom recognises it through
// Generation (an advisory.Source) and decodes it without JSON; a blob that fails
// its checksum or structure is an error, never a partial index.
//
// Memory: a folder's archive is buffered whole (the zip reader needs random access
// and the function must not use temporary files), capped at MaxArchiveBytes.
// Compiling inflates one record at a time and keeps the decoded records (about the
// size of their JSON's distinct strings plus a few words per entry, well under the
// inflated JSON) and then the compiled bytes (a fraction of the archive). Folders
// are synced one at a time, so a sync holds at most about MaxArchiveBytes plus one
// folder's decoded records and its compiled blob.
package feed
