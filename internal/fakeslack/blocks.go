package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Button is an interactive button found in blocks.
type Button struct {
	BlockID  string
	ActionID string
	Text     string
	Value    string
	Style    string
	URL      string
	// raw is the element JSON.
	raw map[string]any
}

var knownBlockTypes = map[string]bool{
	"actions": true, "context": true, "context_actions": true, "divider": true,
	"file": true, "header": true, "image": true, "input": true, "markdown": true,
	"rich_text": true, "section": true, "call": true, "video": true, "table": true,
}

// blockIssue is one validation problem, rendered as Slack renders them in
// response_metadata.messages.
func blockIssue(msg, pointer string) string {
	return fmt.Sprintf("[ERROR] %s [json-pointer:%s]", msg, pointer)
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func textOf(raw any) string {
	switch t := raw.(type) {
	case map[string]any:
		s, _ := t["text"].(string)
		return s
	case json.RawMessage:
		var m map[string]any
		if json.Unmarshal(t, &m) == nil {
			s, _ := m["text"].(string)
			return s
		}
	}
	return ""
}

// parseBlocks decodes a blocks array. Empty input or "null" gives nil, true.
func parseBlocks(raw []byte) ([]map[string]any, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, false
	}
	return blocks, true
}

// validateBlocks checks blocks against Slack's Block Kit limits and returns
// the problems found (empty when valid). ptr is the JSON pointer of the array.
func validateBlocks(blocks []map[string]any, max int, ptr string) []string {
	var issues []string
	if len(blocks) > max {
		issues = append(issues, blockIssue(fmt.Sprintf("no more than %d items allowed", max), ptr))
	}
	seenBlock := map[string]bool{}
	for i, b := range blocks {
		p := fmt.Sprintf("%s/%d", ptr, i)
		typ, _ := b["type"].(string)
		if typ == "" {
			issues = append(issues, blockIssue("missing required field: type", p))
			continue
		}
		if !knownBlockTypes[typ] {
			issues = append(issues, blockIssue("unsupported type: "+typ, p+"/type"))
			continue
		}
		if id, ok := b["block_id"].(string); ok && id != "" {
			if runes(id) > 255 {
				issues = append(issues, blockIssue("must be less than 256 characters", p+"/block_id"))
			}
			if seenBlock[id] {
				issues = append(issues, blockIssue("duplicate block_id: "+id, p+"/block_id"))
			}
			seenBlock[id] = true
		}
		switch typ {
		case "section":
			txt, hasText := b["text"].(map[string]any)
			fields, hasFields := b["fields"].([]any)
			if !hasText && !hasFields {
				issues = append(issues, blockIssue("must provide either text or fields", p))
			}
			if hasText {
				if n := runes(textOf(txt)); n > 3000 {
					issues = append(issues, blockIssue("must be less than 3001 characters", p+"/text/text"))
				} else if n == 0 {
					issues = append(issues, blockIssue("must be more than 0 characters", p+"/text/text"))
				}
			}
			if len(fields) > 10 {
				issues = append(issues, blockIssue("no more than 10 items allowed", p+"/fields"))
			}
			for j, f := range fields {
				if runes(textOf(f)) > 2000 {
					issues = append(issues, blockIssue("must be less than 2001 characters", fmt.Sprintf("%s/fields/%d/text", p, j)))
				}
			}
			if acc, ok := b["accessory"].(map[string]any); ok {
				issues = append(issues, validateElement(acc, p+"/accessory")...)
			}
		case "header":
			if n := runes(textOf(b["text"])); n > 150 {
				issues = append(issues, blockIssue("must be less than 151 characters", p+"/text/text"))
			} else if n == 0 {
				issues = append(issues, blockIssue("must be more than 0 characters", p+"/text/text"))
			}
		case "actions":
			els, _ := b["elements"].([]any)
			if len(els) == 0 {
				issues = append(issues, blockIssue("must provide at least 1 item", p+"/elements"))
			}
			if len(els) > 25 {
				issues = append(issues, blockIssue("no more than 25 items allowed", p+"/elements"))
			}
			seenAction := map[string]bool{}
			for j, e := range els {
				em, _ := e.(map[string]any)
				ep := fmt.Sprintf("%s/elements/%d", p, j)
				issues = append(issues, validateElement(em, ep)...)
				if id, _ := em["action_id"].(string); id != "" {
					if seenAction[id] {
						issues = append(issues, blockIssue("duplicate action_id: "+id, ep+"/action_id"))
					}
					seenAction[id] = true
				}
			}
		case "context":
			els, _ := b["elements"].([]any)
			if len(els) > 10 {
				issues = append(issues, blockIssue("no more than 10 items allowed", p+"/elements"))
			}
		case "input":
			if runes(textOf(b["label"])) > 2000 {
				issues = append(issues, blockIssue("must be less than 2001 characters", p+"/label/text"))
			}
			if _, ok := b["element"].(map[string]any); !ok {
				issues = append(issues, blockIssue("missing required field: element", p))
			}
		}
	}
	return issues
}

