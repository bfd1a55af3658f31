package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// ---- response_url -------------------------------------------------------------

type responseURL struct {
	url       string
	origin    string // "slash_commands" or "block_actions"
	userID    string
	channelID string
	messageTS string
	ephemeral bool
	issued    time.Time
	uses      int
}

const (
	responseURLMaxUses = 5
	responseURLTTL     = 30 * time.Minute
)

func (s *Server) newResponseURLLocked(origin, userID, channelID, messageTS string, ephemeral bool) string {
	secret := randHex(12)
	kind := "commands"
	if origin != "slash_commands" {
		kind = "actions"
	}
	u := fmt.Sprintf("%s%s%s/%s/%d/%s", s.baseURLLocked(), s.opts.ResponsePath, kind, s.opts.TeamID, time.Now().UnixNano()%1e13, secret)
	s.responseURLs[secret] = &responseURL{
		url: u, origin: origin, userID: userID, channelID: channelID,
		messageTS: messageTS, ephemeral: ephemeral, issued: time.Now(),
	}
	return u
}

// responseMessage is what apps POST to a response_url (and may put in a
// slash command ack).
type responseMessage struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	Attachments     json.RawMessage `json:"attachments"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal flexBool        `json:"replace_original"`
	DeleteOriginal  flexBool        `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

