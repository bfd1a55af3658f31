package fakeslack

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// User is a workspace member.
type User struct {
	ID       string // generated when empty
	Name     string // handle, e.g. "alice"
	RealName string
	Email    string
	IsBot    bool
	IsAdmin  bool
	TZ       string // IANA zone, default "Europe/London"
}

// Message is a copy of a stored channel or DM message.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	// User is the author's user ID (the bot user for the bot's posts).
	User string
	// BotID is set for messages posted by the bot.
	BotID   string
	Text    string
	Subtype string // "" for ordinary messages; "channel_join", "channel_topic", ...
	// Blocks are the blocks as stored (block_id/action_id filled in as Slack does).
	Blocks      json.RawMessage
	Attachments json.RawMessage
	EditedTS    string
	EditedBy    string
	Reactions   map[string][]string // emoji name -> user IDs
	Pinned      bool
	ReplyCount  int
	Metadata    json.RawMessage
}

// AllText returns the message text followed by all text found in its blocks.
func (m Message) AllText() string {
	if len(m.Blocks) == 0 {
		return m.Text
	}
	return m.Text + "\n" + PlainText(m.Blocks)
}

// Buttons returns the buttons in the message blocks.
func (m Message) Buttons() []Button { return Buttons(m.Blocks) }

// Bookmark is a channel bookmark.
type Bookmark struct {
	ID        string
	ChannelID string
	Title     string
	Link      string
	Emoji     string
	Type      string
	CreatedBy string
	Created   time.Time
}

// Channel is a copy of a conversation's state.
type Channel struct {
	ID         string
	Name       string
	IsPrivate  bool
	IsIM       bool
	IsArchived bool
	// User is the other party of an IM.
	User      string
	Creator   string
	Created   time.Time
	Topic     string
	Purpose   string
	Members   []string
	Messages  []Message // oldest first, thread replies included
	Pins      []string  // pinned message ts, in pin order
	Bookmarks []Bookmark
}

// Ephemeral is an ephemeral message shown to one user.
type Ephemeral struct {
	ChannelID string
	UserID    string
	TS        string
	ThreadTS  string
	Text      string
	Blocks    json.RawMessage
	// Source is "chat.postEphemeral", "response_url" or "ack" (slash command ack payload).
	Source string
}

// AllText returns the text followed by all text found in the blocks.
func (e Ephemeral) AllText() string {
	if len(e.Blocks) == 0 {
		return e.Text
	}
	return e.Text + "\n" + PlainText(e.Blocks)
}

// View is a copy of a modal or Home tab view.
type View struct {
	ID              string
	Type            string // "modal" or "home"
	UserID          string
	CallbackID      string
	PrivateMetadata string
	ExternalID      string
	Hash            string
	RootViewID      string
	PreviousViewID  string
	Title           string
	Blocks          json.RawMessage
	// Raw is the view definition as last sent by the app.
	Raw json.RawMessage
	// Errors are the input errors of the last response_action "errors".
	Errors        map[string]string
	NotifyOnClose bool
}

// AllText returns all text found in the view's title and blocks.
func (v View) AllText() string { return v.Title + "\n" + PlainText(v.Blocks) }

// Buttons returns the buttons in the view blocks.
func (v View) Buttons() []Button { return Buttons(v.Blocks) }

// ResponseURLPost records one POST to a response_url.
type ResponseURLPost struct {
	URL string
	// Origin is "slash_commands" or "block_actions".
	Origin          string
	UserID          string
	ChannelID       string
	MessageTS       string // the message a block_actions response_url belongs to
	Body            json.RawMessage
	Text            string
	Blocks          json.RawMessage
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	ThreadTS        string
	At              time.Time
	Status          int // HTTP status the fake answered
}

type reaction struct {
	name  string
	users []string
}

type message struct {
	ts, threadTS   string
	user, botID    string
	appID          string
	text, subtype  string
	blocks         json.RawMessage
	attachments    json.RawMessage
	metadata       json.RawMessage
	clientMsgID    string
	editedTS       string
	editedBy       string
	reactions      []*reaction
	replyCount     int
	replyUsers     []string
	latestReply    string
	topic          string
	inviter        string
	replyBroadcast bool
}

type pin struct {
	ts, by string
	at     int64
}

type channel struct {
	id, name   string
	isPrivate  bool
	isIM       bool
	isArchived bool
	imUser     string
	creator    string
	created    int64
	topic      string
	topicBy    string
	topicAt    int64
	purpose    string
	members    []string
	messages   []*message
	pins       []pin
	bookmarks  []Bookmark
}

func (c *channel) isMember(userID string) bool {
	for _, m := range c.members {
		if m == userID {
			return true
		}
	}
	return false
}

func (c *channel) find(ts string) *message {
	for _, m := range c.messages {
		if m.ts == ts {
			return m
		}
	}
	return nil
}

