package fakeslack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiError is a Slack error answer: {"ok":false,"error":code,...extra}.
type apiError struct {
	code  string
	extra map[string]any
}

// maxMessageRunes is Slack's limit on a message's text: 40,000 characters
// (msg_too_long above it).
const maxMessageRunes = 40000

func (e *apiError) Error() string { return e.code }

func errCode(code string) error { return &apiError{code: code} }

func errMessages(code string, msgs []string) error {
	return &apiError{code: code, extra: map[string]any{"response_metadata": map[string]any{"messages": msgs}}}
}

type apiHandler func(c *apiCall) (map[string]any, error)

// apiCall is one Web API request being served; handlers run with s.mu held.
type apiCall struct {
	s      *Server
	method string
	form   url.Values
	body   map[string]json.RawMessage
	events []map[string]any // inner events to deliver after the call (Options.APIEvents)
}

func (c *apiCall) has(k string) bool {
	if _, ok := c.body[k]; ok {
		return true
	}
	_, ok := c.form[k]
	return ok
}

// str returns a parameter as text (JSON strings unquoted, other JSON values verbatim).
func (c *apiCall) str(k string) string {
	if raw, ok := c.body[k]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		if string(raw) == "null" {
			return ""
		}
		return string(raw)
	}
	return c.form.Get(k)
}

// raw returns a parameter holding JSON (a JSON-encoded string in forms).
func (c *apiCall) raw(k string) []byte {
	if raw, ok := c.body[k]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
		return raw
	}
	if v, ok := c.form[k]; ok && len(v) > 0 {
		return []byte(v[0])
	}
	return nil
}

func (c *apiCall) boolean(k string) bool {
	switch strings.ToLower(c.str(k)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

func (c *apiCall) integer(k string, def int) int {
	v := c.str(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}

type rateLimit struct {
	remaining  int
	retryAfter time.Duration
}

type failure struct {
	code       string
	applyFirst bool
}

// SetLatency delays every answer of method ("*" for all methods) by d.
// A method-specific latency replaces the "*" one. d <= 0 removes it.
func (s *Server) SetLatency(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.latency, method)
		return
	}
	s.latency[method] = d
}

// RateLimit makes the next n calls of method ("*" for any method) answer
// HTTP 429 with a Retry-After header (whole seconds, rounded up) and
// {"ok":false,"error":"ratelimited"}. n <= 0 removes the limit.
func (s *Server) RateLimit(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.rateLimits, method)
		return
	}
	s.rateLimits[method] = &rateLimit{remaining: n, retryAfter: retryAfter}
}

// SetOutage makes every Web API call answer HTTP 503 for d (d <= 0 ends it).
// Sockets are not affected; use DropConnection for that.
func (s *Server) SetOutage(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		s.outageUntil = time.Time{}
		return
	}
	s.outageUntil = time.Now().Add(d)
}

// FailNext makes the next call of method ("*" for any) answer
// {"ok":false,"error":errCode}. With applyFirst the call's effect is applied
// before the error is answered, as Slack does on a half-successful
// internal_error / fatal_error. Calls queue: each consumes one failure.
func (s *Server) FailNext(method, errCode string, applyFirst bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[method] = append(s.failNext[method], failure{code: errCode, applyFirst: applyFirst})
}

// RevokeToken revokes the bot and app tokens (as uninstalling the app does):
// every call answers token_revoked and open sockets are dropped, so a
// reconnecting socketmode client ends with token_revoked.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	s.revoked = true
	conns := s.liveConnsLocked()
	s.bumpLocked()
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.c.Close()
	}
}

// RestoreToken undoes RevokeToken.
func (s *Server) RestoreToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = false
	s.bumpLocked()
}

// HangNext makes the next n calls of method ("*" for any) never answer, as
// over a half-open connection or a stuck proxy: the request is held, with no
// effect, until the client gives up (or the server closes).
func (s *Server) HangNext(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangs[method] += n
}

// Hanging returns how many calls of method are being held now.
func (s *Server) Hanging(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hanging[method]
}

// hang holds a call that HangNext asked to hang; it reports whether it did.
func (s *Server) hang(r *http.Request, method string) bool {
	s.mu.Lock()
	key := method
	if s.hangs[key] == 0 {
		key = "*"
	}
	if s.hangs[key] == 0 {
		s.mu.Unlock()
		return false
	}
	s.hangs[key]--
	s.hanging[method]++
	s.bumpLocked()
	s.mu.Unlock()
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
	s.mu.Lock()
	s.hanging[method]--
	s.bumpLocked()
	s.mu.Unlock()
	return true
}

// ResetFaults removes latencies, rate limits, outages and queued failures.
func (s *Server) ResetFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = map[string]time.Duration{}
	s.hangs = map[string]int{}
	s.rateLimits = map[string]*rateLimit{}
	s.failNext = map[string][]failure{}
	s.outageUntil = time.Time{}
}

func (s *Server) latencyLocked(method string) time.Duration {
	if d, ok := s.latency[method]; ok {
		return d
	}
	return s.latency["*"]
}

func (s *Server) takeRateLimitLocked(method string) (time.Duration, bool) {
	for _, k := range []string{method, "*"} {
		if rl, ok := s.rateLimits[k]; ok && rl.remaining > 0 {
			rl.remaining--
			if rl.remaining == 0 {
				delete(s.rateLimits, k)
			}
			return rl.retryAfter, true
		}
	}
	return 0, false
}

func (s *Server) takeFailureLocked(method string) (failure, bool) {
	for _, k := range []string{method, "*"} {
		if q := s.failNext[k]; len(q) > 0 {
			f := q[0]
			if len(q) == 1 {
				delete(s.failNext, k)
			} else {
				s.failNext[k] = q[1:]
			}
			return f, true
		}
	}
	return failure{}, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"ok":false,"error":"fatal_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeAPIError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{code: "fatal_error"}
	}
	body := map[string]any{"ok": false, "error": ae.code}
	for k, v := range ae.extra {
		body[k] = v
	}
	writeJSON(w, http.StatusOK, body)
}

