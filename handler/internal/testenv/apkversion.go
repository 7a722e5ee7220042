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

// ApkOrderings are known apk version orderings, "a op b", taken from apk-tools' own
// test table, test/version.data of github.com/alpinelinux/apk-tools (read at commit
// 50ab589e9a5a84592ee4c0ac5a49506bb6c552fc), one or more lines for each rule the
// comparator implements; the last group are the fixture's own versions against
// fixes in the shared Alpine secdb data, ordered by hand from the same rules.
var ApkOrderings = []string{
	// digits, dotted components, components missing
	"2.34 > 0.1.0_alpha", "1.0.0 < 1.0.1", "1.2.1 > 1.2", "0.12.3 > 0.12", "1.0 > 0.99.3.20040818",
	"20050718-r2 > 3.9.8-r5", "2.6.15.20060110 < 2.6.16.20060323", "7.0.17 < 7.0.174", "1.2.12.1 < 1.2.13",
	"0.20070118 < 0.20070207_rc1", "8.1.2.20050715-r1 < 20030215", "1.0.0 = 1.0.0",
	// leading zeros: first component numeric, later ones zeros first
	"006 > 1.0.0", "013 < 014-r1", "021109-r3 < 20060512", "087-r1 < 103", "1.06-r6 < 006",
	"1.02.07 < 1.02.10-r1", "2.02.06 < 2.02.10", "1.2.07.8 < 1.2.12.04", "1.2.12.04 < 1.2.12.05",
	"0.01 < 0.06", "1.07-r1 < 1.07.5",
	// letters
	"2.3.0b-r1 < 2.3.0b-r2", "1.1a < 1.3a", "1.7 < 1.7b", "2.5.1-r8 < 2.5.1a-r1", "0.15.1b < 1.0.1",
	"0.9.8c-r1 < 0.9.8d", "1.6d > 1.2.07.8", "2.12r-r4 < 2.12r-r5", "0.59s-r11 < 0.65",
	// pre-release suffixes rank below the release, in order, numbered
	"1.1 > 1.1_alpha1", "1.3_alpha < 1.3_alpha2", "0.1.0_alpha2 > 0.1.0_alpha", "0.7.0 < 0.8_beta1",
	"0.13_beta4 < 0.13_beta5", "0.10.0 < 0.10.1_rc1", "2.0.0_rc3-r1 > 1.5", "1.00_beta2 > 0.9.2",
	"3.9_pre20060124 > 0.01", "2.1_pre20 < 2.1_pre26", "0.1_pre20060810 < 0.1_pre20060817",
	"0.1.0_alpha_pre2 < 0.1.0_alpha", "1.3_pre1-r1 < 1.3.2",
	// numbers wider than 32 bits
	"1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0",
	// post-release suffixes rank above the release
	"3.1_p16 < 3.1_p17", "4.2.52_p2-r1 < 4.2.52_p4-r2", "1.8.5 < 1.8.5_p2", "4.5_p1 < 4.5_p1-r1",
	"1.6.8_p12-r1 > 1.6.8_p9-r2", "1.0_p10-r0 > 1.0_p9-r0", "4.3_p2-r1 < 4.3_p2-r5",
	// revisions
	"1.0.4-r3 < 1.0.4-r4", "2.2.39-r1 > 1.0.4-r3", "1.3.5-r10 > 1.3.5-r8", "104-r11 > 104-r9",
	"1.2.2-r1 > 1.2.2", "2.8.9-r1 > 2.8.9", "1.23 < 1.23-r1", "0.10.0-r1 > 0.10.0", "1.3-r0 < 1.3.1-r0",
	"2.18.3-r10 > 1.05-r18", "5.2.1-r3 > 0.11.3",
	// invalid versions order by where they stop, as apk-tools does
	"1.0 < 1.0bc", "23_foo > 4_beta",
	// the fixture's versions against the shared data's fixes
	"1.0.2h-r1 < 1.0.2h-r2", "1.0.2h-r1 > 1.0.2h-r0", "1.0.2h-r1 < 1.0.2i-r0", "1.0.2h-r1 < 1.0.2k-r0",
	"1.1.14-r10 < 1.1.14-r11", "1.1.14-r10 > 1.1.14-r9", "1.24.2-r9 < 1.24.2-r10", "1.24.2-r9 < 1.24.2-r11",
	"1.2.8-r2 < 1.2.11-r0", "2.6.7-r0 < 2.6.10-r0",
}
