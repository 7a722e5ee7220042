package testenv

import (
	"io"
	"strings"
)

// Contents of the Debian files hostile-image tests plant in generated layers.
const (
	// BookwormOSRelease is an /etc/os-release of Debian 12.
	BookwormOSRelease = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"
	// DpkgStatus is the path of dpkg's database in an image, without the leading slash.
	DpkgStatus = "var/lib/dpkg/status"
	// OpensslStanza is a dpkg status stanza of openssl 3.0.0-1 installed on amd64.
	OpensslStanza = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.0-1\n\n"
)

// PaddedStatus is a dpkg status at path of size bytes: OpensslStanza, then one
// stanza whose description runs on for the rest, generated as it is read.
func PaddedStatus(path string, size int64) TarEntry {
	head := OpensslStanza + "Package: padding\nDescription: pad\n"
	return TarEntry{Name: path, Size: size, Body: func() io.Reader {
		return io.MultiReader(strings.NewReader(head),
			io.LimitReader(&RepeatReader{S: " padding padding padding padding padding padding\n"}, size-int64(len(head))))
	}}
}