// bufferBody reads the request body to its end before any wait (a hung or
// delayed call): only then does net/http watch the connection, so that a
// client that gives up or dies ends the request's context, as a real server
// would notice.
func bufferBody(r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
}

var appTokenMethods = map[string]bool{"apps.connections.open": true}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	s.mu.Lock()
	s.calls[method]++
	delay := s.latencyLocked(method)
	s.bumpLocked()
	s.mu.Unlock()
	bufferBody(r)
	if s.hang(r, method) {
		return
	}

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.done:
			t.Stop()
			return
		}
	}

	s.mu.Lock()
	outage := time.Now().Before(s.outageUntil)
	s.mu.Unlock()
	if outage {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "<html><body><h1>503 Service Unavailable</h1></body></html>")
		return
	}

	h, known := s.methods[method]
	if !known {
		writeAPIError(w, &apiError{code: "unknown_method", extra: map[string]any{"req_method": method}})
		return
	}

	call := &apiCall{s: s, method: method}
	token, err := parseRequest(r, call)
	if err != nil {
		writeAPIError(w, err)
		return
	}

	s.mu.Lock()
	kind := ""
	switch {
	case token == "":
		err = errCode("not_authed")
	case token != s.opts.BotToken && token != s.opts.AppToken:
		err = errCode("invalid_auth")
	case s.revoked:
		err = errCode("token_revoked")
	case token == s.opts.AppToken:
		kind = "app"
	default:
		kind = "bot"
	}
	if err == nil && (kind == "app") != appTokenMethods[method] {
		err = errCode("not_allowed_token_type")
	}
	if err != nil {
		s.mu.Unlock()
		writeAPIError(w, err)
		return
	}
	if retry, limited := s.takeRateLimitLocked(method); limited {
		s.bumpLocked()
		s.mu.Unlock()
		secs := int64(math.Ceil(retry.Seconds()))
		if secs < 0 {
			secs = 0
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	var resp map[string]any
	if f, failing := s.takeFailureLocked(method); failing {
		if f.applyFirst {
			_, _ = h(call)
		} else {
			call.events = nil
		}
		err = errCode(f.code)
	} else {
		resp, err = h(call)
	}
	events := call.events
	s.bumpLocked()
	s.mu.Unlock()

	if s.opts.APIEvents {
		for _, ev := range events {
			s.deliverAsync(ev)
		}
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if resp == nil {
		resp = map[string]any{}
	}
	resp["ok"] = true
	writeJSON(w, http.StatusOK, resp)
}

// parseRequest fills call's parameters and returns the token, taken from
// the Authorization header, else the "token" parameter.
func parseRequest(r *http.Request, call *apiCall) (string, error) {
	call.form = url.Values{}
	for k, v := range r.URL.Query() {
		call.form[k] = v
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return "", errCode("invalid_form_data")
		}
		switch {
		case ct == "application/json":
			if len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, &call.body); err != nil {
					return "", errCode("invalid_json")
				}
			}
		case len(body) > 0:
			vals, err := url.ParseQuery(string(body))
			if err != nil {
				return "", errCode("invalid_form_data")
			}
			for k, v := range vals {
				call.form[k] = append(call.form[k], v...)
			}
		}
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		if t, ok := strings.CutPrefix(auth, "Bearer "); ok {
			return strings.TrimSpace(t), nil
		}
		return "", errCode("invalid_auth")
	}
	return call.form.Get("token"), nil
}

func (s *Server) handlers() map[string]apiHandler {
	return map[string]apiHandler{
		"api.test":               s.apiTest,
		"auth.test":              s.authTest,
		"apps.connections.open":  s.appsConnectionsOpen,
		"team.info":              s.teamInfo,
		"conversations.create":   s.conversationsCreate,
		"conversations.setTopic": s.conversationsSetTopic,
		"conversations.invite":   s.conversationsInvite,
		"conversations.info":     s.conversationsInfo,
		"conversations.list":     s.conversationsList,
		"conversations.members":  s.conversationsMembers,
		"conversations.history":  s.conversationsHistory,
		"conversations.replies":  s.conversationsReplies,
		"conversations.join":     s.conversationsJoin,
		"conversations.open":     s.conversationsOpen,
		"conversations.archive":  s.conversationsArchive,
		"chat.postMessage":       s.chatPostMessage,
		"chat.postEphemeral":     s.chatPostEphemeral,
		"chat.update":            s.chatUpdate,
		"chat.delete":            s.chatDelete,
		"chat.getPermalink":      s.chatGetPermalink,
		"pins.add":               s.pinsAdd,
		"pins.remove":            s.pinsRemove,
		"pins.list":              s.pinsList,
		"bookmarks.add":          s.bookmarksAdd,
		"bookmarks.list":         s.bookmarksList,
		"views.open":             s.viewsOpen,
		"views.push":             s.viewsPush,
		"views.update":           s.viewsUpdate,
		"views.publish":          s.viewsPublish,
		"users.info":             s.usersInfo,
		"users.lookupByEmail":    s.usersLookupByEmail,
		"users.list":             s.usersList,
		"reactions.add":          s.reactionsAdd,
		"reactions.remove":       s.reactionsRemove,
	}
}

// ---- JSON shapes ----------------------------------------------------------

func (s *Server) userJSONLocked(u *User) map[string]any {
	loc, err := time.LoadLocation(u.TZ)
	if err != nil {
		loc = time.UTC
	}
	zoneName, offset := s.opts.Now().In(loc).Zone()
	profile := map[string]any{
		"real_name":               u.RealName,
		"real_name_normalized":    u.RealName,
		"display_name":            u.Name,
		"display_name_normalized": u.Name,
		"avatar_hash":             "g000000000ff",
		"image_24":                "https://secure.gravatar.com/avatar/0.jpg?s=24",
		"image_32":                "https://secure.gravatar.com/avatar/0.jpg?s=32",
		"image_48":                "https://secure.gravatar.com/avatar/0.jpg?s=48",
		"image_72":                "https://secure.gravatar.com/avatar/0.jpg?s=72",
		"image_192":               "https://secure.gravatar.com/avatar/0.jpg?s=192",
		"image_512":               "https://secure.gravatar.com/avatar/0.jpg?s=512",
		"status_text":             "",
		"status_emoji":            "",
		"team":                    s.opts.TeamID,
	}
	if u.Email != "" {
		profile["email"] = u.Email
	}
	if u.IsBot {
		profile["bot_id"] = s.opts.BotID
		profile["api_app_id"] = s.opts.AppID
		profile["always_active"] = true
	}
	return map[string]any{
		"id":                  u.ID,
		"team_id":             s.opts.TeamID,
		"name":                u.Name,
		"deleted":             false,
		"color":               "9f69e7",
		"real_name":           u.RealName,
		"tz":                  loc.String(),
		"tz_label":            zoneName,
		"tz_offset":           offset,
		"profile":             profile,
		"is_admin":            u.IsAdmin,
		"is_owner":            false,
		"is_primary_owner":    false,
		"is_restricted":       false,
		"is_ultra_restricted": false,
		"is_bot":              u.IsBot,
		"is_app_user":         false,
		"is_email_confirmed":  !u.IsBot && u.Email != "",
		"updated":             s.nowUnix(),
	}
}

