package sandbox

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Channel is the sandbox's channel name.
const Channel = "sandbox"

// Spec is the simulator's channel: text, by the number it was given.
var Spec = channels.Spec{Name: Channel, NamesMedicine: true}

// Sender writes each message to W, stamped with the time in the patient's
// time zone.
type Sender struct {
	W     io.Writer
	Clock func() time.Time
	mu    sync.Mutex
	n     int
}

// Send prints the message and reports it delivered.
func (s *Sender) Send(_ context.Context, e store.OutboxEntry) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	at := s.Clock()
	if loc, err := time.LoadLocation(e.Timezone); err == nil {
		at = at.In(loc)
	}
	fmt.Fprintf(s.W, "[%s] tend> %s\n", at.Format("Mon 15:04"), indent(conversations.Numbered(e.Text, e.Labels)))
	return fmt.Sprintf("SB%06d", s.n), "delivered", nil
}

func indent(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' {
			out = append(out, "                 "...)
		}
	}
	return string(out)
}
