package pagerduty_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePD is a stateful stand-in for PagerDuty's REST API: incidents with
// notes and status changes, on-call entries with pagination, users with
// e-mails, and failure modes (rate limiting with Retry-After, an outage).
type fakePD struct {
	t     testing.TB
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	incidents map[string]*fakeIncident
	order     []string
	nextNum   int
	users     map[string]fakeUser
	oncalls   []fakeOnCall
	pageSize  int // largest page served, whatever limit is asked
	noEmail   map[string]bool
	down      bool
	limited   int // answer the next n requests with 429
	retryAft  string
	retryHdr  string // header carrying retryAft; default Retry-After
	log       []fakeRequest
	validFrom map[string]bool // if non-nil, From must be one of these
}

type fakeIncident struct {
	ID          string
	Number      int
	Title       string
	Status      string
	IncidentKey string
	ServiceID   string
	PolicyID    string
	Urgency     string
	Notes       []fakeNote
	CreatedBy   string
}

type fakeNote struct {
	ID, Content, From string
}

type fakeUser struct {
	ID, Name, Email string
}

type fakeOnCall struct {
	UserID, PolicyID string
	Level            int
}

type fakeRequest struct {
	At     time.Time
	Method string
	Path   string
	Status int
}

func newFakePD(t testing.TB) *fakePD {
	f := &fakePD{t: t, token: "pd-test-token", incidents: map[string]*fakeIncident{}, users: map[string]fakeUser{},
		pageSize: 100, noEmail: map[string]bool{}, nextNum: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePD) URL() string { return f.srv.URL }

func (f *fakePD) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// rateLimit answers the next n requests with 429 and the Retry-After value.
func (f *fakePD) rateLimit(n int, retryAfter string) {
	f.mu.Lock()
	f.limited, f.retryAft = n, retryAfter
	f.mu.Unlock()
}

func (f *fakePD) addUser(id, name, email string) {
	f.mu.Lock()
	f.users[id] = fakeUser{id, name, email}
	f.mu.Unlock()
}

func (f *fakePD) addOnCall(policy, user string, level int) {
	f.mu.Lock()
	f.oncalls = append(f.oncalls, fakeOnCall{user, policy, level})
	f.mu.Unlock()
}

// addNote adds a note as if it had been added before.
func (f *fakePD) addNote(id, content string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inc := f.incidents[id]
	inc.Notes = append(inc.Notes, fakeNote{ID: "PNOTE0", Content: content, From: fromEmail})
}

// addIncident creates an incident as if PagerDuty had opened it.
func (f *fakePD) addIncident(id, serviceID, title string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextNum++
	f.incidents[id] = &fakeIncident{ID: id, Number: f.nextNum, Title: title, Status: "triggered", ServiceID: serviceID, Urgency: "high"}
	f.order = append(f.order, id)
}

func (f *fakePD) incident(id string) fakeIncident {
	f.mu.Lock()
	defer f.mu.Unlock()
	inc, ok := f.incidents[id]
	if !ok {
		return fakeIncident{}
	}
	cp := *inc
	cp.Notes = append([]fakeNote(nil), inc.Notes...)
	return cp
}

func (f *fakePD) allIncidents() []fakeIncident {
	f.mu.Lock()
	ids := append([]string(nil), f.order...)
	f.mu.Unlock()
	var out []fakeIncident
	for _, id := range ids {
		out = append(out, f.incident(id))
	}
	return out
}

func (f *fakePD) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.log...)
}

func (f *fakePD) countRequests(method, pathPrefix string, status int) int {
	n := 0
	for _, r := range f.requests() {
		if r.Method == method && strings.HasPrefix(r.Path, pathPrefix) && (status == 0 || r.Status == status) {
			n++
		}
	}
	return n
}

