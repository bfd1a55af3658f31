package insights

import (
	"math"
	"strconv"
)

// The charts are drawn as inline SVG by html/template from the geometry
// computed here: no JavaScript, no external resources, nothing the strict
// Content-Security-Policy would refuse. The viewBox scales to the width of
// the page, so a chart fits a 375 px phone as well as a desktop.

// SVG is a chart's drawing.
type SVG struct {
	W, H   int
	Label  string // what the chart shows, for assistive technology
	Rects  []Rect
	Lines  []Line
	Texts  []Text
	Paths  []Curve
	Legend []LegendItem
}

// Rect is a bar (segment).
type Rect struct {
	X, Y, W, H string
	Class      string
	Tip        string // the figure, shown as the bar's tooltip
}

// Line is an axis, a gridline or a reference mark.
type Line struct {
	X1, Y1, X2, Y2 string
	Class          string
}

// Text is an axis or category label.
type Text struct {
	X, Y   string
	Anchor string // start, middle, end
	Class  string
	S      string
}

// Curve is a trend line.
type Curve struct {
	D     string
	Class string
}

// LegendItem names a series.
type LegendItem struct {
	Class, Name string
}

// Series is one stacked series of a chart.
type Series struct {
	Name   string
	Class  string
	Values []float64
}

const (
	chartW    = 640
	colLeft   = 64  // room for the value axis labels
	colBottom = 28  // room for the category labels
	colTop    = 12  //
	colH      = 220 // plot height
	barLeft   = 168 // room for the category labels of horizontal bars
	barRight  = 56  // room for the value label at the end of each bar
	barRow    = 22
	barThick  = 14
)

func f(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// scale returns a top of axis and a gridline step that read well: the step
// is 1, 2, 2.5 or 5 × 10ⁿ, and there are four or five steps up to the top.
func scale(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 0.25
	}
	raw := v / 4
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * p
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*p {
			step = m * p
			break
		}
	}
	return step * math.Ceil(v/step-1e-9), step
}

// columns draws stacked columns, one per category (a week), with an
// optional trend line in the same unit. Values may be negative (stacked
// downwards from zero).
func columns(label string, cats []string, series []Series, trend []float64, axis func(float64) string) SVG {
	hi, lo := 0.0, 0.0
	for i := range cats {
		up, down := 0.0, 0.0
		for _, s := range series {
			if v := s.Values[i]; v >= 0 {
				up += v
			} else {
				down += v
			}
		}
		hi, lo = math.Max(hi, up), math.Min(lo, down)
	}
	for _, v := range trend {
		hi, lo = math.Max(hi, v), math.Min(lo, v)
	}
	top, step := scale(math.Max(hi, -lo))
	if hi < top && lo < 0 {
		top = step * math.Ceil(hi/step-1e-9)
	}
	bottom := 0.0
	if lo < 0 {
		bottom = -step * math.Ceil(-lo/step-1e-9)
	}
	if top == bottom {
		top = step
	}
	g := SVG{W: chartW, H: colTop + colH + colBottom, Label: label}
	y := func(v float64) float64 { return colTop + (top-v)/(top-bottom)*colH }
	for v := bottom; v <= top+step/2; v += step {
		g.Lines = append(g.Lines, Line{X1: f(colLeft), Y1: f(y(v)), X2: f(chartW), Y2: f(y(v)), Class: "grid"})
		g.Texts = append(g.Texts, Text{X: f(colLeft - 6), Y: f(y(v) + 4), Anchor: "end", Class: "axis", S: axis(v)})
	}
	n := len(cats)
	pitch := float64(chartW-colLeft) / float64(max(n, 1))
	width := math.Max(pitch*0.7, 1)
	every := max(1, (n+7)/8) // at most eight category labels
	for i, c := range cats {
		x := colLeft + pitch*float64(i) + (pitch-width)/2
		up, down := 0.0, 0.0
		for _, s := range series {
			v := s.Values[i]
			if v == 0 {
				continue
			}
			var y0, y1 float64
			if v > 0 {
				y0, y1 = y(up+v), y(up)
				up += v
			} else {
				y0, y1 = y(down), y(down+v)
				down += v
			}
			g.Rects = append(g.Rects, Rect{X: f(x), Y: f(y0), W: f(width), H: f(math.Max(y1-y0, 0.5)), Class: s.Class, Tip: c + ": " + s.Name + " " + axis(v)})
		}
		if i%every == 0 {
			g.Texts = append(g.Texts, Text{X: f(x + width/2), Y: f(colTop + colH + 18), Anchor: "middle", Class: "axis", S: c})
		}
	}
	g.Lines = append(g.Lines, Line{X1: f(colLeft), Y1: f(y(0)), X2: f(chartW), Y2: f(y(0)), Class: "zero"})
	if len(trend) > 0 {
		d := ""
		for i, v := range trend {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			d += cmd + f(colLeft+pitch*float64(i)+pitch/2) + " " + f(y(v)) + " "
		}
		g.Paths = append(g.Paths, Curve{D: d, Class: "trend"})
	}
	for _, s := range series {
		g.Legend = append(g.Legend, LegendItem{Class: s.Class, Name: s.Name})
	}
	return g
}

