// Package locales holds Tend's words in every bundled language: the go-i18n
// message catalogs patients read and hear, the keyword and answer words a
// reply is matched against, and the normalization that makes "SÍ", "si" and
// "١" comparable to what a content author wrote.
package locales
