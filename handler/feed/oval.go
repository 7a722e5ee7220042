package feed

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tidewatch/tidewatch/handler/oval"
)

// OVALFolder is the folder that holds Azure Linux and CBL-Mariner advisories. OSV
// has no feed for them; the folder is built from Microsoft's OVAL documents and is
// then verified, compiled and loaded like any OSV folder. Its name is the OSV
// ecosystem's, as OSV export folders are.
const OVALFolder = "Azure Linux"

// DefaultOVALBase is where Microsoft publishes the OVAL documents.
const DefaultOVALBase = "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main"

// OVALDocument is one OVAL file of the base and the ecosystem its definitions are for.
type OVALDocument struct {
	File      string
	Ecosystem string
}

// OVALDocuments are the documents converted into OVALFolder: Azure Linux 3.0, and
// CBL-Mariner 2.0, which scalibr and OSV name "Azure Linux:2.0".
var OVALDocuments = []OVALDocument{
	{File: "azurelinux-3.0-oval.xml", Ecosystem: "Azure Linux:3.0"},
	{File: "cbl-mariner-2.0-oval.xml", Ecosystem: "Azure Linux:2.0"},
}

// WithOVAL returns a Fetcher serving OVALFolder from the OVAL documents under base
// (an http(s) URL or a directory) and every other folder from osv.
func WithOVAL(osv Fetcher, base string, opts ...HTTPOption) (Fetcher, error) {
	o := &ovalSource{documents: OVALDocuments}
	if strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://") {
		o.http = NewHTTPSource(base, opts...)
		o.base = strings.TrimRight(base, "/")
	} else {
		info, err := os.Stat(base)
		if err != nil {
			return nil, fmt.Errorf("opening OVAL source %s: %w", base, err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("OVAL source %s is neither an http(s) URL nor a directory", base)
		}
		o.dir = base
	}
	return routed{osv: osv, oval: o}, nil
}

// routed sends OVALFolder to the OVAL source and the rest to the OSV one.
type routed struct {
	osv  Fetcher
	oval Fetcher
}

func (r routed) Fetch(ctx context.Context, folder string, prev Validators, limit int64) (*Archive, error) {
	if folder == OVALFolder {
		return r.oval.Fetch(ctx, folder, prev, limit)
	}
	return r.osv.Fetch(ctx, folder, prev, limit)
}

// ovalSource fetches every document, converts them and serves the records as one
// all.zip in bulk-export layout. Its validators join the documents' own
// ("file=etag" separated by newlines), so an unchanged set of documents costs one
// conditional request each and is NotModified.
type ovalSource struct {
	documents []OVALDocument
	http      *HTTPSource
	base      string
	dir       string
}

func (o *ovalSource) Fetch(ctx context.Context, folder string, prev Validators, limit int64) (*Archive, error) {
	prevETags, prevModified := splitValidators(prev.ETag), splitValidators(prev.LastModified)
	fetched := make([]*Archive, len(o.documents))
	unchanged := true
	for i, d := range o.documents {
		a, err := o.fetch(ctx, d.File, Validators{ETag: prevETags[d.File], LastModified: prevModified[d.File]}, limit)
		if err != nil {
			return nil, err
		}
		fetched[i] = a
		unchanged = unchanged && a.NotModified
	}
	if unchanged {
		return &Archive{NotModified: true, Validators: prev}, nil
	}
	// Something changed: the folder is rebuilt from every document, so the ones
	// that answered 304 are fetched again whole.
	var etags, modified []string
	var records []oval.Record
	for i, d := range o.documents {
		a := fetched[i]
		if a.NotModified {
			var err error
			if a, err = o.fetch(ctx, d.File, Validators{}, limit); err != nil {
				return nil, err
			}
		}
		res, err := oval.Convert(ctx, bytes.NewReader(a.Data), d.Ecosystem, oval.Limits{MaxBytes: limit})
		if err != nil {
			if errors.Is(err, oval.ErrMalformed) {
				return nil, fmt.Errorf("converting %s: %w: %w", d.File, ErrRejected, err)
			}
			return nil, fmt.Errorf("converting %s: %w", d.File, err)
		}
		records = append(records, res.Records...)
		etags = append(etags, d.File+"="+a.ETag)
		modified = append(modified, d.File+"="+a.LastModified)
	}
	data, err := zipRecords(records, limit)
	if err != nil {
		return nil, err
	}
	return &Archive{Data: data, Validators: Validators{
		ETag: strings.Join(etags, "\n"), LastModified: strings.Join(modified, "\n"),
	}}, nil
}

// fetch gets one document over HTTP(S) or from the directory; a file's ETag is its
// sha256, as DirSource's is.
func (o *ovalSource) fetch(ctx context.Context, file string, prev Validators, limit int64) (*Archive, error) {
	if o.http != nil {
		return o.http.fetchURL(ctx, o.base+"/"+file, prev, limit)
	}
	name := filepath.Join(o.dir, file)
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening %s: %w: %w", name, ErrRejected, err)
		}
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	defer f.Close()
	data, err := readCapped(f, limit, 0)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	if etag == prev.ETag {
		return &Archive{NotModified: true, Validators: prev}, nil
	}
	return &Archive{Data: data, Validators: Validators{ETag: etag}}, nil
}

// splitValidators reads joined "file=value" lines.
func splitValidators(joined string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(joined, "\n") {
		if file, v, ok := strings.Cut(line, "="); ok {
			out[file] = v
		}
	}
	return out
}

// zipRecords writes records as a bulk-export all.zip (one <id>.json each).
func zipRecords(records []oval.Record, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range records {
		w, err := zw.Create(r.ID + ".json")
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", r.ID, err)
		}
		if _, err := w.Write(r.JSON); err != nil {
			return nil, fmt.Errorf("writing %s: %w", r.ID, err)
		}
		if int64(buf.Len()) > limit {
			return nil, fmt.Errorf("converted OVAL exceeds the %d-byte cap: %w", limit, ErrRejected)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("closing converted OVAL archive: %w", err)
	}
	return buf.Bytes(), nil
}

// OpenSources returns the Fetcher for folders: OSV folders from osvSource (see
// OpenSource) and, when folders list OVALFolder, that folder from the OVAL
// documents under ovalSource.
func OpenSources(osvSource, ovalSource string, folders []string, opts ...HTTPOption) (Fetcher, error) {
	src, err := OpenSource(osvSource, opts...)
	if err != nil || !slices.Contains(folders, OVALFolder) {
		return src, err
	}
	return WithOVAL(src, ovalSource, opts...)
}
