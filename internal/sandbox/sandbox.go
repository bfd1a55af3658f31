// Package sandbox is the web front end of `incidentbot serve --sandbox`: a
// page at /sandbox that shows the built-in, Slack-compatible workspace of
// package fakeslack (channels, messages with their Block Kit, pins,
// ephemerals, modals, the App Home) and lets a visitor act in it as one of a
// few sandbox users — send messages and slash commands, click buttons, pick
// from selects, submit modals, fire sample Alertmanager alerts.
//
// The bot itself runs unchanged: it talks to the fake Slack through its
// normal Slack client and socketmode.Client, pointed at the fake's Web API
// mounted on the bot's own listener (see Routes and Workspace). Nothing in
// the bot knows it is in a sandbox.
package sandbox

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/incident"
	"github.com/incidentbot/incidentbot/internal/fakeslack"
)

// Options configure a Sandbox.
type Options struct {
	// Catalogue lists the services that get a "fire a sample alert" control
	// and labels users with their roles (use the catalogue Workspace returns).
	Catalogue *incident.Catalogue
	// AlertWebhookURL is the bot's Alertmanager webhook, e.g.
	// http://127.0.0.1:8080/webhooks/alertmanager.
	AlertWebhookURL string
	// AlertBearerToken is sent as "Authorization: Bearer …" when set.
	AlertBearerToken string
	// ServiceLabel is the alert label naming the service (default
	// "service"; the configuration's alertmanager.service_label).
	ServiceLabel string
	Logger       *slog.Logger
	// Prefix is where the page and its endpoints live (default "/sandbox").
	// The fake Slack is served under Prefix + "/slack/" (see SlackPaths).
	Prefix string
	// Now is the clock of the sample alerts (default time.Now); give it the
	// bot's clock.
	Now func() time.Time
	// HTTPClient posts the sample alerts (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// ActionTimeout bounds how long an action waits for the bot's
	// acknowledgement (default 10 s).
	ActionTimeout time.Duration
}

// Sandbox serves the sandbox page and its endpoints.
type Sandbox struct {
	fs     *fakeslack.Server
	opts   Options
	prefix string
	log    *slog.Logger
	client *http.Client
	now    func() time.Time
	tmpl   *template.Template
}

//go:embed assets/page.tmpl assets/sandbox.css assets/sandbox.js
var assets embed.FS

var pageTemplate = template.Must(template.New("").ParseFS(assets, "assets/page.tmpl"))

var (
	pageCSS = mustAsset("assets/sandbox.css")
	pageJS  = mustAsset("assets/sandbox.js")
)

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// New returns the sandbox front end of fs.
func New(fs *fakeslack.Server, opts Options) *Sandbox {
	s := &Sandbox{fs: fs, opts: opts, prefix: normPrefix(opts.Prefix), log: opts.Logger, client: opts.HTTPClient, now: opts.Now, tmpl: pageTemplate}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.ActionTimeout <= 0 {
		s.opts.ActionTimeout = 10 * time.Second
	}
	return s
}

// Routes registers the sandbox on mux:
//
//	GET  {prefix} and {prefix}/       the page (?user=U…&channel=C…)
//	GET  {prefix}/home?user=U…        the page showing the user's App Home
//	GET  {prefix}/state.json          the page's parts, for polling
//	POST {prefix}/send                a message or a slash command as a user
//	POST {prefix}/click               a button in a message, the Home or a modal
//	POST {prefix}/select              an option of a select in a message or the Home
//	POST {prefix}/submit              the user's open modal, as a form
//	POST {prefix}/close               close the user's open modal
//	POST {prefix}/alert               fire a sample alert for a service
//	POST {prefix}/home                open the App Home (app_home_opened)
//	     {prefix}/slack/              the fake Slack: Web API, Socket Mode, response_urls
func (s *Sandbox) Routes(mux *http.ServeMux) {
	p := s.prefix
	mux.HandleFunc("GET "+p, s.handlePage)
	mux.HandleFunc("GET "+p+"/{$}", s.handlePage)
	mux.HandleFunc("GET "+p+"/home", s.handleHomePage)
	mux.HandleFunc("GET "+p+"/state.json", s.handleState)
	mux.HandleFunc("POST "+p+"/send", s.post(s.send))
	mux.HandleFunc("POST "+p+"/click", s.post(s.click))
	mux.HandleFunc("POST "+p+"/select", s.post(s.selectOption))
	mux.HandleFunc("POST "+p+"/submit", s.post(s.submit))
	mux.HandleFunc("POST "+p+"/close", s.post(s.closeView))
	mux.HandleFunc("POST "+p+"/alert", s.post(s.alert))
	mux.HandleFunc("POST "+p+"/home", s.post(s.openHome))
	mux.Handle(p+"/slack/", s.fs.Handler())
}

