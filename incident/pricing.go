package incident

import (
	"math/big"
	"sort"
	"strings"
	"time"
)

var (
	bpHourNs = new(big.Int).Mul(big.NewInt(int64(FullShare)), big.NewInt(int64(time.Hour)))
)

// step says that from at on, a service's share of its exposure is share
// while on (attached, not ended, the incident open). A service's history is
// a sorted list of steps; before the first it is off.
type step struct {
	at    time.Time
	share Share
	on    bool
}

func (s step) effective() Share {
	if !s.on {
		return 0
	}
	return s.share
}

// track is one service of an incident as the replay prices it.
type track struct {
	svc      Service
	primary  bool
	from     int64 // merged in from incident #from; 0 for the incident's own
	impact   Impact
	active   bool     // attached and not ended
	sum      *big.Int // integrated impact loss, exact
	costs    Money    // costs attributed to this service
	openNs   int64    // time it was on
	joinedAt time.Time
	endedAt  time.Time
	reason   string
	hist     []step
}

// lossAcc integrates Σ exposure × share over an incident's services exactly,
// in minor units × basis points × nanoseconds, and watches for the estimate
// crossing the high threshold.
type lossAcc struct {
	p       Policy
	tracks  []*track // the primary first, then in the order they joined
	sum     *big.Int // Σ of the tracks' sums
	costs   Money
	running bool // open: the loss clock runs
	openNs  int64
	// classification
	major, recordedMajor, downgraded, security bool
	upgradedAt                                 time.Time
}

func newLossAcc(p Policy, inc *Incident) *lossAcc {
	a := &lossAcc{p: p, sum: new(big.Int), running: true}
	a.tracks = []*track{{svc: inc.Service, primary: true, active: true, sum: new(big.Int),
		joinedAt: inc.StartedAt, impact: Impact{Level: ImpactNone}}}
	return a
}

func (a *lossAcc) primary() *track { return a.tracks[0] }

// find returns the track of the named service ("" is the primary), or nil.
func (a *lossAcc) find(name string) *track {
	if name == "" {
		return a.primary()
	}
	for _, tr := range a.tracks {
		if strings.EqualFold(tr.svc.Name, name) {
			return tr
		}
	}
	return nil
}

func (a *lossAcc) on(tr *track) bool { return a.running && tr.active }

func (a *lossAcc) trackRate(tr *track, t time.Time) *big.Int {
	if !a.on(tr) || tr.impact.Share == 0 {
		return new(big.Int)
	}
	return new(big.Int).Mul(big.NewInt(int64(tr.svc.ExposureAt(t))), big.NewInt(int64(tr.impact.Share)))
}

// rateNum is the loss rate at t in minor units × basis points per hour.
func (a *lossAcc) rateNum(t time.Time) *big.Int {
	r := new(big.Int)
	for _, tr := range a.tracks {
		r.Add(r, a.trackRate(tr, t))
	}
	return r
}

// estimateNum is the estimate at t in exact units, given sum up to t.
func (a *lossAcc) estimateNum(t time.Time) *big.Int {
	n := new(big.Int).Mul(a.rateNum(t), big.NewInt(int64(a.p.Horizon)))
	n.Add(n, a.sum)
	return n.Add(n, new(big.Int).Mul(big.NewInt(int64(a.costs)), bpHourNs))
}

func (a *lossAcc) eligible() bool { return !a.major && !a.downgraded && a.p.Thresholds.High > 0 }

func (a *lossAcc) threshold() *big.Int {
	return new(big.Int).Mul(big.NewInt(int64(a.p.Thresholds.High)), bpHourNs)
}

// check upgrades at instant t if the estimate is at or over the threshold.
func (a *lossAcc) check(t time.Time) {
	if a.eligible() && a.estimateNum(t).Cmp(a.threshold()) >= 0 {
		a.major, a.upgradedAt = true, t
	}
}

