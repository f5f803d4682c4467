package enrollment

import "time"

// Patient is an enrollment as a clinic registered it through the API.
type Patient struct {
	ID       string `json:"id"`
	Phone    string `json:"phone"`
	Language string `json:"language"`
	Timezone string `json:"timezone"`
	Channel  string `json:"channel"`
	// Channels is the fallback chain, first choice first (e.g. whatsapp,
	// sms, voice); empty means Channel alone.
	Channels []string `json:"channels,omitempty"`
	// Telegram is the linked Telegram chat id; empty until the patient
	// follows a link code. It is unique among enrolled patients.
	Telegram string `json:"telegram,omitempty"`
	// SlowSpeech asks voice calls to speak more slowly.
	SlowSpeech bool `json:"slow_speech,omitempty"`
	// EmergencyNumber and CrisisLine are what the safety reply tells this
	// patient to call; empty: the clinic's setting, else the numbers of
	// the country of their phone number.
	EmergencyNumber string        `json:"emergency_number,omitempty"`
	CrisisLine      string        `json:"crisis_line,omitempty"`
	Programs        []string      `json:"programs"`
	PHIOK           bool          `json:"phi_ok"`
	Medications     []Medication  `json:"medications"`
	Refills         []Refill      `json:"refills,omitempty"`
	Appointments    []Appointment `json:"appointments,omitempty"`
	EnrolledAt      time.Time     `json:"enrolled_at"`
}

// Medication is one enrolled medicine. Display is PHI: it is shown to the
// patient only when Patient.PHIOK is set.
type Medication struct {
	ID      string   `json:"id"`
	Display string   `json:"display,omitempty"`
	Times   []string `json:"times"` // "HH:MM" in the patient's time zone
}

// Refill is the date a medicine runs out, in the patient's time zone.
type Refill struct {
	Medication string `json:"medication"`
	Date       string `json:"date"` // YYYY-MM-DD
}

// Appointment is a clinic visit at a local date and time.
type Appointment struct {
	ID string `json:"id"`
	At string `json:"at"` // YYYY-MM-DDTHH:MM, patient's time zone
}
