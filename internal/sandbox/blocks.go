package sandbox

import (
	"encoding/json"
	"html/template"
	"strconv"
)

// scope says where blocks are shown, and so where their buttons and
// selects send their actions.
type scope struct {
	Prefix  string
	User    string
	Channel string // message scope: the channel and the message ts
	TS      string
	ViewID  string // view scope (modal or Home)
	Modal   bool   // inputs are fields of the modal's form
}

// blockVM is one block, ready for the templates.
type blockVM struct {
	Type    string
	BlockID string
	Text    template.HTML // section, header, markdown
	Fields  []template.HTML
	// Accessory of a section; elements of actions and context blocks.
	Accessory *elemVM
	Elements  []elemVM
	// Input blocks.
	Label    template.HTML
	Hint     template.HTML
	Optional bool
	Input    *elemVM
	Error    string
	// Image blocks and elements.
	ImageURL string
	Alt      string
	S        *scope
}

// elemVM is one block element or composition object.
type elemVM struct {
	Type        string
	BlockID     string
	ActionID    string
	Value       string
	Style       string
	URL         string
	Text        template.HTML // button label, context text
	Placeholder string
	Options     []optVM
	Groups      []groupVM
	Initial     string // initial value / date / time / user / channel
	Multiline   bool
	MaxLength   int
	Required    bool
	Multi       bool
	Index       int // the input's number in a modal form
	Alt         string
	S           *scope
}

type optVM struct {
	Value    string
	Text     string
	Desc     string
	Selected bool
}

type groupVM struct {
	Label   string
	Options []optVM
}

