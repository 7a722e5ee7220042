package match

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

var errBadVector = errors.New("malformed CVSS v3 vector")

// cvss3Weights are the base-metric weights of CVSS v3.1 (specification section 7.4);
// v3.0 uses the same weights.
var cvss3Weights = map[string]map[string]float64{
	"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
	"AC": {"L": 0.77, "H": 0.44},
	"PR": {"N": 0.85, "L": 0.62, "H": 0.27},
	"UI": {"N": 0.85, "R": 0.62},
	"S":  {"U": 0, "C": 0},
	"C":  {"H": 0.56, "L": 0.22, "N": 0},
	"I":  {"H": 0.56, "L": 0.22, "N": 0},
	"A":  {"H": 0.56, "L": 0.22, "N": 0},
}

// cvss3Score computes the base score of a "CVSS:3.0/…" or "CVSS:3.1/…" vector. It
// returns the vector's version ("3.0", "3.1"). Temporal and environmental metrics
// are ignored; a missing or repeated base metric is an error.
func cvss3Score(vector string) (string, float64, error) {
	parts := strings.Split(vector, "/")
	version, ok := strings.CutPrefix(parts[0], "CVSS:")
	if !ok || (version != "3.0" && version != "3.1") {
		return "", 0, fmt.Errorf("%q: %w", vector, errBadVector)
	}
	metrics := make(map[string]string, len(cvss3Weights))
	for _, part := range parts[1:] {
		name, value, ok := strings.Cut(part, ":")
		if !ok {
			return "", 0, fmt.Errorf("%q: %w", vector, errBadVector)
		}
		weights, base := cvss3Weights[name]
		if !base {
			continue
		}
		if _, dup := metrics[name]; dup {
			return "", 0, fmt.Errorf("%q repeats %s: %w", vector, name, errBadVector)
		}
		if _, known := weights[value]; !known {
			return "", 0, fmt.Errorf("%q has %s:%s: %w", vector, name, value, errBadVector)
		}
		metrics[name] = value
	}
	if len(metrics) != len(cvss3Weights) {
		return "", 0, fmt.Errorf("%q lacks base metrics: %w", vector, errBadVector)
	}
	return version, cvss3Base(metrics), nil
}

// cvss3Base applies the CVSS v3.1 base equations (specification section 7.1).
func cvss3Base(m map[string]string) float64 {
	w := func(name string) float64 { return cvss3Weights[name][m[name]] }
	changed := m["S"] == "C"
	pr := w("PR")
	if changed && m["PR"] == "L" {
		pr = 0.68
	} else if changed && m["PR"] == "H" {
		pr = 0.5
	}
	iss := 1 - (1-w("C"))*(1-w("I"))*(1-w("A"))
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	if impact <= 0 {
		return 0
	}
	exploitability := 8.22 * w("AV") * w("AC") * pr * w("UI")
	if changed {
		return roundUp(math.Min(1.08*(impact+exploitability), 10))
	}
	return roundUp(math.Min(impact+exploitability, 10))
}

// roundUp is the specification's Roundup: the smallest number with one decimal
// that is >= x, computed on integers to avoid floating-point artefacts.
func roundUp(x float64) float64 {
	n := int64(math.Round(x * 100000))
	if n%10000 == 0 {
		return float64(n) / 100000
	}
	return float64(n/10000+1) / 10
}
