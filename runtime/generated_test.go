package gcache

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gcache-go/gcache/internal/names"
)

type instanceID string

func TestInstanceName(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{InstanceName("repo.Repo.Load"), "repo.Repo.Load"},
		{InstanceName("repo.Repo.Load", TypeName[instanceID](), TypeName[*instanceID]()), "repo.Repo.Load--gcache.instanceID---2Agcache.instanceID"},
		{InstanceName("R.M", TypeName[map[string][]int]()), "R.M--map-5Bstring-5D-5B-5Dint"},
	} {
		if tc.got != tc.want {
			t.Errorf("InstanceName = %q, want %q", tc.got, tc.want)
		}
		if !names.Valid(tc.got) {
			t.Errorf("%q is not a valid use case name", tc.got)
		}
	}
	// Type arguments that differ give names that differ, even where the
	// escapes could be read as type names.
	seen := map[string][]string{}
	for _, args := range [][]string{{"a", "b"}, {"a,b"}, {"a-2Cb"}, {"a", "-2Cb"}, {"a-", "b"}, {"a-", "-b"}, {"a", "-b"}, {"a--b"}, {"a", ""}, {""}, {}} {
		n := InstanceName("U", args...)
		if prev, dup := seen[n]; dup {
			t.Errorf("%q and %q both give %q", prev, args, n)
		}
		seen[n] = args
	}
}

func TestRegisterError(t *testing.T) {
	taken := RegisterError("NewStoreCache", fmt.Errorf("%w: %q", ErrUseCaseExists, "orders.Store.Get"))
	if !errors.Is(taken, ErrUseCaseExists) || taken.Error() != `gcache: use case is already registered: "orders.Store.Get", by NewStoreCache: a Cache takes one decorator of an interface (make one and share it), and one use case of a name (give one of the methods a use_case= of its own)` {
		t.Errorf("RegisterError = %v", taken)
	}
	other := errors.New("gcache: key type \"a b\": want letters")
	if got := RegisterError("NewStoreCache", other); got != other {
		t.Errorf("RegisterError of another error = %v", got)
	}
}
