// Package whatsapp is Tend's WhatsApp channel on Twilio: the signed
// inbound-message and delivery-status webhooks, and a Sender that sends
// outbox entries through twilio-go's REST client, as templates outside
// WhatsApp's 24-hour customer-service window and as free text, with
// quick-reply buttons, inside it.
//
// It follows the SMS channel (package sms) and reuses its Twilio parts: the
// REST client (twilio.NewClient), the signature check (twilio.Signed), the
// status callback (twilio.StatusHandler, with its own Fallback table) and
// the classification of REST errors (twilio.Classify). What WhatsApp adds:
//
//   - Addresses carry a "whatsapp:" prefix in Twilio's From and To; the
//     store and the runner see plain E.164 numbers.
//
//   - Every inbound message opens the window (the runner records it); the
//     dispatcher leaves OutboxEntry.Template set only when the window is
//     closed, and the Sender then sends that template (ContentSid with
//     ContentVariables {"1": Vars[0], "2": Vars[1], ...}) and no Body.
//
//   - Inside the window, a question with 1 to 3 choices whose labels fit a
//     button (20 characters) goes as the pack's twilio/quick-reply content
//     for that number of buttons (content.Pack.WhatsApp.QuickReply[n]),
//     with the variables laid out as content/pack.go describes:
//
//     {{1}}            the message text (the body above the buttons)
//     {{2}}..{{n+1}}   the buttons' titles: the choices' labels, in order
//     {{n+2}}..{{2n+1}} the buttons' ids: "<choiceID>:<step>", in order
//
//     Anything else goes as numbered lines (conversations.Numbered), which
//     the patient answers by typing a number or a word.
//
//   - A pressed button comes back as ButtonPayload and ButtonText. Our quick
//     replies carry "<choiceID>:<step>", so a button pressed on an earlier
//     question is stale and changes nothing; an approved template's buttons
//     carry a bare "<choiceID>" (their ids were fixed at approval), matched
//     against the question that waits.
//
//   - Error 63016 (free text outside the window) sends the message on the
//     patient's next channel: the Sender reports it as channels.ErrFallback
//     and the status webhook, which sees it when Twilio reports it after
//     accepting the message, calls the runner's Fallback, as it does for
//     any other failed or undelivered message. WhatsApp also reports
//     "read".
//
// As on SMS, a webhook is trusted only when X-Twilio-Signature matches the
// configured public URL (403 otherwise, 400 for a malformed form), and an
// inbound message is acknowledged only after its turn is committed, with
// "twilio:"+MessageSid as dedupe key in that same commit.
package whatsapp
