package incident_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/incidentbot/incidentbot/incident"
)

// The seeds of the parse tests are also the fuzz targets' seed corpus.
var (
	goodAmounts = map[string]incident.Money{
		"1500": 150_000, "1,500.50": 150_050, "$1500": 150_000, "2.5k": 250_000, "1.2m": 120_000_000,
		"0.01": 1, " USD 7 ": 700, "1,234,567": 123_456_700, "-$20": -2000, "$-20": -2000, "1.50": 150,
		"007": 700, "90,071,992,547,409.92": 1 << 53, "12.5K": 1_250_000,
	}
	badAmounts = []string{
		"", "abc", "1.001", "1e5", "--1", "1/2", "$", "0x10", "0X10", "1p4", "0b101", "0o17", "1,5", "15,00",
		",500", "1,,500", "1_500", "1.", ".5", "+5", "1.5.5", "0x1p-1", "١٢٣", "1 500", "Inf", "NaN",
		"90,071,992,547,409.93", "184467440737095517", strings.Repeat("9", 65), "1.2.3k", "k", "1km",
	}
	goodShares = map[string]incident.Share{"30%": 3000, "30": 3000, "2.5%": 250, "100%": 10000, "0%": 0, "2.50%": 250, "0.01%": 1}
	badShares  = []string{
		"101%", "-1", "x", "1.234", "184467440737095517%", "100000000000000000", "0x1p-1", "0x10%", "1e2%",
		"1,5%", "+5%", "%", "50%%", "100.01%", "99999999999999999999%", " 5 0%",
	}
	goodLevels = map[string]incident.Availability{"99.9": 99_900, "95": 95_000, "99.95%": 99_950, "99.999": 99_999, "0.001": 1}
	badLevels  = []string{
		"100", "0", "100.5", "-1", "abc", "99.9999", "18446744073709552", "18446744073709552%", "0x63",
		"9.9e1", "99,9", "1_0", "", "%", "99.9%%",
	}
	goodFractions = map[string]incident.Share{
		"1.0": 10000, "1": 10000, "0.5": 5000, "0.1": 1000, "0": 0, "0.0001": 1, "10%": 1000, "2.5%": 250, "100%": 10000,
		"0.50000": 5000,
	}
	badFractions = []string{
		"", "1.5", "-0.1", "0.00001", "1e-1", "1/2", "half", "101%", "0x1p-1", "0x.8", "0b1", "1p0",
		"100000000000000000", "0,5", ".5",
	}
)

func TestAmountsArePlainDecimals(t *testing.T) {
	usd := incident.USD
	for in, want := range goodAmounts {
		if got, err := usd.Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range badAmounts {
		if got, err := usd.Parse(bad); incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("Parse(%q) = %d, %v; want an invalid-input error", bad, got, err)
		}
	}
	jpy, _ := incident.LookupCurrency("JPY")
	if got, err := jpy.Parse("¥1,500"); err != nil || got != 1500 {
		t.Errorf("JPY Parse = %d, %v", got, err)
	}
	if _, err := jpy.Parse("1.5"); err == nil || !strings.Contains(err.Error(), "decimal places") {
		t.Errorf("JPY 1.5: %v", err)
	}
}

