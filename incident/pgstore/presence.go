package pgstore

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// A claim's owner is present while a session of its own holds the advisory
// lock (lockClassLive, hashtext(owner)). When a replica's process dies
// (crash, OOM kill, SIGKILL) the kernel closes its connections, PostgreSQL
// ends the session and the lock with it, and another replica takes the dead
// one's claims at its next claim rather than when their lease runs out.
// The lease stays the bound when a replica vanishes without its
// connections closing (a frozen process, a host cut off): PostgreSQL then
// keeps the session until TCP gives up, and the claims run out first.
const lockClassLive = lockClass + 3

// presenceEvery is how often a presence session checks that it still
// stands, and how soon it reconnects when it does not.
const presenceEvery = time.Second

// aliveSQL lists the owners present in this database, by hashtext(owner);
// param is the placeholder of lockClassLive.
func aliveSQL(param string) string {
	return `SELECT objid FROM pg_locks
	 WHERE locktype = 'advisory' AND classid = ` + param + `::oid AND objsubid = 2 AND granted
	   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
}

// presence keeps one session per owner that claims jobs through the store.
type presence struct {
	cfg    *pgx.ConnConfig
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]bool // owners with a session
}

func newPresence(cfg *pgx.ConnConfig, log *slog.Logger) *presence {
	ctx, cancel := context.WithCancel(context.Background())
	return &presence{cfg: cfg, log: log, ctx: ctx, cancel: cancel, sessions: map[string]bool{}}
}

// ensure starts owner's session if it has none, and then waits (at most
// until ctx ends or 2 s) for its lock to be held the first time.
func (p *presence) ensure(ctx context.Context, owner string) {
	p.mu.Lock()
	var ready chan struct{}
	if !p.sessions[owner] && p.ctx.Err() == nil {
		ready = make(chan struct{})
		p.sessions[owner] = true
		p.wg.Add(1)
		go p.hold(owner, ready)
	}
	p.mu.Unlock()
	if ready == nil {
		return // started before: Claim checks in SQL whether it stands
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
	case <-t.C:
	}
}

// hold keeps owner's lock held until the store closes, reconnecting
// whenever the session is lost (PostgreSQL restarted, the network failed).
func (p *presence) hold(owner string, ready chan struct{}) {
	defer p.wg.Done()
	var once sync.Once
	held := func() { once.Do(func() { close(ready) }) }
	for p.ctx.Err() == nil {
		err := p.session(owner, held)
		if p.ctx.Err() != nil {
			return
		}
		p.log.Warn("job claim presence lost; reconnecting", "err", err)
		t := time.NewTimer(presenceEvery)
		select {
		case <-p.ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// session connects, takes owner's lock and checks every presenceEvery that
// the session still answers; it returns why it ended.
func (p *presence) session(owner string, held func()) error {
	cctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, p.cfg)
	cancel()
	if err != nil {
		return err
	}
	defer closeConn(conn)
	var got bool
	if err := conn.QueryRow(p.ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, lockClassLive, owner).Scan(&got); err != nil {
		return err
	}
	if got {
		held()
	} // else another owner's name hashes alike: its lock stands for both
	t := time.NewTicker(presenceEvery)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			return err
		}
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// close ends every session, releasing the owners' locks.
func (p *presence) close() {
	p.cancel()
	p.wg.Wait()
}