// ---- state --------------------------------------------------------------------

// snapshot is the workspace as one user sees it.
type snapshot struct {
	names    *names
	users    []fakeslack.User
	user     fakeslack.User
	channels []fakeslack.Channel // visible to the user, creation order
	chanOpts []optVM
	userOpts []optVM
}

func (s *Sandbox) location() *time.Location {
	if c := s.opts.Catalogue; c != nil && c.WorkingHours.Location != nil {
		return c.WorkingHours.Location
	}
	return time.UTC
}

// humans returns the workspace's people, without bots.
func humans(all []fakeslack.User) []fakeslack.User {
	var out []fakeslack.User
	for _, u := range all {
		if !u.IsBot {
			out = append(out, u)
		}
	}
	return out
}

// takeSnapshot reads the workspace for userID ("" or unknown: the first
// human).
func (s *Sandbox) takeSnapshot(userID string) (*snapshot, bool) {
	all := s.fs.Users()
	hs := humans(all)
	sn := &snapshot{names: &names{users: map[string]string{}, channels: map[string]string{}, loc: s.location()}, users: hs}
	found := false
	for _, u := range hs {
		if u.ID == userID {
			sn.user, found = u, true
		}
	}
	if !found && len(hs) > 0 {
		sn.user = hs[0]
	}
	for _, u := range all {
		sn.names.users[u.ID] = u.Name
		if !u.IsBot {
			sn.userOpts = append(sn.userOpts, optVM{Value: u.ID, Text: u.RealName})
		}
	}
	for _, c := range s.fs.Channels() {
		sn.names.channels[c.ID] = c.Name
		if c.IsPrivate && !member(c, sn.user.ID) {
			continue
		}
		sn.channels = append(sn.channels, c)
		sn.chanOpts = append(sn.chanOpts, optVM{Value: c.ID, Text: "#" + c.Name})
	}
	return sn, found
}

func member(c fakeslack.Channel, userID string) bool {
	for _, m := range c.Members {
		if m == userID {
			return true
		}
	}
	return false
}

func (sn *snapshot) renderer(errs map[string]string) *blockRenderer {
	return &blockRenderer{names: sn.names, users: sn.userOpts, chans: sn.chanOpts, errors: errs}
}

// role describes what a user does in the catalogue.
func (s *Sandbox) role(userID string) string {
	cat := s.opts.Catalogue
	if cat == nil {
		return ""
	}
	if cat.IsIncidentManager(userID) {
		return "incident manager"
	}
	var oncall, teams []string
	for _, t := range cat.Teams {
		for _, u := range t.OnCall.Rotation.Users {
			if u == userID {
				oncall = append(oncall, t.Name)
				break
			}
		}
		for _, u := range t.Members {
			if u == userID {
				teams = append(teams, t.Name)
				break
			}
		}
	}
	switch {
	case len(oncall) == len(cat.Teams) && len(oncall) > 1:
		return "on-call responder, every team"
	case len(oncall) > 0:
		return "on-call responder, " + strings.Join(oncall, ", ")
	case len(teams) > 0:
		return "team member, " + strings.Join(teams, ", ")
	}
	return ""
}

// ---- view models --------------------------------------------------------------

type userOpt struct {
	ID, Label string
	Selected  bool
}

type chanVM struct {
	ID, Name, Href            string
	Private, Member, Selected bool
	IM                        bool
}

type serviceVM struct{ Name, Detail string }

type sidebarVM struct {
	Prefix, User, Channel, Team string
	HomeSelected                bool
	DM                          *chanVM
	Channels, Incidents         []chanVM
	Services                    []serviceVM
}

type headerVM struct {
	ID, Name, Topic     string
	Private, IM, Member bool
	Members             int
	Bookmarks           []bookmarkVM
}

type bookmarkVM struct{ Title, Link string }

type reactionVM struct {
	Emoji string
	Count int
}

