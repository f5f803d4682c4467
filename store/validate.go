package store

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid reports a commit or call that no backend could apply, such as
// a patient ID with a NUL byte or a commit without PatientID that carries
// events. It is a programming error, not a condition to retry. Backends
// export it under their own name too (embedded.ErrInvalid) and wrap it for
// what only they refuse.
var ErrInvalid = errors.New("store: invalid request")

// Validate reports, wrapping ErrInvalid, what makes c a commit no backend
// can apply. Every backend calls it first, so that the backends refuse the
// same commits with the same words, as database/sql converts arguments
// before a driver sees them. It changes nothing: filling in defaults (an
// outbox entry without PatientID gets the commit's) is the backend's.
func (c *Commit) Validate() error {
	if c.PatientID == "" {
		if c.Version != 0 || c.Session != nil || c.Patient != nil || len(c.Events) > 0 ||
			len(c.SetTimers) > 0 || len(c.DeleteTimers) > 0 || len(c.Escalations) > 0 {
			return fmt.Errorf("%w: a commit without PatientID may carry only outbox entries and a dedupe key", ErrInvalid)
		}
	} else if err := validID(c.PatientID); err != nil {
		return err
	}
	if c.Patient != nil {
		if c.Patient.ID != "" && c.Patient.ID != c.PatientID {
			return fmt.Errorf("%w: commit for patient %s carries patient %s", ErrInvalid, c.PatientID, c.Patient.ID)
		}
		for ch := range c.Patient.Addresses {
			if !ValidChannel(ch) {
				return fmt.Errorf("%w: address of channel %q: a channel name is 1 to 32 of a-z, 0-9, '_' and '-'", ErrInvalid, ch)
			}
		}
	}
	for _, e := range c.Outbox {
		if e.ID == "" {
			return fmt.Errorf("%w: outbox entry without ID", ErrInvalid)
		}
		if e.PatientID != "" {
			if err := validID(e.PatientID); err != nil {
				return err
			}
		}
	}
	for _, e := range c.Escalations {
		if e.ID == "" {
			return fmt.Errorf("%w: escalation without ID", ErrInvalid)
		}
	}
	for _, tm := range c.SetTimers {
		if tm.Name == "" {
			return fmt.Errorf("%w: timer without name", ErrInvalid)
		}
	}
	return nil
}

// validID refuses an empty patient ID and one with a NUL byte, which the
// backends use to separate an ID from what follows it in their keys.
func validID(id string) error {
	if id == "" || strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%w: patient ID %q", ErrInvalid, id)
	}
	return nil
}

// ValidChannel reports whether name can name a channel in a patient's
// Addresses: 1 to 32 of a-z, 0-9, '_' and '-'. Backends build index keys
// from it and a separator ("\x00" or ':') that it may then not contain.
func ValidChannel(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}
