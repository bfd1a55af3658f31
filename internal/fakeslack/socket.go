package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type wsConn struct {
	id          int
	c           *websocket.Conn
	wmu         sync.Mutex
	draining    bool // guarded by Server.mu: a disconnect was sent
	connectedAt time.Time
	closed      chan struct{}
}

func (w *wsConn) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = w.c.SetWriteDeadline(time.Time{}) }()
	return w.c.WriteMessage(websocket.TextMessage, b)
}

// Ack is the acknowledgement of one envelope.
type Ack struct {
	EnvelopeID string
	Type       string // "events_api", "slash_commands" or "interactive"
	// Payload is the ack's "payload" (nil when the ack carried none).
	Payload json.RawMessage
	// Latency is the time from sending the envelope to receiving the ack.
	Latency time.Duration
	// Late is true when Latency exceeded Options.AckTimeout (3 s).
	Late bool
}

// Envelope is a record of one envelope sent over Socket Mode.
type Envelope struct {
	ID           string
	Type         string
	EventID      string // events_api only
	EventType    string // events_api: inner event type; interactive: payload type
	RetryAttempt int
	RetryReason  string
	Payload      json.RawMessage
	SentAt       time.Time
	Acked        bool
	AckLatency   time.Duration
	AckPayload   json.RawMessage
}

// LateAck describes an envelope acknowledged after the deadline, or not at all.
type LateAck struct {
	EnvelopeID string
	Type       string
	EventType  string
	SentAt     time.Time
	// Latency is the ack latency, or the time waited so far when not acked.
	Latency time.Duration
	Acked   bool
}

type envelope struct {
	Envelope
	acked chan struct{}
	// onAck runs with s.mu held when the ack arrives; late is true when it
	// arrived after Options.AckTimeout (Slack then ignores its payload).
	onAck func(payload json.RawMessage, late bool)
}

func (e *envelope) ack() *Ack {
	return &Ack{
		EnvelopeID: e.ID, Type: e.Type, Payload: cloneRaw(e.AckPayload),
		Latency: e.AckLatency,
	}
}

type wireEnvelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Payload                json.RawMessage `json:"payload"`
	Type                   string          `json:"type"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           *int            `json:"retry_attempt,omitempty"`
	RetryReason            *string         `json:"retry_reason,omitempty"`
}

var upgrader = websocket.Upgrader{
	CheckOrigin:     func(*http.Request) bool { return true },
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
}

func (s *Server) debugHost(connID int) string {
	return fmt.Sprintf("applink-fakeslack-%d", connID)
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	issued, ok := s.tickets[ticket]
	delete(s.tickets, ticket)
	closed, revoked := s.closed, s.revoked
	s.mu.Unlock()
	switch {
	case closed:
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	case !ok || time.Since(issued) > time.Minute || revoked:
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.logf("websocket upgrade: %v", err)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.connSeq++
	conn := &wsConn{id: s.connSeq, c: c, connectedAt: time.Now(), closed: make(chan struct{})}
	c.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.pongs++
		s.bumpLocked()
		s.mu.Unlock()
		return nil
	})
	num := len(s.liveConnsLocked()) + 1
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	hello := map[string]any{
		"type":            "hello",
		"num_connections": num,
		"debug_info": map[string]any{
			"host":                        s.debugHost(conn.id),
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": s.opts.AppID},
	}
	if err := conn.writeJSON(hello); err != nil {
		s.logf("hello: %v", err)
		_ = c.Close()
		return
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.conns[conn.id] = conn
	s.totalConns++
	s.bumpLocked()
	s.mu.Unlock()
	s.logf("socket %d connected", conn.id)

	s.wg.Add(1)
	go s.pingLoop(conn)
	s.readLoop(conn)
}

func (s *Server) pingLoop(conn *wsConn) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-conn.closed:
			return
		case <-s.done:
			return
		case <-t.C:
			n++
			payload := fmt.Sprintf("ping-%d", n)
			if err := conn.c.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(5*time.Second)); err != nil {
				s.logf("socket %d ping: %v", conn.id, err)
			}
		}
	}
}

func (s *Server) readLoop(conn *wsConn) {
	defer func() {
		_ = conn.c.Close()
		s.mu.Lock()
		delete(s.conns, conn.id)
		close(conn.closed)
		s.bumpLocked()
		s.mu.Unlock()
		s.logf("socket %d closed", conn.id)
	}()
	for {
		_, data, err := conn.c.ReadMessage()
		if err != nil {
			return
		}
		var resp struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(data, &resp); err != nil || resp.EnvelopeID == "" {
			s.logf("socket %d: unexpected message %q", conn.id, data)
			continue
		}
		s.mu.Lock()
		env, ok := s.envelopes[resp.EnvelopeID]
		if ok && !env.Acked {
			env.Acked = true
			env.AckLatency = time.Since(env.SentAt)
			if len(resp.Payload) > 0 && string(resp.Payload) != "null" {
				env.AckPayload = append(json.RawMessage(nil), resp.Payload...)
			}
			if env.onAck != nil {
				env.onAck(env.AckPayload, env.AckLatency > s.opts.AckTimeout)
			}
			close(env.acked)
			s.bumpLocked()
		} else if !ok {
			s.logf("socket %d: ack for unknown envelope %s", conn.id, resp.EnvelopeID)
		}
		s.mu.Unlock()
	}
}

func (s *Server) liveConnsLocked() []*wsConn {
	out := make([]*wsConn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

// pickConnLocked returns the newest connection that is not draining, or
// with SpreadEnvelopes the next one in turn.
func (s *Server) pickConnLocked() *wsConn {
	if s.opts.SpreadEnvelopes {
		var live []*wsConn
		for _, c := range s.conns {
			if !c.draining {
				live = append(live, c)
			}
		}
		if len(live) == 0 {
			return nil
		}
		sort.Slice(live, func(i, j int) bool { return live[i].id < live[j].id })
		s.nextConn++
		return live[s.nextConn%len(live)]
	}
	var best *wsConn
	for _, c := range s.conns {
		if c.draining {
			continue
		}
		if best == nil || c.id > best.id {
			best = c
		}
	}
	return best
}

// Connections returns the number of open Socket Mode connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Pongs returns how many pongs answered the server's pings, over all sockets.
func (s *Server) Pongs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs
}

// TotalConnections returns how many Socket Mode connections were ever opened.
func (s *Server) TotalConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalConns
}

// WaitConnected waits until a Socket Mode connection that accepts envelopes
// is open (its hello has been sent).
func (s *Server) WaitConnected(ctx context.Context) error {
	return s.WaitFor(ctx, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pickConnLocked() != nil
	})
}

// Disconnect sends {"type":"disconnect","reason":reason} on every open
// connection (reason defaults to "refresh_requested"), stops sending
// envelopes on them, and closes them after Options.DisconnectGrace if the
// client has not. A socketmode client reconnects.
func (s *Server) Disconnect(reason string) {
	if reason == "" {
		reason = "refresh_requested"
	}
	s.mu.Lock()
	var conns []*wsConn
	for _, c := range s.conns {
		if !c.draining {
			c.draining = true
			conns = append(conns, c)
		}
	}
	s.bumpLocked()
	s.mu.Unlock()
	for _, c := range conns {
		msg := map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": s.debugHost(c.id)}}
		if err := c.writeJSON(msg); err != nil {
			s.logf("disconnect %d: %v", c.id, err)
		}
		c := c
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTimer(s.opts.DisconnectGrace)
			defer t.Stop()
			select {
			case <-c.closed:
			case <-s.done:
			case <-t.C:
				_ = c.c.Close()
			}
		}()
	}
}

// DropConnection closes every socket abruptly, without a close frame or
// a disconnect message (a network failure).
func (s *Server) DropConnection() {
	s.mu.Lock()
	conns := s.liveConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.c.NetConn().Close()
	}
}

type deliverOpts struct {
	eventID      string
	eventType    string
	accepts      bool
	retryAttempt int
	retryReason  string
	withRetry    bool // include retry_attempt/retry_reason (events_api)
	onAck        func(payload json.RawMessage, late bool)
}

const maxEnvelopeHistory = 5000

// deliver sends an envelope and waits for its ack.
func (s *Server) deliver(ctx context.Context, typ string, payload any, o deliverOpts) (*Ack, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	conn := s.pickConnLocked()
	if conn == nil && !s.opts.SpreadEnvelopes {
		s.mu.Unlock()
		return nil, ErrNotConnected
	}
	env := &envelope{
		Envelope: Envelope{
			ID: randUUID(), Type: typ, EventID: o.eventID, EventType: o.eventType,
			RetryAttempt: o.retryAttempt, RetryReason: o.retryReason, Payload: raw,
			SentAt: time.Now(),
		},
		acked: make(chan struct{}),
		onAck: o.onAck,
	}
	s.envelopes[env.ID] = env
	s.envOrder = append(s.envOrder, env.ID)
	if typ == "events_api" {
		s.lastEventEn = env.ID
	}
	s.pruneEnvelopesLocked()
	s.bumpLocked()
	s.mu.Unlock()

	wire := wireEnvelope{EnvelopeID: env.ID, Payload: raw, Type: typ, AcceptsResponsePayload: o.accepts}
	if o.withRetry {
		wire.RetryAttempt, wire.RetryReason = &o.retryAttempt, &o.retryReason
	}
	for {
		if conn == nil {
			var err error
			if conn, err = s.awaitConn(ctx); err != nil {
				return nil, err
			}
		}
		if err := conn.writeJSON(wire); err != nil {
			if !s.opts.SpreadEnvelopes {
				return nil, fmt.Errorf("fakeslack: sending envelope: %w", err)
			}
			conn = nil // that connection is gone: another one gets it
			continue
		}
		var closed <-chan struct{}
		if s.opts.SpreadEnvelopes {
			closed = conn.closed
		}
		select {
		case <-env.acked:
			s.mu.Lock()
			a := env.ack()
			s.mu.Unlock()
			a.Late = a.Latency > s.opts.AckTimeout
			return a, nil
		case <-closed:
			s.logf("socket %d closed before acking %s; delivering it again", conn.id, env.ID)
			conn = nil
		case <-ctx.Done():
			return nil, fmt.Errorf("fakeslack: waiting for ack of %s envelope %s: %w", typ, env.ID, ctx.Err())
		case <-s.done:
			return nil, ErrClosed
		}
	}
}

// awaitConn waits for a connection to deliver on (SpreadEnvelopes).
func (s *Server) awaitConn(ctx context.Context) (*wsConn, error) {
	for {
		s.mu.Lock()
		conn, changed := s.pickConnLocked(), s.changed
		s.mu.Unlock()
		if conn != nil {
			return conn, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ErrNotConnected
		case <-s.done:
			return nil, ErrClosed
		}
	}
}

func (s *Server) pruneEnvelopesLocked() {
	for len(s.envOrder) > maxEnvelopeHistory {
		id := s.envOrder[0]
		s.envOrder = s.envOrder[1:]
		delete(s.envelopes, id)
	}
}

func randUUID() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// eventCallbackLocked wraps an inner event in an event_callback payload.
func (s *Server) eventCallbackLocked(inner map[string]any) (map[string]any, string) {
	eventID := "Ev" + s.newIDLocked("")
	typ, _ := inner["type"].(string)
	return map[string]any{
		"token":      s.opts.VerificationToken,
		"team_id":    s.opts.TeamID,
		"api_app_id": s.opts.AppID,
		"event":      inner,
		"type":       "event_callback",
		"event_id":   eventID,
		"event_time": s.nowUnix(),
		"authorizations": []any{map[string]any{
			"enterprise_id": nil, "team_id": s.opts.TeamID, "user_id": s.opts.BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-" + typ + "-" + s.opts.TeamID + "-" + eventID,
	}, eventID
}

// deliverEvent sends an events_api envelope and waits for the ack.
func (s *Server) deliverEvent(ctx context.Context, inner map[string]any) (*Ack, error) {
	s.mu.Lock()
	payload, eventID := s.eventCallbackLocked(inner)
	s.mu.Unlock()
	typ, _ := inner["type"].(string)
	return s.deliver(ctx, "events_api", payload, deliverOpts{eventID: eventID, eventType: typ, withRetry: true})
}

// Redeliver resends an events_api envelope as Slack does after a missed
// ack: the same payload and event_id in a new envelope with retry_attempt
// incremented and retry_reason "timeout". envelopeID "" or "last" picks the
// latest events_api envelope. It waits for the ack.
func (s *Server) Redeliver(ctx context.Context, envelopeID string) (*Ack, error) {
	s.mu.Lock()
	if envelopeID == "" || envelopeID == "last" {
		envelopeID = s.lastEventEn
	}
	env, ok := s.envelopes[envelopeID]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: no envelope %q", envelopeID)
	}
	if env.Type != "events_api" {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeslack: envelope %s is %s; Slack only redelivers events_api", envelopeID, env.Type)
	}
	payload := env.Payload
	o := deliverOpts{eventID: env.EventID, eventType: env.EventType, withRetry: true,
		retryAttempt: env.RetryAttempt + 1, retryReason: "timeout"}
	s.mu.Unlock()
	return s.deliver(ctx, "events_api", payload, o)
}

// Envelopes returns a copy of the envelope history, oldest first.
func (s *Server) Envelopes() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Envelope, 0, len(s.envOrder))
	for _, id := range s.envOrder {
		e := s.envelopes[id].Envelope
		e.Payload = cloneRaw(e.Payload)
		e.AckPayload = cloneRaw(e.AckPayload)
		out = append(out, e)
	}
	return out
}

// LateAcks returns envelopes acknowledged after Options.AckTimeout, or not
// acknowledged although the deadline has passed: each is a Socket Mode
// failure in Slack's eyes.
func (s *Server) LateAcks() []LateAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LateAck
	for _, id := range s.envOrder {
		e := s.envelopes[id]
		lat := e.AckLatency
		if !e.Acked {
			lat = time.Since(e.SentAt)
		}
		if lat > s.opts.AckTimeout {
			out = append(out, LateAck{EnvelopeID: e.ID, Type: e.Type, EventType: e.EventType, SentAt: e.SentAt, Latency: lat, Acked: e.Acked})
		}
	}
	return out
}

// Unacked returns the IDs of envelopes not acknowledged yet.
func (s *Server) Unacked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.envOrder {
		if !s.envelopes[id].Acked {
			out = append(out, id)
		}
	}
	return out
}
