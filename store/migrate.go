package store

import "encoding/json"

// MoveTelegramChat returns the patient JSON v with the Telegram chat that
// releases before Addresses kept as "telegram" moved to
// Addresses["telegram"], and whether v had one. The value moves as it is,
// sealed or not: store/seal opens Addresses["telegram"] under the field it
// sealed "telegram" under. It is for the backends' migrations, which must
// read the JSON that those releases wrote.
func MoveTelegramChat(v []byte) (moved []byte, ok bool, err error) {
	var legacy struct {
		Telegram *string `json:"telegram"`
	}
	if err := json.Unmarshal(v, &legacy); err != nil || legacy.Telegram == nil {
		return nil, false, err
	}
	var p Patient
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, false, err
	}
	p.SetAddress("telegram", *legacy.Telegram)
	if moved, err = json.Marshal(&p); err != nil {
		return nil, false, err
	}
	return moved, true, nil
}