// exposureChanges returns the instants in (from, to) at which the exposure
// of a service that is on may change, sorted and distinct.
func (a *lossAcc) exposureChanges(from, to time.Time) []time.Time {
	var ts []time.Time
	for _, tr := range a.tracks {
		if a.on(tr) {
			ts = append(ts, tr.svc.exposureChanges(from, to)...)
		}
	}
	return distinctTimes(ts)
}

func distinctTimes(ts []time.Time) []time.Time {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	out := ts[:0]
	for _, t := range ts {
		if len(out) == 0 || !out[len(out)-1].Equal(t) {
			out = append(out, t)
		}
	}
	return out
}

// advance integrates from..to, splitting at peak boundaries and finding the
// exact instant the estimate crosses the high threshold, if it does.
func (a *lossAcc) advance(from, to time.Time) {
	if !to.After(from) {
		return
	}
	if a.running {
		d := int64(to.Sub(from))
		a.openNs += d
		for _, tr := range a.tracks {
			if tr.active {
				tr.openNs += d
			}
		}
	}
	cuts := append(a.exposureChanges(from, to), to)
	start := from
	for _, end := range cuts {
		a.check(start)
		d := big.NewInt(int64(end.Sub(start)))
		r := new(big.Int)
		for _, tr := range a.tracks {
			r.Add(r, a.trackRate(tr, start))
		}
		a.findCrossing(start, r, d)
		for _, tr := range a.tracks {
			tr.sum.Add(tr.sum, new(big.Int).Mul(a.trackRate(tr, start), d))
		}
		a.sum.Add(a.sum, new(big.Int).Mul(r, d))
		start = end
	}
}

