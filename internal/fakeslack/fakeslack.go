// Package fakeslack is a stateful, Slack-faithful fake of the parts of Slack
// that incidentbot uses: the Web API (form-encoded and JSON bodies, bearer or
// form tokens, Slack's error codes and limits), Socket Mode (hello, pings,
// envelopes, acks, disconnects, redeliveries), response_url endpoints, and a
// workspace model (users, channels, DMs, messages, pins, bookmarks, views).
//
// The real bot connects to it with the real slack-go client:
//
//	srv := fakeslack.New(fakeslack.Options{Users: users})
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Close()
//	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()),
//		slack.OptionAppLevelToken(srv.AppToken()))
//	sm := socketmode.New(api)
//
// Tests and the sandbox then drive it as users would (SlashCommand,
// ClickButton, SubmitView, PostUserMessage, ...), inject faults (SetLatency,
// RateLimit, SetOutage, FailNext, RevokeToken, Disconnect, DropConnection)
// and inspect the resulting workspace (Channel, Messages, Pins, HomeView, ...).
// Every method is safe for concurrent use; inspection methods return copies.
package fakeslack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned by the driver methods.
var (
	// ErrNotConnected is returned when an envelope must be delivered but no
	// Socket Mode connection is open. State changes (a stored user message,
	// say) have still been applied, as Slack would have applied them.
	ErrNotConnected = errors.New("fakeslack: no socket mode connection")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("fakeslack: server closed")
)

// Options configures a Server. Every field is optional.
type Options struct {
	// Addr is the listen address used by Start (default "127.0.0.1:0").
	Addr string
	// BaseURL is the externally visible scheme://host[:port] of the server,
	// used to build the websocket URL, response_urls and the API URL. Start
	// sets it from the listener when empty; set it when mounting Handler()
	// into another server (otherwise the Host of the latest request is used).
	BaseURL string
	// APIPath is the path prefix of Web API methods (default "/api/").
	APIPath string
	// WSPath is the path of the Socket Mode websocket (default "/ws").
	WSPath string
	// ResponsePath is the path prefix of response_urls (default "/response/").
	ResponsePath string

	// BotToken is the bot token (default: "xoxb-fakeslack-" and 128 random
	// bits, new for every Server, so that nobody can guess a running
	// workspace's token).
	BotToken string
	// AppToken is the app-level token (default: "xapp-1-fakeslack-" and 128
	// random bits, new for every Server).
	AppToken string
	// VerificationToken is sent as "token" in payloads (default: random, new
	// for every Server).
	VerificationToken string

	TeamID     string // default "T0FAKETEAM"
	TeamName   string // default "Fake Workspace"
	TeamDomain string // default "fakeslack"
	AppID      string // default "A0FAKEAPP1"
	BotID      string // default "B0FAKEBOT1"
	BotUserID  string // default "U0FAKEBOT1"
	BotName    string // default "incidentbot"

	// Command is the slash command SlashCommand sends (default "/incident").
	Command string

	// Users are preloaded; empty IDs are generated. The bot user is always
	// present in addition.
	Users []User
	// Channels are preloaded (e.g. the announce channel).
	Channels []ChannelSeed

	// PingInterval is how often the server pings each socket (default 10s).
	PingInterval time.Duration
	// AckTimeout is Slack's acknowledgement deadline (default 3s).
	AckTimeout time.Duration
	// TriggerTTL is how long a trigger_id stays usable (default 3s).
	TriggerTTL time.Duration
	// DisconnectGrace is how long after a "disconnect" message the server
	// closes the old socket itself (default 5s).
	DisconnectGrace time.Duration

	// ChatWritePublic grants the chat:write.public scope: the bot may post to
	// public channels it is not a member of. Without it such posts fail with
	// not_in_channel, as in Slack.
	ChatWritePublic bool
	// APIEvents makes the fake deliver the Events API events Slack generates
	// for the bot's own Web API actions, shaped as Slack sends them:
	// message echoes of its posts (bot_id and user set); message_changed
	// for its chat.update, with the bot's user and bot_id only inside the
	// nested message; member_joined_channel for its invites and for itself
	// when it creates or joins a channel; channel_join and channel_topic
	// ("set the channel topic: …", one per conversations.setTopic, even to
	// the same text) messages; pin_added and reaction_added by the bot
	// user. They are delivered asynchronously.
	APIEvents bool

	// SpreadEnvelopes delivers each envelope on the next connection in
	// turn, as Slack spreads envelopes across an app's Socket Mode
	// connections (one per replica, up to 10), and delivers an envelope
	// again on another connection when its connection closes before the
	// ack, as Slack redelivers what was not acknowledged. Without it every
	// envelope goes to the newest connection.
	SpreadEnvelopes bool

	// PermalinkBase is the base of chat.getPermalink URLs
	// (default "https://<TeamDomain>.slack.com").
	PermalinkBase string

	// Now is the clock used for ts values and timestamps (default time.Now).
	// Deadlines (trigger expiry, ack latency) always use the real clock.
	Now func() time.Time
	// Logf, if set, receives debug logs.
	Logf func(format string, args ...any)
}

