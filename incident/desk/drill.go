package desk

import (
	"slices"
	"strings"
)

// withoutPagerDuty drops the PagerDuty jobs: a drill never pages PagerDuty
// nor syncs to it (notes, acknowledgements, resolution, incident managers).
func withoutPagerDuty(jobs []Job) []Job {
	return slices.DeleteFunc(jobs, func(j Job) bool { return strings.HasPrefix(j.Kind, "pagerduty.") })
}
