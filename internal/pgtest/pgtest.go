// Package pgtest starts throw-away PostgreSQL clusters for tests: initdb in
// a temporary directory, postgres listening on a unix socket there only (no
// TCP port to collide on), fsync off. One cluster is shared by a test
// binary (see Main and DB), each test getting a fresh database; a test that
// stops and starts PostgreSQL takes a cluster of its own (NewCluster).
//
// Without the PostgreSQL server binaries the tests that need them skip,
// except in CI (CI set), where they fail: .ci/run installs Debian's
// postgresql.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running (or stopped) throw-away PostgreSQL cluster.
type Cluster struct {
	dir  string // owns the data directory and the socket
	bin  string // directory of initdb and postgres
	cred *syscall.Credential

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives postgres's exit
	log    *os.File
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
	dbSeq      atomic.Int64
)

// Main runs the tests, then stops the shared cluster if a test started it.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// Require skips the test (fails it in CI) when PostgreSQL is not installed,
// and returns the directory of its server binaries.
func Require(t testing.TB) string {
	t.Helper()
	bin, err := binDir()
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%v; .ci/run installs it (apt-get install postgresql)", err)
	}
	t.Skipf("%v (apt-get install postgresql)", err)
	return ""
}

// DB creates a fresh, empty database on the test binary's shared cluster
// and returns its URL. The cluster starts on first use; Main stops it.
func DB(t testing.TB) string {
	t.Helper()
	bin := Require(t)
	sharedOnce.Do(func() { shared, sharedErr = start(bin) })
	if sharedErr != nil {
		t.Fatalf("starting PostgreSQL: %v", sharedErr)
	}
	return shared.NewDB(t)
}

// NewCluster starts a cluster of the test's own, closed at its end.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := Require(t)
	c, err := start(bin)
	if err != nil {
		t.Fatalf("starting PostgreSQL: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewDB creates a fresh database and returns its URL.
func (c *Cluster) NewDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatalf("connecting to the test cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return c.URL(name)
}

// URL is the libpq URL of database db on the cluster's socket.
func (c *Cluster) URL(db string) string {
	return "postgres://postgres@/" + db + "?host=" + c.dir + "&sslmode=disable"
}

// Dir is the cluster's directory (socket and data).
func (c *Cluster) Dir() string { return c.dir }

func start(bin string) (*Cluster, error) {
	c := &Cluster{bin: bin}
	if err := c.prepare(); err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// prepare makes the directory and runs initdb. PostgreSQL refuses to run as
// root, so as root (CI) it runs as the postgres user (or nobody).
func (c *Cluster) prepare() error {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return err
	}
	c.dir = dir
	if os.Geteuid() == 0 {
		if c.cred, err = unprivileged(); err != nil {
			return err
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return err
	}
	c.log = log
	cmd := exec.Command(filepath.Join(c.bin, "initdb"), "-D", c.data(), "-U", "postgres",
		"--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// Start starts postgres and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("pgtest: already running")
	}
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.data(), "-k", c.dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = c.log, c.log
	// Dies with the test binary, even when that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	c.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			c.exited = exited
			return nil
		}
		select {
		case werr := <-exited:
			c.cmd = nil
			return fmt.Errorf("postgres exited: %v; log:\n%s", werr, c.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within a minute: %v; log:\n%s", err, c.logTail())
		}
	}
}

// Stop shuts postgres down (fast: open connections are closed) and waits.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exited
	}
	c.cmd = nil
	return nil
}

// Close stops the cluster and removes its directory.
func (c *Cluster) Close() {
	_ = c.Stop()
	if c.log != nil {
		_ = c.log.Close()
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// unprivileged is the user PostgreSQL runs as when the tests run as root.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("pgtest: running as root and there is no postgres or nobody user to run PostgreSQL as")
}

// binDir finds the directory with initdb and postgres: on PATH, else
// Debian's /usr/lib/postgresql/<version>/bin, the newest first.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) are not installed")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(binDir)), ".")[0])
	return n
}
