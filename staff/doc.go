// Package staff holds the people who work Tend's console: care coaches,
// nurses and admins, each scoped to the teams whose patients they may see,
// and the rules for their passwords.
//
// Passwords are kept only as argon2id hashes in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so the parameters travel
// with each hash: raising them later rehashes a password at its next
// successful login instead of locking anyone out. The defaults are
// OWASP's (DefaultParams).
//
// A sign-in with an unknown email still pays for one hash (DummyCheck), so
// the answer and its timing do not tell an attacker which emails exist.
package staff
