package runner

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Message is a patient's message as a channel received it.
type Message struct {
	Channel string
	// Kind is conversations.Text (the zero value) for words, or AskStop
	// and AskStart for a key that means STOP or START; Text is then what
	// was pressed, for the timeline.
	Kind conversations.InputKind
	Text string
	// Choice is the choice id of a button the patient pressed, Step the
	// question the button belongs to (0 when unknown); Text is its label.
	Choice string
	Step   uint32
	// Dedupe is the provider's id of the message: a retry is a no-op.
	Dedupe string
	// Sync returns the turn's messages in the Reply instead of queuing
	// them: a call speaks them in its answer to the keypress.
	Sync bool
	// SayClosed answers a stale button with a message (see Input).
	SayClosed bool
}

// Outgoing is one message of a sync turn, rendered in parts so a channel
// can lay the choices out its own way.
type Outgoing struct {
	ID      string // its message.out event
	Message string // content message id
	Text    string
	Labels  []string
	Step    uint32
	// Reading is the kind of home reading the message asks for (its
	// state's reading:), "" for any other: a call takes it on the keypad.
	Reading string
}

// Reply is what a turn gives back to the channel that ran it.
type Reply struct {
	Messages []Outgoing
	Lang     string
	Slow     bool // the patient asked for slower speech
	// Stale: a button of an earlier question was pressed; nothing changed.
	Stale bool
	// Duplicate: a provider retry of a turn already committed; nothing ran
	// again, and Messages is empty.
	Duplicate bool
	// OptedOut (Prompt only): the patient stopped calls; a call they
	// place may offer to start them again, but not assume it.
	OptedOut bool
	// Asking: the turn left a safety question open ("Do you have chest pain
	// now?"), answered by the patient's next words, not by a key: a call
	// that can hear speech keeps listening.
	Asking bool
}

func (r *Runner) reply(w *work) Reply {
	rep := Reply{Messages: w.said, Lang: r.Render.Lang(&w.s, &w.p), Slow: w.p.SlowSpeech, Stale: w.out.Keyword == "stale", Duplicate: w.dup, Asking: w.s.Safety != ""}
	if w.dup {
		rep.Lang = w.p.Language
	}
	return rep
}

// Receive runs the turn for a patient's message on a channel: writing on a
// channel opens WhatsApp's window and shows the channel reaches them again.
func (r *Runner) Receive(ctx context.Context, patientID string, m Message) (Reply, error) {
	w, err := r.runOn(ctx, "inbound", patientID, m.Dedupe, m.Channel, m.Sync, func(w *work) error {
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "message.in", At: w.now, Channel: m.Channel, Text: m.Text, Status: "received"})
		if r.Channels.Of(m.Channel).Window > 0 {
			w.s.WindowAt = w.now.Unix()
		}
		w.s.Unreachable.Remove(m.Channel)
		w.s.LastIn = w.now.Unix()
		return r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: m.Kind, Text: m.Text, Channel: m.Channel, Choice: m.Choice, Step: m.Step, SayClosed: m.SayClosed}), w.now, &w.out)
	})
	if err != nil {
		return Reply{}, err
	}
	return r.reply(w), nil
}

// Silence runs the waiting question's timeout now, for a call in which the
// patient pressed nothing twice; its messages come back to be spoken.
func (r *Runner) Silence(ctx context.Context, patientID, dedupe string) (Reply, error) {
	w, err := r.runOn(ctx, "timeout", patientID, dedupe, conversations.Voice, true, func(w *work) error {
		if w.s.Flow == "" || w.s.TimerDue == 0 {
			return nil
		}
		due := w.s.TimerDue
		w.deleteTimer(conversations.FlowTimer)
		return r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Timeout, Due: due}), w.now, &w.out)
	})
	if err != nil {
		return Reply{}, err
	}
	return r.reply(w), nil
}

// Prompt renders the question the patient's conversation waits on, for a
// call that reaches them: Messages is empty when nothing waits.
func (r *Runner) Prompt(ctx context.Context, patientID string) (Reply, error) {
	p, ss, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return Reply{}, err
	}
	var s conversations.Session
	if err := r.Engine.DecodeSession(ss.Data, &s); err != nil {
		return Reply{}, err
	}
	rep := Reply{Lang: r.Render.Lang(&s, &p), Slow: p.SlowSpeech, OptedOut: s.OptedOut.Has(conversations.Voice)}
	if o, ok := r.question(&s, &p, rep.Lang); ok {
		rep.Messages = []Outgoing{o}
	}
	return rep, nil
}

