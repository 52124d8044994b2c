package gcache

import (
	"context"
	"errors"
	"slices"
	"time"
)

// GetBatch returns the values of ids, caching each under its own key: the
// key its id would have in a call of u alone, so that invalidating an
// entity reaches its entries of batch and single calls alike. key renders
// an id, and the arguments the call shares, as [UseCase.Key] takes them.
//
// It looks every id up in the local tier, then the ones it missed in Redis
// in one round trip, then calls fn once with the ids still missing, and
// writes their values back to both tiers, to Redis in one pipeline. An id
// that fn leaves out of its map is not found: it is left out of the
// result, and not cached. ids may repeat; fn gets each id once, and an
// empty batch returns an empty map without calling it.
//
// The config provider is asked once per batch, with the key of its first
// id, and each layer's ramp is drawn once per batch. Early refresh,
// negative caching and leases are for single calls: a batch does not use
// them. Concurrent batches share nothing but the tiers.
//
// Outside [Enable], and after [Cache.Close], it calls fn with ids as they
// are. fn's error is returned as is, with a nil map. A key that cannot be
// built serves the whole batch by fn, uncached; other cache-side failures
// are counted and logged and the ids they hit go to fn, as in
// [UseCase.Get].
func GetBatch[K comparable, T any](ctx context.Context, u *UseCase[T], ids []K, key func(b []byte, id K) ([]byte, int, error), fn func(ctx context.Context, ids []K) (map[K]T, error)) (map[K]T, error) {
	if !u.Enabled(ctx) || u.c.closed.Load() {
		return fn(ctx, ids)
	}
	uniq := unique(ids)
	if len(uniq) == 0 {
		return map[K]T{}, nil
	}
	keys, err := batchKeys(u, uniq, key)
	if err != nil {
		u.KeyError(err)
		return fn(ctx, uniq)
	}
	lookupStart := time.Now()
	ctx, bt, ok := u.lookupBatch(ctx, keys)
	if !ok {
		return fn(ctx, uniq)
	}
	defer bt.trace.end()
	out := make(map[K]T, len(uniq))
	var missing []K
	for i, id := range uniq {
		if bt.found[i] {
			out[id] = bt.vals[i]
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	start := time.Now()
	created, validated := u.c.started()
	got, err := fn(ctx, missing)
	bt.trace.batchCalled(len(missing), err)
	u.called(start, err != nil, bt.remote)
	if bt.local {
		u.metrics.fallback[Local].child().Observe(time.Since(lookupStart).Seconds())
	}
	if err != nil {
		return nil, err
	}
	for i, id := range uniq {
		if v, ok := got[id]; ok && !bt.found[i] {
			out[id] = v
			bt.vals[i], bt.filled[i] = v, true
		}
	}
	u.storeBatch(&bt, created, validated)
	return out, nil
}

// unique returns ids without repeats, in the order they first come.
func unique[K comparable](ids []K) []K {
	uniq := make([]K, 0, len(ids))
	seen := make(map[K]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			uniq = append(uniq, id)
		}
	}
	return uniq
}

// batchKeys returns the key of each of ids, rendered by key.
func batchKeys[K comparable, T any](u *UseCase[T], ids []K, key func(b []byte, id K) ([]byte, int, error)) ([]Key, error) {
	keys := make([]Key, len(ids))
	var b []byte
	for i, id := range ids {
		var idLen int
		var err error
		if b, idLen, err = key(b[:0], id); err != nil {
			return nil, err
		}
		keys[i] = u.shape.render(b, idLen)
	}
	return keys, nil
}

// A batch is the state of one GetBatch call, by the index of its ids.
type batch[T any] struct {
	keys          []Key
	cfg           KeyConfig
	local, remote bool
	vals          []T
	found         []bool // found in a tier
	filled        []bool // made by the function, to be stored
	trace         *callTrace
}

// plan returns the plan of the batch's i-th key.
func (bt *batch[T]) plan(i int) *plan {
	return &plan{key: &bt.keys[i], cfg: &bt.cfg, local: bt.local, remote: bt.remote}
}

// lookupBatch resolves the batch's config and looks its keys up in the
// tiers that take part. ok is false when none does. It returns the
// context the batch goes on in: traced once the local tier missed.
func (u *UseCase[T]) lookupBatch(ctx context.Context, keys []Key) (_ context.Context, bt batch[T], ok bool) {
	bt.keys = keys
	cfg, ok := u.config(ctx, &keys[0])
	if !ok {
		return ctx, bt, false
	}
	bt.cfg = *cfg
	bt.cfg.NegativeTTL = 0 // a batch takes no negative answers
	bt.local = u.layerOn(Local, bt.cfg.Local)
	bt.remote = u.c.remote != nil && u.layerOn(Remote, bt.cfg.Remote)
	if !bt.local && !bt.remote {
		return ctx, bt, false
	}
	bt.vals, bt.found, bt.filled = make([]T, len(keys)), make([]bool, len(keys)), make([]bool, len(keys))
	var missing []int
	for i := range keys {
		if bt.local {
			u.metrics.request[Local].child().Inc()
			if e, hit := u.lookupLocal(keys[i].str, &bt.cfg); hit {
				bt.vals[i], bt.found[i] = e.val, true
				continue
			}
			u.metrics.miss[Local].child().Inc()
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 {
		ctx, bt.trace = u.c.startTrace(ctx, &keys[0], len(keys), len(keys)-len(missing))
	}
	if bt.remote {
		// Values on their way to Redis are as good as ones there.
		missing = slices.DeleteFunc(missing, func(i int) bool {
			res, ok := u.filling.get(keys[i].str)
			if ok && u.usable(keys[i].str, res.created, res.validated, res.negative, &bt.cfg) {
				u.metrics.request[Remote].child().Inc()
				bt.vals[i], bt.found[i] = res.val, true
			}
			return bt.found[i]
		})
		if len(missing) > 0 {
			u.getRemoteBatch(ctx, &bt, missing)
		}
	}
	return ctx, bt, true
}

// getRemoteBatch reads the missing keys of bt from Redis, with the
// watermarks of the tracked ones, in one round trip.
func (u *UseCase[T]) getRemoteBatch(ctx context.Context, bt *batch[T], missing []int) {
	strs := make([]string, 0, 2*len(missing))
	for _, i := range missing {
		strs = append(strs, bt.keys[i].str)
	}
	for _, i := range missing {
		if wm := bt.keys[i].watermarkKey(); wm != "" {
			strs = append(strs, wm)
		}
	}
	ctx, cancel := u.c.redisContext(ctx)
	defer cancel()
	readAt, start := u.c.clk.local(), time.Now()
	raws, err := u.c.remote.getMany(ctx, strs)
	if !u.looked(ctx, start, err, len(missing)) {
		return
	}
	for j, i := range missing {
		rd := read{raw: raws[j]}
		if len(raws) > len(missing) && raws[len(missing)+j] != nil {
			rd.setWatermark(string(raws[len(missing)+j]))
		}
		res, ok := u.accept(&bt.keys[i], rd, readAt, false)
		if !ok {
			continue
		}
		bt.vals[i], bt.found[i] = res.val, true
		if bt.local {
			u.setLocal(bt.plan(i), res)
		}
	}
}

// storeBatch stores the values the function made for bt, in a call that
// began at created (fleet ns) and validated (local ns): in the local tier,
// and in Redis in one pipeline, in the background.
func (u *UseCase[T]) storeBatch(bt *batch[T], created, validated int64) {
	var ws []*write
	var wKeys []*Key
	var records []*loaded[T]
	for i, filled := range bt.filled {
		if !filled {
			continue
		}
		res := loaded[T]{val: bt.vals[i], created: created, validated: validated}
		if bt.local {
			u.setLocal(bt.plan(i), res)
		}
		if !bt.remote || bt.keys[i].Tracked && u.c.wm.refuses(bt.keys[i].entityKey(), created, validated) {
			continue
		}
		if w := u.write(&bt.keys[i], res, &bt.cfg); w != nil {
			ws, wKeys = append(ws, w), append(wKeys, &bt.keys[i])
			records = append(records, u.filling.add(bt.keys[i].str, res))
		}
	}
	if len(ws) == 0 {
		return
	}
	done := func() {
		for j, r := range records {
			u.filling.done(wKeys[j].str, r)
		}
	}
	if !u.c.writes.add(func(ctx context.Context) { u.putBatch(ctx, ws, wKeys, created, validated); done() }) {
		done()
		u.remoteError(errDropped, errBacklogFull)
	}
}

// putBatch writes a batch's values, made by a call that began at created
// (fleet ns) and validated (local ns), to Redis in one pipeline. It checks
// again what storeBatch checked: this process may have learned, while the
// write waited, of an invalidation or of a Redis that lost its watermarks.
func (u *UseCase[T]) putBatch(ctx context.Context, ws []*write, keys []*Key, created, validated int64) {
	var keptW []*write
	var keptKeys []*Key
	for j, w := range ws {
		if !keys[j].Tracked || !u.c.wm.refuses(keys[j].entityKey(), created, validated) {
			keptW, keptKeys = append(keptW, w), append(keptKeys, keys[j])
		}
	}
	if len(keptW) == 0 {
		return
	}
	ws, keys = keptW, keptKeys
	refusedBy, err := u.c.remote.putMany(ctx, ws)
	for j, wm := range refusedBy {
		if wm > 0 {
			u.c.wm.raiseMs(keys[j].entityKey(), wm)
		}
	}
	if err != nil && !errors.Is(err, errBreakerOpen) && !cancelled(ctx) {
		u.remoteError(classify(err), err)
	}
}
