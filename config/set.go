// Package config holds ready-made gcache config providers — a static map,
// a JSON file that reloads when it changes, a Redis hash that every
// instance follows (the fleet-wide kill switch), and a chain of them — and
// reads and writes the config format of the Python gcache library.
//
// Every provider answers from memory: the I/O happens in the background,
// never on the call it configures.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/gcache-go/gcache/runtime"
)

// A Set is a map of use cases to their configs, as the Python library's
// load_configs and dump_configs read and write it:
//
//	{
//	  "GetUser": {"ttl_sec": {"local": 60, "remote": 300}, "ramp": {"local": 100, "remote": 100}},
//	  "staging": {"GetUser": {"ttl_sec": {"local": 5, "remote": 5}, "ramp": {"local": 100, "remote": 100}}}
//	}
//
// An entry is a config, or a group of configs one level down (overrides
// by environment or customer, say), which the providers do not interpret.
type Set struct {
	Configs map[string]gcache.KeyConfig
	Groups  map[string]map[string]gcache.KeyConfig
}

// Load reads a Set. A config may also be a JSON string holding a config,
// as the Python library wrote them before version 0.7.1.
func Load(data []byte) (Set, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Set{}, fmt.Errorf("config: %w", err)
	}
	s := Set{Configs: map[string]gcache.KeyConfig{}, Groups: map[string]map[string]gcache.KeyConfig{}}
	for name, v := range raw {
		if cfg, err := decodeConfig(v); err == nil {
			s.Configs[name] = cfg
			continue
		} else if isConfig(v) {
			return Set{}, fmt.Errorf("config: %s: %w", name, err)
		}
		var group map[string]json.RawMessage
		if err := json.Unmarshal(v, &group); err != nil {
			return Set{}, fmt.Errorf("config: %s is neither a config nor a group of configs", name)
		}
		s.Groups[name] = map[string]gcache.KeyConfig{}
		for inner, gv := range group {
			cfg, err := decodeConfig(gv)
			if err != nil {
				return Set{}, fmt.Errorf("config: %s.%s: %w", name, inner, err)
			}
			s.Groups[name][inner] = cfg
		}
	}
	return s, nil
}

// decodeConfig reads a config, or a JSON string holding one.
func decodeConfig(v json.RawMessage) (gcache.KeyConfig, error) {
	var cfg gcache.KeyConfig
	if s, isString := stringOf(v); isString {
		v = json.RawMessage(s)
	}
	err := json.Unmarshal(v, &cfg)
	return cfg, err
}

// isConfig reports whether v looks like a config (it has ttl_sec or ramp)
// rather than a group, so that a broken config is reported as such.
func isConfig(v json.RawMessage) bool {
	if s, isString := stringOf(v); isString {
		v = json.RawMessage(s)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(v, &probe) != nil {
		return false
	}
	_, ttl := probe["ttl_sec"]
	_, ramp := probe["ramp"]
	return ttl || ramp
}

func stringOf(v json.RawMessage) (string, bool) {
	var s string
	if len(bytes.TrimSpace(v)) > 0 && bytes.TrimSpace(v)[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s, true
	}
	return "", false
}

// Dump writes s as the Python library's dump_configs does: JSON indented
// by two spaces, names in order.
func (s Set) Dump() ([]byte, error) {
	all := map[string]any{}
	for name, cfg := range s.Configs {
		all[name] = cfg
	}
	for name, group := range s.Groups {
		if _, dup := s.Configs[name]; dup {
			return nil, fmt.Errorf("config: %s is both a config and a group", name)
		}
		all[name] = maps.Clone(group)
	}
	return json.MarshalIndent(all, "", "  ")
}
