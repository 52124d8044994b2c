package gcache

import (
	"context"
	"fmt"
	"strings"

	"github.com/gcache-go/gcache/internal/names"
)

// Purge removes every entry of one use case: from Redis, by SCAN and
// UNLINK on every master, and from the local tier of every instance that
// shares the Redis and the key prefix, which an event tells. It reports
// how many keys it removed from Redis (leases included). Watermarks stay,
// as they do through Flush.
//
// Purge is the second half of a kill switch: ramp the use case to 0 in
// the config provider, then purge it, so that nothing cached before comes
// back when it is ramped up again. A call already under way when the ramp
// took effect may still store its value after the purge; purging once more
// before ramping up removes that too.
//
// The use case need not be registered on this Cache.
func (c *Cache) Purge(ctx context.Context, useCase string) (int64, error) {
	if !names.Valid(useCase) || useCase == ReservedUseCase {
		return 0, fmt.Errorf("gcache: use case name %q: %s, and not %q", useCase, names.Want, ReservedUseCase)
	}
	if uc := c.useCase(useCase); uc != nil {
		uc.clearLocal()
	}
	if c.remote == nil {
		return 0, nil
	}
	p := c.cfg.KeyPrefix
	owned := func(key string) bool { return useCaseOf(p, key) == useCase }
	// One pattern, so that each master's keyspace is scanned once.
	n, err := c.remote.unlink(ctx, owned, "*"+p+":*#"+useCase+"*")
	if err == nil {
		err = c.publish(ctx, eventPurge+" "+useCase)
	}
	if err != nil {
		c.countError(useCase, "", Remote.String(), err)
		return n, fmt.Errorf("gcache: purge %s: %w", useCase, err)
	}
	return n, nil
}

// isEntry reports whether a key in Redis holds an entry or a lease, the
// keys Flush removes: they all hold a raw '#', which escaped ids never do,
// and the other keys under the prefix (the config hash, the use-case
// registry) never do. Watermarks are not entries.
func isEntry(key string) bool {
	return strings.IndexByte(key, '#') >= 0 && !strings.HasSuffix(key, watermarkSuffix)
}

// useCaseOf returns the use case of a key under prefix in Redis: that of
// an entry, or of the entry a lease is on. It returns "" for any other key.
//
//	urn:user_id:7?page=2#Search            Search
//	{urn:user_id:7}#GetUser                GetUser
//	{urn:user_id:7?page=2#Search}#lease    Search (a lease: see leaseKey)
//	{urn:user_id:7}#GetUser#lease          GetUser
func useCaseOf(prefix, key string) string {
	if strings.Count(key, "#") == 2 && strings.HasSuffix(key, leaseSuffix) {
		key = strings.TrimSuffix(key, leaseSuffix)
		if key[0] == '{' && key[len(key)-1] == '}' {
			key = key[1 : len(key)-1]
		}
	}
	if !strings.HasPrefix(key, prefix+":") && !strings.HasPrefix(key, "{"+prefix+":") {
		return ""
	}
	i := strings.IndexByte(key, '#')
	if i < 0 || strings.IndexByte(key[i+1:], '#') >= 0 || strings.HasSuffix(key, watermarkSuffix) {
		return ""
	}
	return key[i+1:]
}
