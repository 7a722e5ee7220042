package feed

import "cmp"

// Default bounds on one export. The real OSV export is far larger than the shared
// fixtures (Debian holds every release, npm hundreds of thousands of records), so
// the caps are set well above what it needs today and far below what would take a
// 2 GiB Flex instance down.
const (
	// MaxArchiveBytes caps one folder's all.zip as downloaded. It is buffered in
	// memory (no temporary files in the function); with its .idx next to it a sync
	// holds at most about 1 GiB, half a 2 GiB instance.
	MaxArchiveBytes = 512 << 20
	// MaxFolderUncompressedBytes caps the inflated total of one folder: the bound
	// on CPU a zip bomb can cost (records are inflated one at a time).
	MaxFolderUncompressedBytes = 4 << 30
	// MaxRecordBytes caps one inflated record; the largest shared record is
	// 196 KB (an AlmaLinux kernel advisory).
	MaxRecordBytes = 16 << 20
	// MaxRangesPerRecord caps the ranges of one record over all its affected
	// entries (the largest shared record has 516).
	MaxRangesPerRecord = 10_000
	// MaxVersionsPerRecord caps the enumerated versions of one record (PyPI
	// records list every release; the largest shared one has 1,132).
	MaxVersionsPerRecord = 100_000
	// MaxVersionLength caps one version string or range event.
	MaxVersionLength = 1024
	// MaxMembersPerFolder caps the members one archive's central directory may
	// declare, checked before it is parsed: each costs ~200 bytes as a zip.File,
	// and a 512 MiB directory could otherwise declare 11 million of them. OSV's
	// largest folder (npm) holds a few hundred thousand records.
	MaxMembersPerFolder = 2_000_000
	// MaxRejectedIDs caps the rejected record ids listed per folder; the count
	// stays exact.
	MaxRejectedIDs = 100
)

// Limits bounds what one export may hold. The zero value of a field means its
// default constant.
type Limits struct {
	ArchiveBytes      int64
	FolderUncompBytes int64
	RecordBytes       int64
	RangesPerRecord   int
	VersionsPerRecord int
	VersionLength     int
	MembersPerFolder  int
}

// withDefaults fills unset fields from the constants.
func (l Limits) withDefaults() Limits {
	l.ArchiveBytes = cmp.Or(l.ArchiveBytes, MaxArchiveBytes)
	l.FolderUncompBytes = cmp.Or(l.FolderUncompBytes, MaxFolderUncompressedBytes)
	l.RecordBytes = cmp.Or(l.RecordBytes, MaxRecordBytes)
	l.RangesPerRecord = cmp.Or(l.RangesPerRecord, MaxRangesPerRecord)
	l.VersionsPerRecord = cmp.Or(l.VersionsPerRecord, MaxVersionsPerRecord)
	l.VersionLength = cmp.Or(l.VersionLength, MaxVersionLength)
	l.MembersPerFolder = cmp.Or(l.MembersPerFolder, MaxMembersPerFolder)
	return l
}
