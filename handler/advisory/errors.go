package advisory

import "errors"

// ErrNoAdvisories reports that a source yielded no usable advisory data: a missing
// directory, a missing or corrupt all.zip, or a zip without any usable record.
var ErrNoAdvisories = errors.New("no advisories")

// ErrUnsupportedEcosystem reports an ecosystem directory whose versions Tidewatch
// cannot compare (osv-scalibr's semantic package does not know it).
var ErrUnsupportedEcosystem = errors.New("unsupported advisory ecosystem")

// ErrUnsupportedSource reports a source string Load cannot open (for now any URL).
var ErrUnsupportedSource = errors.New("unsupported advisory source")