// ChannelSeed describes a channel to preload.
type ChannelSeed struct {
	ID        string // generated when empty
	Name      string
	IsPrivate bool
	Topic     string
	Members   []string // user IDs; include Options.BotUserID for the bot
	Creator   string   // default: first member, else the bot
}

// Server is the fake Slack.
type Server struct {
	opts Options

	mu      sync.Mutex
	changed chan struct{}
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup

	httpSrv  *http.Server
	listener net.Listener
	baseURL  string
	lastHost string

	idSeq  uint64
	lastTS int64

	users     map[string]*User
	userOrder []string
	channels  map[string]*channel
	chanOrder []string
	ims       map[string]string // user ID -> IM channel ID

	views      map[string]*view
	modalStack map[string][]string // user ID -> view IDs, bottom first
	homeViews  map[string]string   // user ID -> view ID

	ephemerals   []Ephemeral
	responseURLs map[string]*responseURL
	responsePost []ResponseURLPost
	triggers     map[string]*trigger

	// faults
	calls       map[string]int
	latency     map[string]time.Duration
	rateLimits  map[string]*rateLimit
	outageUntil time.Time
	failNext    map[string][]failure
	hangs       map[string]int // method → calls still to hang
	hanging     map[string]int // method → calls hanging now
	revoked     bool

	// socket mode
	tickets     map[string]time.Time
	conns       map[int]*wsConn
	connSeq     int
	nextConn    int // round-robin position with SpreadEnvelopes
	totalConns  int
	pongs       int
	envelopes   map[string]*envelope
	envOrder    []string
	lastEventEn string

	methods map[string]apiHandler
}

// New returns a Server with its workspace preloaded. Call Start to listen, or
// mount Handler() elsewhere.
func New(opts Options) *Server {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.Addr, "127.0.0.1:0")
	def(&opts.APIPath, "/api/")
	def(&opts.WSPath, "/ws")
	def(&opts.ResponsePath, "/response/")
	def(&opts.BotToken, "xoxb-fakeslack-"+randHex(16))
	def(&opts.AppToken, "xapp-1-fakeslack-"+randHex(16))
	def(&opts.VerificationToken, randHex(16))
	def(&opts.TeamID, "T0FAKETEAM")
	def(&opts.TeamName, "Fake Workspace")
	def(&opts.TeamDomain, "fakeslack")
	def(&opts.AppID, "A0FAKEAPP1")
	def(&opts.BotID, "B0FAKEBOT1")
	def(&opts.BotUserID, "U0FAKEBOT1")
	def(&opts.BotName, "incidentbot")
	def(&opts.Command, "/incident")
	def(&opts.PermalinkBase, "https://"+opts.TeamDomain+".slack.com")
	if !strings.HasSuffix(opts.APIPath, "/") {
		opts.APIPath += "/"
	}
	if !strings.HasSuffix(opts.ResponsePath, "/") {
		opts.ResponsePath += "/"
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 10 * time.Second
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 3 * time.Second
	}
	if opts.TriggerTTL <= 0 {
		opts.TriggerTTL = 3 * time.Second
	}
	if opts.DisconnectGrace <= 0 {
		opts.DisconnectGrace = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:         opts,
		changed:      make(chan struct{}),
		done:         make(chan struct{}),
		baseURL:      strings.TrimSuffix(opts.BaseURL, "/"),
		users:        map[string]*User{},
		channels:     map[string]*channel{},
		ims:          map[string]string{},
		views:        map[string]*view{},
		modalStack:   map[string][]string{},
		homeViews:    map[string]string{},
		responseURLs: map[string]*responseURL{},
		triggers:     map[string]*trigger{},
		calls:        map[string]int{},
		latency:      map[string]time.Duration{},
		hangs:        map[string]int{},
		hanging:      map[string]int{},
		rateLimits:   map[string]*rateLimit{},
		failNext:     map[string][]failure{},
		tickets:      map[string]time.Time{},
		conns:        map[int]*wsConn{},
		envelopes:    map[string]*envelope{},
	}
	s.methods = s.handlers()
	s.addUserLocked(User{ID: opts.BotUserID, Name: opts.BotName, RealName: opts.BotName, IsBot: true})
	for _, u := range opts.Users {
		s.addUserLocked(u)
	}
	for _, c := range opts.Channels {
		s.addChannelLocked(c)
	}
	return s
}

