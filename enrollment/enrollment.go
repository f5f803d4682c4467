package enrollment

import (
	"maps"
	"time"
)

// Patient is an enrollment as a clinic registered it through the API.
type Patient struct {
	ID       string `json:"id"`
	Phone    string `json:"phone"`
	Language string `json:"language"`
	Timezone string `json:"timezone"`
	Channel  string `json:"channel"`
	// Team is the care team whose staff work this patient's tickets
	// ("default" when empty).
	Team string `json:"team,omitempty"`
	// Channels is the fallback chain, first choice first (e.g. whatsapp,
	// sms, voice); empty means Channel alone.
	Channels []string `json:"channels,omitempty"`
	// Addresses are where the channels that do not reach a patient by
	// phone number do reach them, by channel name: "telegram" → the linked
	// chat id, empty until the patient follows a link code. An address is
	// unique among enrolled patients on its channel; an empty one is none.
	// Read and change it with Address and SetAddress, which never change a
	// map another copy of the Patient shares.
	Addresses map[string]string `json:"addresses,omitempty"`
	// SlowSpeech asks voice calls to speak more slowly.
	SlowSpeech bool `json:"slow_speech,omitempty"`
	// EmergencyNumber and CrisisLine are what the safety reply tells this
	// patient to call; empty: the clinic's setting, else the numbers of
	// the country of their phone number.
	EmergencyNumber string   `json:"emergency_number,omitempty"`
	CrisisLine      string   `json:"crisis_line,omitempty"`
	Programs        []string `json:"programs"`
	// Conditions are the patient's conditions the clinic named beyond
	// those their programs say (which readings rules apply); Country is
	// their country of residence (ISO 3166-1 alpha-2), for the emergency
	// number, empty: the country of their phone number.
	Conditions   []string      `json:"conditions,omitempty"`
	Country      string        `json:"country,omitempty"`
	PHIOK        bool          `json:"phi_ok"`
	Medications  []Medication  `json:"medications"`
	Refills      []Refill      `json:"refills,omitempty"`
	Appointments []Appointment `json:"appointments,omitempty"`
	// Dispenses are pharmacy fills the clinic reports with the
	// enrollment. They are not kept in it: the Runner records each as a
	// dispense event on the timeline (once; a fill already there is not
	// recorded again), where the adherence measures read every fill, and
	// a stored enrollment has none.
	Dispenses  []Dispense `json:"dispenses,omitempty"`
	EnrolledAt time.Time  `json:"enrolled_at"`
}

// Address is the patient's address on channel ("" for none).
func (p *Patient) Address(channel string) string { return p.Addresses[channel] }

// SetAddress sets the patient's address on channel; an empty addr removes
// it. The map is copied first: a Patient is passed by value, and a copy
// must not see the change.
func (p *Patient) SetAddress(channel, addr string) {
	m := maps.Clone(p.Addresses)
	if addr == "" {
		delete(m, channel)
		if len(m) == 0 {
			m = nil
		}
	} else {
		if m == nil {
			m = map[string]string{}
		}
		m[channel] = addr
	}
	p.Addresses = m
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

// Dispense is a pharmacy fill: a medication (its generic name, as the
// pharmacy names it: "lisinopril"), the date it was handed over
// (YYYY-MM-DD) and the days it supplies.
type Dispense struct {
	Medication string `json:"medication"`
	Date       string `json:"date"`
	DaysSupply int    `json:"days_supply"`
}

// Appointment is a clinic visit at a local date and time.
type Appointment struct {
	ID string `json:"id"`
	At string `json:"at"` // YYYY-MM-DDTHH:MM, patient's time zone
}
