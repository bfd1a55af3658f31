package review

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	htemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	ttemplate "text/template"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/incidentbot/incidentbot/templates"
)

// Template names. Every template lives in the review/ namespace: a file
// review/X in the embedded set is the template "review/X", and the blocks it
// defines are named "review/…" too.
const (
	tmplMarkdown = "review/review.md.tmpl"
	tmplBody     = "review/body"
	tmplPage     = "review/page.html.tmpl"
	tmplIndex    = "review/index.html.tmpl"
	tmplStyle    = "review/style.css"
	tmplSummary  = "review/draft/summary"
	tmplImpact   = "review/draft/impact"
	tmplTimeline = "review/draft/timeline"
	promptPrefix = "review/prompt/"
)

// DefaultBasePath is where the review site is mounted.
const DefaultBasePath = "/reviews/"

// Options configure a Renderer.
type Options struct {
	// TemplatesDir, when set, overrides embedded templates with files of the
	// same name found there: review/page.html.tmpl is looked for first as
	// <dir>/review/page.html.tmpl, then as <dir>/page.html.tmpl. An override
	// file is parsed after the embedded one, so it may redefine only some
	// blocks ({{define "review/prompt/narrative"}}…{{end}}) and keep the rest.
	// Files with other names are ignored.
	TemplatesDir string
	// BasePath is the path (or absolute URL) the review site is served
	// under; links are built from it. Default "/reviews/".
	BasePath string
	// Location is the time zone dates are written in; default UTC.
	Location *time.Location
}

// Renderer renders reviews from a set of templates. It is safe for
// concurrent use.
type Renderer struct {
	opts      Options
	md        *ttemplate.Template
	html      *htemplate.Template
	styleHash string
	prompts   map[SectionID]string
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// HTML converts review Markdown to HTML with goldmark and its GFM extension
// (tables, strikethrough, autolinks, task lists). Raw HTML is omitted and
// dangerous link destinations (javascript:, vbscript:, file:, data: other
// than images) are emptied: goldmark's safe defaults, never WithUnsafe.
func HTML(md string) (htemplate.HTML, error) {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(md), &b); err != nil {
		return "", fmt.Errorf("review: rendering markdown: %w", err)
	}
	return htemplate.HTML(b.String()), nil // #nosec G203 -- goldmark in safe mode
}

var textFuncs = ttemplate.FuncMap{
	"text":  escapeText,
	"cell":  cell,
	"quote": quote,
}

var htmlFuncs = htemplate.FuncMap{
	"plural": Plural,
}

