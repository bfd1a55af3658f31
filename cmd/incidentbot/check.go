package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/incidentbot/incidentbot/incident"
)

func (a *app) check(args []string) int {
	flags := a.newFlags("check", "check [--config FILE]")
	path := flags.String("config", "", "configuration file (default ./incidentbot.yaml if present)")
	if _, err := parseFlags(flags, args, 0); err != nil {
		return flagExit(err)
	}
	s, lc, ok := a.loadSettings(*path)
	if !ok {
		return 1
	}
	source := "environment only"
	if lc.File != "" {
		source = lc.File + " and environment"
	}
	fmt.Fprintf(a.stdout, "Configuration OK (%s).\n\n", source)
	reachable := a.reportStorage(s)
	printCatalogue(a.stdout, s, a.now())
	if !reachable {
		return 1
	}
	return 0
}

// printCatalogue writes the organisation's policy, the services with their
// targets, tolerable unavailability and on-call levels, and the bands. Peaks
// are evaluated at now.
func printCatalogue(w io.Writer, s Settings, now time.Time) {
	c := &s.Catalogue
	cur := c.Currency
	fmt.Fprintf(w, "Organisation: %s, time zone %s, working hours %s %s–%s\n",
		cur.Code, c.WorkingHours.Location, workingDays(c.WorkingHours), clock(c.WorkingHours.Start), clock(c.WorkingHours.End))
	fmt.Fprintf(w, "Classification: Major from an estimated loss of %s, medium from %s; horizon %s; impact shares blocked %s, degraded %s, partial %s\n\n",
		cur.Format(c.Thresholds.High), cur.Format(c.Thresholds.Medium), shortDuration(c.Horizon),
		c.Shares.Blocked, c.Shares.Degraded, c.Shares.Partial)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tTEAM\tDOMAIN\tEXPOSURE/HOUR\tTARGET\tTOLERABLE/WEEK\tON-CALL IN/OUT OF HOURS\tPEAK")
	for _, svc := range c.Services {
		target := c.Bands.Target(svc.HourlyExposure)
		in, out := incident.OnCallLevels(target)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\n",
			svc.Name, svc.Team, dash(svc.Domain), cur.Format(svc.HourlyExposure), target,
			hms(target.TolerableUnavailability()), in, out, peakNote(c, svc, now))
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BAND\tMAX EXPOSURE/HOUR\tTARGET\tTOLERABLE/WEEK\tON-CALL IN/OUT OF HOURS")
	for i, b := range c.Bands {
		in, out := incident.OnCallLevels(b.Availability)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s/%s\n", i+1, cur.Format(b.MaxHourlyExposure), b.Availability,
			hms(b.Availability.TolerableUnavailability()), in, out)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nAbove %s per hour a service gets the top band's target.\n", cur.Format(c.Bands[len(c.Bands)-1].MaxHourlyExposure))
}

// peakNote describes the peak in force at now, else the next one, else "-".
func peakNote(c *incident.Catalogue, svc incident.Service, now time.Time) string {
	if p, ok := svc.PeakAt(now); ok {
		return fmt.Sprintf("now: %s %s → %s until %s", p.Name, c.Currency.Format(p.HourlyExposure),
			c.Bands.Target(p.HourlyExposure), p.End.UTC().Format(time.RFC3339))
	}
	var next *incident.Peak
	for i, p := range svc.Peaks {
		if p.Start.After(now) && (next == nil || p.Start.Before(next.Start)) {
			next = &svc.Peaks[i]
		}
	}
	if next != nil {
		return fmt.Sprintf("next: %s from %s (%s → %s)", next.Name, next.Start.UTC().Format(time.RFC3339),
			c.Currency.Format(next.HourlyExposure), c.Bands.Target(next.HourlyExposure))
	}
	return "-"
}

// hms writes a duration as h:mm:ss, rounded to the nearest second: 8:24:00,
// 1:40:48, 0:10:05.
func hms(d time.Duration) string {
	d = d.Round(time.Second)
	neg := d < 0
	if neg {
		d = -d
	}
	s := fmt.Sprintf("%d:%02d:%02d", d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second)
	if neg {
		return "-" + s
	}
	return s
}

// shortDuration writes 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func workingDays(wh incident.WorkingHours) string {
	var days []string
	for i := 1; i <= 7; i++ { // from Monday
		d := time.Weekday(i % 7)
		if wh.Days[d] {
			days = append(days, strings.ToLower(d.String()[:3]))
		}
	}
	return strings.Join(days, " ")
}

func clock(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