func (s *Server) channelJSONLocked(c *channel, numMembers bool) map[string]any {
	if c.isIM {
		return map[string]any{
			"id":              c.id,
			"created":         c.created,
			"is_im":           true,
			"is_org_shared":   false,
			"context_team_id": s.opts.TeamID,
			"user":            c.imUser,
			"is_user_deleted": false,
			"is_open":         true,
			"priority":        0,
		}
	}
	out := map[string]any{
		"id":                         c.id,
		"name":                       c.name,
		"is_channel":                 true,
		"is_group":                   false,
		"is_im":                      false,
		"is_mpim":                    false,
		"is_private":                 c.isPrivate,
		"created":                    c.created,
		"is_archived":                c.isArchived,
		"is_general":                 false,
		"unlinked":                   0,
		"name_normalized":            c.name,
		"is_shared":                  false,
		"is_org_shared":              false,
		"is_pending_ext_shared":      false,
		"pending_shared":             []string{},
		"context_team_id":            s.opts.TeamID,
		"updated":                    c.created * 1000,
		"parent_conversation":        nil,
		"creator":                    c.creator,
		"is_ext_shared":              false,
		"shared_team_ids":            []string{s.opts.TeamID},
		"pending_connected_team_ids": []string{},
		"is_member":                  c.isMember(s.opts.BotUserID),
		"topic":                      map[string]any{"value": c.topic, "creator": c.topicBy, "last_set": c.topicAt},
		"purpose":                    map[string]any{"value": c.purpose, "creator": "", "last_set": 0},
		"previous_names":             []string{},
	}
	if numMembers {
		out["num_members"] = len(c.members)
	}
	return out
}

func (s *Server) messageJSONLocked(c *channel, m *message) map[string]any {
	out := map[string]any{"type": "message", "ts": m.ts, "text": m.text}
	if m.user != "" {
		out["user"] = m.user
	}
	if m.subtype != "" {
		out["subtype"] = m.subtype
	}
	if m.threadTS != "" {
		out["thread_ts"] = m.threadTS
	}
	if len(m.blocks) > 0 {
		out["blocks"] = json.RawMessage(m.blocks)
	}
	if len(m.attachments) > 0 {
		out["attachments"] = json.RawMessage(m.attachments)
	}
	if len(m.metadata) > 0 {
		out["metadata"] = json.RawMessage(m.metadata)
	}
	if m.botID != "" {
		out["bot_id"] = m.botID
		out["app_id"] = m.appID
		out["bot_profile"] = map[string]any{
			"id": m.botID, "app_id": m.appID, "name": s.opts.BotName, "deleted": false,
			"team_id": s.opts.TeamID, "updated": c.created,
			"icons": map[string]any{"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"},
		}
	}
	if m.clientMsgID != "" {
		out["client_msg_id"] = m.clientMsgID
	}
	out["team"] = s.opts.TeamID
	if m.editedTS != "" {
		out["edited"] = map[string]any{"user": m.editedBy, "ts": m.editedTS}
	}
	if len(m.reactions) > 0 {
		var rs []any
		for _, r := range m.reactions {
			rs = append(rs, map[string]any{"name": r.name, "users": r.users, "count": len(r.users)})
		}
		out["reactions"] = rs
	}
	if c.isPinned(m.ts) {
		out["pinned_to"] = []string{c.id}
	}
	if m.replyCount > 0 {
		out["reply_count"] = m.replyCount
		out["reply_users"] = m.replyUsers
		out["reply_users_count"] = len(m.replyUsers)
		out["latest_reply"] = m.latestReply
	}
	if m.topic != "" || m.subtype == "channel_topic" {
		out["topic"] = m.topic
	}
	if m.inviter != "" {
		out["inviter"] = m.inviter
	}
	return out
}

func (s *Server) viewJSONLocked(v *view, state map[string]map[string]any) map[string]any {
	if state == nil {
		state = map[string]map[string]any{}
	}
	blocks := v.blocks
	if len(blocks) == 0 {
		blocks = json.RawMessage("[]")
	}
	var prev any
	if v.previousID != "" {
		prev = v.previousID
	}
	out := map[string]any{
		"id":                    v.id,
		"team_id":               s.opts.TeamID,
		"type":                  v.typ,
		"blocks":                blocks,
		"private_metadata":      v.privateMetadata,
		"callback_id":           v.callbackID,
		"state":                 map[string]any{"values": state},
		"hash":                  v.hash,
		"clear_on_close":        v.clearOnClose,
		"notify_on_close":       v.notifyOnClose,
		"previous_view_id":      prev,
		"root_view_id":          v.rootID,
		"app_id":                s.opts.AppID,
		"external_id":           v.externalID,
		"app_installed_team_id": s.opts.TeamID,
		"bot_id":                s.opts.BotID,
	}
	for k, raw := range map[string]json.RawMessage{"title": v.title, "close": v.close, "submit": v.submit} {
		if len(raw) > 0 {
			out[k] = raw
		} else {
			out[k] = nil
		}
	}
	return out
}