type msgVM struct {
	TS, Time, Author, Subtype        string
	IsBot, Pinned, Ephemeral, Thread bool
	Edited                           bool
	Text                             template.HTML
	Blocks                           []blockVM
	Reactions                        []reactionVM
}

type mainVM struct {
	Home       bool
	UserName   string
	HomeViewID string
	HomeBlocks []blockVM
	Channel    *headerVM
	Messages   []msgVM
}

type modalVM struct {
	ViewID, Title, Submit, Close, Channel string
	Blocks                                []blockVM
	S                                     *scope
}

type pageVM struct {
	Prefix, User, Channel, Tab string
	ModalKey                   string
	Flash                      string
	FlashErr                   bool
	Users                      []userOpt
	Sidebar                    sidebarVM
	Main                       mainVM
	Modal                      *modalVM
	Placeholder                string
	Commands                   []string
	CSS                        template.CSS
	JS                         template.JS
}

var composerCommands = []string{
	"/incident help", "/incident status", "/incident impact blocked", "/incident impact degraded",
	"/incident impact partial", "/incident commander me", "/incident note ", "/incident update ",
	"/incident cost ", "/incident resolve ", "/incident list", "/incident services", "/incident declare ",
}

func (s *Sandbox) pageURL(user, channel string) string {
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
	}
	if channel != "" {
		q.Set("channel", channel)
	}
	if len(q) == 0 {
		return s.prefix
	}
	return s.prefix + "?" + q.Encode()
}

// resolveChannel picks the shown channel: the requested one if the user
// may see it, else the announce channel, else the first.
func (s *Sandbox) resolveChannel(sn *snapshot, want string) (fakeslack.Channel, bool) {
	if want != "" {
		if dm, ok := s.fs.DMChannel(sn.user.ID); ok && dm == want {
			c, ok := s.fs.Channel(dm)
			return c, ok
		}
		for _, c := range sn.channels {
			if c.ID == want || c.Name == strings.TrimPrefix(want, "#") {
				return c, true
			}
		}
	}
	for _, c := range sn.channels {
		if c.Name == AnnounceChannel {
			return c, true
		}
	}
	if len(sn.channels) > 0 {
		return sn.channels[0], true
	}
	return fakeslack.Channel{}, false
}

// build assembles the page for a user, a channel and a tab ("home" or "").
func (s *Sandbox) build(userID, channelID, tab string) pageVM {
	sn, _ := s.takeSnapshot(userID)
	uid := sn.user.ID
	vm := pageVM{Prefix: s.prefix, User: uid, Tab: tab, CSS: template.CSS(pageCSS), JS: template.JS(pageJS), Commands: composerCommands}
	var ch fakeslack.Channel
	haveCh := false
	if tab != "home" {
		ch, haveCh = s.resolveChannel(sn, channelID)
		if haveCh {
			vm.Channel = ch.ID
		}
	}
	for _, u := range sn.users {
		label := u.RealName
		if r := s.role(u.ID); r != "" {
			label += " — " + r
		}
		vm.Users = append(vm.Users, userOpt{ID: u.ID, Label: label, Selected: u.ID == uid})
	}

	// Sidebar.
	sb := sidebarVM{Prefix: s.prefix, User: uid, Channel: vm.Channel, Team: "incidentbot sandbox", HomeSelected: tab == "home"}
	if dm, ok := s.fs.DMChannel(uid); ok {
		sb.DM = &chanVM{ID: dm, Name: "incidentbot", IM: true, Member: true, Selected: haveCh && dm == ch.ID}
	}
	for _, c := range sn.channels {
		cv := chanVM{ID: c.ID, Name: c.Name, Href: s.pageURL(uid, c.ID), Private: c.IsPrivate, Member: member(c, uid), Selected: haveCh && c.ID == ch.ID}
		if strings.HasPrefix(c.Name, "inc-") {
			sb.Incidents = append([]chanVM{cv}, sb.Incidents...) // newest first
		} else {
			sb.Channels = append(sb.Channels, cv)
		}
	}
	if cat := s.opts.Catalogue; cat != nil {
		now := s.now()
		for _, svc := range cat.Services {
			detail := fmt.Sprintf("%s/h · %s", cat.Currency.Format(svc.ExposureAt(now)), cat.TargetAt(svc, now))
			if len(svc.DependsOn) > 0 {
				detail += " · depends on " + strings.Join(svc.DependsOn, ", ")
			}
			sb.Services = append(sb.Services, serviceVM{Name: svc.Name, Detail: detail})
		}
	}
	sb.Services = append(sb.Services, serviceVM{Name: "search-indexer", Detail: "not in the catalogue: unmapped"})
	vm.Sidebar = sb

	// Main.
	if tab == "home" {
		vm.Main = mainVM{Home: true, UserName: sn.user.RealName}
		if hv, ok := s.fs.HomeView(uid); ok {
			vm.Main.HomeViewID = hv.ID
			vm.Main.HomeBlocks = sn.renderer(nil).blocks(hv.Blocks, &scope{Prefix: s.prefix, User: uid, ViewID: hv.ID})
		}
	} else if haveCh {
		vm.Main.Channel = s.header(sn, ch)
		vm.Main.Messages = s.messages(sn, ch)
		name := "#" + ch.Name
		if ch.IsIM {
			name = "incidentbot"
		}
		vm.Placeholder = "Message " + name + ", or type /incident …"
	}

	// Modal.
	if open := s.fs.OpenViews(uid); len(open) > 0 {
		v := open[len(open)-1]
		vm.ModalKey = v.ID + ":" + v.Hash
		vm.Modal = s.modal(sn, v, vm.Channel)
	}
	return vm
}

