package conversations

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure keeps the engine pure: it must not import the store, net/http,
// a channel adapter or its own runner. They do I/O; the engine serves the
// simulator and table tests with none.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"net/http", "github.com/tendcare/tend/store", "github.com/tendcare/tend/channels", "github.com/tendcare/tend/api", "github.com/tendcare/tend/conversations/runner"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("conversations depends on %s", dep)
			}
		}
	}
}
