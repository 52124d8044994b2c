package gcache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// remote is the Redis tier: one round trip per read, a deadline on every
// call, and a breaker in front. On a cluster each master has a breaker of
// its own, so that one master down does not hold the others off.
type remote struct {
	client  redis.UniversalClient
	timeout time.Duration
	breaker breaker // the server's, or on a cluster, that of calls without a key

	cluster *redis.ClusterClient // nil unless the client is one
	masters sync.Map             // on a cluster: master address → *breaker
	// batches is the breaker of batch reads and writes on a sharded
	// client, which span servers: apart, so that a batch that meets a
	// server down does not hold off the calls that have a server of
	// their own, nor events.
	batches breaker
}

func newRemote(client redis.UniversalClient, timeout time.Duration, bc breakerConfig) *remote {
	r := &remote{client: client, timeout: timeout, breaker: breaker{breakerConfig: bc}, batches: breaker{breakerConfig: bc}}
	r.cluster, _ = client.(*redis.ClusterClient)
	return r
}

// breakerFor returns the breaker of the master that serves key.
func (r *remote) breakerFor(ctx context.Context, key string) *breaker {
	if r.cluster == nil || key == "" {
		return &r.breaker
	}
	master, err := r.cluster.MasterForKey(ctx, key)
	if err != nil {
		return &r.breaker
	}
	addr := master.Options().Addr
	if b, ok := r.masters.Load(addr); ok {
		return b.(*breaker)
	}
	b, _ := r.masters.LoadOrStore(addr, &breaker{breakerConfig: r.breaker.breakerConfig})
	return b.(*breaker)
}

// What the fill script returns when it does not write, besides the
// watermark that refused the value.
const (
	fillWritten      = 0
	fillBadWatermark = -1 // the watermark is not a number
	fillLeasePassed  = -2 // another holder has the lease
	fillNewer        = -3 // the key holds a value made as late or later
)

// fill writes a value, unless the entity's watermark refuses it (a
// tracked value whose watermark is at or after its creation would be
// stale on arrival), the lease it was made under has passed to another
// holder, whose value will be newer, or the key holds a value made as late
// or later of the same type (read from its envelope's header): a fill
// never replaces a newer value with an older one, while a value another
// version of the type wrote, which this version cannot read, is replaced.
// A lease that merely expired does not refuse it: a call slower than its
// lease still fills the key. It releases its lease either way, and returns
// one of the fill codes above, or the watermark that refused the value.
// KEYS: value, then the watermark when tracked, then the lease when leased.
// ARGV: bytes, ttl ms, created_at ms, "1" when tracked, the lease token or "".
var fill = redis.NewScript(fmt.Sprintf(`
local WRITTEN, BAD_WATERMARK, LEASE_PASSED, NEWER = %d, %d, %d, %d
if ARGV[5] ~= '' then
	local lease = KEYS[#KEYS]
	local holder = redis.call('GET', lease)
	if holder and holder ~= ARGV[5] then return LEASE_PASSED end
	if holder then redis.call('DEL', lease) end
end
if ARGV[4] == '1' then
	local wm = redis.call('GET', KEYS[2])
	if wm then
		local w = tonumber(wm)
		if not w then return BAD_WATERMARK end
		if w >= tonumber(ARGV[3]) then return math.floor(w) end
	end
end
local head = redis.call('GETRANGE', KEYS[1], 0, 19)
if #head == 20 and string.sub(head, 1, 2) == 'gc' and string.sub(head, 13, 20) == string.sub(ARGV[1], 13, 20) then
	local made = 0
	for i = 5, 12 do made = made * 256 + string.byte(head, i) end
	if made >= tonumber(ARGV[3]) then return NEWER end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return WRITTEN`, fillWritten, fillBadWatermark, fillLeasePassed, fillNewer))

// release deletes a lease if it is still the holder's.
// KEYS: lease. ARGV: token.
var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)

// raiseWatermarks sets watermarks that only move forward, and returns
// the watermark in force at each: a later one is kept, and lives at least
// as long as the new one would have. Unless the channel is "", it then
// announces them to the other instances in one event: the event's head,
// then each entity's escaped id and the watermark in force, in ns (Lua's
// numbers cannot hold ns, so a later watermark is spelt as the last ns of
// its ms).
// KEYS: the watermarks. ARGV: ms, ttl ms, channel, event head, the new
// watermark in ns, then the escaped id of each watermark.
var raiseWatermarks = redis.NewScript(`
local new, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local event, out = ARGV[4], {}
for i, key in ipairs(KEYS) do
	local cur, ns = tonumber(redis.call('GET', key)), ARGV[5]
	if cur and cur >= new then
		if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
		if cur > new then ns = string.format('%d', cur) .. '999999' end
		out[i] = cur
	else
		redis.call('SET', key, ARGV[1], 'PX', ttl)
		out[i] = new
	end
	event = event .. ' ' .. ARGV[5 + i] .. ' ' .. ns
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], event) end
return out`)