func (s *Sandbox) header(sn *snapshot, ch fakeslack.Channel) *headerVM {
	h := &headerVM{ID: ch.ID, Name: ch.Name, Topic: plainSlack(ch.Topic, sn.names), Private: ch.IsPrivate, IM: ch.IsIM, Member: ch.IsIM || member(ch, sn.user.ID), Members: len(ch.Members)}
	for _, b := range ch.Bookmarks {
		h.Bookmarks = append(h.Bookmarks, bookmarkVM{Title: b.Title, Link: b.Link})
	}
	return h
}

// plainSlack turns Slack text into plain text (mentions resolved).
func plainSlack(s string, n *names) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		b.WriteString(unescapeSlack(s[:i]))
		target, label, _ := strings.Cut(s[i+1:i+j], "|")
		switch {
		case strings.HasPrefix(target, "@"):
			b.WriteString("@" + n.user(target[1:], label))
		case strings.HasPrefix(target, "#"):
			b.WriteString("#" + n.channel(target[1:], label))
		case label != "":
			b.WriteString(unescapeSlack(label))
		default:
			b.WriteString(unescapeSlack(target))
		}
		s = s[i+j+1:]
	}
	b.WriteString(unescapeSlack(s))
	return b.String()
}

func tsTime(ts string, loc *time.Location) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(n, us*1000).In(loc)
}

func (s *Sandbox) messages(sn *snapshot, ch fakeslack.Channel) []msgVM {
	loc := sn.names.loc
	type item struct {
		at time.Time
		vm msgVM
	}
	var items []item
	for _, m := range ch.Messages {
		vm := msgVM{
			TS: m.TS, Author: sn.names.user(m.User, ""), Subtype: m.Subtype,
			IsBot: m.BotID != "" || m.User == s.fs.BotUserID(), Pinned: m.Pinned,
			Thread: m.ThreadTS != "" && m.ThreadTS != m.TS, Edited: m.EditedTS != "",
			Text: sn.names.mrkdwn(m.Text),
		}
		if len(m.Blocks) > 0 {
			vm.Blocks = sn.renderer(nil).blocks(m.Blocks, &scope{Prefix: s.prefix, User: sn.user.ID, Channel: ch.ID, TS: m.TS})
		}
		for _, name := range sortedReactions(m.Reactions) {
			e := emojify(":" + name + ":")
			vm.Reactions = append(vm.Reactions, reactionVM{Emoji: e, Count: len(m.Reactions[name])})
		}
		t := tsTime(m.TS, loc)
		vm.Time = t.Format("15:04:05")
		items = append(items, item{t, vm})
	}
	for _, e := range s.fs.Ephemerals(sn.user.ID) {
		if e.ChannelID != ch.ID {
			continue
		}
		vm := msgVM{TS: e.TS, Author: sn.names.user(s.fs.BotUserID(), "incidentbot"), IsBot: true, Ephemeral: true, Text: sn.names.mrkdwn(e.Text)}
		if len(e.Blocks) > 0 {
			vm.Blocks = sn.renderer(nil).blocks(e.Blocks, &scope{Prefix: s.prefix, User: sn.user.ID, Channel: ch.ID, TS: e.TS})
		}
		t := tsTime(e.TS, loc)
		vm.Time = t.Format("15:04:05")
		items = append(items, item{t, vm})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	out := make([]msgVM, len(items))
	for i, it := range items {
		out[i] = it.vm
	}
	return out
}

func sortedReactions(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Sandbox) modal(sn *snapshot, v fakeslack.View, channel string) *modalVM {
	var raw struct {
		Submit map[string]any `json:"submit"`
		Close  map[string]any `json:"close"`
	}
	_ = json.Unmarshal(v.Raw, &raw)
	sc := &scope{Prefix: s.prefix, User: sn.user.ID, ViewID: v.ID, Modal: true}
	m := &modalVM{ViewID: v.ID, Title: v.Title, Submit: plainOf(raw.Submit), Close: plainOf(raw.Close), Channel: channel, S: sc}
	if m.Close == "" {
		m.Close = "Cancel"
	}
	m.Blocks = sn.renderer(v.Errors).blocks(v.Blocks, sc)
	return m
}

// ---- GET handlers -------------------------------------------------------------

func (s *Sandbox) handlePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tab := ""
	if q.Get("tab") == "home" {
		tab = "home"
	}
	s.renderPage(w, s.build(q.Get("user"), q.Get("channel"), tab), q.Get("flash"), q.Get("error"))
}