// NewRenderer loads the embedded templates, then the overrides found in
// o.TemplatesDir.
func NewRenderer(o Options) (*Renderer, error) {
	if o.BasePath == "" {
		o.BasePath = DefaultBasePath
	}
	if !strings.HasSuffix(o.BasePath, "/") {
		o.BasePath += "/"
	}
	if !strings.HasPrefix(o.BasePath, "/") && !strings.HasPrefix(o.BasePath, "https://") && !strings.HasPrefix(o.BasePath, "http://") {
		return nil, fmt.Errorf("review: base path %q must start with / or http(s)://", o.BasePath)
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	names, err := fs.Glob(templates.Review, "review/*.tmpl")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	if o.TemplatesDir != "" {
		st, err := os.Stat(o.TemplatesDir)
		if err != nil {
			return nil, fmt.Errorf("review: templates directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("review: templates directory %s is not a directory", o.TemplatesDir)
		}
	}
	md := ttemplate.New("review").Funcs(textFuncs).Option("missingkey=error")
	ht := htemplate.New("review").Funcs(htmlFuncs).Option("missingkey=error")
	type source struct{ name, origin, text string }
	var srcs []source
	for _, n := range names {
		b, err := templates.Review.ReadFile(n)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{n, "embedded " + n, string(b)})
	}
	if o.TemplatesDir != "" {
		for _, n := range names {
			base := path.Base(n)
			for _, p := range []string{filepath.Join(o.TemplatesDir, filepath.FromSlash(n)), filepath.Join(o.TemplatesDir, base)} {
				b, err := os.ReadFile(p)
				if err == nil {
					srcs = append(srcs, source{n, p, string(b)})
					break
				}
				if !os.IsNotExist(err) {
					return nil, fmt.Errorf("review: template override: %w", err)
				}
			}
		}
	}
	for _, s := range srcs {
		var err error
		switch {
		case strings.HasSuffix(s.name, ".md.tmpl"):
			_, err = md.New(s.name).Parse(s.text)
		case strings.HasSuffix(s.name, ".html.tmpl"):
			_, err = ht.New(s.name).Parse(s.text)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("review: template %s: %w", s.origin, err)
		}
	}
	for _, n := range []string{tmplMarkdown, tmplBody, tmplSummary, tmplImpact, tmplTimeline} {
		if md.Lookup(n) == nil {
			return nil, fmt.Errorf("review: template %s is not defined", n)
		}
	}
	for _, n := range []string{tmplPage, tmplIndex, tmplStyle} {
		if ht.Lookup(n) == nil {
			return nil, fmt.Errorf("review: template %s is not defined", n)
		}
	}
	rd := &Renderer{opts: o, md: md, html: ht, prompts: map[SectionID]string{}}
	for _, s := range sections {
		if t := md.Lookup(promptPrefix + string(s.ID)); t != nil {
			var b strings.Builder
			if err := t.Execute(&b, nil); err != nil {
				return nil, fmt.Errorf("review: template %s%s: %w", promptPrefix, s.ID, err)
			}
			rd.prompts[s.ID] = strings.TrimSpace(b.String())
		}
	}
	var css bytes.Buffer
	if err := ht.ExecuteTemplate(&css, tmplStyle, nil); err != nil {
		return nil, fmt.Errorf("review: template %s: %w", tmplStyle, err)
	}
	sum := sha256.Sum256(css.Bytes())
	rd.styleHash = "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	return rd, nil
}

var defaultRenderer = sync.OnceValues(func() (*Renderer, error) { return NewRenderer(Options{}) })

// Default is the renderer of the embedded templates with default options.
func Default() (*Renderer, error) { return defaultRenderer() }

// ContentSecurityPolicy is a strict policy the review site can send with the
// pages: no scripts at all, the one inline style block allowed by its hash
// (recomputed from the templates in use), and images from the site itself
// only, so that an image written into a review cannot tell a third party
// who reads it and when.
func (rd *Renderer) ContentSecurityPolicy() string {
	return "default-src 'none'; style-src '" + rd.styleHash + "'; img-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// Prompt is the question shown for a section nobody has written yet: what
// the Slack adapter can show as a placeholder. Generated sections have none.
func (rd *Renderer) Prompt(id SectionID) string { return rd.prompts[id] }

// execText runs a Markdown template into a string.
func (rd *Renderer) execText(name string, data any) (string, error) {
	var b strings.Builder
	if err := rd.md.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("review: template %s: %w", name, err)
	}
	return b.String(), nil
}

// docView is what the Markdown templates see.
type docView struct {
	Number    int64
	Title     string
	Service   string
	Team      string
	Class     string
	Draft     bool
	Published string
	Private   bool
	Sections  []sectionView
	Accounts  []accountView
	Awaiting  []string // names of participants who have not given an account
	Actions   []actionView
	Prompts   map[string]string // by section ID
	Review    *Review
}

type sectionView struct {
	ID     SectionID
	Title  string
	Body   string // Markdown; empty when nobody has written it
	Prompt string // shown while a draft section is empty
}

type accountView struct {
	Name, Saw, Did, Surprised, HarderEasier string
}

type actionView struct {
	ID, Text, Owner string
	Done            bool
	Created, DoneAt string
	LeadTime        string
}

func (rd *Renderer) date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(rd.opts.Location).Format("2 January 2006")
}