// call runs op, about key ("" for none), under the Redis deadline, or
// ctx's when it is sooner, and reports its outcome to the breaker of key's
// server: a timeout or a connection failure counts against it, any answer
// from it (a miss, an error reply) for it. A call that ends because the
// caller cancelled counts neither way; one that runs out of time counts
// against, whoever's deadline it was. While the breaker is open, call
// returns errBreakerOpen without running op.
func (r *remote) call(ctx context.Context, key string, op func(context.Context) error) error {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	return r.callWith(ctx, r.breakerFor(ctx, key), op)
}

// callBatch is call for an operation on many keys.
func (r *remote) callBatch(ctx context.Context, op func(context.Context) error) error {
	if r.cluster == nil {
		return r.call(ctx, "", op)
	}
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	return r.callWith(ctx, &r.batches, op)
}

// bounded returns ctx with a deadline no later than the Redis deadline.
func (r *remote) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= r.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

// callWith runs op under ctx, and reports its outcome to b.
func (r *remote) callWith(ctx context.Context, b *breaker, op func(context.Context) error) error {
	if !b.allow() {
		return errBreakerOpen
	}
	err := op(ctx)
	switch classify(err) {
	case "", errRedis:
		b.success()
	default:
		if !cancelled(ctx) {
			b.failure()
		}
	}
	return err
}

// cancelled reports whether ctx ended because its caller cancelled it, not
// because a deadline passed.
func cancelled(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

var errBreakerOpen = errors.New("gcache: Redis is skipped after repeated failures")

// classify names the kind of a Redis error; "" is no error. A miss
// (redis.Nil) is no error.
func classify(err error) errKind {
	if err == nil || errors.Is(err, redis.Nil) {
		return ""
	}
	// The targets of errors.As escape: declared here, they cost a call
	// that succeeded nothing.
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return errTimeout
	}
	var redisErr redis.Error
	if errors.As(err, &redisErr) {
		return errRedis
	}
	return errConnection
}

// A read is what one look at a key in Redis found.
type read struct {
	raw   []byte // the value's bytes; nil for none
	wm    int64  // the entity's watermark in ms; 0 for none
	badWM bool   // the watermark is not a number
	took  bool   // the look took the key's lease
}

// setWatermark records the watermark s read at a tracked key's entity.
func (rd *read) setWatermark(v any) {
	if s, ok := v.(string); ok {
		rd.wm, rd.badWM = parseWatermark(s)
	}
}

// get reads key, and the watermark at wmKey when it is not "", in one
// round trip.
func (r *remote) get(ctx context.Context, key, wmKey string) (rd read, err error) {
	err = r.call(ctx, key, func(ctx context.Context) error {
		if wmKey == "" {
			rd.raw, err = r.client.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return nil
			}
			return err
		}
		vals, err := r.client.MGet(ctx, key, wmKey).Result()
		if err != nil {
			return err
		}
		if s, ok := vals[0].(string); ok {
			rd.raw = []byte(s)
		}
		rd.setWatermark(vals[1])
		return nil
	})
	return rd, err
}

// parseWatermark reads a watermark: integer milliseconds, or a decimal as
// older writers stored it.
func parseWatermark(s string) (ms int64, bad bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1<<62 {
		return int64(f), false
	}
	return 0, true
}

func (r *remote) set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return r.call(ctx, key, func(ctx context.Context) error {
		return r.client.Set(ctx, key, val, max(ttl, time.Millisecond)).Err()
	})
}

// A write is a value on its way to Redis, and what guards it.
type write struct {
	key     string
	val     []byte
	ttl     time.Duration
	created int64  // ms
	wmKey   string // the entity's watermark, when tracked
	lease   string // the lease the value was made under, if any
	token   string
}

// args returns the keys and arguments of the fill script for w.
func (w *write) args() (keys []string, args []any) {
	keys = []string{w.key}
	tracked := "0"
	if w.wmKey != "" {
		keys, tracked = append(keys, w.wmKey), "1"
	}
	if w.token != "" {
		keys = append(keys, w.lease)
	}
	return keys, []any{w.val, max(w.ttl.Milliseconds(), 1), w.created, tracked, w.token}
}

