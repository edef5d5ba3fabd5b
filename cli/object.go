package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"instar/imgopt"
)

// printed is an "error" that ends a command successfully once its text is
// printed: qemu-img's help for --object.
type printed struct{ text string }

func (p *printed) Error() string { return "help printed" }

// qemuObjectTypes are the object types qemu-img 7.2 can create with
// --object; instar creates secrets only.
var qemuObjectTypes = []string{"authz-list", "authz-list-file", "authz-simple", "main-loop", "pr-manager-helper",
	"secret", "secret_keyring", "thread-context", "throttle-group", "tls-cipher-suites", "tls-creds-anon",
	"tls-creds-psk", "tls-creds-x509"}

const secretHelp = `secret options:
  data=<string>
  file=<string>
  format=<QCryptoSecretFormat>
  iv=<string>
  keyid=<string>
`

// objects are the --object arguments of one command, as qemu-img reads
// them (its keyval syntax, the first element the type), checked as
// qemu-img checks them as it meets them. Secrets are kept by id, for the
// encryption options to name.
type objects struct {
	secrets map[string][]byte
}

// add reads one --object argument.
func (o *objects) add(arg string) error {
	props, help, err := parseKeyval(arg, "qom-type")
	if err != nil {
		return err
	}
	typ, ok := props["qom-type"]
	switch {
	case typ == "help" || help && !ok:
		return &printed{"List of user creatable objects:\n  secret\n"}
	case !ok:
		return errors.New("Parameter 'qom-type' is missing")
	case typ != "secret":
		for _, t := range qemuObjectTypes {
			if t == typ {
				return fmt.Errorf("object type '%s' is not supported by instar (only secret is)", typ)
			}
		}
		return fmt.Errorf("Parameter 'qom-type' does not accept value '%s'", typ)
	case help:
		return &printed{secretHelp}
	}
	id, ok := props["id"]
	switch {
	case !ok:
		return errors.New("Parameter 'id' is missing")
	case !isIdentifier(id):
		return errors.New("Parameter 'id' expects an identifier")
	}
	if _, dup := o.secrets[id]; dup {
		return fmt.Errorf("attempt to add duplicate property '%s' to object (type 'container')", id)
	}
	for k := range props {
		switch k {
		case "qom-type", "id", "data", "file", "format", "iv", "keyid":
		case "loaded":
			return errors.New("Property 'secret.loaded' is not writable")
		default:
			return fmt.Errorf("Parameter '%s' is unexpected", k)
		}
	}
	format := "raw"
	if f, ok := props["format"]; ok {
		if f != "raw" && f != "base64" {
			return fmt.Errorf("Parameter 'format' does not accept value '%s'", f)
		}
		format = f
	}
	data, hasData := props["data"]
	file, hasFile := props["file"]
	var secret []byte
	switch {
	case hasData && hasFile:
		return errors.New("'file' and 'data' are mutually exclusive")
	case hasFile:
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("Unable to read %s: %w", file, err)
		}
		secret = b
	case hasData:
		secret = []byte(data)
	default:
		return errors.New("Either 'file' or 'data' must be provided")
	}
	if format == "base64" {
		if secret, err = qemuBase64(secret); err != nil {
			return err
		}
	}
	if keyid, ok := props["keyid"]; ok {
		if _, known := o.secrets[keyid]; !known {
			return fmt.Errorf("No secret with id '%s'", keyid)
		}
		return errors.New("secrets encrypted with keyid are not supported by instar")
	}
	if o.secrets == nil {
		o.secrets = map[string][]byte{}
	}
	o.secrets[id] = secret
	return nil
}

// base64Chars are the characters qemu's qbase64_decode lets through.
const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

// qemuBase64 decodes s as qemu does: qbase64_decode lets through no NUL
// and nothing but base64's characters and newlines, then glib's decoder
// makes each group of four characters (newlines skipped) three bytes,
// fewer when the group ends in '=', and drops a last, shorter group.
func qemuBase64(s []byte) ([]byte, error) {
	if bytes.IndexByte(s, 0) >= 0 {
		return nil, errors.New("Base64 data contains embedded NUL characters")
	}
	var out []byte
	var v uint32
	var n int
	var last1, last0 byte
	for _, c := range s {
		if c == '\n' {
			continue
		}
		rank := strings.IndexByte(base64Chars, c)
		if rank < 0 {
			return nil, errors.New("Base64 data contains invalid characters")
		}
		if c == '=' {
			rank = 0
		}
		last1, last0 = last0, c
		v = v<<6 | uint32(rank)
		if n++; n == 4 {
			out = append(out, byte(v>>16))
			if last1 != '=' {
				out = append(out, byte(v>>8))
			}
			if last0 != '=' {
				out = append(out, byte(v))
			}
			n = 0
		}
	}
	return out, nil
}

// parseKeyval reads qemu's key=value,... syntax: ",," is a comma in a
// value, the first element without "=" is the implied key's value, and a
// later key replaces an earlier one; a bare "help" asks for help.
func parseKeyval(s, implied string) (map[string]string, bool, error) {
	props := map[string]string{}
	help := false
	var els []string
	if s != "" {
		els = imgopt.SplitList(s)
	}
	for i, el := range els {
		key, val, hasVal := strings.Cut(el, "=")
		switch {
		case !hasVal && (el == "help" || el == "?"):
			help = true
			continue
		case !hasVal && i == 0 && implied != "":
			key, val = implied, el
		case !hasVal:
			return nil, false, fmt.Errorf("Expected '=' after parameter '%s'", el)
		case key == "":
			return nil, false, errors.New("Invalid parameter ''")
		}
		props[key] = val
	}
	if s == "" {
		return props, false, nil
	}
	return props, help, nil
}

// isIdentifier is qemu's test of an object id: a letter, then letters,
// digits, '-', '.' and '_'.
func isIdentifier(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