func bookmarkJSON(b Bookmark, teamID string) map[string]any {
	return map[string]any{
		"id": b.ID, "channel_id": b.ChannelID, "title": b.Title, "link": b.Link, "emoji": b.Emoji,
		"icon_url": nil, "type": b.Type, "entity_id": nil, "date_created": b.Created.Unix(),
		"date_updated": 0, "rank": "U", "last_updated_by_user_id": b.CreatedBy,
		"last_updated_by_team_id": teamID, "shortcut_id": nil, "app_id": nil,
	}
}

// ---- helpers ----------------------------------------------------------------

// visibleChannelLocked finds a conversation by ID as the bot sees it.
func (s *Server) visibleChannelLocked(id string) (*channel, error) {
	c, ok := s.channels[id]
	if !ok || (c.isPrivate && !c.isMember(s.opts.BotUserID)) {
		return nil, errCode("channel_not_found")
	}
	return c, nil
}

func (s *Server) memberChannelLocked(id string) (*channel, error) {
	c, err := s.visibleChannelLocked(id)
	if err != nil {
		return nil, err
	}
	if !c.isIM && !c.isMember(s.opts.BotUserID) {
		return nil, errCode("not_in_channel")
	}
	return c, nil
}

// postTargetLocked resolves chat.postMessage's channel: an ID, a name, or
// a user ID (the bot's DM with that user).
func (s *Server) postTargetLocked(ref string) (*channel, error) {
	if ref == "" {
		return nil, errCode("channel_not_found")
	}
	if u, ok := s.users[ref]; ok {
		if u.ID == s.opts.BotUserID {
			return nil, errCode("channel_not_found")
		}
		return s.openIMLocked(u.ID), nil
	}
	c := s.lookupChannelLocked(ref)
	if c == nil || (c.isPrivate && !c.isMember(s.opts.BotUserID)) {
		return nil, errCode("channel_not_found")
	}
	if c.isArchived {
		return nil, errCode("is_archived")
	}
	if !c.isIM && !c.isMember(s.opts.BotUserID) && !s.opts.ChatWritePublic {
		return nil, errCode("not_in_channel")
	}
	return c, nil
}

func (s *Server) openIMLocked(userID string) *channel {
	if id, ok := s.ims[userID]; ok {
		return s.channels[id]
	}
	c := &channel{
		id:      s.newIDLocked("D"),
		isIM:    true,
		imUser:  userID,
		creator: s.opts.BotUserID,
		created: s.nowUnix(),
		members: []string{userID, s.opts.BotUserID},
	}
	s.channels[c.id] = c
	s.chanOrder = append(s.chanOrder, c.id)
	s.ims[userID] = c.id
	return c
}

func encodeCursor(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte("next:" + strconv.Itoa(offset)))
}

func decodeCursor(cur string) (int, error) {
	if cur == "" {
		return 0, nil
	}
	b, err := base64.StdEncoding.DecodeString(cur)
	if err != nil {
		return 0, errCode("invalid_cursor")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "next:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(b), "next:") {
		return 0, errCode("invalid_cursor")
	}
	return n, nil
}

// page returns the [offset, end) window and the next cursor.
func page(c *apiCall, total, defLimit, maxLimit int) (int, int, string, error) {
	offset, err := decodeCursor(c.str("cursor"))
	if err != nil {
		return 0, 0, "", err
	}
	limit := c.integer("limit", defLimit)
	if limit <= 0 {
		limit = defLimit
	}
	if limit > maxLimit {
		limit = maxLimit
	}
	if offset > total {
		offset = total
	}
	end := min(offset+limit, total)
	next := ""
	if end < total {
		next = encodeCursor(end)
	}
	return offset, end, next, nil
}

// tsMicros parses a Slack ts ("1700000000.000100" or "1700000000") to microseconds.
func tsMicros(ts string) (int64, bool) {
	if ts == "" {
		return 0, false
	}
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, false
	}
	if len(frac) > 6 {
		frac = frac[:6]
	}
	frac += strings.Repeat("0", 6-len(frac))
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return s*1e6 + f, true
}

// validateMessageContent applies chat.postMessage/chat.update content rules.
func (s *Server) validateMessageContentLocked(c *apiCall) (blocks json.RawMessage, err error) {
	if runes(c.str("text")) > maxMessageRunes {
		return nil, errCode("msg_too_long")
	}
	if c.has("blocks") {
		parsed, ok := parseBlocks(c.raw("blocks"))
		if !ok {
			return nil, errCode("invalid_blocks_format")
		}
		if issues := validateBlocks(parsed, 50, "/blocks"); len(issues) > 0 {
			return nil, errMessages("invalid_blocks", issues)
		}
		blocks = s.normalizeBlocksLocked(parsed)
		if blocks == nil {
			blocks = json.RawMessage("[]")
		}
	}
	return blocks, nil
}

func hasContent(text string, blocks, attachments []byte) bool {
	nonEmpty := func(b []byte) bool {
		t := string(bytes.TrimSpace(b))
		return t != "" && t != "[]" && t != "null"
	}
	return strings.TrimSpace(text) != "" || nonEmpty(blocks) || nonEmpty(attachments)
}

func (s *Server) appendMessageLocked(c *channel, m *message) {
	c.messages = append(c.messages, m)
	if m.threadTS != "" && m.threadTS != m.ts {
		if parent := c.find(m.threadTS); parent != nil {
			parent.replyCount++
			parent.latestReply = m.ts
			found := false
			for _, u := range parent.replyUsers {
				if u == m.user {
					found = true
				}
			}
			if !found {
				parent.replyUsers = append(parent.replyUsers, m.user)
			}
		}
	}
}

func (s *Server) systemMessageLocked(c *channel, subtype, user, text string) *message {
	m := &message{ts: s.nextTSLocked(), user: user, subtype: subtype, text: text}
	s.appendMessageLocked(c, m)
	return m
}

// messageEventLocked builds a message event for m in c (Events API shape).
func (s *Server) messageEventLocked(c *channel, m *message) map[string]any {
	ev := s.messageJSONLocked(c, m)
	ev["channel"] = c.id
	ev["event_ts"] = m.ts
	ev["channel_type"] = c.channelType()
	if m.threadTS != "" && m.threadTS != m.ts {
		if parent := c.find(m.threadTS); parent != nil {
			ev["parent_user_id"] = parent.user
		}
	}
	return ev
}

