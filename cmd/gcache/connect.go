package main

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// redisOptions returns the client options of addrs, each host:port or a
// URL, as RedisConfig reads them: one address is a server, several are a
// cluster, and with masterName they are sentinels. Credentials, database
// and TLS come from the URLs, which must agree. Its errors never show a
// password.
func redisOptions(addrs []string, masterName string) (*redis.UniversalOptions, error) {
	opts := &redis.UniversalOptions{
		MasterName:  masterName,
		DialTimeout: 2 * time.Second,
		// A command's deadline is its context's.
		ContextTimeoutEnabled: true,
	}
	var first *redis.Options // of the first URL
	for _, a := range addrs {
		if !strings.Contains(a, "://") {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, usageError("invalid Redis address %q: want host:port or a redis:// URL", a)
			}
			opts.Addrs = append(opts.Addrs, a)
			continue
		}
		o, err := parseURL(a)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = o
		} else if o.Username != first.Username || o.Password != first.Password || o.DB != first.DB || (o.TLSConfig == nil) != (first.TLSConfig == nil) {
			return nil, usageError("the Redis URLs disagree on credentials, database or TLS")
		}
		opts.Addrs = append(opts.Addrs, o.Addr)
	}
	if first != nil {
		opts.Username, opts.Password, opts.DB, opts.TLSConfig = first.Username, first.Password, first.DB, first.TLSConfig
		if opts.TLSConfig != nil && len(opts.Addrs) > 1 {
			// Each node's name is its own address's host.
			opts.TLSConfig = opts.TLSConfig.Clone()
			opts.TLSConfig.ServerName = ""
		}
	}
	if len(opts.Addrs) > 1 && masterName == "" && opts.DB != 0 {
		return nil, usageError("a cluster has no database %d", opts.DB)
	}
	return opts, nil
}

// parseURL reads one Redis URL. Its errors never show the password.
func parseURL(rawURL string) (*redis.Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, usageError("invalid Redis URL: %v", err)
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		msg := err.Error()
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return nil, usageError("invalid Redis URL %s: %s", u.Redacted(), msg)
	}
	return opts, nil
}

// eachMaster runs f on every master of a cluster, concurrently, or on the
// client itself when it is not a cluster's.
func eachMaster(ctx context.Context, client redis.UniversalClient, f func(context.Context, redis.UniversalClient) error) error {
	if cc, ok := client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return f(ctx, c) })
	}
	return f(ctx, client)
}