// findCrossing upgrades at the first instant within d of start at which the
// estimate, growing at rate r, reaches the high threshold.
func (a *lossAcc) findCrossing(start time.Time, r, d *big.Int) {
	if !a.eligible() || r.Sign() <= 0 {
		return
	}
	gap := new(big.Int).Sub(a.threshold(), a.estimateNum(start))
	// ceil(gap / r) nanoseconds after start
	q, m := new(big.Int).QuoRem(gap, r, new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if q.Cmp(d) <= 0 {
		a.major, a.upgradedAt = true, start.Add(time.Duration(q.Int64()))
	}
}

// mark records each service's share from t on in its history, where it
// changed.
func (a *lossAcc) mark(t time.Time) {
	for _, tr := range a.tracks {
		s := step{at: t, share: tr.impact.Share, on: a.on(tr)}
		if n := len(tr.hist); n > 0 {
			last := tr.hist[n-1]
			if last.on == s.on && last.share == s.share {
				continue
			}
			if last.at.Equal(t) {
				tr.hist[n-1] = s
				continue
			}
		}
		tr.hist = append(tr.hist, s)
	}
}

// attach adds a service to the incident, or brings back one that ended.
func (a *lossAcc) attach(svc Service, imp Impact, at time.Time) *track {
	tr := a.find(svc.Name)
	if tr == nil {
		tr = &track{svc: svc, sum: new(big.Int), joinedAt: at}
		a.tracks = append(a.tracks, tr)
	}
	tr.active, tr.impact, tr.endedAt, tr.reason = true, imp, time.Time{}, ""
	return tr
}

// detach ends a service's impact.
func (a *lossAcc) detach(name string, at time.Time, reason string) {
	if tr := a.find(name); tr != nil && !tr.primary {
		tr.active, tr.impact, tr.endedAt, tr.reason = false, Impact{Level: ImpactNone}, at, reason
	}
}

// absorb folds in the pricing of incident number, merged into this one at
// m. Where both incidents priced the same service at the same time, the
// higher share counts, so no minute of loss is counted twice.
func (a *lossAcc) absorb(b *lossAcc, m time.Time, number int64) {
	for _, tb := range b.tracks {
		ta := a.find(tb.svc.Name)
		if ta == nil {
			ta = &track{svc: tb.svc, sum: new(big.Int), joinedAt: tb.joinedAt, from: number,
				impact: Impact{Level: ImpactNone}, endedAt: tb.endedAt, reason: tb.reason}
			a.tracks = append(a.tracks, ta)
		}
		extra, ns, hist := overlap(ta.hist, tb.hist, tb.svc, m)
		ta.sum.Add(ta.sum, extra)
		a.sum.Add(a.sum, extra)
		ta.openNs += ns
		ta.hist = hist
		ta.costs += tb.costs
		if tb.joinedAt.Before(ta.joinedAt) {
			ta.joinedAt = tb.joinedAt
		}
		if b.on(tb) && (!ta.active || tb.impact.Share > ta.impact.Share) {
			ta.active, ta.impact, ta.endedAt, ta.reason = true, tb.impact, time.Time{}, ""
		}
	}
	a.costs += b.costs
	a.downgraded = false
	a.security = a.security || b.security
}

// overlap compares two histories of one service up to m. It returns the
// loss hb adds where its share is higher than ha's (exact units), the time
// hb was on while ha was off, and the history of the higher of the two.
func overlap(ha, hb []step, svc Service, m time.Time) (*big.Int, int64, []step) {
	var cuts []time.Time
	for _, h := range [][]step{ha, hb} {
		for _, s := range h {
			if s.at.Before(m) {
				cuts = append(cuts, s.at)
			}
		}
	}
	cuts = append(distinctTimes(cuts), m)
	extra := new(big.Int)
	var ns int64
	var out []step
	for i := 0; i+1 < len(cuts); i++ {
		s, e := cuts[i], cuts[i+1]
		va, vb := stepAt(ha, s), stepAt(hb, s)
		if vb.on && vb.share > va.effective() {
			extra.Add(extra, exposureIntegral(svc, s, e, vb.share-va.effective()))
		}
		if vb.on && !va.on {
			ns += int64(e.Sub(s))
		}
		hi := step{at: s, on: va.on || vb.on, share: max(va.effective(), vb.effective())}
		if n := len(out); n == 0 || out[n-1].on != hi.on || out[n-1].share != hi.share {
			out = append(out, hi)
		}
	}
	return extra, ns, out
}

// stepAt is the step in force at t: the last one at or before t.
func stepAt(h []step, t time.Time) step {
	i := sort.Search(len(h), func(i int) bool { return h[i].at.After(t) })
	if i == 0 {
		return step{}
	}
	return h[i-1]
}

// exposureIntegral is ∫ exposure × share over [from, to), in exact units.
func exposureIntegral(svc Service, from, to time.Time, share Share) *big.Int {
	sum := new(big.Int)
	start := from
	for _, end := range append(svc.exposureChanges(from, to), to) {
		r := new(big.Int).Mul(big.NewInt(int64(svc.ExposureAt(start))), big.NewInt(int64(share)))
		sum.Add(sum, r.Mul(r, big.NewInt(int64(end.Sub(start)))))
		start = end
	}
	return sum
}

// effectiveness computes the playbook's financial loss protection
// effectiveness from the exact integrated loss, with one rounding per figure.
func effectiveness(sum *big.Int, openNs int64, target Availability, actual Money) *Effectiveness {
	tol := target.TolerableUnavailability()
	// average rate per hour = loss ÷ hours open = sum / (bp × openNs)
	avg := roundDiv(sum, new(big.Int).Mul(big.NewInt(int64(FullShare)), big.NewInt(openNs)))
	// loss at tolerable = average rate × tolerable = sum × tol / (bp × hour × openNs)
	num := new(big.Int).Mul(sum, big.NewInt(int64(tol)))
	den := new(big.Int).Mul(bpHourNs, big.NewInt(openNs))
	atTol := roundDiv(num, den)
	e := &Effectiveness{
		TolerableUnavailability: tol,
		AverageRate:             avg,
		LossAtTolerable:         atTol,
		ActualLoss:              actual,
		Protected:               atTol - actual,
	}
	e.Ratio = ratio(e.Protected, atTol)
	return e
}

func ratio(protected, atTol Money) Share {
	if atTol == 0 {
		return 0
	}
	return Share(roundDiv(big.NewInt(int64(protected)*int64(FullShare)), big.NewInt(int64(atTol))))
}