// question renders the waiting state's prompt with its choices.
func (r *Runner) question(s *conversations.Session, p *store.Patient, lang string) (Outgoing, bool) {
	f := r.Engine.Pack.Flows[s.Flow]
	if f == nil || f.States[s.State] == nil {
		return Outgoing{}, false
	}
	st := f.States[s.State]
	if st.Say == "" || (len(st.Choices) == 0 && st.Reading == "") {
		return Outgoing{}, false
	}
	ef := conversations.Effect{Kind: conversations.Send, Message: r.Render.Variant(lang, st.Say, conversations.Voice), Flow: s.Flow, State: s.State, Params: s.Params, Step: s.Step}
	text, labels, _ := r.Render.Parts(lang, r.named(p, conversations.Voice), &ef)
	return Outgoing{Message: st.Say, Text: text, Labels: labels, Step: s.Step, Reading: st.Reading}, true
}

// named is the patient as a message on ch may describe them: a call never
// names a medicine, whatever the patient allowed in writing, because an
// answering machine, a relative or a speakerphone may hear it (the
// channel's spec says NamesMedicine).
func (r *Runner) named(p *store.Patient, ch string) *store.Patient {
	if r.Channels.Of(ch).NamesMedicine || !p.PHIOK {
		return p
	}
	cp := *p
	cp.PHIOK = false
	return &cp
}

// Script is what a reminder call says once answered: the message's text,
// and, when the conversation waits on a question, its choices. The text is
// the message.out event's, so a call placed as a fallback or a retry says
// what the first attempt carried.
func (r *Runner) Script(ctx context.Context, patientID, messageID string) (Reply, error) {
	var text, msg string
	err := r.Store.UpdateEvent(ctx, patientID, messageID, func(e *store.Event) bool {
		text, msg = e.Text, e.Message
		return false
	})
	if err != nil {
		return Reply{}, err
	}
	rep, err := r.Prompt(ctx, patientID)
	if err != nil {
		return Reply{}, err
	}
	o := Outgoing{ID: messageID, Message: msg, Text: text}
	if len(rep.Messages) == 1 {
		q := rep.Messages[0]
		// The question's numbered lines end the text when the message
		// asked it; the call says them as keypad choices instead.
		if tail := conversations.Numbered("", q.Labels); strings.HasSuffix(text, tail) {
			o.Text = strings.TrimSuffix(text, tail)
			o.Labels, o.Step = q.Labels, q.Step
		}
		if q.Reading != "" {
			// A question for a reading has no choices to find in the
			// text: the call waits on it, so the keypad answers it.
			o.Step, o.Reading = q.Step, q.Reading
		}
	}
	rep.Messages = []Outgoing{o}
	return rep, nil
}

// Escalate opens a ticket for a human outside any flow: a caller who asked
// for a nurse that nobody answered. dedupe is the provider's id of the
// request, so that a retried webhook opens no second ticket.
func (r *Runner) Escalate(ctx context.Context, patientID, priority, reason, dedupe string) error {
	return r.run(ctx, "escalate", patientID, dedupe, func(w *work) error {
		w.out.Effects = append(w.out.Effects, conversations.Effect{Kind: conversations.Escalate, Priority: priority, Reason: reason, Origin: w.s.Flow})
		return nil
	})
}

// Contact reports how a patient can be reached now (see Contact). A session
// that cannot be read counts as opted out everywhere: consent fails closed.
func (r *Runner) Contact(ctx context.Context, patientID string) (conversations.Contact, error) {
	p, ss, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return conversations.Contact{}, err
	}
	var s conversations.Session
	if err := r.Engine.DecodeSession(ss.Data, &s); err != nil {
		return conversations.ContactOf(&p, &conversations.Session{OptedOut: conversations.AllChannels}, r.Channels.Linked()), nil
	}
	c := conversations.ContactOf(&p, &s, r.Channels.Linked())
	c.Lang = r.Render.Lang(&s, &p)
	return c, nil
}

// ProviderOptOut records an opt-out the provider reported on a channel
// (Twilio 21610: the number replied STOP to the carrier), without sending a
// confirmation.
func (r *Runner) ProviderOptOut(ctx context.Context, patientID, channel string) error {
	return r.run(ctx, "optout", patientID, "", func(w *work) error {
		return r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.OptOut, Channel: channel}), w.now, &w.out)
	})
}

// Unreachable records that a channel cannot reach the patient (they blocked
// the Telegram bot) until they write on it again; messages fall back along
// their chain meanwhile.
func (r *Runner) Unreachable(ctx context.Context, patientID, channel string) error {
	return r.run(ctx, "unreachable", patientID, "", func(w *work) error {
		if w.s.Unreachable.Has(channel) {
			return nil
		}
		w.s.Unreachable.Add(channel)
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "channel", At: w.now, Channel: channel, Status: "unreachable"})
		return nil
	})
}

