package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// claim is a replica's claim on a job, as the jobs table has it.
type claim struct {
	id, owner string
}

// claims lists the jobs some replica holds a claim on.
func claims(ctx context.Context, db *pgxpool.Pool) (map[claim]bool, error) {
	rows, err := db.Query(ctx, `SELECT id, claimed_by FROM jobs WHERE claimed_by IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[claim]bool{}
	for rows.Next() {
		var c claim
		if err := rows.Scan(&c.id, &c.owner); err != nil {
			return nil, err
		}
		out[c] = true
	}
	return out, rows.Err()
}

// stuckClaim finds the one claim of a live replica held across two looks
// 300 ms apart: a job whose Slack call hangs keeps its claim, the others
// end in milliseconds.
func (f *failover) stuckClaim(ctx context.Context, db *pgxpool.Pool) (claim, error) {
	for ctx.Err() == nil {
		before, err := claims(ctx, db)
		if err != nil {
			return claim{}, err
		}
		time.Sleep(300 * time.Millisecond)
		after, err := claims(ctx, db)
		if err != nil {
			return claim{}, err
		}
		var held []claim
		for c := range after {
			if before[c] && f.replicaOf(c.owner) != nil {
				held = append(held, c)
			}
		}
		if len(held) == 1 {
			return held[0], nil
		}
	}
	return claim{}, ctx.Err()
}

// jobDone waits until the job is no longer pending (it ran to the end).
func jobDone(ctx context.Context, db *pgxpool.Pool, id string) error {
	for {
		var pending bool
		err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1)`, id).Scan(&pending)
		if err == nil && !pending {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("job %s still pending: %w", id, ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicaOf returns the live replica whose runner is owner (host/pid/suffix).
func (f *failover) replicaOf(owner string) *replica {
	parts := strings.Split(owner, "/")
	if len(parts) < 3 {
		return nil
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		return nil
	}
	for _, r := range f.replicas {
		r.mu.Lock()
		live := r.cmd != nil && r.addr != "" && r.cmd.Process.Pid == pid
		r.mu.Unlock()
		if live {
			return r
		}
	}
	return nil
}

// failOver makes the next Slack call of method hang, runs trigger (if any)
// to cause one, and waits until a replica holds the claim on the job making
// the call. At a random moment of the claim's renewal cycle it sends that
// replica sig: SIGKILL (the process dies, its connections close) or SIGSTOP
// (it freezes with its connections open, like a host cut off). It returns
// how long after the signal the job was done, by whichever replica took it
// over, and leaves the replica killed and started again.
func (f *failover) failOver(ctx context.Context, db *pgxpool.Pool, method string, sig syscall.Signal, trigger func()) (time.Duration, error) {
	before := f.fs.Hanging(method)
	f.fs.HangNext(method, 1)
	if trigger != nil {
		trigger()
	}
	if err := f.fs.WaitFor(ctx, func() bool { return f.fs.Hanging(method) > before }); err != nil {
		return 0, fmt.Errorf("no %s call hung: %w", method, err)
	}
	c, err := f.stuckClaim(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("no claim held by the hung call: %w", err)
	}
	r := f.replicaOf(c.owner)
	if r == nil {
		return 0, fmt.Errorf("no live replica is %s", c.owner)
	}
	// Die anywhere in the claim's renewal cycle (lease/4), not just after
	// the claim: what is left of the lease is what the others wait for.
	time.Sleep(rand.N(f.lease / 4))
	killed := time.Now()
	var took time.Duration
	done := make(chan error, 1)
	if sig == syscall.SIGKILL {
		r.kill()
	} else {
		r.signal(sig)
	}
	go func() {
		err := jobDone(ctx, db, c.id)
		took = time.Since(killed)
		done <- err
	}()
	if sig == syscall.SIGKILL {
		r.start() // at once, as a supervisor would
	}
	err = <-done
	if sig != syscall.SIGKILL {
		r.kill()
		r.start()
	}
	return took, err
}