func (s *Sandbox) handleHomePage(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	sn, _ := s.takeSnapshot(user)
	if sn.user.ID != "" {
		// Viewing the Home tab is what sends app_home_opened in Slack.
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		if err := s.fs.OpenAppHome(ctx, sn.user.ID); err != nil {
			s.log.Warn("sandbox: app_home_opened not delivered", "user", sn.user.ID, "err", err)
		}
		cancel()
	}
	s.renderPage(w, s.build(sn.user.ID, "", "home"), "", "")
}

func (s *Sandbox) renderPage(w http.ResponseWriter, vm pageVM, flash, errMsg string) {
	vm.Flash = flash
	if errMsg != "" {
		vm.Flash, vm.FlashErr = errMsg, true
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	if err := s.tmpl.ExecuteTemplate(w, "page", vm); err != nil {
		s.log.Error("sandbox: rendering the page", "err", err)
	}
}

// State is the body of GET {prefix}/state.json: the page's parts as HTML,
// and the channels the user can see.
type State struct {
	User     string         `json:"user"`
	Channel  string         `json:"channel"`
	Tab      string         `json:"tab"`
	Sidebar  string         `json:"sidebar"`
	Main     string         `json:"main"`
	Modal    string         `json:"modal"`
	ModalKey string         `json:"modalKey"`
	Channels []StateChannel `json:"channels"`
}

// StateChannel is a channel in State.
type StateChannel struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Sandbox) handleState(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tab := ""
	if q.Get("tab") == "home" {
		tab = "home"
	}
	vm := s.build(q.Get("user"), q.Get("channel"), tab)
	st := State{User: vm.User, Channel: vm.Channel, Tab: tab, ModalKey: vm.ModalKey, Channels: []StateChannel{}}
	var b strings.Builder
	exec := func(name string, data any) string {
		b.Reset()
		if err := s.tmpl.ExecuteTemplate(&b, name, data); err != nil {
			s.log.Error("sandbox: rendering", "template", name, "err", err)
		}
		return b.String()
	}
	st.Sidebar = exec("sidebar", vm.Sidebar)
	st.Main = exec("main", vm.Main)
	if vm.Modal != nil {
		st.Modal = exec("modal", vm.Modal)
	}
	for _, c := range append(vm.Sidebar.Channels, vm.Sidebar.Incidents...) {
		st.Channels = append(st.Channels, StateChannel{ID: c.ID, Name: c.Name})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
}

// ---- POST handlers ------------------------------------------------------------

// result is the outcome of an action.
type result struct {
	OK       bool              `json:"ok"`
	Message  string            `json:"message,omitempty"`
	Error    string            `json:"error,omitempty"`
	Errors   map[string]string `json:"errors,omitempty"`
	Incident int64             `json:"incident,omitempty"`
	status   int
	channel  string // where a browser without JavaScript goes next
}

func fail(status int, format string, args ...any) result {
	return result{status: status, Error: fmt.Sprintf(format, args...)}
}

// action is a POST handler working for one user.
type action func(ctx context.Context, r *http.Request, u fakeslack.User) result

// post wraps an action: it refuses cross-site requests, parses the form,
// checks the user, bounds the wait for the bot, and answers JSON to
// scripts and a redirect back to the page to plain forms.
func (s *Sandbox) post(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var res result
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		switch {
		case !sameOrigin(r):
			res = fail(http.StatusForbidden, "cross-site requests are refused")
		case r.ParseForm() != nil:
			res = fail(http.StatusBadRequest, "the form could not be read")
		default:
			uid := r.PostForm.Get("user")
			u, ok := s.fs.User(uid)
			if uid == "" || !ok || u.IsBot || u.ID != uid {
				res = fail(http.StatusBadRequest, "unknown sandbox user %q", uid)
				break
			}
			ctx, cancel := context.WithTimeout(r.Context(), s.opts.ActionTimeout)
			res = a(ctx, r, u)
			cancel()
		}
		if res.status == 0 {
			res.status = http.StatusOK
			if !res.OK {
				res.status = http.StatusBadGateway
			}
		}
		if res.status >= 500 {
			s.log.Warn("sandbox: action failed", "path", r.URL.Path, "err", res.Error)
		}
		if wantsJSON(r) {
			writeJSON(w, res.status, res)
			return
		}
		ch := res.channel
		if ch == "" {
			ch = r.PostForm.Get("channel")
		}
		next := s.prefix
		if r.PostForm.Get("back") == "home" {
			next, ch = s.prefix+"/home", ""
		}
		q := url.Values{}
		q.Set("user", r.PostForm.Get("user"))
		if ch != "" {
			q.Set("channel", ch)
		}
		if res.OK && res.Message != "" {
			q.Set("flash", res.Message)
		}
		if !res.OK {
			q.Set("error", res.Error)
		}
		http.Redirect(w, r, next+"?"+q.Encode(), http.StatusSeeOther)
	}
}