func (c *channel) remove(ts string) {
	for i, m := range c.messages {
		if m.ts == ts {
			c.messages = append(c.messages[:i:i], c.messages[i+1:]...)
			break
		}
	}
	for i, p := range c.pins {
		if p.ts == ts {
			c.pins = append(c.pins[:i:i], c.pins[i+1:]...)
			break
		}
	}
}

func (c *channel) isPinned(ts string) bool {
	for _, p := range c.pins {
		if p.ts == ts {
			return true
		}
	}
	return false
}

// channelType returns the Events API channel_type.
func (c *channel) channelType() string {
	switch {
	case c.isIM:
		return "im"
	case c.isPrivate:
		return "group"
	default:
		return "channel"
	}
}

func (s *Server) addUserLocked(u User) User {
	if u.ID == "" {
		u.ID = s.newIDLocked("U")
	}
	if u.Name == "" {
		u.Name = strings.ToLower(u.ID)
	}
	if u.RealName == "" {
		u.RealName = u.Name
	}
	if u.TZ == "" {
		u.TZ = "Europe/London"
	}
	if _, ok := s.users[u.ID]; !ok {
		s.userOrder = append(s.userOrder, u.ID)
	}
	cp := u
	s.users[u.ID] = &cp
	s.bumpLocked()
	return u
}

func (s *Server) addChannelLocked(seed ChannelSeed) *channel {
	id := seed.ID
	if id == "" {
		id = s.newIDLocked("C")
	}
	creator := seed.Creator
	if creator == "" {
		if len(seed.Members) > 0 {
			creator = seed.Members[0]
		} else {
			creator = s.opts.BotUserID
		}
	}
	c := &channel{
		id:        id,
		name:      seed.Name,
		isPrivate: seed.IsPrivate,
		creator:   creator,
		created:   s.nowUnix(),
		topic:     seed.Topic,
		topicBy:   creator,
		topicAt:   s.nowUnix(),
	}
	for _, m := range seed.Members {
		if !c.isMember(m) {
			c.members = append(c.members, m)
		}
	}
	s.channels[id] = c
	s.chanOrder = append(s.chanOrder, id)
	s.bumpLocked()
	return c
}

// AddUser adds (or replaces) a workspace user and returns it with its ID.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(u)
}

// AddChannel creates a channel directly (as a human would in the client)
// and returns a copy of it.
func (s *Server) AddChannel(seed ChannelSeed) Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.copyChannelLocked(s.addChannelLocked(seed))
}

// Users returns all users, the bot first.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, *s.users[id])
	}
	return out
}

// User returns a user by ID, name or email.
func (s *Server) User(idOrName string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[idOrName]; ok {
		return *u, true
	}
	for _, id := range s.userOrder {
		u := s.users[id]
		if u.Name == idOrName || (u.Email != "" && strings.EqualFold(u.Email, idOrName)) {
			return *u, true
		}
	}
	return User{}, false
}

// lookupChannelLocked finds a channel by ID, or by name (with or without '#').
func (s *Server) lookupChannelLocked(nameOrID string) *channel {
	if c, ok := s.channels[nameOrID]; ok {
		return c
	}
	name := strings.TrimPrefix(nameOrID, "#")
	for _, id := range s.chanOrder {
		if c := s.channels[id]; !c.isIM && c.name == name {
			return c
		}
	}
	return nil
}

func (s *Server) copyMessageLocked(c *channel, m *message) Message {
	out := Message{
		Channel:     c.id,
		TS:          m.ts,
		ThreadTS:    m.threadTS,
		User:        m.user,
		BotID:       m.botID,
		Text:        m.text,
		Subtype:     m.subtype,
		Blocks:      cloneRaw(m.blocks),
		Attachments: cloneRaw(m.attachments),
		EditedTS:    m.editedTS,
		EditedBy:    m.editedBy,
		Pinned:      c.isPinned(m.ts),
		ReplyCount:  m.replyCount,
		Metadata:    cloneRaw(m.metadata),
	}
	if len(m.reactions) > 0 {
		out.Reactions = map[string][]string{}
		for _, r := range m.reactions {
			out.Reactions[r.name] = append([]string(nil), r.users...)
		}
	}
	return out
}

func (s *Server) copyChannelLocked(c *channel) Channel {
	out := Channel{
		ID:         c.id,
		Name:       c.name,
		IsPrivate:  c.isPrivate,
		IsIM:       c.isIM,
		IsArchived: c.isArchived,
		User:       c.imUser,
		Creator:    c.creator,
		Created:    time.Unix(c.created, 0),
		Topic:      c.topic,
		Purpose:    c.purpose,
		Members:    append([]string(nil), c.members...),
		Bookmarks:  append([]Bookmark(nil), c.bookmarks...),
	}
	for _, m := range c.messages {
		out.Messages = append(out.Messages, s.copyMessageLocked(c, m))
	}
	for _, p := range c.pins {
		out.Pins = append(out.Pins, p.ts)
	}
	return out
}

