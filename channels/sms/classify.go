package sms

// Classify sorts an error from twilio-go's CreateMessage into the
// dispatcher's classes, as the SMS Sender does. Other Twilio channels
// (WhatsApp) share Twilio's REST errors and transport behaviour, so they
// check their own codes first and hand the rest to Classify.
func Classify(err error) error { return classify(err) }
