package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gcache-go/gcache/config"
	"github.com/gcache-go/gcache/runtime"
)

func (t *tool) config(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("config takes get, set, ramp or delete")
	}
	h := config.Hash{Client: t.client, Prefix: t.prefix}
	switch sub, args := args[0], args[1:]; sub {
	case "get":
		if len(args) > 1 {
			return usageError("config get takes [use_case]")
		}
		return t.configGet(ctx, h, args)
	case "set":
		if len(args) != 2 {
			return usageError(`config set takes <use_case> '{"ttl_sec": {...}, "ramp": {...}}'`)
		}
		var cfg gcache.KeyConfig
		if err := json.Unmarshal([]byte(args[1]), &cfg); err != nil {
			return usageError("config set %s: %v", args[0], err)
		}
		return t.write(ctx, h, args[0], cfg)
	case "ramp":
		return t.ramp(ctx, h, args)
	case "delete":
		if len(args) != 1 {
			return usageError("config delete takes <use_case>")
		}
		if err := h.Delete(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(t.out, "deleted the config of %s; it runs on its default\n", args[0])
		return nil
	}
	return usageError("config takes get, set, ramp or delete, not %q", args[0])
}

// registered returns the use cases that running instances register, by
// name.
func (t *tool) registered(ctx context.Context) (map[string]gcache.UseCaseInfo, error) {
	c, err := t.cache()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	infos, err := c.RegisteredUseCases(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]gcache.UseCaseInfo, len(infos))
	for _, info := range infos {
		byName[info.Name] = info
	}
	return byName, nil
}

// configGet prints every use case that an instance registers or that has
// an override, or only the one named in args: its key type, whether it is
// tracked, its default and its override, as stored.
func (t *tool) configGet(ctx context.Context, h config.Hash, args []string) error {
	registered, err := t.registered(ctx)
	if err != nil {
		return err
	}
	overrides, err := h.All(ctx)
	if err != nil {
		return err
	}
	var names []string
	for name := range registered {
		names = append(names, name)
	}
	for name := range overrides {
		if _, ok := registered[name]; !ok {
			names = append(names, name)
		}
	}
	if len(args) == 1 {
		if !slices.Contains(names, args[0]) {
			return fmt.Errorf("no running instance registers %s, and it has no config", args[0])
		}
		names = args
	}
	if len(names) == 0 {
		fmt.Fprintln(t.out, "no use cases: no running instance registers one, and no config is set")
		return nil
	}
	sort.Strings(names)
	w := tabwriter.NewWriter(t.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "USE CASE\tKEY TYPE\tTRACKED\tDEFAULT\tOVERRIDE")
	for _, name := range names {
		keyType, tracked, def, override := "-", "-", "-", "-"
		if info, ok := registered[name]; ok {
			keyType, tracked = info.KeyType, strconv.FormatBool(info.Tracked)
			data, _ := json.Marshal(info.Default)
			def = string(data)
		}
		if o, ok := overrides[name]; ok {
			override = o
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, keyType, tracked, def, override)
	}
	return w.Flush()
}

// ramp changes the ramps of a use case's override, or of its default when
// it has none. With -purge, it drops the use case's entries too: after the
// change when no ramp rises, so that nothing is cached again in between;
// before it otherwise, so that the values of calls that were under way
// when the use case was turned off are not served.
func (t *tool) ramp(ctx context.Context, h config.Hash, args []string) error {
	purge := false
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool {
		if a == "-purge" || a == "--purge" {
			purge = true
			return true
		}
		return false
	})
	if len(args) < 2 {
		return usageError("config ramp takes <use_case> [local=N] [remote=N] [-purge]")
	}
	name := args[0]
	ramps := map[string]int{}
	for _, a := range args[1:] {
		layer, value, _ := strings.Cut(a, "=")
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 100 || (layer != "local" && layer != "remote") {
			return usageError("ramp %q: want local=N or remote=N, N from 0 to 100", a)
		}
		ramps[layer] = n
	}
	registered, err := t.registered(ctx)
	if err != nil {
		return err
	}
	info, isRegistered := registered[name]
	cfg, ok, err := h.Get(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		if !isRegistered {
			return fmt.Errorf("no config for %s to ramp, and no running instance registers it; write one with config set", name)
		}
		cfg = info.Default
	}
	old := cfg
	if n, ok := ramps["local"]; ok {
		cfg.Local.Ramp = n
	}
	if n, ok := ramps["remote"]; ok {
		cfg.Remote.Ramp = n
	}
	rises := cfg.Local.Ramp > old.Local.Ramp || cfg.Remote.Ramp > old.Remote.Ramp
	if purge && rises {
		if err := t.purge(ctx, name); err != nil {
			return err
		}
	}
	if isRegistered && cfg == info.Default {
		// Back on its default, which then follows the code's.
		if err := h.Delete(ctx, name); err != nil {
			return err
		}
		data, _ := json.Marshal(cfg)
		fmt.Fprintf(t.out, "%s\t%s\t(its default: the config is deleted)\n", name, data)
	} else if err := t.write(ctx, h, name, cfg); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		cfg  gcache.LayerConfig
	}{{"local", cfg.Local}, {"remote", cfg.Remote}} {
		if l.cfg.Ramp > 0 && l.cfg.TTL == 0 {
			fmt.Fprintf(t.out, "note: the %s TTL of %s is 0, which keeps the layer off whatever its ramp\n", l.name, name)
		}
	}
	if purge && !rises {
		return t.purge(ctx, name)
	}
	return nil
}

func (t *tool) write(ctx context.Context, h config.Hash, useCase string, cfg gcache.KeyConfig) error {
	if err := h.Set(ctx, useCase, cfg); err != nil {
		return err
	}
	data, _ := json.Marshal(cfg)
	fmt.Fprintf(t.out, "%s\t%s\n", useCase, data)
	return nil
}

func (t *tool) purgeCommand(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usageError("purge takes <use_case>")
	}
	return t.purge(ctx, args[0])
}

// purge drops a use case's entries from Redis and, through an event, from
// every instance's local tier.
func (t *tool) purge(ctx context.Context, useCase string) error {
	c, err := t.cache()
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := c.Purge(ctx, useCase)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.out, "purged %s: %d keys from Redis; every instance drops its local entries\n", useCase, n)
	return nil
}