func writeJSONT(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status, code int, msg string, errs ...string) {
	writeJSONT(w, status, map[string]any{"error": map[string]any{"message": msg, "code": code, "errors": errs}})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (f *fakePD) serve(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, status: 200}
	defer func() {
		f.mu.Lock()
		f.log = append(f.log, fakeRequest{time.Now(), r.Method, r.URL.Path, sw.status})
		f.mu.Unlock()
	}()
	w = sw
	f.mu.Lock()
	down := f.down
	limited := f.limited > 0
	if limited {
		f.limited--
	}
	retryAfter, retryHdr := f.retryAft, f.retryHdr
	f.mu.Unlock()
	if retryHdr == "" {
		retryHdr = "Retry-After"
	}
	switch {
	case down:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html>down for maintenance</html>"))
		return
	case limited:
		if retryAfter != "" {
			w.Header().Set(retryHdr, retryAfter)
		}
		apiError(w, http.StatusTooManyRequests, 2020, "Rate Limit Exceeded")
		return
	case r.Header.Get("Authorization") != "Token token="+f.token:
		apiError(w, http.StatusUnauthorized, 2006, "Invalid Credentials")
		return
	case r.Header.Get("Accept") != "application/vnd.pagerduty+json;version=2":
		apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Accept header")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/oncalls":
		f.listOnCalls(w, r)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "users":
		f.getUser(w, parts[1])
	case r.Method == http.MethodGet && r.URL.Path == "/incidents":
		f.listIncidents(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/incidents":
		f.createIncident(w, r)
	case r.Method == http.MethodPut && r.URL.Path == "/incidents":
		f.manageIncidents(w, r)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "incidents":
		f.getIncident(w, parts[1])
	case len(parts) == 3 && parts[0] == "incidents" && parts[2] == "notes":
		f.notes(w, r, parts[1])
	default:
		apiError(w, http.StatusNotFound, 2100, "Not Found")
	}
}

func (f *fakePD) checkFrom(w http.ResponseWriter, r *http.Request) (string, bool) {
	from := r.Header.Get("From")
	f.mu.Lock()
	valid := f.validFrom
	f.mu.Unlock()
	if from == "" || (valid != nil && !valid[from]) {
		apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "A valid From header is required")
		return "", false
	}
	return from, true
}

func (f *fakePD) userJSON(u fakeUser, full bool) map[string]any {
	m := map[string]any{"id": u.ID, "type": "user_reference", "summary": u.Name}
	if full {
		m["type"] = "user"
		m["name"] = u.Name
		if !f.noEmail[u.ID] {
			m["email"] = u.Email
		}
	}
	return m
}

func (f *fakePD) listOnCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	policies := q["escalation_policy_ids[]"]
	includeUsers := false
	for _, inc := range q["include[]"] {
		includeUsers = includeUsers || inc == "users"
	}
	if q.Get("since") == "" || q.Get("until") == "" {
		apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "since and until")
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	f.mu.Lock()
	defer f.mu.Unlock()
	if limit <= 0 || limit > f.pageSize {
		limit = f.pageSize
	}
	var all []fakeOnCall
	for _, oc := range f.oncalls {
		for _, p := range policies {
			if oc.PolicyID == p {
				all = append(all, oc)
			}
		}
	}
	if len(policies) > 0 && len(all) == 0 {
		known := false
		for _, oc := range f.oncalls {
			known = known || oc.PolicyID == policies[0]
		}
		if !known && policies[0] == "PNOSUCH" {
			apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Escalation policy not found")
			return
		}
	}
	end := min(offset+limit, len(all))
	if offset > len(all) {
		offset = end
	}
	var page []map[string]any
	for _, oc := range all[offset:end] {
		u := f.users[oc.UserID]
		page = append(page, map[string]any{
			"user":              f.userJSON(u, includeUsers),
			"escalation_policy": map[string]any{"id": oc.PolicyID, "type": "escalation_policy_reference"},
			"escalation_level":  oc.Level,
		})
	}
	writeJSONT(w, http.StatusOK, map[string]any{"oncalls": page, "limit": limit, "offset": offset, "more": end < len(all)})
}

func (f *fakePD) getUser(w http.ResponseWriter, id string) {
	f.mu.Lock()
	u, ok := f.users[id]
	f.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	m := f.userJSON(u, true)
	m["email"] = u.Email
	writeJSONT(w, http.StatusOK, map[string]any{"user": m})
}

func (inc *fakeIncident) json() map[string]any {
	return map[string]any{
		"id": inc.ID, "type": "incident", "incident_number": inc.Number, "title": inc.Title, "status": inc.Status,
		"incident_key": inc.IncidentKey, "urgency": inc.Urgency, "created_at": "2026-11-17T11:00:00Z",
		"html_url": "https://acme.pagerduty.com/incidents/" + inc.ID,
		"service":  map[string]any{"id": inc.ServiceID, "type": "service_reference", "summary": "svc " + inc.ServiceID},
	}
}