// LinkAddress links an address of a channel addressed by link (a Telegram
// chat) to a patient who followed their link code: the channel becomes
// their first and the welcome flow runs there. store.ErrAddressTaken when
// the address belongs to another patient.
func (r *Runner) LinkAddress(ctx context.Context, patientID, channel, addr string) error {
	return r.run(ctx, "link", patientID, "", func(w *work) error {
		p := w.p
		p.SetAddress(channel, addr)
		chain := slices.DeleteFunc(slices.Clone(w.chain), func(ch string) bool { return ch == channel })
		p.Channels = append([]string{channel}, chain...)
		p.Channel = channel
		w.p, w.chain = p, p.Channels
		w.c.Patient = &w.p
		// Starting the bot is consent to hear from it.
		w.s.OptedOut.Remove(channel)
		w.s.Unreachable.Remove(channel)
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "channel", At: w.now, Channel: channel, Status: "linked"})
		welcome := r.welcome(&p)
		if welcome == "" {
			return nil
		}
		// A welcome that already runs is asked again from its start.
		if w.s.Flow == welcome {
			w.s.Flow = ""
		}
		return r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Start, Flow: welcome}), w.now, &w.out)
	})
}

// Fallback sends a message that failed on one channel (WhatsApp outside its
// window, an undeliverable SMS, calls nobody answered) on the next channel
// of the patient's chain. It returns that channel, or "" when none is left.
func (r *Runner) Fallback(ctx context.Context, patientID, messageID, failed string) (string, error) {
	// Providers repeat callbacks: a message falls back once per channel.
	return r.resend(ctx, patientID, messageID, failed, "", 0, 0, "fallback:"+messageID+"|"+failed)
}

// RetryCall places a reminder call again after it was busy, unanswered or
// failed, spaced by the program's policy; after the last retry the message
// falls back along the chain. attempt counts the calls placed so far. It
// reports the channel the message goes on next ("" for none).
func (r *Runner) RetryCall(ctx context.Context, patientID, messageID string, attempt int) (string, error) {
	p, _, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return "", err
	}
	retries, every := r.callPolicy(&p)
	if attempt > retries {
		return r.Fallback(ctx, patientID, messageID, conversations.Voice)
	}
	// A repeated status callback places no second retry.
	return r.resend(ctx, patientID, messageID, conversations.Voice, conversations.Voice, every, attempt, "redial:"+messageID)
}

// callPolicy is the first of the patient's programs' call retry policies.
func (r *Runner) callPolicy(p *store.Patient) (retries int, every time.Duration) {
	retries, every = 2, 15*time.Minute
	for _, id := range p.Programs {
		if pr := r.Engine.Pack.Programs[id]; pr != nil && pr.Calls != nil {
			if pr.Calls.Retries != nil {
				retries = max(*pr.Calls.Retries, 0)
			}
			if pr.Calls.RetryAfter > 0 {
				every = time.Duration(pr.Calls.RetryAfter)
			}
			break
		}
	}
	return retries, every
}

// resend queues a message's text again as a new message: on channel, or on
// the next usable channel after failed when channel is "". dedupe makes a
// repeated provider callback a no-op; it is committed with the new message,
// so a store error leaves the callback free to be retried.
func (r *Runner) resend(ctx context.Context, patientID, messageID, failed, channel string, after time.Duration, attempts int, dedupe string) (string, error) {
	var orig store.Event
	err := r.Store.UpdateEvent(ctx, patientID, messageID, func(e *store.Event) bool {
		orig = *e
		return false
	})
	if err != nil {
		return "", err
	}
	w, err := r.runOn(ctx, "resend", patientID, dedupe, "", false, func(w *work) error {
		ch := channel
		if ch == "" && (orig.Message == content.MsgStopConfirm || orig.Message == content.MsgHelp) {
			return nil // they answer the channel they came on
		}
		if ch == "" {
			c := conversations.ContactOf(&w.p, &w.s, r.Channels.Linked())
			ch = c.Next(failed)
		} else if w.s.OptedOut.Has(ch) {
			ch = ""
		}
		if ch == "" {
			r.log().Warn("message undeliverable on every channel", "patient", patientID, "message", messageID)
			return nil
		}
		id := r.NewID(w.now)
		w.c.Outbox = append(w.c.Outbox, store.OutboxEntry{ID: id, PatientID: w.p.ID, Channel: ch, To: r.address(&w.p, ch), Text: orig.Text,
			MessageID: orig.Message, Urgent: conversations.UrgentMessage(orig.Message), Timezone: w.p.Timezone,
			NotBefore: w.now.Add(after), Attempts: attempts, CreatedAt: w.now})
		w.c.Events = append(w.c.Events, store.Event{ID: id, Type: "message.out", At: w.now, Channel: ch, Text: orig.Text, Status: "queued", Flow: orig.Flow, Message: orig.Message})
		return nil
	})
	if err != nil || w.dup || len(w.c.Outbox) == 0 {
		return "", err
	}
	return w.c.Outbox[0].Channel, nil
}