// sameOrigin refuses requests a browser marks as coming from another site.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		// "null" is an opaque origin (a sandboxed frame, a file: page, a
		// cross-site redirect): never this page.
		u, err := url.Parse(o)
		if o == "null" || err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// driverErr turns a fake Slack driver error into a result.
func driverErr(what string, err error) result {
	switch {
	case errors.Is(err, fakeslack.ErrNotConnected):
		return fail(http.StatusServiceUnavailable, "%s: the bot is not connected to the sandbox workspace (yet)", what)
	case errors.Is(err, context.DeadlineExceeded):
		return fail(http.StatusGatewayTimeout, "%s: the bot did not acknowledge in time", what)
	}
	return fail(http.StatusBadRequest, "%s: %s", what, strings.TrimPrefix(err.Error(), "fakeslack: "))
}

// channelRef is how the fake Slack's drivers address a channel for a user:
// the bot's user ID stands for the user's DM with the bot.
func (s *Sandbox) channelRef(u fakeslack.User, id string) (fakeslack.Channel, string, error) {
	ch, ok := s.fs.Channel(id)
	if !ok || id == "" {
		return fakeslack.Channel{}, "", fmt.Errorf("no channel %q", id)
	}
	if ch.IsIM {
		if ch.User != u.ID {
			return fakeslack.Channel{}, "", fmt.Errorf("that is not %s's DM", u.Name)
		}
		return ch, s.fs.BotUserID(), nil
	}
	if ch.IsPrivate && !member(ch, u.ID) {
		return fakeslack.Channel{}, "", fmt.Errorf("%s is not in #%s", u.Name, ch.Name)
	}
	return ch, ch.ID, nil
}

func (s *Sandbox) send(ctx context.Context, r *http.Request, u fakeslack.User) result {
	text := strings.TrimSpace(r.PostForm.Get("text"))
	if text == "" {
		return fail(http.StatusBadRequest, "type a message or a slash command")
	}
	ch, ref, err := s.channelRef(u, r.PostForm.Get("channel"))
	if err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}
	if strings.HasPrefix(text, "/") {
		cmd, args, _ := strings.Cut(text, " ")
		if cmd != "/incident" {
			return fail(http.StatusBadRequest, "%s is not a command in this workspace: try /incident help", cmd)
		}
		if _, err := s.fs.SlashCommandNamed(ctx, cmd, u.ID, ref, strings.TrimSpace(args)); err != nil {
			return driverErr(cmd, err)
		}
		return result{OK: true, Message: fmt.Sprintf("%s sent %s", u.RealName, clip(text, 80)), channel: ch.ID}
	}
	if !ch.IsIM && !member(ch, u.ID) {
		if err := s.fs.JoinChannel(ctx, u.ID, ch.ID); err != nil {
			return driverErr("joining #"+ch.Name, err)
		}
	}
	if _, err := s.fs.PostUserMessage(ctx, u.ID, ref, text); err != nil {
		return driverErr("sending", err)
	}
	return result{OK: true, channel: ch.ID}
}

