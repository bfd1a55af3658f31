package bot

import "encoding/json"

// withoutPreviousMessage drops event.previous_message from an Events API
// payload before it is written to the durable inbox. The bot never reads
// it, and on message_deleted it carries the text of the message being
// deleted: stored in the inbox job, that text would outlive the erasure of
// the message (Slack sends it on message_changed too). A payload that does
// not decode is left as it is; nothing can read it anyway.
func withoutPreviousMessage(payload json.RawMessage) json.RawMessage {
	var outer map[string]json.RawMessage
	if json.Unmarshal(payload, &outer) != nil {
		return payload
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(outer["event"], &inner) != nil {
		return payload
	}
	if _, ok := inner["previous_message"]; !ok {
		return payload
	}
	delete(inner, "previous_message")
	ev, err := json.Marshal(inner)
	if err != nil {
		return payload
	}
	outer["event"] = ev
	out, err := json.Marshal(outer)
	if err != nil {
		return payload
	}
	return out
}
