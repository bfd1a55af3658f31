package fakeslack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

type trigger struct {
	userID string
	issued time.Time // real clock
	used   bool
}

type view struct {
	id, typ, userID string
	raw             json.RawMessage
	blocks          json.RawMessage
	callbackID      string
	privateMetadata string
	externalID      string
	hash            string
	title           json.RawMessage
	close           json.RawMessage
	submit          json.RawMessage
	clearOnClose    bool
	notifyOnClose   bool
	rootID          string
	previousID      string
	errors          map[string]string
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// issueTriggerLocked issues a trigger_id for a user, shaped like Slack's.
func (s *Server) issueTriggerLocked(userID string) string {
	now := time.Now()
	id := fmt.Sprintf("%d.%s.%s", now.UnixMilli(), s.opts.TeamID[1:], randHex(16))
	s.triggers[id] = &trigger{userID: userID, issued: now}
	return id
}

// checkTriggerLocked validates a trigger_id without consuming it.
func (s *Server) checkTriggerLocked(id string) (*trigger, error) {
	if id == "" {
		return nil, errCode("invalid_arguments")
	}
	t, ok := s.triggers[id]
	switch {
	case !ok:
		return nil, errCode("invalid_trigger_id")
	case t.used:
		return nil, errCode("exchanged_trigger_id")
	case time.Since(t.issued) > s.opts.TriggerTTL:
		return nil, errCode("expired_trigger_id")
	}
	return t, nil
}

// viewDef is the app-supplied definition of a view.
type viewDef struct {
	Type            string          `json:"type"`
	Title           json.RawMessage `json:"title"`
	Close           json.RawMessage `json:"close"`
	Submit          json.RawMessage `json:"submit"`
	Blocks          json.RawMessage `json:"blocks"`
	PrivateMetadata string          `json:"private_metadata"`
	CallbackID      string          `json:"callback_id"`
	ClearOnClose    bool            `json:"clear_on_close"`
	NotifyOnClose   bool            `json:"notify_on_close"`
	ExternalID      string          `json:"external_id"`
}

func nullRaw(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}

// parseViewLocked validates a view definition; wantType is "modal" or "home"
// ("" accepts either).
func (s *Server) parseViewLocked(raw []byte, wantType string) (*viewDef, []map[string]any, error) {
	var d viewDef
	if len(raw) == 0 {
		return nil, nil, errCode("invalid_arguments")
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, nil, errMessages("invalid_arguments", []string{blockIssue("invalid json", "/view")})
	}
	d.Title, d.Close, d.Submit = nullRaw(d.Title), nullRaw(d.Close), nullRaw(d.Submit)
	var issues []string
	switch {
	case d.Type != "modal" && d.Type != "home":
		issues = append(issues, blockIssue("must be one of modal, home", "/view/type"))
	case wantType != "" && d.Type != wantType:
		issues = append(issues, blockIssue("must be "+wantType, "/view/type"))
	}
	blocks, ok := parseBlocks(d.Blocks)
	if !ok {
		issues = append(issues, blockIssue("must be an array", "/view/blocks"))
	}
	issues = append(issues, validateBlocks(blocks, 100, "/view/blocks")...)
	if d.Type == "modal" {
		if d.Title == nil {
			issues = append(issues, blockIssue("missing required field: title", "/view"))
		} else if n := runes(textOf(d.Title)); n > 24 || n == 0 {
			issues = append(issues, blockIssue("must be less than 25 characters", "/view/title/text"))
		}
		for _, kv := range []struct {
			k string
			r json.RawMessage
		}{{"close", d.Close}, {"submit", d.Submit}} {
			if kv.r != nil && runes(textOf(kv.r)) > 24 {
				issues = append(issues, blockIssue("must be less than 25 characters", "/view/"+kv.k+"/text"))
			}
		}
		if d.Submit == nil {
			for _, b := range blocks {
				if b["type"] == "input" {
					issues = append(issues, blockIssue("must provide a submit property when using input blocks", "/view"))
					break
				}
			}
		}
	}
	if runes(d.PrivateMetadata) > 3000 {
		issues = append(issues, blockIssue("must be less than 3001 characters", "/view/private_metadata"))
	}
	if runes(d.CallbackID) > 255 {
		issues = append(issues, blockIssue("must be less than 256 characters", "/view/callback_id"))
	}
	if len(issues) > 0 {
		return nil, nil, errMessages("invalid_arguments", issues)
	}
	return &d, blocks, nil
}

func (s *Server) newHashLocked() string {
	return strconv.FormatInt(time.Now().Unix(), 10) + "." + randHex(4)
}

func (s *Server) applyViewDefLocked(v *view, raw []byte, d *viewDef, blocks []map[string]any) {
	v.typ = d.Type
	v.raw = append(json.RawMessage(nil), raw...)
	v.blocks = s.normalizeBlocksLocked(blocks)
	v.callbackID = d.CallbackID
	v.privateMetadata = d.PrivateMetadata
	v.externalID = d.ExternalID
	v.title, v.close, v.submit = d.Title, d.Close, d.Submit
	v.clearOnClose, v.notifyOnClose = d.ClearOnClose, d.NotifyOnClose
	v.hash = s.newHashLocked()
	v.errors = nil
}

func (s *Server) externalIDTakenLocked(extID, except string) bool {
	if extID == "" {
		return false
	}
	for id, v := range s.views {
		if id != except && v.externalID == extID && s.viewOpenLocked(v) {
			return true
		}
	}
	return false
}

func (s *Server) viewOpenLocked(v *view) bool {
	if v.typ == "home" {
		return s.homeViews[v.userID] == v.id
	}
	for _, id := range s.modalStack[v.userID] {
		if id == v.id {
			return true
		}
	}
	return false
}

func (s *Server) newModalLocked(userID string, raw []byte, d *viewDef, blocks []map[string]any) *view {
	v := &view{id: s.newIDLocked("V"), userID: userID}
	s.applyViewDefLocked(v, raw, d, blocks)
	s.views[v.id] = v
	return v
}

func (s *Server) viewsOpen(c *apiCall) (map[string]any, error) {
	t, err := s.checkTriggerLocked(c.str("trigger_id"))
	if err != nil {
		return nil, err
	}
	raw := c.raw("view")
	d, blocks, err := s.parseViewLocked(raw, "modal")
	if err != nil {
		return nil, err
	}
	if s.externalIDTakenLocked(d.ExternalID, "") {
		return nil, errCode("duplicate_external_id")
	}
	t.used = true
	v := s.newModalLocked(t.userID, raw, d, blocks)
	v.rootID = v.id
	s.modalStack[t.userID] = []string{v.id}
	return map[string]any{"view": s.viewJSONLocked(v, nil)}, nil
}

func (s *Server) viewsPush(c *apiCall) (map[string]any, error) {
	t, err := s.checkTriggerLocked(c.str("trigger_id"))
	if err != nil {
		return nil, err
	}
	raw := c.raw("view")
	d, blocks, err := s.parseViewLocked(raw, "modal")
	if err != nil {
		return nil, err
	}
	stack := s.modalStack[t.userID]
	if len(stack) == 0 {
		return nil, errCode("not_found")
	}
	if len(stack) >= 3 {
		return nil, errCode("push_limit_reached")
	}
	if s.externalIDTakenLocked(d.ExternalID, "") {
		return nil, errCode("duplicate_external_id")
	}
	t.used = true
	v := s.newModalLocked(t.userID, raw, d, blocks)
	v.rootID = stack[0]
	v.previousID = stack[len(stack)-1]
	s.modalStack[t.userID] = append(stack, v.id)
	return map[string]any{"view": s.viewJSONLocked(v, nil)}, nil
}

func (s *Server) findViewLocked(viewID, externalID string) *view {
	if viewID != "" {
		return s.views[viewID]
	}
	for _, v := range s.views {
		if v.externalID == externalID && s.viewOpenLocked(v) {
			return v
		}
	}
	return nil
}

func (s *Server) viewsUpdate(c *apiCall) (map[string]any, error) {
	viewID, extID := c.str("view_id"), c.str("external_id")
	if viewID == "" && extID == "" {
		return nil, errCode("invalid_arguments")
	}
	v := s.findViewLocked(viewID, extID)
	if v == nil || !s.viewOpenLocked(v) {
		return nil, errCode("not_found")
	}
	if h := c.str("hash"); h != "" && h != v.hash {
		return nil, errCode("hash_conflict")
	}
	raw := c.raw("view")
	d, blocks, err := s.parseViewLocked(raw, v.typ)
	if err != nil {
		return nil, err
	}
	if s.externalIDTakenLocked(d.ExternalID, v.id) {
		return nil, errCode("duplicate_external_id")
	}
	s.applyViewDefLocked(v, raw, d, blocks)
	return map[string]any{"view": s.viewJSONLocked(v, nil)}, nil
}

func (s *Server) viewsPublish(c *apiCall) (map[string]any, error) {
	userID := c.str("user_id")
	if s.users[userID] == nil {
		return nil, errCode("user_not_found")
	}
	raw := c.raw("view")
	d, blocks, err := s.parseViewLocked(raw, "home")
	if err != nil {
		return nil, err
	}
	var v *view
	if id, ok := s.homeViews[userID]; ok {
		v = s.views[id]
		if h := c.str("hash"); h != "" && h != v.hash {
			return nil, errCode("hash_conflict")
		}
	} else {
		v = &view{id: s.newIDLocked("V"), userID: userID}
		v.rootID = v.id
		s.views[v.id] = v
		s.homeViews[userID] = v.id
	}
	s.applyViewDefLocked(v, raw, d, blocks)
	return map[string]any{"view": s.viewJSONLocked(v, nil)}, nil
}

// closeTopModalLocked removes the top view of a user's modal stack.
func (s *Server) closeModalLocked(userID, viewID string) {
	stack := s.modalStack[userID]
	for i, id := range stack {
		if id == viewID {
			stack = append(stack[:i:i], stack[i+1:]...)
			break
		}
	}
	if len(stack) == 0 {
		delete(s.modalStack, userID)
	} else {
		s.modalStack[userID] = stack
	}
}

// applyViewSubmissionAckLocked applies a view_submission ack payload the way
// Slack does (response_action errors / update / push / clear, or close).
func (s *Server) applyViewSubmissionAckLocked(v *view, payload json.RawMessage) {
	var resp struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &resp); err != nil {
			s.logf("view_submission ack: %v", err)
		}
	}
	switch resp.ResponseAction {
	case "errors":
		v.errors = resp.Errors
	case "update":
		d, blocks, err := s.parseViewLocked(resp.View, "modal")
		if err != nil {
			s.logf("view_submission update rejected: %v", err)
			return
		}
		s.applyViewDefLocked(v, resp.View, d, blocks)
	case "push":
		d, blocks, err := s.parseViewLocked(resp.View, "modal")
		if err != nil {
			s.logf("view_submission push rejected: %v", err)
			return
		}
		stack := s.modalStack[v.userID]
		if len(stack) >= 3 {
			s.logf("view_submission push: push_limit_reached")
			return
		}
		nv := s.newModalLocked(v.userID, resp.View, d, blocks)
		nv.rootID = v.rootID
		nv.previousID = v.id
		s.modalStack[v.userID] = append(stack, nv.id)
	case "clear":
		delete(s.modalStack, v.userID)
	default:
		s.closeModalLocked(v.userID, v.id)
	}
}