func (s *Sandbox) click(ctx context.Context, r *http.Request, u fakeslack.User) result {
	f := r.PostForm
	viewID, actionID, value := f.Get("view"), f.Get("action_id"), f.Get("value")
	if b := f.Get("button"); b != "" { // a button inside a modal form
		actionID, value = b, ""
	}
	if actionID == "" {
		return fail(http.StatusBadRequest, "which button?")
	}
	var err error
	if viewID != "" {
		_, err = s.fs.ClickViewButton(ctx, u.ID, viewID, actionID, value)
	} else {
		var ref string
		if _, ref, err = s.channelRef(u, f.Get("channel")); err != nil {
			return fail(http.StatusBadRequest, "%v", err)
		}
		_, err = s.fs.ClickButtonValue(ctx, u.ID, ref, f.Get("ts"), actionID, value)
	}
	if err != nil {
		return driverErr("clicking", err)
	}
	return result{OK: true}
}

// selectOption sends the block_actions payload of choosing an option in a
// select of a message or of the Home view.
func (s *Sandbox) selectOption(ctx context.Context, r *http.Request, u fakeslack.User) result {
	f := r.PostForm
	viewID, ts, blockID, actionID, value := f.Get("view"), f.Get("ts"), f.Get("block_id"), f.Get("action_id"), f.Get("value")
	if actionID == "" || value == "" {
		return fail(http.StatusBadRequest, "choose an option")
	}
	var blocks json.RawMessage
	cb := slack.InteractionCallback{
		Type:     slack.InteractionTypeBlockActions,
		User:     slack.User{ID: u.ID, Name: u.Name},
		ActionTs: fmt.Sprintf("%d.%06d", s.now().Unix(), s.now().Nanosecond()/1000),
	}
	if viewID != "" {
		v, ok := s.fs.ViewByID(viewID)
		if !ok || v.UserID != u.ID {
			return fail(http.StatusBadRequest, "no such view")
		}
		blocks = v.Blocks
		cb.Container = slack.Container{Type: "view", ViewID: v.ID}
		cb.View = slack.View{ID: v.ID, Type: slack.ViewType(v.Type), CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata, Hash: v.Hash}
	} else {
		ch, _, err := s.channelRef(u, f.Get("channel"))
		if err != nil {
			return fail(http.StatusBadRequest, "%v", err)
		}
		m, ok := s.fs.Message(ch.ID, ts)
		if !ok {
			return fail(http.StatusBadRequest, "no message %s in #%s", ts, ch.Name)
		}
		blocks = m.Blocks
		cb.Container = slack.Container{Type: "message", MessageTs: ts, ChannelID: ch.ID}
		cb.Channel = slack.Channel{GroupConversation: slack.GroupConversation{Conversation: slack.Conversation{ID: ch.ID}, Name: ch.Name}}
		cb.Message = slack.Message{Msg: slack.Msg{Timestamp: ts, Text: m.Text, User: m.User, BotID: m.BotID}}
	}
	opt, typ, ok := findOption(blocks, blockID, actionID, value)
	if !ok {
		return fail(http.StatusBadRequest, "no option %q in select %q", value, actionID)
	}
	ba := &slack.BlockAction{ActionID: actionID, BlockID: blockID, Type: slack.ActionType(typ), ActionTs: cb.ActionTs}
	switch typ {
	case "users_select":
		ba.SelectedUser = value
	case "conversations_select":
		ba.SelectedConversation = value
	case "channels_select":
		ba.SelectedChannel = value
	default:
		ba.SelectedOption = opt
	}
	cb.ActionCallback = slack.ActionCallbacks{BlockActions: []*slack.BlockAction{ba}}
	if _, err := s.fs.Interaction(ctx, cb); err != nil {
		return driverErr("choosing", err)
	}
	return result{OK: true}
}

