// Command advgen writes a larger OSV bulk export for benchmarks (scripts/bench.sh):
//
//	advgen -from DIR -to DIR -n N [-folders Debian,GIT]
//
// Each folder's <Folder>/all.zip of -from is written to -to with every record
// copied N times: copy 0 as it is, copy k with "-advgen-k" appended to its id and
// to every affected package name, so the copies are distinct records of distinct
// packages with the same ranges. It is a development tool; the scanner never uses it.
package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "advgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("advgen", flag.ContinueOnError)
	from := fs.String("from", "", "OSV bulk export to multiply (<Folder>/all.zip)")
	to := fs.String("to", "", "directory to write the multiplied export into")
	n := fs.Int("n", 1, "copies of every record")
	folders := fs.String("folders", "", "comma list of folders (default: every folder of -from)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *to == "" || *n < 1 {
		return errors.New("usage: advgen -from DIR -to DIR -n N [-folders A,B]")
	}
	names, err := folderNames(*from, *folders)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := multiplyFolder(filepath.Join(*from, name, "all.zip"), filepath.Join(*to, name, "all.zip"), *n); err != nil {
			return fmt.Errorf("multiplying %s: %w", name, err)
		}
	}
	return nil
}

func folderNames(from, list string) ([]string, error) {
	if list != "" {
		return strings.Split(list, ","), nil
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// multiplyFolder writes n copies of every JSON record of the archive src to dst.
func multiplyFolder(src, dst string, n int) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		body, err := readMember(f)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Name, err)
		}
		for k := range n {
			data, id, err := renamed(body, k)
			if err != nil {
				return fmt.Errorf("renaming %s: %w", f.Name, err)
			}
			w, err := zw.Create(id + ".json")
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}

func readMember(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// renamed returns copy k of an OSV record and its id: unchanged for k = 0, else
// with "-advgen-k" appended to the id and every affected package name. Only those
// fields are decoded; the rest of the record is kept as it is.
func renamed(body []byte, k int) ([]byte, string, error) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, "", err
	}
	var id string
	if err := json.Unmarshal(rec["id"], &id); err != nil {
		return nil, "", fmt.Errorf("id: %w", err)
	}
	if k == 0 {
		return body, id, nil
	}
	suffix := fmt.Sprintf("-advgen-%d", k)
	id += suffix
	rec["id"], _ = json.Marshal(id)
	if raw, ok := rec["affected"]; ok {
		var affected []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &affected); err != nil {
			return nil, "", fmt.Errorf("affected: %w", err)
		}
		for _, a := range affected {
			var pkg map[string]json.RawMessage
			if err := json.Unmarshal(a["package"], &pkg); err != nil || pkg == nil {
				continue
			}
			var name string
			if json.Unmarshal(pkg["name"], &name) == nil && name != "" {
				pkg["name"], _ = json.Marshal(name + suffix)
				a["package"], _ = json.Marshal(pkg)
			}
		}
		rec["affected"], _ = json.Marshal(affected)
	}
	data, err := json.Marshal(rec)
	return data, id, err
}
