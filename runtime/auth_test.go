package gcache

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestACLUserAndPassword runs a Cache as an ACL user with a password, end
// to end, and checks that a wrong password fails open without the
// password ever reaching a log.
func TestACLUserAndPassword(t *testing.T) {
	srv := redistest.Start(t)
	srv.Do("ACL", "SETUSER", "app", "on", ">s3cret-pw", "~*", "&*", "+@all")
	srv.Do("ACL", "SETUSER", "default", "off")

	var rec logRecorder
	cfg := Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}, Username: "app", Password: "s3cret-pw"}, Logger: slog.New(&rec)}
	a := newHarness(t, cfg)
	a.waitLive()
	spec := UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}}
	uc := useCase[string](t, a.c, spec)
	calls := 0
	fn := func(context.Context) (string, error) { calls++; return "v", nil }
	uc.Get(enabled, keyOf(uc, "1"), fn)
	a.settle()
	uc.Get(enabled, keyOf(uc, "1"), fn)
	if calls != 1 {
		t.Errorf("calls = %d: the authenticated client did not cache", calls)
	}

	wrong := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}, Username: "app", Password: "wrong-pw-123"}, Logger: slog.New(&rec), RedisTimeout: time.Second})
	ucWrong := useCase[string](t, wrong.c, spec)
	if v, err := ucWrong.Get(enabled, keyOf(ucWrong, "1"), fn); v != "v" || err != nil {
		t.Errorf("with a wrong password: %q, %v; want the function's value", v, err)
	}
	if got := wrong.metric("gcache_error_counter_total", "layer", "REMOTE"); got < 1 {
		t.Error("the failed AUTH was not counted")
	}
	logs := rec.text()
	for _, pw := range []string{"s3cret-pw", "wrong-pw-123"} {
		if strings.Contains(logs, pw) {
			t.Errorf("a log shows the password %q:\n%s", pw, logs)
		}
	}
	if !strings.Contains(logs, "Redis tier failed") {
		t.Errorf("the failure was not logged:\n%s", logs)
	}
}

func TestTLS(t *testing.T) {
	srv, tlsAddr, tlsCfg := redistest.StartTLS(t)
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{tlsAddr}, TLS: tlsCfg}})
	h.waitLive()
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	calls := 0
	fn := func(context.Context) (string, error) { calls++; return "v", nil }
	uc.Get(enabled, keyOf(uc, "1"), fn)
	h.settle()
	uc.Get(enabled, keyOf(uc, "1"), fn)
	if calls != 1 {
		t.Errorf("calls = %d over TLS, want 1", calls)
	}
	h.settle()
	if n, _ := srv.Client().Exists(context.Background(), "urn:T:1#uc").Result(); n != 1 {
		t.Error("the value did not reach Redis over TLS")
	}
	// The server's TLS port refuses a client without TLS: it fails open.
	plain := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{tlsAddr}}, RedisTimeout: 200 * time.Millisecond})
	ucPlain := useCase[string](t, plain.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	if v, err := ucPlain.Get(enabled, keyOf(ucPlain, "2"), fn); v != "v" || err != nil {
		t.Errorf("plain client on the TLS port: %q, %v", v, err)
	}
}