// findOption finds the option value of the select with actionID (in
// blockID, if given) in blocks.
func findOption(raw json.RawMessage, blockID, actionID, value string) (slack.OptionBlockObject, string, bool) {
	var bs []map[string]any
	if json.Unmarshal(raw, &bs) != nil {
		return slack.OptionBlockObject{}, "", false
	}
	check := func(el map[string]any) (slack.OptionBlockObject, string, bool) {
		if el == nil || str(el, "action_id") != actionID {
			return slack.OptionBlockObject{}, "", false
		}
		typ := str(el, "type")
		switch typ {
		case "users_select", "conversations_select", "channels_select", "external_select":
			return slack.OptionBlockObject{Value: value, Text: &slack.TextBlockObject{Type: slack.PlainTextType, Text: value}}, typ, true
		}
		opts := list(el, "options")
		for _, g := range list(el, "option_groups") {
			opts = append(opts, list(g, "options")...)
		}
		for _, o := range opts {
			if str(o, "value") == value {
				return slack.OptionBlockObject{Value: value, Text: &slack.TextBlockObject{Type: slack.PlainTextType, Text: plainOf(obj(o, "text"))}}, typ, true
			}
		}
		return slack.OptionBlockObject{}, "", false
	}
	for _, b := range bs {
		if blockID != "" && str(b, "block_id") != blockID {
			continue
		}
		els := list(b, "elements")
		if acc := obj(b, "accessory"); acc != nil {
			els = append(els, acc)
		}
		for _, el := range els {
			if o, t, ok := check(el); ok {
				return o, t, true
			}
		}
	}
	return slack.OptionBlockObject{}, "", false
}

// submit submits the user's open modal with the form's fields: b.N, a.N
// and t.N name input N's block, action and element type; v.N holds its
// value (several for checkboxes and multi-selects).
func (s *Sandbox) submit(ctx context.Context, r *http.Request, u fakeslack.User) result {
	f := r.PostForm
	viewID := f.Get("view")
	values := map[string]map[string]string{}
	for i := 0; ; i++ {
		n := strconv.Itoa(i)
		blockID, ok := f["b."+n]
		if !ok {
			break
		}
		actionID := f.Get("a." + n)
		v := strings.Join(f["v."+n], ",")
		if f.Get("t."+n) == "datepicker" && v != "" {
			if _, err := time.Parse("2006-01-02", v); err != nil {
				return fail(http.StatusBadRequest, "%q is not a date", v)
			}
		}
		if values[blockID[0]] == nil {
			values[blockID[0]] = map[string]string{}
		}
		values[blockID[0]][actionID] = v
	}
	if _, err := s.fs.SubmitView(ctx, u.ID, viewID, values); err != nil {
		return driverErr("submitting", err)
	}
	// A response_action "errors" leaves the view open with its errors.
	for _, v := range s.fs.OpenViews(u.ID) {
		if v.ID == viewID && len(v.Errors) > 0 {
			return result{status: http.StatusUnprocessableEntity, Error: "please correct the form", Errors: v.Errors}
		}
	}
	return result{OK: true}
}

func (s *Sandbox) closeView(ctx context.Context, r *http.Request, u fakeslack.User) result {
	if _, err := s.fs.CloseView(ctx, u.ID, r.PostForm.Get("view")); err != nil {
		return driverErr("closing", err)
	}
	return result{OK: true}
}

func (s *Sandbox) alert(ctx context.Context, r *http.Request, u fakeslack.User) result {
	svc := strings.TrimSpace(r.PostForm.Get("service"))
	if svc == "" || len(svc) > 100 {
		return fail(http.StatusBadRequest, "which service?")
	}
	res, err := s.fireAlert(ctx, svc)
	if err != nil {
		return fail(http.StatusBadGateway, "%v", err)
	}
	msg := "Alertmanager alert fired for " + svc
	switch {
	case res.Created:
		msg += fmt.Sprintf(": incident #%d opened", res.Incident)
	case res.Incident != 0:
		msg += fmt.Sprintf(": attached to incident #%d", res.Incident)
	}
	return result{OK: true, Message: msg, Incident: res.Incident}
}

func (s *Sandbox) openHome(ctx context.Context, r *http.Request, u fakeslack.User) result {
	if err := s.fs.OpenAppHome(ctx, u.ID); err != nil {
		return driverErr("opening the Home", err)
	}
	return result{OK: true}
}