// Receipt is what a provider reported about a message it was given.
type Receipt struct {
	Channel string
	// Status is the provider's word (queued, sent, delivered, read,
	// failed, undelivered); it goes on the message's timeline event only
	// when it advances (store.StatusAdvances): callbacks arrive out of
	// order and repeat.
	Status string
	Code   int // the provider's error code, 0 for none
	// OptOut: the provider will not send to this patient on this channel
	// any more (Twilio 21610, the patient replied STOP to the carrier).
	OptOut bool
	// Undeliverable: the address cannot take this channel (a landline for
	// a text, a WhatsApp message outside the window): the message goes on
	// the patient's next channel, unless it had already reached them.
	Undeliverable bool
}

// OutboxPatient finds the patient of a message by its outbox entry id, for
// a provider's status report, whose URL names only the entry. It only
// reads.
func (r *Runner) OutboxPatient(ctx context.Context, id string) (string, error) {
	return r.Store.OutboxPatient(ctx, id)
}

// Delivered records a provider's receipt for a message and acts on it: a
// provider opt-out withdraws consent on the channel, an undeliverable
// message falls back to the next channel (once, however often the provider
// repeats itself). It returns that channel ("" when none). A patient
// unenrolled since is no error.
func (r *Runner) Delivered(ctx context.Context, patientID, messageID string, rc Receipt) (next string, err error) {
	reached, advanced := false, false
	err = r.Store.UpdateEvent(ctx, patientID, messageID, func(e *store.Event) bool {
		reached = e.Status == "delivered" || e.Status == "read"
		if !store.StatusAdvances(e.Status, rc.Status) {
			return false
		}
		e.Status, e.ErrorCode = rc.Status, rc.Code
		advanced = true
		return true
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if advanced {
		r.changedPatient(ctx, patientID)
	}
	err = nil
	switch {
	case rc.OptOut:
		err = r.ProviderOptOut(ctx, patientID, rc.Channel)
	case rc.Undeliverable && !reached:
		next, err = r.Fallback(ctx, patientID, messageID, rc.Channel)
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return next, err
}

// CallProgress records a call's progress on its message's event, only
// forward (callbacks overtake each other) except that a voicemail corrects
// a "delivered" recorded when the call was answered, before answering-
// machine detection had spoken. When the call ended busy, unanswered or
// failed it asks for the call again (RetryCall: the program's retry limit
// and spacing, then the chain's next channel). changed reports whether the
// status moved: a repeated callback acts once. If asking again fails, the
// status is put back, so that the provider's retry of the callback asks
// again.
func (r *Runner) CallProgress(ctx context.Context, patientID, messageID, status string, attempt int) (changed bool, err error) {
	before := ""
	err = r.Store.UpdateEvent(ctx, patientID, messageID, func(e *store.Event) bool {
		before = e.Status
		if !callAdvances(e.Status, status) {
			return false
		}
		e.Status = status
		changed = true
		return true
	})
	if err != nil || !changed || (status != "busy" && status != "no-answer" && status != "failed") {
		return changed, err
	}
	if _, err := r.RetryCall(ctx, patientID, messageID, attempt+1); err != nil && !errors.Is(err, store.ErrNotFound) {
		r.Store.UpdateEvent(context.WithoutCancel(ctx), patientID, messageID, func(e *store.Event) bool {
			if e.Status != status {
				return false
			}
			e.Status = before
			return true
		})
		return changed, err
	}
	return changed, nil
}

// callAdvances is store.StatusAdvances made strict (the same status twice
// is no change), with the voicemail correction.
func callAdvances(from, to string) bool {
	if from == to {
		return false
	}
	if to == "voicemail" && from == "delivered" {
		return true
	}
	return store.StatusAdvances(from, to) && !store.StatusAdvances(to, from)
}

// changedPatient tells the console of a change to a patient's timeline made
// outside a turn (a delivery status): their open tickets' pages refresh.
func (r *Runner) changedPatient(ctx context.Context, patientID string) {
	if r.Changed == nil {
		return
	}
	p, ss, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return
	}
	var s conversations.Session
	if r.Engine.DecodeSession(ss.Data, &s) != nil {
		return
	}
	for _, t := range s.Tickets {
		r.Changed(t.ID, cmp.Or(p.Team, staff.DefaultTeam))
	}
}

// readingAsked is the reading kind the state that sent ef asks for, ""
// when it asks for none (a Send names its Flow and State only when it is
// the state's prompt).
func (r *Runner) readingAsked(ef *conversations.Effect) string {
	if ef.Flow == "" {
		return ""
	}
	f := r.Engine.Pack.Flows[ef.Flow]
	if f == nil {
		return ""
	}
	if st := f.States[ef.State]; st != nil {
		return st.Reading
	}
	return ""
}
