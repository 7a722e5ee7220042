package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
)

// plan is the shape of the synthetic image.
type plan struct {
	seed              uint64
	entries, layers   int
	hugeBytes         int64
	jarBytes          int64
	goBinary          []byte
	nestedJarBytes    int64
	smallFileMaxBytes int
}

// Counts of the special files.
const (
	goBinaries     = 10
	otherBinaries  = 30
	npmPackages    = 200
	pythonPackages = 100
	dpkgPackages   = 300
	filesPerDir    = 100
)

// layerWriter writes one layer's entries and counts them.
type layerWriter struct {
	ctx     context.Context
	tw      *tar.Writer
	rng     *rand.ChaCha8
	buf     []byte
	entries int
	bytes   int64
}

func (w *layerWriter) dir(name string) error {
	w.entries++
	return w.tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755})
}

// file writes an entry whose contents are prefix followed by pseudo-random bytes up
// to size.
func (w *layerWriter) file(name string, mode int64, size int64, prefix []byte) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.entries++
	w.bytes += size
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: size}); err != nil {
		return fmt.Errorf("writing header of %s: %w", name, err)
	}
	n := min(int64(len(prefix)), size)
	if _, err := w.tw.Write(prefix[:n]); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	for left := size - n; left > 0; {
		chunk := w.buf[:min(left, int64(len(w.buf)))]
		_, _ = w.rng.Read(chunk)
		if _, err := w.tw.Write(chunk); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		left -= int64(len(chunk))
	}
	return nil
}

// bytesFile writes an entry with the given contents.
func (w *layerWriter) bytesFile(name string, mode int64, body []byte) error {
	return w.file(name, mode, int64(len(body)), body)
}

// copyFile writes the host file src as an entry.
func (w *layerWriter) copyFile(name string, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	w.entries++
	w.bytes += info.Size()
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: info.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(w.tw, f)
	return err
}

var elfMagic = []byte("\x7fELF\x02\x01\x01\x00")

// special writes layer i's special files (specialEntries counts them all).
func (p plan) special(w *layerWriter, i int, jarPath string) error {
	switch i {
	case 0:
		if err := w.bytesFile("etc/os-release", 0o644, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n")); err != nil {
			return err
		}
		return w.bytesFile("var/lib/dpkg/status", 0o644, dpkgStatus(dpkgPackages))
	case 1:
		for n := range goBinaries {
			if err := w.bytesFile(fmt.Sprintf("usr/local/bin/goapp-%02d", n), 0o755, p.goBinary); err != nil {
				return err
			}
		}
	case 2:
		for n := range otherBinaries {
			size := int64(1+n%6) << 20
			if err := w.file(fmt.Sprintf("usr/bin/tool-%02d", n), 0o755, size, elfMagic); err != nil {
				return err
			}
		}
	case 3:
		// Executable and ELF-headed, so the binary extractors want it and, above
		// the buffer cap, it is scanned as a stream for their markers.
		return w.file("opt/data/huge.bin", 0o755, p.hugeBytes, elfMagic)
	case 4:
		return w.copyFile("app/lib/fat.jar", jarPath)
	case 5:
		for n := range npmPackages {
			body := fmt.Sprintf(`{"name": "synth-pkg-%d", "version": "1.%d.0", "description": "synthetic"}`, n, n%10)
			if err := w.bytesFile(fmt.Sprintf("app/node_modules/synth-pkg-%d/package.json", n), 0o644, []byte(body)); err != nil {
				return err
			}
		}
		for n := range pythonPackages {
			body := fmt.Sprintf("Metadata-Version: 2.1\nName: synth-py-%d\nVersion: 0.%d.0\n", n, n%10)
			if err := w.bytesFile(fmt.Sprintf("usr/lib/python3/dist-packages/synth_py_%d-0.%d.0.dist-info/METADATA", n, n%10), 0o644, []byte(body)); err != nil {
				return err
			}
		}
	case p.layers - 1:
		return w.bytesFile("var/lib/dpkg/status", 0o644, dpkgStatus(dpkgPackages+10))
	}
	return nil
}

// specialEntries is how many entries special writes over all layers.
func specialEntries() int {
	return 2 + goBinaries + otherBinaries + 1 + 1 + npmPackages + pythonPackages + 1
}

// small writes n small files of 0 to smallFileMaxBytes bytes under a directory of
// layer i, a directory per filesPerDir files; directories count as entries.
func (p plan) small(w *layerWriter, i, n int) error {
	for written, d := 0, 0; written < n; d++ {
		if err := w.dir(fmt.Sprintf("srv/l%02d/d%04d", i, d)); err != nil {
			return err
		}
		written++
		for f := 0; f < filesPerDir && written < n; f++ {
			size := int64(w.rng.Uint64() % uint64(p.smallFileMaxBytes+1))
			if err := w.file(fmt.Sprintf("srv/l%02d/d%04d/f%03d.dat", i, d, f), 0o644, size, nil); err != nil {
				return err
			}
			written++
		}
	}
	return nil
}

func dpkgStatus(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Package: synth-%d\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: 1.%d-%d\nDescription: synthetic package %d\n\n", i, i%7, i%3+1, i)
	}
	return []byte(b.String())
}

// writeFatJar writes a stored jar of stored nested jars of about nestedJarBytes
// each, about p.jarBytes in all, to path.
func (p plan) writeFatJar(path string, rng *rand.ChaCha8) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	if err := storedEntry(zw, "META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\nMain-Class: org.synth.Main\n")); err != nil {
		return err
	}
	blob := make([]byte, p.nestedJarBytes)
	for n := int64(0); n < p.jarBytes/p.nestedJarBytes; n++ {
		var nested bytes.Buffer
		nz := zip.NewWriter(&nested)
		if err := storedEntry(nz, "META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\n")); err != nil {
			return err
		}
		props := fmt.Sprintf("groupId=org.synth\nartifactId=lib%d\nversion=1.%d.0\n", n, n%10)
		if err := storedEntry(nz, fmt.Sprintf("META-INF/maven/org.synth/lib%d/pom.properties", n), []byte(props)); err != nil {
			return err
		}
		_, _ = rng.Read(blob)
		if err := storedEntry(nz, fmt.Sprintf("org/synth/lib%d/Blob.class", n), blob); err != nil {
			return err
		}
		if err := nz.Close(); err != nil {
			return err
		}
		if err := storedEntry(zw, fmt.Sprintf("BOOT-INF/lib/lib%d-1.%d.0.jar", n, n%10), nested.Bytes()); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func storedEntry(zw *zip.Writer, name string, body []byte) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
	if err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}
