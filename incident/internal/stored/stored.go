// Package stored holds what the storage adapters (incident/boltstore,
// incident/pgstore) share about storing incidents: the header encoding,
// the checks on what a Create or Update fn returned, and the rewriting of
// the events a message deletion erased. Error texts carry no adapter
// prefix: each adapter wraps them with its own.
package stored

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/incidentbot/incidentbot/incident"
)

// header is how an incident's header is stored: the Incident without its
// events. The Events field shadows the embedded one and is always nil, so
// fields added to incident.Incident are stored without changes here.
type header struct {
	*incident.Incident
	Events *struct{} `json:"events,omitempty"`
}

// MarshalHeader encodes an incident's header, without its events.
func MarshalHeader(inc *incident.Incident) ([]byte, error) {
	return json.Marshal(header{Incident: inc})
}

// CheckNew checks what Create's fn returned for incident number, filling in
// a zero Number.
func CheckNew(number int64, inc *incident.Incident) error {
	if inc == nil {
		return errors.New("fn returned no incident")
	}
	if inc.Number == 0 {
		inc.Number = number
	}
	if inc.Number != number {
		return fmt.Errorf("fn returned incident number %d", inc.Number)
	}
	for i, e := range inc.Events {
		if e.Seq != i+1 {
			return fmt.Errorf("event %d has seq %d; build the timeline with Incident.Append", i, e.Seq)
		}
	}
	return nil
}

// CheckAppend checks that Update's fn left the header as hdr (its encoding
// before fn ran) and only appended events numbered on from prevSeq to the
// prevLen it was given.
func CheckAppend(inc *incident.Incident, hdr []byte, prevLen, prevSeq int) error {
	if newHdr, err := MarshalHeader(inc); err != nil {
		return fmt.Errorf("encode header: %w", err)
	} else if !bytes.Equal(newHdr, hdr) {
		return errors.New("fn changed the incident header, which is immutable; record the change as an event")
	}
	if len(inc.Events) < prevLen {
		return fmt.Errorf("fn removed events from the timeline (%d → %d); the timeline is append-only", prevLen, len(inc.Events))
	}
	for i, e := range inc.Events[prevLen:] {
		if e.Seq != prevSeq+1+i {
			return fmt.Errorf("new event has seq %d, want %d; append with Incident.Append", e.Seq, prevSeq+1+i)
		}
	}
	return nil
}

// RewriteErased stores again, through put, the earlier events whose text a
// new event among added erased (the seqs in its Erases), once it has
// checked that each is on the timeline all and has no text left. It
// reports whether it rewrote anything.
func RewriteErased(all, added []incident.Event, put func(seq int, data []byte) error) (bool, error) {
	erased := false
	for _, e := range added {
		for _, seq := range e.Erases {
			if seq < 1 || seq > len(all) || all[seq-1].Seq != seq {
				return false, fmt.Errorf("event %d erases event %d, which is not on the timeline", e.Seq, seq)
			}
			if all[seq-1].Text != "" {
				return false, fmt.Errorf("event %d erases event %d, which still has its text", e.Seq, seq)
			}
			v, err := json.Marshal(all[seq-1])
			if err != nil {
				return false, fmt.Errorf("encode event %d: %w", seq, err)
			}
			if err := put(seq, v); err != nil {
				return false, fmt.Errorf("erase event %d: %w", seq, err)
			}
			erased = true
		}
	}
	return erased, nil
}