// Start listens on Options.Addr and serves Handler().
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("fakeslack: listen: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	s.listener = ln
	if s.baseURL == "" {
		s.baseURL = "http://" + ln.Addr().String()
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv := s.httpSrv
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logf("serve: %v", err)
		}
	}()
	return nil
}

// Close stops the server, closes every socket and unblocks waiting drivers.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	conns := make([]*wsConn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	srv := s.httpSrv
	s.bumpLocked()
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.c.Close()
	}
	if srv != nil {
		_ = srv.Close()
	}
	s.wg.Wait()
}

// Handler serves the Web API under Options.APIPath, the websocket at
// Options.WSPath and response_urls under Options.ResponsePath.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.lastHost = r.Host
	s.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == s.opts.WSPath:
		s.serveWS(w, r)
	case strings.HasPrefix(p, s.opts.ResponsePath):
		s.serveResponseURL(w, r, strings.TrimPrefix(p, s.opts.ResponsePath))
	case strings.HasPrefix(p, s.opts.APIPath):
		s.serveAPI(w, r, strings.TrimPrefix(p, s.opts.APIPath))
	default:
		http.NotFound(w, r)
	}
}

// SetBaseURL sets the externally visible scheme://host[:port] (see Options.BaseURL).
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimSuffix(u, "/")
	s.mu.Unlock()
}

func (s *Server) baseURLLocked() string {
	if s.baseURL != "" {
		return s.baseURL
	}
	if s.lastHost != "" {
		return "http://" + s.lastHost
	}
	return "http://127.0.0.1"
}

// BaseURL returns the externally visible base URL.
func (s *Server) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURLLocked()
}

// APIURL returns the URL to pass to slack.OptionAPIURL, with a trailing slash.
func (s *Server) APIURL() string { return s.BaseURL() + s.opts.APIPath }

// BotToken returns the bot token the fake accepts.
func (s *Server) BotToken() string { return s.opts.BotToken }

// AppToken returns the app-level token the fake accepts.
func (s *Server) AppToken() string { return s.opts.AppToken }

// BotUserID returns the bot's user ID.
func (s *Server) BotUserID() string { return s.opts.BotUserID }

// TeamID returns the workspace ID.
func (s *Server) TeamID() string { return s.opts.TeamID }

// AppID returns the app ID.
func (s *Server) AppID() string { return s.opts.AppID }

// Subscribe returns a channel that is closed at the next state change
// (any API call effect, socket connect/disconnect, ack, ...).
func (s *Server) Subscribe() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitFor blocks until cond returns true or ctx is done. cond is evaluated
// once immediately and again after every state change; it may call any
// inspection method of s.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := s.Subscribe()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakeslack: condition not met: %w", ctx.Err())
		}
	}
}

func (s *Server) bumpLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf("fakeslack: "+format, args...)
	}
}

// newIDLocked returns a Slack-shaped ID: prefix + 10 upper-case base-36 chars.
func (s *Server) newIDLocked(prefix string) string {
	for {
		s.idSeq++
		n := strings.ToUpper(strconv.FormatUint(s.idSeq+36*36*36*36*36, 36))
		if len(n) < 10 {
			n = strings.Repeat("0", 10-len(n)) + n
		}
		id := prefix + n
		if _, ok := s.users[id]; ok {
			continue
		}
		if _, ok := s.channels[id]; ok {
			continue
		}
		return id
	}
}

// nextTSLocked returns a unique, strictly increasing Slack ts.
func (s *Server) nextTSLocked() string {
	us := s.opts.Now().UnixMicro()
	if us <= s.lastTS {
		us = s.lastTS + 1
	}
	s.lastTS = us
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

func (s *Server) nowUnix() int64 { return s.opts.Now().Unix() }