// flexBool accepts true/false and "true"/"false".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	v := strings.Trim(string(data), `"`)
	*b = flexBool(v == "true" || v == "1")
	return nil
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request, rest string) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	secret := rest[strings.LastIndex(rest, "/")+1:]
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if vals, err := url.ParseQuery(string(body)); err == nil && vals.Get("payload") != "" {
			body = []byte(vals.Get("payload"))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ru := s.responseURLs[secret]
	post := ResponseURLPost{Body: append(json.RawMessage(nil), body...), At: time.Now()}
	if ru != nil {
		post.URL, post.Origin, post.UserID, post.ChannelID, post.MessageTS = ru.url, ru.origin, ru.userID, ru.channelID, ru.messageTS
	}
	fail := func(status int, code string) {
		post.Status = status
		s.responsePost = append(s.responsePost, post)
		s.bumpLocked()
		writeJSON(w, status, map[string]any{"ok": false, "error": code})
	}
	var msg responseMessage
	switch {
	case ru == nil:
		fail(http.StatusNotFound, "no_service")
		return
	case time.Since(ru.issued) > responseURLTTL:
		fail(http.StatusNotFound, "expired_url")
		return
	case ru.uses >= responseURLMaxUses:
		fail(http.StatusNotFound, "used_url")
		return
	case json.Unmarshal(body, &msg) != nil:
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	post.Text, post.Blocks, post.ResponseType = msg.Text, nullRaw(msg.Blocks), msg.ResponseType
	post.ReplaceOriginal, post.DeleteOriginal, post.ThreadTS = bool(msg.ReplaceOriginal), bool(msg.DeleteOriginal), msg.ThreadTS
	if code := s.applyResponseLocked(ru, msg, "response_url"); code != "" {
		fail(http.StatusBadRequest, code)
		return
	}
	ru.uses++
	post.Status = http.StatusOK
	s.responsePost = append(s.responsePost, post)
	s.bumpLocked()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// applyResponseLocked applies a response_url message (or slash command ack
// payload); it returns an error code when the message is rejected.
func (s *Server) applyResponseLocked(ru *responseURL, msg responseMessage, source string) string {
	var blocks json.RawMessage
	if b := nullRaw(msg.Blocks); b != nil {
		parsed, ok := parseBlocks(b)
		if !ok {
			return "invalid_blocks_format"
		}
		if len(validateBlocks(parsed, 50, "/blocks")) > 0 {
			return "invalid_blocks"
		}
		blocks = s.normalizeBlocksLocked(parsed)
	}
	if runes(msg.Text) > maxMessageRunes {
		return "msg_too_long"
	}
	ch := s.channels[ru.channelID]
	if ch == nil {
		return "channel_not_found"
	}
	if ru.messageTS != "" && (msg.DeleteOriginal || msg.ReplaceOriginal) {
		if ru.ephemeral {
			for i, e := range s.ephemerals {
				if e.ChannelID == ch.id && e.UserID == ru.userID && e.TS == ru.messageTS {
					if msg.DeleteOriginal {
						s.ephemerals = append(s.ephemerals[:i:i], s.ephemerals[i+1:]...)
					} else {
						s.ephemerals[i].Text, s.ephemerals[i].Blocks = msg.Text, blocks
					}
					break
				}
			}
			return ""
		}
		m := ch.find(ru.messageTS)
		if m == nil {
			return "message_not_found"
		}
		if msg.DeleteOriginal {
			ch.remove(m.ts)
			return ""
		}
		m.text, m.blocks = msg.Text, blocks
		if a := nullRaw(msg.Attachments); a != nil {
			m.attachments = a
		}
		return ""
	}
	if msg.DeleteOriginal {
		return ""
	}
	if !hasContent(msg.Text, blocks, msg.Attachments) {
		return "no_text"
	}
	if msg.ResponseType == "in_channel" {
		m := &message{
			ts: s.nextTSLocked(), threadTS: msg.ThreadTS, user: s.opts.BotUserID, botID: s.opts.BotID,
			appID: s.opts.AppID, text: msg.Text, blocks: blocks,
		}
		s.appendMessageLocked(ch, m)
		return ""
	}
	s.ephemerals = append(s.ephemerals, Ephemeral{
		ChannelID: ch.id, UserID: ru.userID, TS: s.nextTSLocked(), ThreadTS: msg.ThreadTS,
		Text: msg.Text, Blocks: blocks, Source: source,
	})
	return ""
}

// ---- actors -------------------------------------------------------------------

func (s *Server) userLocked(userID string) (*User, error) {
	u, ok := s.users[userID]
	if !ok {
		return nil, fmt.Errorf("fakeslack: no user %q", userID)
	}
	return u, nil
}

// userChannelLocked resolves a channel (ID or name) as seen by a human user.
// A user ID resolves to the bot's DM with that user.
// memberLocked finds a user and a channel they are in (or their DM with
// the bot).
func (s *Server) memberLocked(userID, channelID string) (*User, *channel, error) {
	u, err := s.userLocked(userID)
	if err != nil {
		return nil, nil, err
	}
	ch, err := s.userChannelLocked(u, channelID, true)
	if err != nil {
		return nil, nil, err
	}
	return u, ch, nil
}

func (s *Server) userChannelLocked(u *User, ref string, mustBeMember bool) (*channel, error) {
	if ref == s.opts.BotUserID {
		return s.openIMLocked(u.ID), nil
	}
	ch := s.lookupChannelLocked(ref)
	if ch == nil {
		return nil, fmt.Errorf("fakeslack: no channel %q", ref)
	}
	if ch.isIM {
		if ch.imUser != u.ID {
			return nil, fmt.Errorf("fakeslack: %s is not %s's DM with the bot", ch.id, u.ID)
		}
		return ch, nil
	}
	if (mustBeMember || ch.isPrivate) && !ch.isMember(u.ID) {
		return nil, fmt.Errorf("fakeslack: user %s is not a member of #%s (%s)", u.ID, ch.name, ch.id)
	}
	return ch, nil
}

func (s *Server) botSubscribedLocked(ch *channel) bool {
	return ch.isIM || ch.isMember(s.opts.BotUserID)
}

func (s *Server) userObjLocked(u *User) map[string]any {
	return map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.opts.TeamID}
}

func (s *Server) teamObj() map[string]any {
	return map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain}
}

// ---- slash commands -------------------------------------------------------------

// SlashCommand sends Options.Command (default "/incident") with text, as
// typed by userID in channelID (ID or name; a private channel requires
// membership). The payload carries a fresh trigger_id and a response_url
// served by the fake. It waits for the ack (bounded by ctx) and applies an
// ack payload as Slack does: its text/blocks become an ephemeral reply
// (or a channel message with response_type "in_channel") unless it was late.
func (s *Server) SlashCommand(ctx context.Context, userID, channelID, text string) (*Ack, error) {
	return s.SlashCommandNamed(ctx, s.opts.Command, userID, channelID, text)
}

