package match

import (
	"errors"
	"fmt"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

var errBadVector = errors.New("malformed CVSS vector")

// scoreVector computes the base score of an OSV severity entry of type CVSS_V2
// (a bare v2 vector, "AV:N/AC:L/Au:N/C:P/I:P/A:P"), CVSS_V3 ("CVSS:3.0/…" or
// "CVSS:3.1/…") or CVSS_V4 ("CVSS:4.0/…") with github.com/pandatix/go-cvss. Other
// types, and vectors the library rejects, are errors.
func scoreVector(kind, vector string) (*CVSS, error) {
	var (
		version string
		score   float64
	)
	switch {
	case kind == "CVSS_V2":
		c, err := gocvss20.ParseVector(strings.TrimPrefix(vector, "CVSS:2.0/"))
		if err != nil {
			return nil, fmt.Errorf("scoring %s %q: %w: %w", kind, vector, errBadVector, err)
		}
		version, score = "2.0", c.BaseScore()
	case kind == "CVSS_V3" && strings.HasPrefix(vector, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(vector)
		if err != nil {
			return nil, fmt.Errorf("scoring %s %q: %w: %w", kind, vector, errBadVector, err)
		}
		version, score = "3.0", c.BaseScore()
	case kind == "CVSS_V3" && strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vector)
		if err != nil {
			return nil, fmt.Errorf("scoring %s %q: %w: %w", kind, vector, errBadVector, err)
		}
		version, score = "3.1", c.BaseScore()
	case kind == "CVSS_V4" && strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return nil, fmt.Errorf("scoring %s %q: %w: %w", kind, vector, errBadVector, err)
		}
		version, score = "4.0", c.Score()
	default:
		return nil, fmt.Errorf("scoring %s %q: %w", kind, vector, errBadVector)
	}
	return &CVSS{Version: version, Vector: vector, Score: score}, nil
}

// cvssSeverity is the qualitative band of a score: NVD's v2 bands (LOW below 4.0,
// MEDIUM below 7.0, else HIGH; v2 has no CRITICAL) for version 2.0, else the CVSS
// v3.1 and v4.0 specifications' ratings. A score of 0.0 ("None") maps to LOW, the
// lowest band a Finding can carry.
func cvssSeverity(c *CVSS) string {
	if c.Version == "2.0" {
		switch {
		case c.Score >= 7.0:
			return SeverityHigh
		case c.Score >= 4.0:
			return SeverityMedium
		default:
			return SeverityLow
		}
	}
	switch {
	case c.Score >= 9.0:
		return SeverityCritical
	case c.Score >= 7.0:
		return SeverityHigh
	case c.Score >= 4.0:
		return SeverityMedium
	default:
		return SeverityLow
	}
}
