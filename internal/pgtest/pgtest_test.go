package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// Two databases of the shared cluster are separate, and a cluster of a
// test's own stops and starts again with its data.
func TestDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := DB(t), DB(t)
	if a == b {
		t.Fatalf("same database twice: %s", a)
	}
	exec := func(url, sql string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(a, "CREATE TABLE x (n int)"); err != nil {
		t.Fatal(err)
	}
	if err := exec(b, "SELECT * FROM x"); err == nil {
		t.Fatal("a table of one database is visible in another")
	}

	c := NewCluster(t)
	url := c.NewDB(t)
	if err := exec(url, "CREATE TABLE y (n int); INSERT INTO y VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := exec(url, "SELECT 1"); err == nil {
		t.Fatal("a stopped cluster answered")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := exec(url, "SELECT n FROM y"); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