// SlashCommandNamed is SlashCommand for another command.
func (s *Server) SlashCommandNamed(ctx context.Context, command, userID, channelID, text string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	ch, err := s.userChannelLocked(u, channelID, false)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if ch.isArchived {
		// Slack offers no message box in an archived channel.
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: #%s is archived: commands cannot be run there", ch.name)
	}
	chName := ch.name
	if ch.isIM {
		chName = "directmessage"
	}
	payload := map[string]any{
		"token":                 s.opts.VerificationToken,
		"team_id":               s.opts.TeamID,
		"team_domain":           s.opts.TeamDomain,
		"channel_id":            ch.id,
		"channel_name":          chName,
		"user_id":               u.ID,
		"user_name":             u.Name,
		"command":               command,
		"text":                  text,
		"api_app_id":            s.opts.AppID,
		"is_enterprise_install": false,
		"response_url":          s.newResponseURLLocked("slash_commands", u.ID, ch.id, "", false),
		"trigger_id":            s.issueTriggerLocked(u.ID),
	}
	uid, cid := u.ID, ch.id
	s.mu.Unlock()
	return s.deliver(ctx, "slash_commands", payload, deliverOpts{
		eventType: command, accepts: true,
		onAck: func(p json.RawMessage, late bool) {
			if late || len(p) == 0 {
				return
			}
			var msg responseMessage
			if json.Unmarshal(p, &msg) != nil || (msg.Text == "" && nullRaw(msg.Blocks) == nil) {
				return
			}
			ru := &responseURL{origin: "slash_commands", userID: uid, channelID: cid}
			if code := s.applyResponseLocked(ru, msg, "ack"); code != "" {
				s.logf("slash command ack payload rejected: %s", code)
			}
		},
	})
}

// ---- interactions ---------------------------------------------------------------

// Interaction sends an arbitrary interactive payload. Missing token, team,
// api_app_id and trigger_id are filled in (a trigger_id is issued for
// payload.User.ID). A view_submission ack is applied to the view.
func (s *Server) Interaction(ctx context.Context, payload slack.InteractionCallback) (*Ack, error) {
	s.mu.Lock()
	if payload.Token == "" {
		payload.Token = s.opts.VerificationToken
	}
	if payload.Team.ID == "" {
		payload.Team.ID, payload.Team.Domain = s.opts.TeamID, s.opts.TeamDomain
	}
	if payload.APIAppID == "" {
		payload.APIAppID = s.opts.AppID
	}
	if payload.User.TeamID == "" {
		payload.User.TeamID = s.opts.TeamID
	}
	if payload.TriggerID == "" && payload.User.ID != "" {
		payload.TriggerID = s.issueTriggerLocked(payload.User.ID)
	}
	var v *view
	if payload.Type == slack.InteractionTypeViewSubmission {
		v = s.views[payload.View.ID]
	}
	s.mu.Unlock()
	raw, err := payload.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return s.deliver(ctx, "interactive", json.RawMessage(raw), deliverOpts{
		eventType: string(payload.Type), accepts: true,
		onAck: func(p json.RawMessage, late bool) {
			if v != nil && !late {
				s.applyViewSubmissionAckLocked(v, p)
			}
		},
	})
}

// ClickButton clicks the button with actionID in the message (or an
// ephemeral message shown to userID) at messageTS in channelID, sending a
// block_actions payload with a trigger_id and a response_url bound to that
// message. It waits for the ack.
func (s *Server) ClickButton(ctx context.Context, userID, channelID, messageTS, actionID string) (*Ack, error) {
	return s.ClickButtonValue(ctx, userID, channelID, messageTS, actionID, "")
}

// ClickButtonValue is ClickButton choosing among buttons sharing an
// action_id by value ("" matches any).
func (s *Server) ClickButtonValue(ctx context.Context, userID, channelID, messageTS, actionID, value string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	ch, err := s.userChannelLocked(u, channelID, false)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	var (
		blocks    json.RawMessage
		msgJSON   map[string]any
		ephemeral bool
		threadTS  string
	)
	if m := ch.find(messageTS); m != nil {
		blocks, msgJSON, threadTS = m.blocks, s.messageJSONLocked(ch, m), m.threadTS
	} else {
		for _, e := range s.ephemerals {
			if e.ChannelID == ch.id && e.UserID == u.ID && e.TS == messageTS {
				blocks, ephemeral, threadTS = e.Blocks, true, e.ThreadTS
			}
		}
		if !ephemeral {
			s.mu.Unlock()
			return nil, fmt.Errorf("fakeslack: no message %s in %s", messageTS, ch.id)
		}
	}
	btn, ok := findButton(blocks, actionID, value)
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: no button %q (value %q) in message %s; buttons: %v", actionID, value, messageTS, buttonIDs(blocks))
	}
	container := map[string]any{"type": "message", "message_ts": messageTS, "channel_id": ch.id, "is_ephemeral": ephemeral}
	if threadTS != "" {
		container["thread_ts"] = threadTS
	}
	chName := ch.name
	if ch.isIM {
		chName = "directmessage"
	}
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  s.userObjLocked(u),
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"container":             container,
		"trigger_id":            s.issueTriggerLocked(u.ID),
		"team":                  s.teamObj(),
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": ch.id, "name": chName},
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url":          s.newResponseURLLocked("block_actions", u.ID, ch.id, messageTS, ephemeral),
		"actions":               []any{s.buttonActionLocked(btn)},
	}
	if msgJSON != nil {
		payload["message"] = msgJSON
	}
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", payload, deliverOpts{eventType: "block_actions", accepts: true})
}