func (s *Server) permalinkLocked(c *channel, m *message) string {
	link := s.opts.PermalinkBase + "/archives/" + c.id + "/p" + strings.ReplaceAll(m.ts, ".", "")
	if m.threadTS != "" && m.threadTS != m.ts {
		link += "?thread_ts=" + m.threadTS + "&cid=" + c.id
	}
	return link
}

// ---- methods ----------------------------------------------------------------

func (s *Server) apiTest(c *apiCall) (map[string]any, error) {
	args := map[string]any{}
	for k := range c.form {
		if k != "token" {
			args[k] = c.form.Get(k)
		}
	}
	return map[string]any{"args": args}, nil
}

func (s *Server) authTest(c *apiCall) (map[string]any, error) {
	return map[string]any{
		"url":                   "https://" + s.opts.TeamDomain + ".slack.com/",
		"team":                  s.opts.TeamName,
		"user":                  s.opts.BotName,
		"team_id":               s.opts.TeamID,
		"user_id":               s.opts.BotUserID,
		"bot_id":                s.opts.BotID,
		"is_enterprise_install": false,
	}, nil
}

func (s *Server) teamInfo(c *apiCall) (map[string]any, error) {
	return map[string]any{"team": map[string]any{
		"id": s.opts.TeamID, "name": s.opts.TeamName, "domain": s.opts.TeamDomain,
		"email_domain": "", "icon": map[string]any{"image_default": true},
	}}, nil
}

func (s *Server) appsConnectionsOpen(c *apiCall) (map[string]any, error) {
	ticket := strings.ToLower(s.newIDLocked("")) + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	s.tickets[ticket] = time.Now()
	base := s.baseURLLocked()
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return map[string]any{"url": base + s.opts.WSPath + "?ticket=" + ticket + "&app_id=" + s.opts.AppID}, nil
}

// channelNameError applies Slack's channel-name rules.
func channelNameError(name string) string {
	if name == "" {
		return "invalid_name_required"
	}
	if runes(name) > 80 {
		return "invalid_name_maxlength"
	}
	onlyPunct := true
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			onlyPunct = false
		case r == '-' || r == '_':
		default:
			return "invalid_name_specials"
		}
	}
	if onlyPunct {
		return "invalid_name_punctuation"
	}
	return ""
}

func (s *Server) conversationsCreate(c *apiCall) (map[string]any, error) {
	name := c.str("name")
	if code := channelNameError(name); code != "" {
		return nil, errCode(code)
	}
	for _, ch := range s.channels {
		if !ch.isIM && ch.name == name {
			return nil, errCode("name_taken")
		}
	}
	ch := s.addChannelLocked(ChannelSeed{Name: name, IsPrivate: c.boolean("is_private"), Members: []string{s.opts.BotUserID}, Creator: s.opts.BotUserID})
	ch.topic, ch.topicBy, ch.topicAt = "", "", 0
	m := s.systemMessageLocked(ch, "channel_join", s.opts.BotUserID, "<@"+s.opts.BotUserID+"> has joined the channel")
	// As in Slack, the creator joins: member_joined_channel for the bot.
	c.events = append(c.events, s.memberJoinedEventLocked(ch, s.opts.BotUserID, ""), s.messageEventLocked(ch, m))
	return map[string]any{"channel": s.channelJSONLocked(ch, false)}, nil
}

func (s *Server) conversationsSetTopic(c *apiCall) (map[string]any, error) {
	ch, err := s.memberChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	if ch.isArchived {
		return nil, errCode("is_archived")
	}
	topic := c.str("topic")
	if runes(topic) > 250 {
		return nil, errCode("too_long")
	}
	ch.topic, ch.topicBy, ch.topicAt = topic, s.opts.BotUserID, s.nowUnix()
	if !ch.isIM {
		m := s.systemMessageLocked(ch, "channel_topic", s.opts.BotUserID, "set the channel topic: "+topic)
		m.topic = topic
		c.events = append(c.events, s.messageEventLocked(ch, m))
	}
	return map[string]any{"channel": s.channelJSONLocked(ch, false)}, nil
}

func (s *Server) conversationsInvite(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	if ch.isIM {
		return nil, errCode("method_not_supported_for_channel_type")
	}
	if ch.isArchived {
		return nil, errCode("is_archived")
	}
	if !ch.isMember(s.opts.BotUserID) {
		return nil, errCode("not_in_channel")
	}
	ids := splitList(c.str("users"))
	if len(ids) == 0 {
		return nil, errCode("no_user")
	}
	for _, id := range ids {
		switch {
		case id == s.opts.BotUserID:
			return nil, errCode("cant_invite_self")
		case s.users[id] == nil:
			return nil, errCode("user_not_found")
		case ch.isMember(id):
			return nil, errCode("already_in_channel")
		}
	}
	for _, id := range ids {
		if ch.isMember(id) {
			continue
		}
		ch.members = append(ch.members, id)
		m := s.systemMessageLocked(ch, "channel_join", id, "<@"+id+"> has joined the channel")
		m.inviter = s.opts.BotUserID
		c.events = append(c.events, s.memberJoinedEventLocked(ch, id, s.opts.BotUserID), s.messageEventLocked(ch, m))
	}
	return map[string]any{"channel": s.channelJSONLocked(ch, false)}, nil
}

func (s *Server) memberJoinedEventLocked(ch *channel, userID, inviter string) map[string]any {
	typ := "C"
	if ch.isPrivate {
		typ = "G"
	}
	ev := map[string]any{
		"type": "member_joined_channel", "user": userID, "channel": ch.id, "channel_type": typ,
		"team": s.opts.TeamID, "event_ts": s.nextTSLocked(),
	}
	if inviter != "" {
		ev["inviter"] = inviter
	}
	return ev
}

func (s *Server) conversationsInfo(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"channel": s.channelJSONLocked(ch, c.boolean("include_num_members"))}, nil
}