func validateElement(e map[string]any, p string) []string {
	if e == nil {
		return []string{blockIssue("must be an object", p)}
	}
	var issues []string
	if id, _ := e["action_id"].(string); runes(id) > 255 {
		issues = append(issues, blockIssue("must be less than 256 characters", p+"/action_id"))
	}
	if t, _ := e["type"].(string); t == "button" {
		if n := runes(textOf(e["text"])); n > 75 {
			issues = append(issues, blockIssue("must be less than 76 characters", p+"/text/text"))
		} else if n == 0 {
			issues = append(issues, blockIssue("must be more than 0 characters", p+"/text/text"))
		}
		if v, _ := e["value"].(string); runes(v) > 2000 {
			issues = append(issues, blockIssue("must be less than 2001 characters", p+"/value"))
		}
	}
	return issues
}

// normalizeBlocks fills in missing block_id and action_id values as Slack
// does, and re-encodes the blocks.
func (s *Server) normalizeBlocksLocked(blocks []map[string]any) json.RawMessage {
	if blocks == nil {
		return nil
	}
	for _, b := range blocks {
		if id, _ := b["block_id"].(string); id == "" {
			b["block_id"] = s.shortIDLocked()
		}
		fill := func(e map[string]any) {
			if e == nil {
				return
			}
			if _, isInteractive := e["type"].(string); !isInteractive {
				return
			}
			switch e["type"] {
			case "button", "static_select", "external_select", "users_select", "conversations_select",
				"channels_select", "multi_static_select", "multi_external_select", "multi_users_select",
				"multi_conversations_select", "multi_channels_select", "overflow", "datepicker", "timepicker",
				"datetimepicker", "checkboxes", "radio_buttons", "plain_text_input", "number_input",
				"email_text_input", "url_text_input", "rich_text_input", "file_input":
				if id, _ := e["action_id"].(string); id == "" {
					e["action_id"] = s.shortIDLocked()
				}
			}
		}
		if els, ok := b["elements"].([]any); ok && b["type"] == "actions" {
			for _, e := range els {
				em, _ := e.(map[string]any)
				fill(em)
			}
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			fill(acc)
		}
		if el, ok := b["element"].(map[string]any); ok {
			fill(el)
		}
	}
	out, _ := json.Marshal(blocks)
	return out
}

func (s *Server) shortIDLocked() string {
	id := s.newIDLocked("")
	return strings.ToLower(id[len(id)-5:])
}

// Buttons returns every button in a blocks array (actions elements and
// section accessories), in document order.
func Buttons(blocks json.RawMessage) []Button {
	bs, _ := parseBlocks(blocks)
	var out []Button
	add := func(blockID string, e map[string]any) {
		if e == nil || e["type"] != "button" {
			return
		}
		b := Button{BlockID: blockID, Text: textOf(e["text"]), raw: e}
		b.ActionID, _ = e["action_id"].(string)
		b.Value, _ = e["value"].(string)
		b.Style, _ = e["style"].(string)
		b.URL, _ = e["url"].(string)
		out = append(out, b)
	}
	for _, b := range bs {
		id, _ := b["block_id"].(string)
		if els, ok := b["elements"].([]any); ok && b["type"] == "actions" {
			for _, e := range els {
				em, _ := e.(map[string]any)
				add(id, em)
			}
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			add(id, acc)
		}
	}
	return out
}