// put writes w. refusedBy is the watermark that refused it, if one did;
// newer reports a newer value that it left in place.
func (r *remote) put(ctx context.Context, w *write) (refusedBy int64, newer bool, err error) {
	if w.wmKey == "" && w.token == "" {
		return 0, false, r.set(ctx, w.key, w.val, w.ttl)
	}
	var res int64
	err = r.call(ctx, w.key, func(ctx context.Context) error {
		keys, args := w.args()
		res, err = fill.Run(ctx, r.client, keys, args...).Int64()
		return err
	})
	return max(res, 0), res == fillNewer, err
}

// readOrLease reads a key, with its entity's watermark when tracked, and
// takes the key's lease when nobody holds it and the key holds no value,
// or whatever it holds when force is set. Reading and taking are one step,
// so that a holder's fill cannot land unseen between them.
// KEYS: value, lease, then the watermark when tracked. ARGV: token, ttl ms,
// "1" to force.
var readOrLease = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local wm = false
if KEYS[3] then wm = redis.call('GET', KEYS[3]) end
local took = 0
if (not v or ARGV[3] == '1') and redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then took = 1 end
return {v, wm, took}`)

// readOrLease runs the script of that name: it reads key, and the
// watermark at wmKey when it is not "", and takes the lease.
func (r *remote) readOrLease(ctx context.Context, key, wmKey, lease, token string, ttl time.Duration, force bool) (rd read, err error) {
	keys := []string{key, lease}
	if wmKey != "" {
		keys = append(keys, wmKey)
	}
	f := "0"
	if force {
		f = "1"
	}
	err = r.call(ctx, key, func(ctx context.Context) error {
		res, err := readOrLease.Run(ctx, r.client, keys, token, max(ttl.Milliseconds(), 1), f).Slice()
		if err != nil {
			return err
		}
		if len(res) != 3 {
			return fmt.Errorf("gcache: lease script returned %d values", len(res))
		}
		if s, ok := res[0].(string); ok {
			rd.raw = []byte(s)
		}
		rd.setWatermark(res[1])
		rd.took = res[2] == int64(1)
		return nil
	})
	return rd, err
}

// release gives a lease up, if it is still the holder's.
func (r *remote) release(ctx context.Context, key, token string) error {
	return r.call(ctx, key, func(ctx context.Context) error {
		return release.Run(ctx, r.client, []string{key}, token).Err()
	})
}

// raiseWatermarks raises the watermarks at wmKeys, those of the
// entities whose escaped ids are ids, to ns, and publishes one event on
// channel that names them: eventHead, then each id and its watermark. It
// returns the watermark in force at each key, in ms, 0 where the write did
// not land. On a single server it is one script; on a cluster, where one
// script cannot span slots, one script per watermark and the event in one
// pipeline, a round trip per master.
func (r *remote) raiseWatermarks(ctx context.Context, wmKeys, ids []string, ns int64, ttl time.Duration, channel, eventHead string) (inForce []int64, err error) {
	inForce = make([]int64, len(wmKeys))
	args := func(channel string, ids []string) []any {
		a := []any{ns / 1e6, max(ttl.Milliseconds(), 1), channel, eventHead, strconv.FormatInt(ns, 10)}
		for _, id := range ids {
			a = append(a, id)
		}
		return a
	}
	if r.cluster == nil {
		err = r.call(ctx, wmKeys[0], func(ctx context.Context) error {
			vals, err := raiseWatermarks.Run(ctx, r.client, wmKeys, args(channel, ids)...).Int64Slice()
			copy(inForce, vals)
			return err
		})
		return inForce, err
	}
	// The watermarks first, then, in a round trip of its own, the event
	// of those that landed: a cluster sends a pipeline's commands to its
	// nodes at once, and an event that outran its watermark would have
	// the others take a read from before it as checked against it.
	cmds := make([]*redis.Cmd, len(wmKeys))
	err = r.callBatch(ctx, func(ctx context.Context) error {
		return r.pipelineScripts(ctx, func(p redis.Pipeliner, eval evalFunc) {
			for i, k := range wmKeys {
				cmds[i] = eval(raiseWatermarks, ctx, p, []string{k}, args("", ids[i:i+1])...)
			}
		})
	})
	event := eventHead
	for i, c := range cmds {
		if c == nil {
			continue
		}
		if vals, err := c.Int64Slice(); err == nil && len(vals) == 1 && vals[0] != 0 {
			inForce[i] = vals[0]
			event += " " + ids[i] + " " + strconv.FormatInt(ns, 10)
		}
	}
	if event != eventHead {
		if perr := r.publish(ctx, channel, event); err == nil {
			err = perr
		}
	}
	return inForce, err
}

func (r *remote) del(ctx context.Context, key string) (deleted bool, err error) {
	err = r.call(ctx, key, func(ctx context.Context) error {
		n, err := r.client.Unlink(ctx, key).Result()
		deleted = n > 0
		return err
	})
	return deleted, err
}

// publish publishes msg on channel. On a cluster, classic pub/sub is
// broadcast to every node, so when the node go-redis routes the channel
// to is down, any other master carries it.
func (r *remote) publish(ctx context.Context, channel, msg string) error {
	return r.call(ctx, "", func(ctx context.Context) error {
		err := r.client.Publish(ctx, channel, msg).Err()
		if err == nil || r.cluster == nil || classify(err) == errRedis {
			return err
		}
		for _, m := range r.masterClients(ctx) {
			if m.Publish(ctx, channel, msg).Err() == nil {
				return nil
			}
		}
		return err
	})
}

// masterClients returns the clients of a cluster's masters, in the order
// of their addresses.
func (r *remote) masterClients(ctx context.Context) []*redis.Client {
	var mu sync.Mutex
	var masters []*redis.Client
	_ = r.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		masters = append(masters, c)
		mu.Unlock()
		return nil
	})
	sort.Slice(masters, func(i, j int) bool { return masters[i].Options().Addr < masters[j].Options().Addr })
	return masters
}

// subscribe subscribes to channels. On a cluster it takes the masters in
// turn, attempt after attempt, so that a master down does not keep every
// instance from its events.
func (r *remote) subscribe(ctx context.Context, attempt int, channels ...string) *redis.PubSub {
	if r.cluster != nil {
		if masters := r.masterClients(ctx); len(masters) > 0 {
			return masters[attempt%len(masters)].Subscribe(ctx, channels...)
		}
	}
	return r.client.Subscribe(ctx, channels...)
}

// A publisher publishes on a channel: a client, or a cluster master's.
type publisher interface {
	Publish(ctx context.Context, channel string, message any) *redis.IntCmd
}

// publishers returns a client of each server that publishes events: the
// client itself, or on a cluster, each master's.
func (r *remote) publishers(ctx context.Context) []publisher {
	if r.cluster == nil {
		return []publisher{r.client}
	}
	masters := r.masterClients(ctx)
	ps := make([]publisher, len(masters))
	for i, m := range masters {
		ps[i] = m
	}
	return ps
}

// time returns Redis's clock: on a cluster, the first master's to
// answer, asked at once, so that a frozen master does not hold it up.
func (r *remote) time(ctx context.Context) (time.Time, error) {
	if r.cluster == nil {
		return r.client.Time(ctx).Result()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		t   time.Time
		err error
	}
	masters := r.masterClients(ctx)
	answers := make(chan answer, len(masters))
	for _, m := range masters {
		go func() {
			t, err := m.Time(ctx).Result()
			answers <- answer{t, err}
		}()
	}
	err := errors.New("gcache: no cluster master answers")
	for range masters {
		a := <-answers
		if a.err == nil {
			return a.t, nil
		}
		err = a.err
	}
	return time.Time{}, err
}

// runIDs returns the run ids of the servers that answer, by address (""
// for the one server of a standalone or Sentinel Redis): one that changes
// has restarted or failed over. A cluster's masters are asked at once.
func (r *remote) runIDs(ctx context.Context) map[string]string {
	ids := map[string]string{}
	if r.cluster == nil {
		if id, err := runID(ctx, r.client); err == nil {
			ids[""] = id
		}
		return ids
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range r.masterClients(ctx) {
		wg.Go(func() {
			if id, err := runID(ctx, m); err == nil {
				mu.Lock()
				ids[m.Options().Addr] = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ids
}

func runID(ctx context.Context, c redis.Cmdable) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "run_id:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", nil
}

// unlink unlinks, on every master, the keys that match one of patterns and
// that owned accepts, and returns how many it unlinked. It runs under the
// caller's deadline, not the per-operation one: a large keyspace takes a
// while to scan.
func (r *remote) unlink(ctx context.Context, owned func(key string) bool, patterns ...string) (int64, error) {
	var n atomic.Int64
	unlinkAll := func(ctx context.Context, c redis.UniversalClient) error {
		for _, pattern := range patterns {
			iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
			batch := make([]string, 0, 1000)
			for iter.Next(ctx) {
				if !owned(iter.Val()) {
					continue
				}
				batch = append(batch, iter.Val())
				if len(batch) == cap(batch) {
					if err := unlinkEach(ctx, c, batch); err != nil {
						return err
					}
					n.Add(int64(len(batch)))
					batch = batch[:0]
				}
			}
			if err := iter.Err(); err != nil {
				return err
			}
			if err := unlinkEach(ctx, c, batch); err != nil {
				return err
			}
			n.Add(int64(len(batch)))
		}
		return nil
	}
	var err error
	if r.cluster != nil {
		err = r.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return unlinkAll(ctx, c)
		})
	} else {
		err = unlinkAll(ctx, r.client)
	}
	return n.Load(), err
}

// unlinkEach unlinks keys in one pipeline, one command per key, so that on
// a cluster no command spans two slots.
func unlinkEach(ctx context.Context, c redis.UniversalClient, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	return err
}

// batchChunk bounds the keys of one batch command, or pipeline, each under
// a deadline of its own: a large batch neither holds Redis up for others
// nor runs out of time as a whole.
const batchChunk = 512

// getMany returns the value at each of keys, nil where there is none: in
// one MGET per 512 keys on a single server; on a cluster or a ring, where
// one command cannot span servers, in a pipeline per 512 keys, which takes
// a round trip per server.
func (r *remote) getMany(ctx context.Context, keys []string) (vals [][]byte, err error) {
	vals = make([][]byte, len(keys))
	for from := 0; from < len(keys) && err == nil; from += batchChunk {
		chunk, got := keys[from:min(from+batchChunk, len(keys))], vals[from:]
		err = r.callBatch(ctx, func(ctx context.Context) error {
			if r.cluster == nil {
				res, err := r.client.MGet(ctx, chunk...).Result()
				for i, v := range res {
					if s, ok := v.(string); ok {
						got[i] = []byte(s)
					}
				}
				return err
			}
			cmds := make([]*redis.StringCmd, len(chunk))
			_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range chunk {
					cmds[i] = p.Get(ctx, k)
				}
				return nil
			})
			for i, c := range cmds {
				switch b, err := c.Bytes(); {
				case err == nil:
					got[i] = b
				case !errors.Is(err, redis.Nil):
					return err
				}
			}
			return nil
		})
	}
	return vals, err
}

// putMany writes ws in a pipeline per 512 writes and returns, per write,
// the watermark that refused it, or 0.
func (r *remote) putMany(ctx context.Context, ws []*write) (refusedBy []int64, err error) {
	refusedBy = make([]int64, len(ws))
	for from := 0; from < len(ws) && err == nil; from += batchChunk {
		err = r.putChunk(ctx, ws[from:min(from+batchChunk, len(ws))], refusedBy[from:])
	}
	return refusedBy, err
}

// putChunk writes ws in one pipeline, and the watermarks that refused them
// into refusedBy.
func (r *remote) putChunk(ctx context.Context, ws []*write, refusedBy []int64) error {
	cmds := make([]redis.Cmder, len(ws))
	err := r.callBatch(ctx, func(ctx context.Context) error {
		return r.pipelineScripts(ctx, func(p redis.Pipeliner, eval evalFunc) {
			for i, w := range ws {
				if w.wmKey == "" && w.token == "" {
					cmds[i] = p.Set(ctx, w.key, w.val, max(w.ttl, time.Millisecond))
					continue
				}
				keys, args := w.args()
				cmds[i] = eval(fill, ctx, p, keys, args...)
			}
		})
	})
	for i, c := range cmds {
		if c, ok := c.(*redis.Cmd); ok {
			n, _ := c.Int64()
			refusedBy[i] = max(n, 0)
		}
	}
	return err
}

// evalFunc runs a script in a pipeline: (*redis.Script).EvalSha, or Eval.
type evalFunc func(*redis.Script, context.Context, redis.Scripter, []string, ...any) *redis.Cmd

// pipelineScripts runs the commands that queue adds in one pipeline,
// scripts by their SHA; when a server has not seen a script yet, it runs
// them all again with the scripts' text, so queue's commands must be
// idempotent.
func (r *remote) pipelineScripts(ctx context.Context, queue func(redis.Pipeliner, evalFunc)) error {
	run := func(eval evalFunc) ([]redis.Cmder, error) {
		return r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			queue(p, eval)
			return nil
		})
	}
	cmds, err := run((*redis.Script).EvalSha)
	if err != nil && slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return redis.HasErrorPrefix(c.Err(), "NOSCRIPT") }) {
		_, err = run((*redis.Script).Eval)
	}
	return err
}