func (rd *Renderer) view(r *Review) docView {
	v := docView{
		Number: r.Number, Title: r.Title, Service: r.Service, Team: r.Team,
		Class: r.Class.Title(), Draft: !r.Published(), Private: r.Private, Review: r,
		Prompts: make(map[string]string, len(rd.prompts)),
	}
	for id, p := range rd.prompts {
		v.Prompts[string(id)] = p
	}
	if r.Published() {
		v.Published = rd.date(r.PublishedAt)
	}
	for _, s := range sections {
		body := strings.TrimSpace(r.Sections[s.ID])
		switch s.ID {
		case SectionAccounts:
			if !v.Draft && len(r.accounts()) == 0 {
				continue
			}
		case SectionActions:
			if !v.Draft && len(r.Actions) == 0 {
				continue
			}
		default:
			if !v.Draft && body == "" {
				continue // published: sections nobody wrote are left out
			}
		}
		v.Sections = append(v.Sections, sectionView{ID: s.ID, Title: s.Title, Body: body, Prompt: rd.prompts[s.ID]})
	}
	given := map[string]bool{}
	for _, a := range r.accounts() {
		given[a.User] = true
		v.Accounts = append(v.Accounts, accountView{
			Name: r.Name(a.User), Saw: strings.TrimSpace(a.Saw), Did: strings.TrimSpace(a.Did),
			Surprised: strings.TrimSpace(a.Surprised), HarderEasier: strings.TrimSpace(a.HarderEasier),
		})
	}
	for _, p := range r.Participants {
		if !given[p] {
			v.Awaiting = append(v.Awaiting, r.Name(p))
		}
	}
	for _, a := range r.Actions {
		av := actionView{ID: a.ID, Text: oneLine(a.Text), Done: a.Done(), Created: rd.date(a.CreatedAt)}
		if a.Owner != "" {
			av.Owner = r.Name(a.Owner)
		}
		if lt, ok := a.LeadTime(); ok {
			av.DoneAt, av.LeadTime = rd.date(a.DoneAt), days(lt)
		}
		v.Actions = append(v.Actions, av)
	}
	return v
}

// Markdown renders the whole review as a Markdown document.
func (rd *Renderer) Markdown(r *Review) (string, error) {
	if r == nil {
		return "", fmt.Errorf("review: no review to render")
	}
	return rd.execText(tmplMarkdown, rd.view(r))
}

// Body renders the review's sections as Markdown, without the title and
// metadata the page shows itself.
func (rd *Renderer) Body(r *Review) (string, error) {
	if r == nil {
		return "", fmt.Errorf("review: no review to render")
	}
	return rd.execText(tmplBody, rd.view(r))
}

// pageView is what page.html.tmpl sees.
type pageView struct {
	Number       int64
	Title        string
	Service      string
	Team         string
	Class        string
	Draft        bool
	Private      bool
	Drill        bool // a Chaos Day review
	Published    string
	PublishedISO string
	Body         htemplate.HTML
	Readers      int
	Base         string
}

// RenderPage writes the HTML page of one review with its readers count. It
// renders whatever review it is given (drafts too, marked as such): the
// server decides who may see what.
func (rd *Renderer) RenderPage(w io.Writer, r *Review, readers int) error {
	body, err := rd.Body(r)
	if err != nil {
		return err
	}
	h, err := HTML(body)
	if err != nil {
		return err
	}
	v := pageView{
		Number: r.Number, Title: r.Title, Service: r.Service, Team: r.Team, Class: r.Class.Title(),
		Draft: !r.Published(), Private: r.Private, Drill: r.Drill, Body: h, Readers: readers, Base: rd.opts.BasePath,
	}
	if r.Published() {
		v.Published = rd.date(r.PublishedAt)
		v.PublishedISO = r.PublishedAt.UTC().Format(time.RFC3339)
	}
	return rd.execHTML(w, tmplPage, v)
}

// IndexFilter selects the reviews the index lists.
type IndexFilter struct {
	Service string // "" for every service
	Team    string // "" for every team
	// The index lists published, non-private reviews unless these are set.
	IncludeDrafts  bool
	IncludePrivate bool
}

type indexView struct {
	Base     string
	Filter   IndexFilter
	Services []option
	Teams    []option
	Reviews  []indexItem
	Filtered bool
}

type option struct {
	Value    string
	Selected bool
}

type indexItem struct {
	Number       int64
	Title        string
	Service      string
	Team         string
	Class        string
	Draft        bool
	Drill        bool // a Chaos Day review
	Published    string
	PublishedISO string
	Readers      int
}