// findButton finds a button by action_id and, if value is non-empty, value.
func findButton(blocks json.RawMessage, actionID, value string) (Button, bool) {
	for _, b := range Buttons(blocks) {
		if b.ActionID == actionID && (value == "" || b.Value == value) {
			return b, true
		}
	}
	return Button{}, false
}

// PlainText returns all strings found under "text" keys of a blocks (or any
// JSON) document, one per line: a cheap way to assert on rendered content.
func PlainText(blocks json.RawMessage) string {
	var v any
	if json.Unmarshal(blocks, &v) != nil {
		return ""
	}
	var sb strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if s, ok := t["text"].(string); ok {
				sb.WriteString(s)
				sb.WriteByte('\n')
			}
			for _, k := range sortedKeys(t) {
				if k == "text" {
					if _, ok := t[k].(string); ok {
						continue
					}
				}
				walk(t[k])
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.TrimSuffix(sb.String(), "\n")
}

// buildViewState computes a view_submission state.values document from the
// view's input blocks and the submitted values (block_id -> action_id ->
// value; multi-selects take comma-separated values). Initial values are
// used for inputs not given. It enforces required inputs and length limits
// the way the Slack client does before allowing a submission.
func buildViewState(blocks json.RawMessage, values map[string]map[string]string) (map[string]map[string]any, error) {
	bs, _ := parseBlocks(blocks)
	state := map[string]map[string]any{}
	used := map[string]bool{}
	for _, b := range bs {
		if b["type"] != "input" {
			continue
		}
		blockID, _ := b["block_id"].(string)
		el, _ := b["element"].(map[string]any)
		if el == nil {
			continue
		}
		actionID, _ := el["action_id"].(string)
		optional, _ := b["optional"].(bool)
		given, has := values[blockID][actionID]
		if has {
			used[blockID+"\x00"+actionID] = true
		}
		st, filled, err := elementState(el, given, has)
		if err != nil {
			return nil, fmt.Errorf("fakeslack: input %s/%s: %w", blockID, actionID, err)
		}
		if !filled && !optional {
			return nil, fmt.Errorf("fakeslack: input %s/%s is required (the Slack client would not submit)", blockID, actionID)
		}
		if state[blockID] == nil {
			state[blockID] = map[string]any{}
		}
		state[blockID][actionID] = st
	}
	for blockID, acts := range values {
		for actionID := range acts {
			if !used[blockID+"\x00"+actionID] {
				return nil, fmt.Errorf("fakeslack: view has no input %s/%s", blockID, actionID)
			}
		}
	}
	return state, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func elementOptions(el map[string]any) []map[string]any {
	var out []map[string]any
	if opts, ok := el["options"].([]any); ok {
		for _, o := range opts {
			if om, ok := o.(map[string]any); ok {
				out = append(out, om)
			}
		}
	}
	if groups, ok := el["option_groups"].([]any); ok {
		for _, g := range groups {
			gm, _ := g.(map[string]any)
			if opts, ok := gm["options"].([]any); ok {
				for _, o := range opts {
					if om, ok := o.(map[string]any); ok {
						out = append(out, om)
					}
				}
			}
		}
	}
	return out
}

func findOption(el map[string]any, value string) (map[string]any, error) {
	opts := elementOptions(el)
	if len(opts) == 0 && el["type"] == "external_select" {
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": value, "emoji": true}, "value": value}, nil
	}
	for _, o := range opts {
		if o["value"] == value {
			return o, nil
		}
	}
	return nil, fmt.Errorf("no option with value %q", value)
}

// elementState returns the state value of one input element.
func elementState(el map[string]any, given string, has bool) (map[string]any, bool, error) {
	typ, _ := el["type"].(string)
	st := map[string]any{"type": typ}
	str := func(key string) (string, bool) {
		if has {
			return given, given != ""
		}
		v, _ := el[key].(string)
		return v, v != ""
	}
	list := func(key string) ([]string, bool) {
		if has {
			l := splitList(given)
			return l, len(l) > 0
		}
		var l []string
		if arr, ok := el[key].([]any); ok {
			for _, e := range arr {
				if s, ok := e.(string); ok {
					l = append(l, s)
				}
			}
		}
		return l, len(l) > 0
	}
	switch typ {
	case "plain_text_input", "number_input", "email_text_input", "url_text_input":
		v, ok := str("initial_value")
		if ok {
			if mx, isNum := el["max_length"].(float64); isNum && runes(v) > int(mx) {
				return nil, false, fmt.Errorf("value longer than max_length %d", int(mx))
			}
			if mn, isNum := el["min_length"].(float64); isNum && runes(v) < int(mn) {
				return nil, false, fmt.Errorf("value shorter than min_length %d", int(mn))
			}
			st["value"] = v
		} else {
			st["value"] = nil
		}
		return st, ok, nil
	case "rich_text_input":
		v, ok := str("")
		if ok {
			st["rich_text_value"] = map[string]any{"type": "rich_text", "elements": []any{
				map[string]any{"type": "rich_text_section", "elements": []any{map[string]any{"type": "text", "text": v}}},
			}}
		} else if init, isMap := el["initial_value"].(map[string]any); isMap {
			st["rich_text_value"] = init
			ok = true
		}
		return st, ok, nil
	case "static_select", "external_select", "radio_buttons":
		if has {
			if given == "" {
				st["selected_option"] = nil
				return st, false, nil
			}
			o, err := findOption(el, given)
			if err != nil {
				return nil, false, err
			}
			st["selected_option"] = o
			return st, true, nil
		}
		if init, ok := el["initial_option"].(map[string]any); ok {
			st["selected_option"] = init
			return st, true, nil
		}
		st["selected_option"] = nil
		return st, false, nil
	case "multi_static_select", "multi_external_select", "checkboxes":
		selected := []any{}
		if has {
			for _, v := range splitList(given) {
				o, err := findOption(el, v)
				if err != nil {
					return nil, false, err
				}
				selected = append(selected, o)
			}
		} else if init, ok := el["initial_options"].([]any); ok {
			selected = init
		}
		st["selected_options"] = selected
		return st, len(selected) > 0, nil
	case "users_select":
		v, ok := str("initial_user")
		st["selected_user"] = nullable(v, ok)
		return st, ok, nil
	case "conversations_select":
		v, ok := str("initial_conversation")
		st["selected_conversation"] = nullable(v, ok)
		return st, ok, nil
	case "channels_select":
		v, ok := str("initial_channel")
		st["selected_channel"] = nullable(v, ok)
		return st, ok, nil
	case "multi_users_select":
		l, ok := list("initial_users")
		st["selected_users"] = nonNil(l)
		return st, ok, nil
	case "multi_conversations_select":
		l, ok := list("initial_conversations")
		st["selected_conversations"] = nonNil(l)
		return st, ok, nil
	case "multi_channels_select":
		l, ok := list("initial_channels")
		st["selected_channels"] = nonNil(l)
		return st, ok, nil
	case "datepicker":
		v, ok := str("initial_date")
		st["selected_date"] = nullable(v, ok)
		return st, ok, nil
	case "timepicker":
		v, ok := str("initial_time")
		st["selected_time"] = nullable(v, ok)
		return st, ok, nil
	case "datetimepicker":
		if has {
			var n int64
			if _, err := fmt.Sscan(given, &n); err != nil {
				return nil, false, fmt.Errorf("datetimepicker wants unix seconds: %w", err)
			}
			st["selected_date_time"] = n
			return st, true, nil
		}
		if n, ok := el["initial_date_time"].(float64); ok {
			st["selected_date_time"] = int64(n)
			return st, true, nil
		}
		st["selected_date_time"] = nil
		return st, false, nil
	default:
		v, ok := str("initial_value")
		st["value"] = nullable(v, ok)
		return st, ok, nil
	}
}

func nullable(v string, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
