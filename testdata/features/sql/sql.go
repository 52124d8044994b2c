// Package sql has the name of database/sql, so that a decorator that names
// both must tell them apart.
package sql

import "errors"

// ErrDeleted says that a row was deleted.
var ErrDeleted = errors.New("sql: row deleted")