// RenderIndex writes the list of reviews, newest first, with filters by
// service and team (a plain GET form: no JavaScript).
func (rd *Renderer) RenderIndex(w io.Writer, reviews []*Review, f IndexFilter) error {
	v := indexView{Base: rd.opts.BasePath, Filter: f, Filtered: f.Service != "" || f.Team != ""}
	services, teams := map[string]bool{}, map[string]bool{}
	var list []*Review
	for _, r := range reviews {
		if r == nil || (!r.Published() && !f.IncludeDrafts) || (r.Private && !f.IncludePrivate) {
			continue
		}
		services[r.Service], teams[r.Team] = true, true
		if (f.Service == "" || strings.EqualFold(f.Service, r.Service)) && (f.Team == "" || strings.EqualFold(f.Team, r.Team)) {
			list = append(list, r)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].PublishedAt, list[j].PublishedAt
		if a.IsZero() {
			a = list[i].DraftedAt
		}
		if b.IsZero() {
			b = list[j].DraftedAt
		}
		if !a.Equal(b) {
			return a.After(b)
		}
		return list[i].Number > list[j].Number
	})
	for _, s := range sortedKeys(services) {
		v.Services = append(v.Services, option{s, strings.EqualFold(s, f.Service)})
	}
	for _, t := range sortedKeys(teams) {
		v.Teams = append(v.Teams, option{t, strings.EqualFold(t, f.Team)})
	}
	for _, r := range list {
		it := indexItem{
			Number: r.Number, Title: r.Title, Service: r.Service, Team: r.Team,
			Class: r.Class.Title(), Draft: !r.Published(), Drill: r.Drill, Readers: r.ReaderCount(),
		}
		if r.Published() {
			it.Published, it.PublishedISO = rd.date(r.PublishedAt), r.PublishedAt.UTC().Format(time.RFC3339)
		}
		v.Reviews = append(v.Reviews, it)
	}
	return rd.execHTML(w, tmplIndex, v)
}

// execHTML renders into a buffer first so that a failure writes nothing.
func (rd *Renderer) execHTML(w io.Writer, name string, data any) error {
	var b bytes.Buffer
	if err := rd.html.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("review: template %s: %w", name, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Markdown renders a review with the default renderer.
func Markdown(r *Review) (string, error) {
	rd, err := Default()
	if err != nil {
		return "", err
	}
	return rd.Markdown(r)
}

// RenderPage renders a review's page with the default renderer.
func RenderPage(w io.Writer, r *Review, readers int) error {
	rd, err := Default()
	if err != nil {
		return err
	}
	return rd.RenderPage(w, r, readers)
}

// RenderIndex renders the index of reviews with the default renderer.
func RenderIndex(w io.Writer, reviews []*Review, f IndexFilter) error {
	rd, err := Default()
	if err != nil {
		return err
	}
	return rd.RenderIndex(w, reviews, f)
}

// --- Markdown helpers -----------------------------------------------------

// escapeText makes plain text (a title, a name) literal in Markdown.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '#', '!':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cell makes inline Markdown fit one table cell: one line, and every pipe
// not already escaped is escaped.
func cell(s string) string {
	s = oneLine(s)
	if !strings.Contains(s, "|") {
		return s
	}
	var b strings.Builder
	backslashes := 0
	for _, r := range s {
		if r == '|' && backslashes%2 == 0 {
			b.WriteByte('\\')
		}
		if r == '\\' {
			backslashes++
		} else {
			backslashes = 0
		}
		b.WriteRune(r)
	}
	return b.String()
}

// quote turns text into a Markdown block quote.
func quote(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("> "+l, " ")
	}
	return strings.Join(lines, "\n")
}

// oneLine collapses runs of white space, line breaks included, to one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Plural writes a count with its noun: "1 incident", "2 incidents".
func Plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// days writes a lead time in days with one decimal, as the playbook
// measures it.
func days(d time.Duration) string {
	tenths := (int64(d) + int64(time.Hour)*24/20) / (int64(time.Hour) * 24 / 10)
	if tenths == 10 {
		return "1.0 day"
	}
	return fmt.Sprintf("%d.%d days", tenths/10, tenths%10)
}