// blockRenderer turns blocks JSON into view models.
type blockRenderer struct {
	names  *names
	users  []optVM // for users_select
	chans  []optVM // for conversations_select / channels_select
	errors map[string]string
	inputs int
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func obj(m map[string]any, k string) map[string]any {
	o, _ := m[k].(map[string]any)
	return o
}

func list(m map[string]any, k string) []map[string]any {
	arr, _ := m[k].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		if o, ok := e.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

// text renders a text composition object (plain_text or mrkdwn).
func (r *blockRenderer) text(o map[string]any) template.HTML {
	if o == nil {
		return ""
	}
	t := str(o, "text")
	if str(o, "type") == "mrkdwn" {
		return r.names.mrkdwn(t)
	}
	return plainHTML(t)
}

func plainOf(o map[string]any) string {
	if o == nil {
		return ""
	}
	if str(o, "type") == "mrkdwn" {
		return unescapeSlack(str(o, "text"))
	}
	return str(o, "text")
}

// blocks decodes and converts a blocks array; undecodable input gives none.
func (r *blockRenderer) blocks(raw json.RawMessage, s *scope) []blockVM {
	var bs []map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &bs) != nil {
		return nil
	}
	out := make([]blockVM, 0, len(bs))
	for _, b := range bs {
		out = append(out, r.block(b, s))
	}
	return out
}

func (r *blockRenderer) block(b map[string]any, s *scope) blockVM {
	vm := blockVM{Type: str(b, "type"), BlockID: str(b, "block_id"), S: s}
	switch vm.Type {
	case "header":
		vm.Text = r.text(obj(b, "text"))
	case "section":
		vm.Text = r.text(obj(b, "text"))
		for _, f := range list(b, "fields") {
			vm.Fields = append(vm.Fields, r.text(f))
		}
		if acc := obj(b, "accessory"); acc != nil {
			e := r.element(acc, vm.BlockID, s)
			vm.Accessory = &e
		}
	case "context":
		for _, e := range list(b, "elements") {
			vm.Elements = append(vm.Elements, r.element(e, vm.BlockID, s))
		}
	case "actions":
		for _, e := range list(b, "elements") {
			vm.Elements = append(vm.Elements, r.element(e, vm.BlockID, s))
		}
	case "divider":
	case "image":
		vm.ImageURL, vm.Alt = str(b, "image_url"), str(b, "alt_text")
		vm.Text = r.text(obj(b, "title"))
	case "input":
		vm.Label = r.text(obj(b, "label"))
		vm.Hint = r.text(obj(b, "hint"))
		vm.Optional, _ = b["optional"].(bool)
		vm.Error = r.errors[vm.BlockID]
		if el := obj(b, "element"); el != nil {
			e := r.element(el, vm.BlockID, s)
			e.Required = !vm.Optional
			if s.Modal {
				e.Index = r.inputs
				r.inputs++
			}
			vm.Input = &e
		}
	case "markdown":
		vm.Text = r.names.mrkdwn(str(b, "text"))
	case "rich_text":
		vm.Text = plainHTML(richText(b))
	default:
		vm.Type = "unsupported"
		vm.Alt = str(b, "type")
	}
	return vm
}

// richText flattens a rich_text block to its text.
func richText(v any) string {
	switch t := v.(type) {
	case map[string]any:
		switch str(t, "type") {
		case "text", "link":
			if s := str(t, "text"); s != "" {
				return s
			}
			return str(t, "url")
		case "user":
			return "@" + str(t, "user_id")
		case "channel":
			return "#" + str(t, "channel_id")
		case "emoji":
			return ":" + str(t, "name") + ":"
		}
		s := richText(t["elements"])
		switch str(t, "type") {
		case "rich_text_section", "rich_text_preformatted", "rich_text_quote":
			s += "\n"
		}
		return s
	case []any:
		out := ""
		for _, e := range t {
			out += richText(e)
		}
		return out
	}
	return ""
}

func (r *blockRenderer) options(el map[string]any, selected map[string]bool) ([]optVM, []groupVM) {
	conv := func(os []map[string]any) []optVM {
		var out []optVM
		for _, o := range os {
			v := str(o, "value")
			out = append(out, optVM{Value: v, Text: plainOf(obj(o, "text")), Desc: plainOf(obj(o, "description")), Selected: selected[v]})
		}
		return out
	}
	opts := conv(list(el, "options"))
	var groups []groupVM
	for _, g := range list(el, "option_groups") {
		groups = append(groups, groupVM{Label: plainOf(obj(g, "label")), Options: conv(list(g, "options"))})
	}
	return opts, groups
}

func (r *blockRenderer) element(el map[string]any, blockID string, s *scope) elemVM {
	e := elemVM{
		Type: str(el, "type"), BlockID: blockID, ActionID: str(el, "action_id"),
		Value: str(el, "value"), Style: str(el, "style"), URL: str(el, "url"),
		Placeholder: plainOf(obj(el, "placeholder")), S: s,
	}
	selected := map[string]bool{}
	if o := obj(el, "initial_option"); o != nil {
		selected[str(o, "value")] = true
	}
	for _, o := range list(el, "initial_options") {
		selected[str(o, "value")] = true
	}
	switch e.Type {
	case "mrkdwn", "plain_text":
		e.Text = r.text(el)
	case "button":
		e.Text = r.text(obj(el, "text"))
	case "image":
		e.URL, e.Alt = str(el, "image_url"), str(el, "alt_text")
	case "static_select", "multi_static_select", "overflow", "checkboxes", "radio_buttons", "external_select", "multi_external_select":
		e.Options, e.Groups = r.options(el, selected)
		e.Multi = e.Type == "multi_static_select" || e.Type == "multi_external_select" || e.Type == "checkboxes"
	case "users_select", "multi_users_select":
		e.Initial = str(el, "initial_user")
		e.Options = withSelected(r.users, e.Initial, el["initial_users"])
		e.Multi = e.Type == "multi_users_select"
	case "conversations_select", "channels_select", "multi_conversations_select", "multi_channels_select":
		e.Initial = str(el, "initial_conversation") + str(el, "initial_channel")
		init := el["initial_conversations"]
		if init == nil {
			init = el["initial_channels"]
		}
		e.Options = withSelected(r.chans, e.Initial, init)
		e.Multi = e.Type == "multi_conversations_select" || e.Type == "multi_channels_select"
	case "plain_text_input", "email_text_input", "url_text_input", "number_input", "rich_text_input":
		e.Initial = str(el, "initial_value")
		e.Multiline, _ = el["multiline"].(bool)
		e.Multiline = e.Multiline || e.Type == "rich_text_input"
		if f, ok := el["max_length"].(float64); ok {
			e.MaxLength = int(f)
		}
	case "datepicker":
		e.Initial = str(el, "initial_date")
	case "timepicker":
		e.Initial = str(el, "initial_time")
	case "datetimepicker":
		if f, ok := el["initial_date_time"].(float64); ok {
			e.Initial = strconv.FormatInt(int64(f), 10)
		}
	default:
		e.Alt = e.Type
		e.Type = "unsupported"
	}
	return e
}

func withSelected(all []optVM, initial string, initials any) []optVM {
	sel := map[string]bool{initial: initial != ""}
	if arr, ok := initials.([]any); ok {
		for _, v := range arr {
			if s, ok := v.(string); ok {
				sel[s] = true
			}
		}
	}
	out := make([]optVM, len(all))
	for i, o := range all {
		o.Selected = sel[o.Value]
		out[i] = o
	}
	return out
}