func TestSharesAndLevelsAreBoundedDecimals(t *testing.T) {
	for in, want := range goodShares {
		if got, err := incident.ParseShare(in); err != nil || got != want {
			t.Errorf("ParseShare(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range badShares {
		if got, err := incident.ParseShare(bad); incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("ParseShare(%q) = %d, %v; want an invalid-input error", bad, got, err)
		}
	}
	if _, err := incident.ParseShare("184467440737095517%"); err == nil || !strings.Contains(err.Error(), "more than 100%") {
		t.Errorf("an overflowing share: %v", err)
	}
	for in, want := range goodLevels {
		if got, err := incident.ParseAvailability(in); err != nil || got != want {
			t.Errorf("ParseAvailability(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range badLevels {
		if got, err := incident.ParseAvailability(bad); incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("ParseAvailability(%q) = %d, %v; want an invalid-input error", bad, got, err)
		}
	}
	if _, err := incident.ParseAvailability("18446744073709552"); err == nil || !strings.Contains(err.Error(), "outside (0, 100)") {
		t.Errorf("an overflowing level: %v", err)
	}
	for in, want := range goodFractions {
		if got, err := incident.ParseFraction(in); err != nil || got != want {
			t.Errorf("ParseFraction(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range badFractions {
		if got, err := incident.ParseFraction(bad); incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("ParseFraction(%q) = %d, %v; want an invalid-input error", bad, got, err)
		}
	}
}

// plainAmount reports whether what Parse accepted is made of digits,
// separators, a sign, a k/m suffix and the currency's symbol or code only.
func plainAmount(c incident.Currency, s string) bool {
	s = strings.ReplaceAll(s, c.Code, "")
	s = strings.ReplaceAll(s, strings.TrimSpace(c.Symbol), "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	return strings.Trim(s, "0123456789,.-kKmM") == ""
}

func FuzzParseAmount(f *testing.F) {
	for in := range goodAmounts {
		f.Add(in)
	}
	for _, in := range badAmounts {
		f.Add(in)
	}
	jpy, _ := incident.LookupCurrency("JPY")
	f.Fuzz(func(t *testing.T, in string) {
		for _, c := range []incident.Currency{incident.USD, jpy} {
			m, err := c.Parse(in)
			if err != nil {
				if incident.ErrorCode(err) != incident.EINVALID {
					t.Fatalf("Parse(%q): %v is not an invalid-input error", in, err)
				}
				continue
			}
			if m > 1<<53 || m < -(1<<53) {
				t.Fatalf("Parse(%q) = %d, beyond 2^53", in, m)
			}
			if !plainAmount(c, in) {
				t.Fatalf("Parse(%q) = %d: not a plain decimal", in, m)
			}
			if back, err := c.Parse(c.Format(m)); err != nil || back != m {
				t.Fatalf("Parse(Format(%d) = %q) = %d, %v", m, c.Format(m), back, err)
			}
		}
	})
}

func FuzzParseShare(f *testing.F) {
	for in := range goodShares {
		f.Add(in)
	}
	for _, in := range badShares {
		f.Add(in)
	}
	for in := range goodFractions {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for name, parse := range map[string]func(string) (incident.Share, error){"ParseShare": incident.ParseShare, "ParseFraction": incident.ParseFraction} {
			sh, err := parse(in)
			if err != nil {
				if incident.ErrorCode(err) != incident.EINVALID {
					t.Fatalf("%s(%q): %v is not an invalid-input error", name, in, err)
				}
				continue
			}
			if sh < 0 || sh > incident.FullShare {
				t.Fatalf("%s(%q) = %d, outside 0–100%%", name, in, sh)
			}
			if back, err := incident.ParseShare(sh.String()); err != nil || back != sh {
				t.Fatalf("ParseShare(%q) = %d, %v; want %d", sh.String(), back, err, sh)
			}
		}
	})
}

func FuzzParseAvailability(f *testing.F) {
	for in := range goodLevels {
		f.Add(in)
	}
	for _, in := range badLevels {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := incident.ParseAvailability(in)
		if err != nil {
			if incident.ErrorCode(err) != incident.EINVALID {
				t.Fatalf("ParseAvailability(%q): %v is not an invalid-input error", in, err)
			}
			return
		}
		if a <= 0 || a >= 100_000 {
			t.Fatalf("ParseAvailability(%q) = %d, outside (0, 100)", in, a)
		}
		if back, err := incident.ParseAvailability(a.String()); err != nil || back != a {
			t.Fatalf("ParseAvailability(%q) = %d, %v; want %d", a.String(), back, err, a)
		}
	})
}