func (s *Server) conversationsList(c *apiCall) (map[string]any, error) {
	types := map[string]bool{}
	for _, t := range splitList(c.str("types")) {
		switch t {
		case "public_channel", "private_channel", "mpim", "im":
			types[t] = true
		default:
			return nil, errCode("invalid_types")
		}
	}
	if len(types) == 0 {
		types["public_channel"] = true
	}
	exclArchived := c.boolean("exclude_archived")
	var all []*channel
	for _, id := range s.chanOrder {
		ch := s.channels[id]
		switch {
		case exclArchived && ch.isArchived:
		case ch.isIM:
			if types["im"] {
				all = append(all, ch)
			}
		case ch.isPrivate:
			if types["private_channel"] && ch.isMember(s.opts.BotUserID) {
				all = append(all, ch)
			}
		default:
			if types["public_channel"] {
				all = append(all, ch)
			}
		}
	}
	start, end, next, err := page(c, len(all), 100, 1000)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, ch := range all[start:end] {
		out = append(out, s.channelJSONLocked(ch, true))
	}
	return map[string]any{"channels": out, "response_metadata": map[string]any{"next_cursor": next}}, nil
}

func (s *Server) conversationsMembers(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(c, len(ch.members), 100, 1000)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"members":           append([]string{}, ch.members[start:end]...),
		"response_metadata": map[string]any{"next_cursor": next},
	}, nil
}

func (s *Server) conversationsHistory(c *apiCall) (map[string]any, error) {
	ch, err := s.memberChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	inclusive := c.boolean("inclusive")
	oldest, hasOldest := tsMicros(c.str("oldest"))
	latest, hasLatest := tsMicros(c.str("latest"))
	var sel []*message
	for i := len(ch.messages) - 1; i >= 0; i-- {
		m := ch.messages[i]
		if m.threadTS != "" && m.threadTS != m.ts && !m.replyBroadcast {
			continue
		}
		t, _ := tsMicros(m.ts)
		if hasOldest && (t < oldest || (t == oldest && !inclusive)) {
			continue
		}
		if hasLatest && (t > latest || (t == latest && !inclusive)) {
			continue
		}
		sel = append(sel, m)
	}
	start, end, next, err := page(c, len(sel), 100, 999)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, m := range sel[start:end] {
		out = append(out, s.messageJSONLocked(ch, m))
	}
	return map[string]any{
		"messages":          out,
		"has_more":          next != "",
		"pin_count":         len(ch.pins),
		"response_metadata": map[string]any{"next_cursor": next},
	}, nil
}

func (s *Server) conversationsReplies(c *apiCall) (map[string]any, error) {
	ch, err := s.memberChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	ts := c.str("ts")
	parent := ch.find(ts)
	if parent == nil {
		return nil, errCode("thread_not_found")
	}
	sel := []*message{parent}
	for _, m := range ch.messages {
		if m.threadTS == ts && m.ts != ts {
			sel = append(sel, m)
		}
	}
	start, end, next, err := page(c, len(sel), 1000, 1000)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, m := range sel[start:end] {
		out = append(out, s.messageJSONLocked(ch, m))
	}
	return map[string]any{"messages": out, "has_more": next != "", "response_metadata": map[string]any{"next_cursor": next}}, nil
}

func (s *Server) conversationsJoin(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	if ch.isIM || ch.isPrivate {
		return nil, errCode("method_not_supported_for_channel_type")
	}
	if ch.isArchived {
		return nil, errCode("is_archived")
	}
	if ch.isMember(s.opts.BotUserID) {
		return map[string]any{
			"channel":           s.channelJSONLocked(ch, false),
			"warning":           "already_in_channel",
			"response_metadata": map[string]any{"warnings": []string{"already_in_channel"}},
		}, nil
	}
	ch.members = append(ch.members, s.opts.BotUserID)
	m := s.systemMessageLocked(ch, "channel_join", s.opts.BotUserID, "<@"+s.opts.BotUserID+"> has joined the channel")
	c.events = append(c.events, s.memberJoinedEventLocked(ch, s.opts.BotUserID, ""), s.messageEventLocked(ch, m))
	return map[string]any{"channel": s.channelJSONLocked(ch, false)}, nil
}

func (s *Server) conversationsOpen(c *apiCall) (map[string]any, error) {
	var ch *channel
	existed := false
	if id := c.str("channel"); id != "" {
		found, ok := s.channels[id]
		if !ok || !found.isIM {
			return nil, errCode("channel_not_found")
		}
		ch, existed = found, true
	} else {
		ids := splitList(c.str("users"))
		switch {
		case len(ids) == 0:
			return nil, errCode("users_list_not_supplied")
		case len(ids) > 1:
			// Multi-person DMs are not modelled.
			return nil, errCode("method_not_supported_for_channel_type")
		case ids[0] == s.opts.BotUserID:
			return nil, errCode("cannot_dm_bot")
		case s.users[ids[0]] == nil:
			return nil, errCode("user_not_found")
		}
		_, existed = s.ims[ids[0]]
		ch = s.openIMLocked(ids[0])
	}
	out := map[string]any{"no_op": existed, "already_open": existed}
	if c.boolean("return_im") {
		out["channel"] = s.channelJSONLocked(ch, false)
	} else {
		out["channel"] = map[string]any{"id": ch.id}
	}
	return out, nil
}

func (s *Server) conversationsArchive(c *apiCall) (map[string]any, error) {
	ch, err := s.memberChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	if ch.isIM {
		return nil, errCode("method_not_supported_for_channel_type")
	}
	if ch.isArchived {
		return nil, errCode("already_archived")
	}
	if ch.name == "general" { // the workspace's default channel
		return nil, errCode("cant_archive_general")
	}
	m := s.systemMessageLocked(ch, "channel_archive", s.opts.BotUserID, "archived the channel")
	ch.isArchived = true
	typ := "channel_archive"
	if ch.isPrivate {
		typ = "group_archive"
	}
	c.events = append(c.events, s.messageEventLocked(ch, m),
		map[string]any{"type": typ, "channel": ch.id, "user": s.opts.BotUserID, "event_ts": s.nextTSLocked()})
	return map[string]any{}, nil
}