func (f *fakePD) getIncident(w http.ResponseWriter, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inc, ok := f.incidents[id]
	if !ok {
		apiError(w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	writeJSONT(w, http.StatusOK, map[string]any{"incident": inc.json()})
}

func (f *fakePD) listIncidents(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("incident_key")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, id := range f.order {
		if inc := f.incidents[id]; key == "" || inc.IncidentKey == key {
			out = append(out, inc.json())
		}
	}
	writeJSONT(w, http.StatusOK, map[string]any{"incidents": out, "limit": 25, "offset": 0, "more": false})
}

func (f *fakePD) createIncident(w http.ResponseWriter, r *http.Request) {
	from, ok := f.checkFrom(w, r)
	if !ok {
		return
	}
	var body struct {
		Incident struct {
			Type             string `json:"type"`
			Title            string `json:"title"`
			Urgency          string `json:"urgency"`
			IncidentKey      string `json:"incident_key"`
			Service          *struct{ ID, Type string }
			EscalationPolicy *struct{ ID, Type string } `json:"escalation_policy"`
		} `json:"incident"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Incident.Type != "incident" || body.Incident.Title == "" {
		apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "incident")
		return
	}
	in := body.Incident
	if in.Service == nil || in.Service.ID == "" {
		apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Service is required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.order {
		if inc := f.incidents[id]; in.IncidentKey != "" && inc.IncidentKey == in.IncidentKey && inc.Status != "resolved" {
			apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Open incident with key '"+in.IncidentKey+"' already exists")
			return
		}
	}
	f.nextNum++
	inc := &fakeIncident{ID: fmt.Sprintf("PNEW%d", f.nextNum), Number: f.nextNum, Title: in.Title, Status: "triggered",
		IncidentKey: in.IncidentKey, ServiceID: in.Service.ID, Urgency: in.Urgency, CreatedBy: from}
	if in.EscalationPolicy != nil {
		inc.PolicyID = in.EscalationPolicy.ID
	}
	f.incidents[inc.ID] = inc
	f.order = append(f.order, inc.ID)
	writeJSONT(w, http.StatusCreated, map[string]any{"incident": inc.json()})
}

func (f *fakePD) manageIncidents(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.checkFrom(w, r); !ok {
		return
	}
	var body struct {
		Incidents []struct{ ID, Type, Status string } `json:"incidents"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Incidents) == 0 {
		apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "incidents")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, m := range body.Incidents {
		inc, ok := f.incidents[m.ID]
		switch {
		case !ok:
			apiError(w, http.StatusNotFound, 2100, "Not Found")
			return
		case m.Type != "incident":
			apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "type")
			return
		case inc.Status == "resolved":
			apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Incident Already Resolved")
			return
		case m.Status != "acknowledged" && m.Status != "resolved":
			apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "status")
			return
		}
		inc.Status = m.Status
		out = append(out, inc.json())
	}
	writeJSONT(w, http.StatusOK, map[string]any{"incidents": out})
}

func (f *fakePD) notes(w http.ResponseWriter, r *http.Request, id string) {
	f.mu.Lock()
	inc, ok := f.incidents[id]
	f.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	switch r.Method {
	case http.MethodGet:
		f.mu.Lock()
		var out []map[string]any
		for _, n := range inc.Notes {
			out = append(out, map[string]any{"id": n.ID, "content": n.Content, "user": map[string]any{"summary": n.From}})
		}
		f.mu.Unlock()
		writeJSONT(w, http.StatusOK, map[string]any{"notes": out})
	case http.MethodPost:
		from, ok := f.checkFrom(w, r)
		if !ok {
			return
		}
		var body struct {
			Note struct{ Content string } `json:"note"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Note.Content == "" {
			apiError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "note")
			return
		}
		f.mu.Lock()
		n := fakeNote{ID: fmt.Sprintf("PNOTE%d", len(inc.Notes)+1), Content: body.Note.Content, From: from}
		inc.Notes = append(inc.Notes, n)
		f.mu.Unlock()
		writeJSONT(w, http.StatusCreated, map[string]any{"note": map[string]any{"id": n.ID, "content": n.Content}})
	default:
		apiError(w, http.StatusMethodNotAllowed, 2001, "Method Not Allowed")
	}
}

// sortedNotes returns the contents of an incident's notes, sorted.
func (f *fakePD) noteContents(id string) []string {
	var out []string
	for _, n := range f.incident(id).Notes {
		out = append(out, n.Content)
	}
	sort.Strings(out)
	return out
}
