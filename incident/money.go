package incident

import (
	"math/big"
	"strconv"
	"strings"
)

// Money is an amount in the minor unit of the organisation's currency (cents
// for USD). Money is never a float: every loss figure is computed with
// integers and rounded once, half away from zero.
type Money int64

// Currency describes how amounts are written.
type Currency struct {
	Code     string // ISO 4217, e.g. USD
	Symbol   string // e.g. $
	Exponent int    // minor-unit digits: 2 for USD, 0 for JPY
}

var currencies = map[string]Currency{
	"USD": {"USD", "$", 2}, "EUR": {"EUR", "€", 2}, "GBP": {"GBP", "£", 2},
	"JPY": {"JPY", "¥", 0}, "CHF": {"CHF", "CHF ", 2}, "AUD": {"AUD", "A$", 2},
	"CAD": {"CAD", "C$", 2}, "SEK": {"SEK", "SEK ", 2}, "NOK": {"NOK", "NOK ", 2},
	"DKK": {"DKK", "DKK ", 2}, "NZD": {"NZD", "NZ$", 2}, "INR": {"INR", "₹", 2},
}

// LookupCurrency returns the currency with the given ISO code.
func LookupCurrency(code string) (Currency, bool) {
	c, ok := currencies[strings.ToUpper(code)]
	return c, ok
}

// USD is the default currency.
var USD = currencies["USD"]

func (c Currency) unit() int64 {
	u := int64(1)
	for i := 0; i < c.Exponent; i++ {
		u *= 10
	}
	return u
}

// Major converts a whole amount in major units (dollars) to Money.
func (c Currency) Major(n int64) Money { return Money(n * c.unit()) }

// Format writes m with the currency symbol and thousands separators. Whole
// amounts omit the minor digits: $200,000 but $1,234.56.
func (c Currency) Format(m Money) string {
	neg := m < 0
	v := int64(m)
	if neg {
		v = -v
	}
	u := c.unit()
	whole, frac := v/u, v%u
	s := groupThousands(strconv.FormatInt(whole, 10))
	if frac != 0 {
		fs := strconv.FormatInt(frac, 10)
		s += "." + strings.Repeat("0", c.Exponent-len(fs)) + fs
	}
	if neg {
		return "-" + c.Symbol + s
	}
	return c.Symbol + s
}

func groupThousands(s string) string {
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// maxMoney bounds amounts: 2^53 minor units, exact in any JSON reader.
const maxMoney = 1 << 53

// Parse reads an amount typed by a person or written in configuration:
// "1500", "1,500.50", "$1500", "USD 7", "-$20", "2.5k", "1.2m". Only plain
// decimals are amounts (see parseDecimal): "0x10", "1p4", "0b101", "1e5",
// "1,5" and "1_500" are not. It never goes through a float.
func (c Currency) Parse(s string) (Money, error) {
	in := s
	s, neg := c.trimAmount(s)
	mult := 0 // powers of ten of a k or m suffix
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 3, s[:n-1]
		case 'm', 'M':
			mult, s = 6, s[:n-1]
		}
	}
	d, ok := parseDecimal(s, true)
	if !ok {
		return 0, Errorf(EINVALID, "%q is not an amount of money (try 1500, 1,500.50 or 2.5k)", clipText(in, 40))
	}
	v, precise, fits := d.fixed(c.Exponent + mult)
	switch {
	case !precise:
		return 0, Errorf(EINVALID, "%q has more decimal places than %s allows", clipText(in, 40), c.Code)
	case !fits || v > maxMoney:
		return 0, Errorf(EINVALID, "%q is too large", clipText(in, 40))
	case neg:
		return Money(-v), nil
	}
	return Money(v), nil
}

// trimAmount removes the spaces, the currency symbol or code and a minus
// sign (before or after the symbol) around an amount.
func (c Currency) trimAmount(s string) (string, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	s = strings.TrimPrefix(s, c.Symbol)
	s = strings.TrimPrefix(s, strings.TrimSpace(c.Symbol))
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), c.Code))
	if !neg && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	return s, neg
}

// clipText shortens what a user typed for an error message.
func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// roundDiv returns num/den rounded half away from zero, as Money.
func roundDiv(num, den *big.Int) Money {
	q, r := new(big.Int), new(big.Int)
	q.QuoRem(num, den, r)
	r2 := new(big.Int).Abs(r)
	r2.Lsh(r2, 1)
	if r2.Cmp(new(big.Int).Abs(den)) >= 0 {
		if (num.Sign() < 0) != (den.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return Money(q.Int64())
}