func (s *Server) chatPostMessage(c *apiCall) (map[string]any, error) {
	ch, err := s.postTargetLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	blocks, err := s.validateMessageContentLocked(c)
	if err != nil {
		return nil, err
	}
	text := c.str("text")
	attachments := c.raw("attachments")
	if !hasContent(text, blocks, attachments) {
		return nil, errCode("no_text")
	}
	m := &message{
		ts: s.nextTSLocked(), threadTS: c.str("thread_ts"), user: s.opts.BotUserID,
		botID: s.opts.BotID, appID: s.opts.AppID, text: text, blocks: blocks,
		replyBroadcast: c.boolean("reply_broadcast"),
	}
	if len(bytes.TrimSpace(attachments)) > 0 && json.Valid(attachments) {
		m.attachments = append(json.RawMessage(nil), attachments...)
	}
	if md := c.raw("metadata"); len(md) > 0 && json.Valid(md) && string(md) != "null" {
		m.metadata = append(json.RawMessage(nil), md...)
	}
	s.appendMessageLocked(ch, m)
	c.events = append(c.events, s.messageEventLocked(ch, m))
	return map[string]any{"channel": ch.id, "ts": m.ts, "message": s.messageJSONLocked(ch, m)}, nil
}

func (s *Server) chatPostEphemeral(c *apiCall) (map[string]any, error) {
	ch, err := s.postTargetLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	userID := c.str("user")
	if s.users[userID] == nil {
		return nil, errCode("user_not_found")
	}
	if !ch.isMember(userID) {
		return nil, errCode("user_not_in_channel")
	}
	blocks, err := s.validateMessageContentLocked(c)
	if err != nil {
		return nil, err
	}
	text := c.str("text")
	if !hasContent(text, blocks, c.raw("attachments")) {
		return nil, errCode("no_text")
	}
	ts := s.nextTSLocked()
	s.ephemerals = append(s.ephemerals, Ephemeral{
		ChannelID: ch.id, UserID: userID, TS: ts, ThreadTS: c.str("thread_ts"),
		Text: text, Blocks: blocks, Source: "chat.postEphemeral",
	})
	return map[string]any{"message_ts": ts}, nil
}

func (s *Server) chatUpdate(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	m := ch.find(c.str("ts"))
	if m == nil {
		return nil, errCode("message_not_found")
	}
	if m.botID != s.opts.BotID || m.subtype != "" {
		return nil, errCode("cant_update_message")
	}
	if ch.isArchived {
		return nil, errCode("is_archived")
	}
	blocks, err := s.validateMessageContentLocked(c)
	if err != nil {
		return nil, err
	}
	if !c.has("text") && !c.has("blocks") && !c.has("attachments") {
		return nil, errCode("no_text")
	}
	prev := s.messageJSONLocked(ch, m)
	newText, newBlocks, newAtt := m.text, m.blocks, m.attachments
	if c.has("text") {
		newText = c.str("text")
	}
	if c.has("blocks") {
		newBlocks = blocks
		if string(newBlocks) == "[]" {
			newBlocks = nil
		}
	}
	if c.has("attachments") {
		newAtt = nil
		if a := c.raw("attachments"); json.Valid(a) && string(bytes.TrimSpace(a)) != "[]" {
			newAtt = append(json.RawMessage(nil), a...)
		}
	}
	if !hasContent(newText, newBlocks, newAtt) {
		return nil, errCode("no_text")
	}
	m.text, m.blocks, m.attachments = newText, newBlocks, newAtt
	m.editedTS, m.editedBy = s.nextTSLocked(), s.opts.BotUserID
	evTS := s.nextTSLocked()
	c.events = append(c.events, map[string]any{
		"type": "message", "subtype": "message_changed", "hidden": true, "channel": ch.id,
		"message": s.messageJSONLocked(ch, m), "previous_message": prev,
		"ts": evTS, "event_ts": evTS, "channel_type": ch.channelType(),
	})
	return map[string]any{"channel": ch.id, "ts": m.ts, "text": m.text, "message": s.messageJSONLocked(ch, m)}, nil
}

func (s *Server) chatDelete(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	m := ch.find(c.str("ts"))
	if m == nil {
		return nil, errCode("message_not_found")
	}
	if m.botID != s.opts.BotID {
		return nil, errCode("cant_delete_message")
	}
	prev := s.messageJSONLocked(ch, m)
	ch.remove(m.ts)
	evTS := s.nextTSLocked()
	c.events = append(c.events, map[string]any{
		"type": "message", "subtype": "message_deleted", "hidden": true, "channel": ch.id,
		"ts": evTS, "deleted_ts": m.ts, "event_ts": evTS, "previous_message": prev,
		"channel_type": ch.channelType(),
	})
	return map[string]any{"channel": ch.id, "ts": m.ts}, nil
}

func (s *Server) chatGetPermalink(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	m := ch.find(c.str("message_ts"))
	if m == nil {
		return nil, errCode("message_not_found")
	}
	return map[string]any{"channel": ch.id, "permalink": s.permalinkLocked(ch, m)}, nil
}

func (s *Server) pinsAdd(c *apiCall) (map[string]any, error) {
	ch, err := s.memberChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	if ch.isArchived {
		return nil, errCode("is_archived")
	}
	ts := c.str("timestamp")
	if ts == "" {
		return nil, errCode("no_item_specified")
	}
	m := ch.find(ts)
	if m == nil {
		return nil, errCode("message_not_found")
	}
	if ch.isPinned(ts) {
		return nil, errCode("already_pinned")
	}
	c.events = append(c.events, s.pinLocked(ch, m, s.opts.BotUserID))
	return map[string]any{}, nil
}

// pinLocked pins m and returns the pin_added event.
func (s *Server) pinLocked(ch *channel, m *message, by string) map[string]any {
	now := s.nowUnix()
	ch.pins = append(ch.pins, pin{ts: m.ts, by: by, at: now})
	msg := s.messageJSONLocked(ch, m)
	msg["permalink"] = s.permalinkLocked(ch, m)
	evTS := s.nextTSLocked()
	return map[string]any{
		"type": "pin_added", "user": by, "channel_id": ch.id,
		"item":      map[string]any{"type": "message", "created": now, "created_by": by, "channel": ch.id, "message": msg},
		"item_user": m.user, "pin_count": len(ch.pins),
		"pinned_info": map[string]any{"channel": ch.id, "pinned_by": by, "pinned_ts": now},
		"event_ts":    evTS,
	}
}

