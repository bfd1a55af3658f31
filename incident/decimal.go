package incident

import "strings"

// Every number a person or a configuration file types (amounts, shares,
// availability levels) is read as a plain decimal: ASCII digits, an
// optional point and more digits, and, for amounts, commas between groups
// of three digits, the organisation's thousands separator (Currency.Format
// writes amounts that way). Nothing else is a number: no sign inside the
// digits, no exponent, no 0x/0b/0o prefix, no hexadecimal float, no
// underscores, no fraction. The digit strings are bounded before any
// arithmetic, so nothing can overflow.

// maxNumberText bounds the text of a number before it is parsed at all.
const maxNumberText = 64

// decimal is a parsed plain decimal: the whole digits without separators
// and the fraction digits without trailing zeros (either may be "0"-led).
type decimal struct {
	whole, frac string
}

// parseDecimal reads a plain decimal; grouped allows commas between
// thousands ("1,500.50"), which must then group every three digits.
func parseDecimal(s string, grouped bool) (decimal, bool) {
	if s == "" || len(s) > maxNumberText {
		return decimal{}, false
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if hasPoint && !allDigits(frac) {
		return decimal{}, false
	}
	if grouped && strings.Contains(whole, ",") {
		var ok bool
		if whole, ok = ungroup(whole); !ok {
			return decimal{}, false
		}
	}
	if !allDigits(whole) {
		return decimal{}, false
	}
	return decimal{whole: strings.TrimLeft(whole, "0"), frac: strings.TrimRight(frac, "0")}, true
}

// ungroup removes thousands separators from "1,500,000", refusing "1,5",
// "15,00" and ",500".
func ungroup(s string) (string, bool) {
	groups := strings.Split(s, ",")
	if len(groups[0]) < 1 || len(groups[0]) > 3 {
		return "", false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fixed returns the decimal scaled by 10^scale as an int64. precise is
// false when it has more than scale fraction digits, fits false when it has
// too many digits for an int64 (more than 18 once scaled); v is 0 then.
func (d decimal) fixed(scale int) (v int64, precise, fits bool) {
	if len(d.frac) > scale {
		return 0, false, true
	}
	if len(d.whole)+scale > 18 {
		return 0, true, false
	}
	for _, c := range d.whole + d.frac + strings.Repeat("0", scale-len(d.frac)) {
		v = v*10 + int64(c-'0')
	}
	return v, true, true
}