// bars draws horizontal stacked bars, one per category, with an optional
// reference mark per category (the tolerable unavailability, 100% of the
// budget) and the total written at the end of each bar.
func bars(label string, cats []string, series []Series, marks []float64, axis func(float64) string) SVG {
	hi := 0.0
	totals := make([]float64, len(cats))
	for i := range cats {
		for _, s := range series {
			totals[i] += math.Max(s.Values[i], 0)
		}
		hi = math.Max(hi, totals[i])
		if marks != nil {
			hi = math.Max(hi, marks[i])
		}
	}
	top, step := scale(hi)
	plotW := float64(chartW - barLeft - barRight)
	x := func(v float64) float64 { return barLeft + v/top*plotW }
	g := SVG{W: chartW, H: colTop + barRow*len(cats) + colBottom, Label: label}
	base := float64(colTop + barRow*len(cats))
	for v := 0.0; v <= top+step/2; v += step {
		g.Lines = append(g.Lines, Line{X1: f(x(v)), Y1: f(colTop), X2: f(x(v)), Y2: f(base), Class: "grid"})
		g.Texts = append(g.Texts, Text{X: f(x(v)), Y: f(base + 18), Anchor: "middle", Class: "axis", S: axis(v)})
	}
	for i, c := range cats {
		y := float64(colTop + barRow*i + (barRow-barThick)/2)
		g.Texts = append(g.Texts, Text{X: f(barLeft - 6), Y: f(y + barThick - 3), Anchor: "end", Class: "cat", S: clipLabel(c, 20)})
		at := 0.0
		for _, s := range series {
			v := math.Max(s.Values[i], 0)
			if v == 0 {
				continue
			}
			g.Rects = append(g.Rects, Rect{X: f(x(at)), Y: f(y), W: f(math.Max(x(at+v)-x(at), 0.5)), H: f(barThick), Class: s.Class, Tip: c + ": " + s.Name + " " + axis(v)})
			at += v
		}
		g.Texts = append(g.Texts, Text{X: f(x(at) + 4), Y: f(y + barThick - 3), Anchor: "start", Class: "val", S: axis(totals[i])})
		if marks != nil {
			g.Lines = append(g.Lines, Line{X1: f(x(marks[i])), Y1: f(y - 3), X2: f(x(marks[i])), Y2: f(y + barThick + 3), Class: "mark"})
		}
	}
	g.Lines = append(g.Lines, Line{X1: f(barLeft), Y1: f(colTop), X2: f(barLeft), Y2: f(base), Class: "zero"})
	if len(series) > 1 {
		for _, s := range series {
			g.Legend = append(g.Legend, LegendItem{Class: s.Class, Name: s.Name})
		}
	}
	return g
}

func clipLabel(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