func (s *Server) pinsRemove(c *apiCall) (map[string]any, error) {
	ch, err := s.memberChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	ts := c.str("timestamp")
	if !ch.isPinned(ts) {
		return nil, errCode("no_pin")
	}
	for i, p := range ch.pins {
		if p.ts == ts {
			ch.pins = append(ch.pins[:i:i], ch.pins[i+1:]...)
			break
		}
	}
	return map[string]any{}, nil
}

func (s *Server) pinsList(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	items := []any{}
	for _, p := range ch.pins {
		m := ch.find(p.ts)
		if m == nil {
			continue
		}
		msg := s.messageJSONLocked(ch, m)
		msg["permalink"] = s.permalinkLocked(ch, m)
		items = append(items, map[string]any{"type": "message", "created": p.at, "created_by": p.by, "channel": ch.id, "message": msg})
	}
	return map[string]any{"items": items}, nil
}

func (s *Server) bookmarksAdd(c *apiCall) (map[string]any, error) {
	ch, err := s.memberChannelLocked(c.str("channel_id"))
	if err != nil {
		return nil, err
	}
	if ch.isArchived {
		return nil, errCode("is_archived")
	}
	title, typ, link := c.str("title"), c.str("type"), c.str("link")
	switch {
	case title == "":
		return nil, errCode("invalid_title")
	case typ != "link":
		return nil, errCode("invalid_bookmark_type")
	case link == "":
		return nil, errCode("invalid_link")
	}
	b := Bookmark{
		ID: s.newIDLocked("Bk"), ChannelID: ch.id, Title: title, Link: link, Emoji: c.str("emoji"),
		Type: typ, CreatedBy: s.opts.BotUserID, Created: time.Unix(s.nowUnix(), 0),
	}
	ch.bookmarks = append(ch.bookmarks, b)
	return map[string]any{"bookmark": bookmarkJSON(b, s.opts.TeamID)}, nil
}

func (s *Server) bookmarksList(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel_id"))
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, b := range ch.bookmarks {
		out = append(out, bookmarkJSON(b, s.opts.TeamID))
	}
	return map[string]any{"bookmarks": out}, nil
}

func (s *Server) usersInfo(c *apiCall) (map[string]any, error) {
	if c.has("users") {
		var out []any
		for _, id := range splitList(c.str("users")) {
			u := s.users[id]
			if u == nil {
				return nil, errCode("user_not_found")
			}
			out = append(out, s.userJSONLocked(u))
		}
		return map[string]any{"users": out}, nil
	}
	u := s.users[c.str("user")]
	if u == nil {
		return nil, errCode("user_not_found")
	}
	return map[string]any{"user": s.userJSONLocked(u)}, nil
}

func (s *Server) usersLookupByEmail(c *apiCall) (map[string]any, error) {
	email := c.str("email")
	for _, id := range s.userOrder {
		if u := s.users[id]; email != "" && strings.EqualFold(u.Email, email) {
			return map[string]any{"user": s.userJSONLocked(u)}, nil
		}
	}
	return nil, errCode("users_not_found")
}

func (s *Server) usersList(c *apiCall) (map[string]any, error) {
	start, end, next, err := page(c, len(s.userOrder), 1000, 1000)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, id := range s.userOrder[start:end] {
		out = append(out, s.userJSONLocked(s.users[id]))
	}
	return map[string]any{"members": out, "cache_ts": s.nowUnix(), "response_metadata": map[string]any{"next_cursor": next}}, nil
}

func validEmojiName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '+' || r == '\'') {
			return false
		}
	}
	return true
}

// reactLocked adds a reaction; it returns the reaction_added event.
func (s *Server) reactLocked(ch *channel, m *message, userID, name string) (map[string]any, error) {
	if !validEmojiName(name) {
		return nil, errCode("invalid_name")
	}
	var r *reaction
	for _, x := range m.reactions {
		if x.name == name {
			r = x
		}
	}
	if r == nil {
		r = &reaction{name: name}
		m.reactions = append(m.reactions, r)
	}
	for _, u := range r.users {
		if u == userID {
			return nil, errCode("already_reacted")
		}
	}
	r.users = append(r.users, userID)
	return map[string]any{
		"type": "reaction_added", "user": userID, "reaction": name, "item_user": m.user,
		"item":     map[string]any{"type": "message", "channel": ch.id, "ts": m.ts},
		"event_ts": s.nextTSLocked(),
	}, nil
}

func (s *Server) reactionsAdd(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	m := ch.find(c.str("timestamp"))
	if m == nil {
		return nil, errCode("message_not_found")
	}
	ev, err := s.reactLocked(ch, m, s.opts.BotUserID, strings.Trim(c.str("name"), ":"))
	if err != nil {
		return nil, err
	}
	c.events = append(c.events, ev)
	return map[string]any{}, nil
}

func (s *Server) reactionsRemove(c *apiCall) (map[string]any, error) {
	ch, err := s.visibleChannelLocked(c.str("channel"))
	if err != nil {
		return nil, err
	}
	m := ch.find(c.str("timestamp"))
	if m == nil {
		return nil, errCode("message_not_found")
	}
	name := strings.Trim(c.str("name"), ":")
	for i, r := range m.reactions {
		if r.name != name {
			continue
		}
		for j, u := range r.users {
			if u == s.opts.BotUserID {
				r.users = append(r.users[:j:j], r.users[j+1:]...)
				if len(r.users) == 0 {
					m.reactions = append(m.reactions[:i:i], m.reactions[i+1:]...)
				}
				return map[string]any{}, nil
			}
		}
	}
	return nil, errCode("no_reaction")
}

// deliverAsync delivers an inner event in the background (Options.APIEvents).
func (s *Server) deliverAsync(inner map[string]any) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 4*s.opts.AckTimeout)
		defer cancel()
		if _, err := s.deliverEvent(ctx, inner); err != nil {
			s.logf("api event %v: %v", inner["type"], err)
		}
	}()
}