func (s *Server) buttonActionLocked(b Button) map[string]any {
	a := map[string]any{
		"action_id": b.ActionID, "block_id": b.BlockID, "text": b.raw["text"],
		"type": "button", "action_ts": s.nextTSLocked(),
	}
	if b.Value != "" {
		a["value"] = b.Value
	}
	if b.Style != "" {
		a["style"] = b.Style
	}
	return a
}

func buttonIDs(blocks json.RawMessage) []string {
	var out []string
	for _, b := range Buttons(blocks) {
		out = append(out, b.ActionID+"="+b.Value)
	}
	return out
}

// ClickHomeButton clicks a button in the user's published Home tab.
func (s *Server) ClickHomeButton(ctx context.Context, userID, actionID, value string) (*Ack, error) {
	s.mu.Lock()
	id, ok := s.homeViews[userID]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("fakeslack: no home view published for %s", userID)
	}
	return s.ClickViewButton(ctx, userID, id, actionID, value)
}

// ClickViewButton clicks a button in an open modal or Home view
// (value "" matches any button with actionID).
func (s *Server) ClickViewButton(ctx context.Context, userID, viewID, actionID, value string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	v, ok := s.views[viewID]
	if !ok || v.userID != u.ID || !s.viewOpenLocked(v) {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: view %s is not open for %s", viewID, userID)
	}
	btn, ok := findButton(v.blocks, actionID, value)
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: no button %q (value %q) in view %s; buttons: %v", actionID, value, viewID, buttonIDs(v.blocks))
	}
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  s.userObjLocked(u),
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"container":             map[string]any{"type": "view", "view_id": v.id},
		"trigger_id":            s.issueTriggerLocked(u.ID),
		"team":                  s.teamObj(),
		"enterprise":            nil,
		"is_enterprise_install": false,
		"view":                  s.viewJSONLocked(v, nil),
		"state":                 map[string]any{"values": map[string]any{}},
		"actions":               []any{s.buttonActionLocked(btn)},
	}
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", payload, deliverOpts{eventType: "block_actions", accepts: true})
}

// SubmitView submits the modal viewID (which must be the top of userID's
// modal stack) with values keyed by block_id then action_id. Values are
// strings: option values for selects (comma-separated for multi-selects and
// checkboxes), user/channel IDs, "2006-01-02" dates, unix seconds for
// datetimepickers. Inputs not given take their initial value; a required
// input without a value is an error, as the Slack client would refuse to
// submit. The ack's response_action (errors, update, push, clear) is
// applied; an empty ack closes the view. A late ack is ignored, as Slack does.
func (s *Server) SubmitView(ctx context.Context, userID, viewID string, values map[string]map[string]string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	v, ok := s.views[viewID]
	stack := s.modalStack[u.ID]
	if !ok || v.typ != "modal" || len(stack) == 0 || stack[len(stack)-1] != viewID {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: view %s is not the open modal of %s", viewID, userID)
	}
	state, err := buildViewState(v.blocks, values)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	payload := map[string]any{
		"type":                  "view_submission",
		"team":                  s.teamObj(),
		"user":                  s.userObjLocked(u),
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"trigger_id":            s.issueTriggerLocked(u.ID),
		"view":                  s.viewJSONLocked(v, state),
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	v.errors = nil
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", payload, deliverOpts{
		eventType: "view_submission", accepts: true,
		onAck: func(p json.RawMessage, late bool) {
			if !late && s.viewOpenLocked(v) {
				s.applyViewSubmissionAckLocked(v, p)
			}
		},
	})
}

