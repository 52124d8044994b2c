// Package rediscost measures what Redis itself spends on each kind of
// gcache operation — a remote hit, tracked and untracked, a miss and its
// fill, an invalidation, batches of 100 — against the bare commands a
// service would send without gcache: GET, SET, MGET and a pipeline of SETs.
//
// For each operation it reads the server's INFO before and after many of
// them, and reports per operation: the commands gcache's client sent and
// the round trips they took; the commands the server ran (commandstats,
// which also counts those a script runs); the time the server spent in
// the commands the client sent (commandstats' usec, a script's inner
// commands included once); and the server process's CPU (INFO cpu, which
// adds reading, parsing and answering the connection). Then it prints a
// table with each operation's ratio to its bare floor.
//
//	go test -run '^$' -bench RedisCost ./rediscost/
//
// Everything is in the tests; the benchmark starts its own redis-server.
package rediscost