// Channel returns a copy of a channel found by ID or name ("#name" works too).
func (s *Server) Channel(nameOrID string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupChannelLocked(nameOrID)
	if c == nil {
		return Channel{}, false
	}
	return s.copyChannelLocked(c), true
}

// Channels returns copies of all non-IM channels in creation order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Channel
	for _, id := range s.chanOrder {
		if c := s.channels[id]; !c.isIM {
			out = append(out, s.copyChannelLocked(c))
		}
	}
	return out
}

// Messages returns the messages of a channel (ID or name), oldest first,
// including thread replies and system messages (see Message.Subtype).
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupChannelLocked(channelID)
	if c == nil {
		return nil
	}
	out := make([]Message, 0, len(c.messages))
	for _, m := range c.messages {
		out = append(out, s.copyMessageLocked(c, m))
	}
	return out
}

// Message returns one message by channel and ts.
func (s *Server) Message(channelID, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupChannelLocked(channelID)
	if c == nil {
		return Message{}, false
	}
	m := c.find(ts)
	if m == nil {
		return Message{}, false
	}
	return s.copyMessageLocked(c, m), true
}

// Pins returns the pinned messages of a channel, in pin order.
func (s *Server) Pins(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupChannelLocked(channelID)
	if c == nil {
		return nil
	}
	var out []Message
	for _, p := range c.pins {
		if m := c.find(p.ts); m != nil {
			out = append(out, s.copyMessageLocked(c, m))
		}
	}
	return out
}

// Topic returns a channel's topic.
func (s *Server) Topic(channelID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupChannelLocked(channelID); c != nil {
		return c.topic
	}
	return ""
}

// Members returns a channel's member IDs in join order.
func (s *Server) Members(channelID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupChannelLocked(channelID); c != nil {
		return append([]string(nil), c.members...)
	}
	return nil
}

// Bookmarks returns a channel's bookmarks.
func (s *Server) Bookmarks(channelID string) []Bookmark {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupChannelLocked(channelID); c != nil {
		return append([]Bookmark(nil), c.bookmarks...)
	}
	return nil
}

// Ephemerals returns the ephemeral messages shown to a user, oldest first.
func (s *Server) Ephemerals(userID string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.UserID == userID {
			e.Blocks = cloneRaw(e.Blocks)
			out = append(out, e)
		}
	}
	return out
}

// DMs returns the messages of the bot's DM with a user, oldest first.
func (s *Server) DMs(userID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ims[userID]
	if !ok {
		return nil
	}
	c := s.channels[id]
	out := make([]Message, 0, len(c.messages))
	for _, m := range c.messages {
		out = append(out, s.copyMessageLocked(c, m))
	}
	return out
}

// DMChannel returns the ID of the bot's DM with a user, if it was opened.
func (s *Server) DMChannel(userID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ims[userID]
	return id, ok
}

func (s *Server) copyViewLocked(v *view) View {
	out := View{
		ID:              v.id,
		Type:            v.typ,
		UserID:          v.userID,
		CallbackID:      v.callbackID,
		PrivateMetadata: v.privateMetadata,
		ExternalID:      v.externalID,
		Hash:            v.hash,
		RootViewID:      v.rootID,
		PreviousViewID:  v.previousID,
		Title:           textOf(v.title),
		Blocks:          cloneRaw(v.blocks),
		Raw:             cloneRaw(v.raw),
		NotifyOnClose:   v.notifyOnClose,
	}
	if len(v.errors) > 0 {
		out.Errors = map[string]string{}
		for k, e := range v.errors {
			out.Errors[k] = e
		}
	}
	return out
}

// HomeView returns the Home tab last published for a user.
func (s *Server) HomeView(userID string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.homeViews[userID]
	if !ok {
		return View{}, false
	}
	return s.copyViewLocked(s.views[id]), true
}

// OpenViews returns the modal stack open for a user, bottom first.
func (s *Server) OpenViews(userID string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, id := range s.modalStack[userID] {
		out = append(out, s.copyViewLocked(s.views[id]))
	}
	return out
}

// ViewByID returns any view (open, closed or home) by ID.
func (s *Server) ViewByID(viewID string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[viewID]
	if !ok {
		return View{}, false
	}
	return s.copyViewLocked(v), true
}

// ResponseURLPosts returns every POST made to a response_url, oldest first.
func (s *Server) ResponseURLPosts() []ResponseURLPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ResponseURLPost, len(s.responsePost))
	for i, p := range s.responsePost {
		p.Body = cloneRaw(p.Body)
		p.Blocks = cloneRaw(p.Blocks)
		out[i] = p
	}
	return out
}

// Calls returns how many times a Web API method was called (faulted calls
// included). Calls("*") returns the total.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "*" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[method]
}

// CallCounts returns a copy of all per-method call counts.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return append(json.RawMessage(nil), r...)
}
