package testenv

import (
	"fmt"
	"strconv"
	"strings"
)

// CompareApkVersions orders two apk versions as apk-tools does (src/version.c,
// apk_version_compare): -1, 0 or 1. It is the oracles' own reading of apk-tools'
// rules, written independently of osv-scalibr's semantic package and of Tidewatch:
//
//	{digits}{.digits}...{letter}{_suffix{digits}}...{-r digits}
//
// A version is a sequence of tokens compared pairwise while their kinds agree.
// Digits compare as numbers, except that a component after a dot with leading zeros
// compares its zeros first (more zeros is less: 1.01 < 1.1) and then the rest. A
// letter compares by its character. Suffixes rank _alpha < _beta < _pre < _rc <
// (none) < _cvs < _svn < _git < _hg < _p, each optionally numbered. -r<n> is the
// package revision. When one version runs out first, the other is greater unless
// what it has left is a pre-release suffix; a version that turns invalid orders by
// the kind of token it stopped at, as apk-tools does. Numbers of any length compare
// exactly (apk-tools 2 reads them into an int).
func CompareApkVersions(a, b string) int {
	x, y := apkTokenizer{s: a, kind: apkDigit}, apkTokenizer{s: b, kind: apkDigit}
	var xv, yv apkValue
	for x.kind == y.kind && x.kind != apkEnd && x.kind != apkInvalid && xv.compare(yv) == 0 {
		xv, yv = x.next(), y.next()
	}
	if c := xv.compare(yv); c != 0 {
		return c
	}
	if x.kind == y.kind {
		return 0
	}
	if x.kind == apkSuffix && x.peekSuffix() < 0 {
		return -1
	}
	if y.kind == apkSuffix && y.peekSuffix() < 0 {
		return 1
	}
	if x.kind > y.kind {
		return -1
	}
	return 1
}

// ValidApkVersion reports whether v is a well-formed apk version
// (apk_version_validate).
func ValidApkVersion(v string) bool {
	t := apkTokenizer{s: v, kind: apkDigit}
	for t.kind != apkEnd && t.kind != apkInvalid {
		t.next()
	}
	return t.kind == apkEnd
}

// apkKind is the kind of the token a tokenizer reads next, in apk-tools' order
// (which the comparison of a version that ran out uses).
type apkKind int

const (
	apkInvalid apkKind = iota - 1
	apkDigitOrZero
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNumber
	apkRevision
	apkEnd
)

// apkValue is one token's value: a number (digits without leading zeros, compared
// by length then text) or, for zeros, letters and suffixes, a small integer.
type apkValue struct {
	digits string
	small  int
}

func (v apkValue) compare(w apkValue) int {
	if v.digits == "" && w.digits == "" {
		return sign(v.small - w.small)
	}
	a, b := v.number(), w.number()
	switch {
	case a == "-":
		return -1 // the other has digits, so it is positive
	case b == "-":
		return 1
	case len(a) != len(b):
		return sign(len(a) - len(b))
	default:
		return strings.Compare(a, b)
	}
}

// number is the value as digits without leading zeros ("" for 0), or "-" when it
// is negative (leading zeros, a pre-release suffix, invalid).
func (v apkValue) number() string {
	switch {
	case v.digits != "":
		return v.digits
	case v.small < 0:
		return "-"
	case v.small == 0:
		return ""
	default:
		return strconv.Itoa(v.small)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// apkPreSuffixes and apkPostSuffixes are apk-tools' suffix lists, in order.
var (
	apkPreSuffixes  = []string{"alpha", "beta", "pre", "rc"}
	apkPostSuffixes = []string{"cvs", "svn", "git", "hg", "p"}
)

// apkTokenizer reads one version's tokens (get_token and next_token).
type apkTokenizer struct {
	s    string
	kind apkKind
}

// next reads the token of kind t.kind and decides the kind of the one after it.
func (t *apkTokenizer) next() apkValue {
	if t.s == "" {
		t.kind = apkEnd
		return apkValue{}
	}
	var v apkValue
	n := 0
	following := apkInvalid
	switch t.kind {
	case apkDigitOrZero:
		if t.s[0] == '0' {
			for n < len(t.s) && t.s[n] == '0' {
				n++
			}
			v.small, following = -n, apkDigit
			break
		}
		fallthrough
	case apkDigit, apkSuffixNumber, apkRevision:
		for n < len(t.s) && isASCIIDigit(t.s[n]) {
			n++
		}
		v.digits = strings.TrimLeft(t.s[:n], "0")
	case apkLetter:
		v.small, n = int(t.s[0]), 1
	case apkSuffix:
		v.small, n = suffixRank(t.s)
		if n == 0 {
			t.kind = apkInvalid
			return apkValue{small: -1}
		}
	default:
		t.kind = apkInvalid
		return apkValue{small: -1}
	}
	t.s = t.s[n:]
	switch {
	case t.s == "":
		t.kind = apkEnd
	case following != apkInvalid:
		t.kind = following
	default:
		t.advance()
	}
	return v
}

// suffixRank returns a suffix's rank (pre-release ones negative: alpha -4 … rc -1,
// post-release ones cvs 0 … p 4) and its length, 0 if s starts with none.
func suffixRank(s string) (rank, n int) {
	for i, p := range apkPreSuffixes {
		if strings.HasPrefix(s, p) {
			return i - len(apkPreSuffixes), len(p)
		}
	}
	for i, p := range apkPostSuffixes {
		if strings.HasPrefix(s, p) {
			return i, len(p)
		}
	}
	return 0, 0
}

// peekSuffix is the rank of the suffix a tokenizer of kind apkSuffix reads next
// (negative for a pre-release suffix), without consuming it.
func (t apkTokenizer) peekSuffix() int {
	return t.next().small
}

// advance decides the kind of the next token from its first character, consuming
// a separator (next_token).
func (t *apkTokenizer) advance() {
	c := t.s[0]
	kind := apkInvalid
	switch {
	case c == 0:
		t.kind = apkEnd
		return
	case (t.kind == apkDigit || t.kind == apkDigitOrZero) && 'a' <= c && c <= 'z':
		kind = apkLetter
	case t.kind == apkLetter && isASCIIDigit(c):
		kind = apkDigit
	case t.kind == apkSuffix && isASCIIDigit(c):
		kind = apkSuffixNumber
	default:
		switch c {
		case '.':
			kind = apkDigitOrZero
		case '_':
			kind = apkSuffix
		case '-':
			if len(t.s) > 1 && t.s[1] == 'r' {
				kind = apkRevision
				t.s = t.s[1:]
			}
		}
		t.s = t.s[1:]
	}
	// Tokens only move forward (digits, letter, suffixes, revision), with three
	// exceptions: another dotted component after digits, another suffix after a
	// suffix number, digits after a letter.
	if kind < t.kind && !(kind == apkDigitOrZero && t.kind == apkDigit ||
		kind == apkSuffix && t.kind == apkSuffixNumber ||
		kind == apkDigit && t.kind == apkLetter) {
		kind = apkInvalid
	}
	t.kind = kind
}

func isASCIIDigit(c byte) bool { return '0' <= c && c <= '9' }

// ApkVersionHolds reports whether "a op b" holds in apk ordering, op one of
// <, <=, =, >=, >; any other op panics (a test's mistake).
func ApkVersionHolds(a, op, b string) bool {
	c := CompareApkVersions(a, b)
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">":
		return c > 0
	}
	panic(fmt.Sprintf("unknown apk version operator %q", op))
}