// CloseView closes the user's open modal viewID as the user would (the X
// or Cancel button). When the view has notify_on_close, a view_closed
// payload is sent and its ack returned; otherwise the Ack is nil.
func (s *Server) CloseView(ctx context.Context, userID, viewID string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	v, ok := s.views[viewID]
	if !ok || v.typ != "modal" || !s.viewOpenLocked(v) || v.userID != u.ID {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: view %s is not open for %s", viewID, userID)
	}
	s.closeModalLocked(u.ID, v.id)
	s.bumpLocked()
	if !v.notifyOnClose {
		s.mu.Unlock()
		return nil, nil
	}
	payload := map[string]any{
		"type": "view_closed", "team": s.teamObj(), "user": s.userObjLocked(u),
		"api_app_id": s.opts.AppID, "token": s.opts.VerificationToken,
		"view": s.viewJSONLocked(v, nil), "is_cleared": false,
		"is_enterprise_install": false, "enterprise": nil,
	}
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", payload, deliverOpts{eventType: "view_closed", accepts: true})
}

// ---- user events --------------------------------------------------------------

// deliverIfSubscribed delivers inner (if non-nil) and maps "nothing to
// deliver" to success.
func (s *Server) deliverAll(ctx context.Context, events ...map[string]any) error {
	for _, ev := range events {
		if ev == nil {
			continue
		}
		if _, err := s.deliverEvent(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// PostUserMessage stores a message from userID in channelID (ID, name, or
// the bot's user ID for the user's DM with the bot) and, when the bot is a
// member, delivers the message event and waits for its ack. It returns the
// message ts. The user must be a member of the channel.
func (s *Server) PostUserMessage(ctx context.Context, userID, channelID, text string) (string, error) {
	return s.postUser(ctx, userID, channelID, "", text)
}

// PostUserReply is PostUserMessage in the thread of threadTS.
func (s *Server) PostUserReply(ctx context.Context, userID, channelID, threadTS, text string) (string, error) {
	return s.postUser(ctx, userID, channelID, threadTS, text)
}

// PostDM is PostUserMessage in the user's DM with the bot.
func (s *Server) PostDM(ctx context.Context, userID, text string) (string, error) {
	return s.postUser(ctx, userID, s.opts.BotUserID, "", text)
}

func (s *Server) postUser(ctx context.Context, userID, channelID, threadTS, text string) (string, error) {
	s.mu.Lock()
	u, ch, err := s.memberLocked(userID, channelID)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	if ch.isArchived {
		s.mu.Unlock()
		return "", fmt.Errorf("fakeslack: #%s is archived", ch.name)
	}
	if threadTS != "" && ch.find(threadTS) == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("fakeslack: no thread %s in %s", threadTS, ch.id)
	}
	if runes(text) > maxMessageRunes {
		// Slack's limit for a message, people's included.
		s.mu.Unlock()
		return "", errCode("msg_too_long")
	}
	m := &message{ts: s.nextTSLocked(), threadTS: threadTS, user: u.ID, text: text, clientMsgID: randUUID()}
	s.appendMessageLocked(ch, m)
	s.bumpLocked()
	var ev map[string]any
	if s.botSubscribedLocked(ch) {
		ev = s.messageEventLocked(ch, m)
	}
	s.mu.Unlock()
	return m.ts, s.deliverAll(ctx, ev)
}

// EditUserMessage edits a user's own message and delivers message_changed.
func (s *Server) EditUserMessage(ctx context.Context, userID, channelID, ts, text string) error {
	s.mu.Lock()
	u, ch, err := s.memberLocked(userID, channelID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	m := ch.find(ts)
	if m == nil || m.user != u.ID || m.botID != "" || m.subtype != "" {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: no message %s by %s in %s", ts, userID, ch.id)
	}
	prev := s.messageJSONLocked(ch, m)
	m.text = text
	m.editedTS, m.editedBy = s.nextTSLocked(), u.ID
	evTS := s.nextTSLocked()
	msg := s.messageJSONLocked(ch, m)
	s.bumpLocked()
	var ev map[string]any
	if s.botSubscribedLocked(ch) {
		ev = map[string]any{
			"type": "message", "subtype": "message_changed", "hidden": true, "channel": ch.id,
			"message": msg, "previous_message": prev, "ts": evTS, "event_ts": evTS,
			"channel_type": ch.channelType(),
		}
	}
	s.mu.Unlock()
	return s.deliverAll(ctx, ev)
}

// DeleteUserMessage deletes a user's own message and delivers message_deleted.
func (s *Server) DeleteUserMessage(ctx context.Context, userID, channelID, ts string) error {
	s.mu.Lock()
	u, ch, err := s.memberLocked(userID, channelID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	m := ch.find(ts)
	if m == nil || (m.user != u.ID && !u.IsAdmin) {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: no message %s by %s in %s", ts, userID, ch.id)
	}
	prev := s.messageJSONLocked(ch, m)
	ch.remove(ts)
	evTS := s.nextTSLocked()
	s.bumpLocked()
	var ev map[string]any
	if s.botSubscribedLocked(ch) {
		ev = map[string]any{
			"type": "message", "subtype": "message_deleted", "hidden": true, "channel": ch.id,
			"ts": evTS, "deleted_ts": ts, "event_ts": evTS, "previous_message": prev,
			"channel_type": ch.channelType(),
		}
	}
	s.mu.Unlock()
	return s.deliverAll(ctx, ev)
}

// AddReaction adds userID's emoji reaction (e.g. "pushpin") to a message and
// delivers reaction_added.
func (s *Server) AddReaction(ctx context.Context, userID, channelID, ts, name string) error {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	ch, err := s.userChannelLocked(u, channelID, false)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	m := ch.find(ts)
	if m == nil {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: no message %s in %s", ts, ch.id)
	}
	ev, err := s.reactLocked(ch, m, u.ID, strings.Trim(name, ":"))
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: reaction: %w", err)
	}
	s.bumpLocked()
	if !s.botSubscribedLocked(ch) {
		ev = nil
	}
	s.mu.Unlock()
	return s.deliverAll(ctx, ev)
}

// PinMessage pins a message as userID and delivers pin_added.
func (s *Server) PinMessage(ctx context.Context, userID, channelID, ts string) error {
	s.mu.Lock()
	u, ch, err := s.memberLocked(userID, channelID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	m := ch.find(ts)
	if m == nil {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: no message %s in %s", ts, ch.id)
	}
	if ch.isPinned(ts) {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: message %s already pinned", ts)
	}
	ev := s.pinLocked(ch, m, u.ID)
	s.bumpLocked()
	if !s.botSubscribedLocked(ch) {
		ev = nil
	}
	s.mu.Unlock()
	return s.deliverAll(ctx, ev)
}

// OpenAppHome delivers app_home_opened (tab "home") for userID, with the
// published Home view if any.
func (s *Server) OpenAppHome(ctx context.Context, userID string) error {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	im := s.openIMLocked(u.ID)
	ev := map[string]any{"type": "app_home_opened", "user": u.ID, "channel": im.id, "tab": "home", "event_ts": s.nextTSLocked()}
	if id, ok := s.homeViews[u.ID]; ok {
		ev["view"] = s.viewJSONLocked(s.views[id], nil)
	}
	s.bumpLocked()
	s.mu.Unlock()
	return s.deliverAll(ctx, ev)
}

// JoinChannel makes userID join a public channel (or adds them to a
// private one, as if invited by a member), stores the channel_join message,
// and, when the bot is a member, delivers member_joined_channel and the
// channel_join message event.
func (s *Server) JoinChannel(ctx context.Context, userID, channelID string) error {
	s.mu.Lock()
	u, err := s.userLocked(userID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	ch := s.lookupChannelLocked(channelID)
	if ch == nil || ch.isIM {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: no channel %q", channelID)
	}
	if ch.isMember(u.ID) {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: %s already in #%s", userID, ch.name)
	}
	if ch.isArchived {
		s.mu.Unlock()
		return fmt.Errorf("fakeslack: #%s is archived", ch.name)
	}
	ch.members = append(ch.members, u.ID)
	m := s.systemMessageLocked(ch, "channel_join", u.ID, "<@"+u.ID+"> has joined the channel")
	s.bumpLocked()
	var evs []map[string]any
	if s.botSubscribedLocked(ch) {
		evs = append(evs, s.memberJoinedEventLocked(ch, u.ID, ""), s.messageEventLocked(ch, m))
	}
	s.mu.Unlock()
	return s.deliverAll(ctx, evs...)
}
