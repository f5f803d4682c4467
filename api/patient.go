package api

import (
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Patient is an enrollment as the API writes it. It is the store's
// enrollment with the linked Telegram chat as "telegram", where the API
// has always shown it, rather than the store's Addresses by channel: the
// API's JSON is a contract of its own and does not follow the store's
// record. The fields are the enrollment's, in its order
// (TestPatientMirrorsEnrollment keeps them so).
type Patient struct {
	ID              string              `json:"id"`
	Phone           string              `json:"phone"`
	Language        string              `json:"language"`
	Timezone        string              `json:"timezone"`
	Channel         string              `json:"channel"`
	Team            string              `json:"team,omitempty"`
	Channels        []string            `json:"channels,omitempty"`
	Telegram        string              `json:"telegram,omitempty"`
	SlowSpeech      bool                `json:"slow_speech,omitempty"`
	EmergencyNumber string              `json:"emergency_number,omitempty"`
	CrisisLine      string              `json:"crisis_line,omitempty"`
	Programs        []string            `json:"programs"`
	Conditions      []string            `json:"conditions,omitempty"`
	Country         string              `json:"country,omitempty"`
	PHIOK           bool                `json:"phi_ok"`
	Medications     []store.Medication  `json:"medications"`
	Refills         []store.Refill      `json:"refills,omitempty"`
	Appointments    []store.Appointment `json:"appointments,omitempty"`
	Dispenses       []store.Dispense    `json:"dispenses,omitempty"`
	EnrolledAt      time.Time           `json:"enrolled_at"`
}

// patientOf is p as the API writes it.
func patientOf(p store.Patient) Patient {
	return Patient{
		ID: p.ID, Phone: p.Phone, Language: p.Language, Timezone: p.Timezone,
		Channel: p.Channel, Team: p.Team, Channels: p.Channels, Telegram: p.Address(conversations.Telegram),
		SlowSpeech: p.SlowSpeech, EmergencyNumber: p.EmergencyNumber, CrisisLine: p.CrisisLine,
		Programs: p.Programs, Conditions: p.Conditions, Country: p.Country, PHIOK: p.PHIOK,
		Medications: p.Medications, Refills: p.Refills, Appointments: p.Appointments, Dispenses: p.Dispenses,
		EnrolledAt: p.EnrolledAt,
	}
}
