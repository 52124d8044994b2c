package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

//go:generate go tool gcachegen

// User is a row of the users table.
type User struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Email   string    `json:"email"`
	Updated time.Time `json:"updated"`
}

// Post is a row of the posts table.
type Post struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

// ErrNotFound is the repository's answer for a user that does not exist.
var ErrNotFound = errors.New("not found")

// Repository is what the HTTP handlers read and write through. Reads are
// cached and tracked; writes invalidate the user they change, in both
// tiers of every instance.
//
//gcache:wrap
type Repository interface {
	// GetUser also caches "not found" for 30s (a PUT of the user clears
	// it), refreshes a hit in the background once it is past 80% of its
	// TTL, and on a Redis miss lets one instance of the fleet query the
	// database while the others wait up to 2s for its value.
	//
	//gcache:cache key_type=user_id id=id use_case=GetUser track
	//gcache:ttl local=1m remote=10m
	//gcache:negative err=ErrNotFound ttl=30s
	//gcache:refresh at=0.8
	//gcache:lease ttl=2s
	GetUser(ctx context.Context, id string) (*User, error)

	// GetUsers returns the users of ids that exist, by id. Each id is
	// cached on its own, under the key GetUser's would have but for the
	// use case, and the database is asked once, for the ids not cached.
	//
	//gcache:cache key_type=user_id id=ids use_case=GetUsers track batch
	//gcache:ttl local=1m remote=10m
	GetUsers(ctx context.Context, ids []string) (map[string]*User, error)

	//gcache:cache key_type=user_id id=userID use_case=ListPosts track
	//gcache:ttl local=30s remote=5m
	ListPosts(ctx context.Context, userID string, page int) ([]Post, error)

	//gcache:invalidate key_type=user_id id=id
	UpdateUser(ctx context.Context, id, name, email string) error

	//gcache:invalidate key_type=user_id id=userID
	AddPost(ctx context.Context, userID, title string) error
}

// sqlRepository reads and writes the database, counting its queries.
type sqlRepository struct {
	db      *sql.DB
	dialect dialect
	queries prometheus.Counter
}

// dialect spells what differs between SQLite and PostgreSQL.
type dialect struct {
	name        string
	placeholder func(n int) string
}

var (
	sqlite   = dialect{"sqlite", func(int) string { return "?" }}
	postgres = dialect{"postgres", func(n int) string { return fmt.Sprintf("$%d", n) }}
)

func (r *sqlRepository) q(query string) string {
	out, n := []byte{}, 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			out = append(out, r.dialect.placeholder(n)...)
			continue
		}
		out = append(out, query[i])
	}
	return string(out)
}

func (r *sqlRepository) migrate(ctx context.Context) error {
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, updated TIMESTAMP NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL)`,
	} {
		if _, err := r.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

func (r *sqlRepository) GetUser(ctx context.Context, id string) (*User, error) {
	r.queries.Inc()
	u := &User{}
	err := r.db.QueryRowContext(ctx, r.q(`SELECT id, name, email, updated FROM users WHERE id = ?`), id).
		Scan(&u.ID, &u.Name, &u.Email, &u.Updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return u, err
}

func (r *sqlRepository) GetUsers(ctx context.Context, ids []string) (map[string]*User, error) {
	users := make(map[string]*User, len(ids))
	if len(ids) == 0 {
		return users, nil
	}
	r.queries.Inc()
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, name, email, updated FROM users WHERE id IN (`+marks+`)`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		u := &User{}
		if err := rows.Scan(&u.ID, &u.Name, &u.Email, &u.Updated); err != nil {
			return nil, err
		}
		users[u.ID] = u
	}
	return users, rows.Err()
}

const pageSize = 10

func (r *sqlRepository) ListPosts(ctx context.Context, userID string, page int) ([]Post, error) {
	r.queries.Inc()
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, title FROM posts WHERE user_id = ? ORDER BY id LIMIT ? OFFSET ?`),
		userID, pageSize, max(page-1, 0)*pageSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	posts := []Post{}
	for rows.Next() {
		var p Post
		if err := rows.Scan(&p.ID, &p.Title); err != nil {
			return nil, err
		}
		posts = append(posts, p)
	}
	return posts, rows.Err()
}

func (r *sqlRepository) UpdateUser(ctx context.Context, id, name, email string) error {
	r.queries.Inc()
	var query string
	if r.dialect.name == "postgres" {
		query = `INSERT INTO users (id, name, email, updated) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, updated = EXCLUDED.updated`
	} else {
		query = `INSERT INTO users (id, name, email, updated) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, updated = excluded.updated`
	}
	_, err := r.db.ExecContext(ctx, r.q(query), id, name, email, time.Now().UTC())
	return err
}

func (r *sqlRepository) AddPost(ctx context.Context, userID, title string) error {
	r.queries.Inc()
	_, err := r.db.ExecContext(ctx, r.q(`INSERT INTO posts (id, user_id, title) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM posts), ?, ?)`), userID, title)
	return err
}
