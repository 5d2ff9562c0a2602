// Package mhjson gives a JSON view of decoded Mobility Headers (package
// mh), for tools (pmipctl decode) and for the expected values of the pcap
// fixture corpus.
//
// # Shape
//
// One Mobility Header becomes one JSON object (Object), keys in this order:
//
//	{"payload_proto":59, "header_len":5, "type":5, "type_name":"Binding Update",
//	 "reserved":0, "checksum":4660, "length":48,
//	 "fields":{"sequence":7, "flags":33280, "lifetime":60},
//	 "options":[{"offset":12, "type":22, "name":"Home Network Prefix", "length":18,
//	             "fields":{"reserved":0, "prefix_length":64, "prefix":"2001:db8:1::"}}, ...],
//	 "quirks":"none"}
//
// The keys mean:
//
//   - payload_proto, header_len, reserved, checksum: the common header
//     octets as received (RFC 6275 §6.1.1); type is the MH Type and type_name
//     its name (a message with a method Name() string, such as a DMM
//     message sharing the Experimental type, gives its own name).
//   - length: the number of octets given to the decoder.
//   - fields: the message's fixed fields, see "Fields" below. A message of a
//     type without a typed form (mh.GenericMessage) shows its fixed data as
//     "data" (hex).
//   - options: every option in wire order, Pad1 and PadN included, so the
//     offsets are complete. offset is the offset of the option's Type octet
//     from the first octet of the Mobility Header; type is the option type
//     and name its name; length is the Length octet (absent for Pad1, which
//     has none); fields as below. An option kept undecoded (mh.RawOption: a
//     type without a typed form, or a malformed option accepted in legacy
//     mode) has "raw":true and its body as "data" (hex). Padding is never
//     raw: Pad1 has no fields and PadN its octets as "data".
//   - quirks: the legacy-peer deviations accepted while decoding
//     (mh.Quirk.String: "none" or a comma-separated list).
//   - error: present only when decoding failed (see Decode); the header
//     keys are then present only when the first 6 octets were, and fields,
//     options and quirks are absent. error_offset is the offset of the
//     offending option when the error is an *mh.OptionError.
//
// # Fields
//
// Fields are built by reflection over the exported fields of the typed
// struct, in declaration order, so that every typed message and option,
// present or future, is covered without code here:
//
//   - the key is the Go field name in snake_case (PrefixLength ->
//     prefix_length, LinkLayerID -> link_layer_id, IPv4HomeAddress ->
//     ipv4_home_address); a struct tag `mhjson:"name"` overrides it and
//     `mhjson:"-"` leaves the field out. Embedded structs are flattened;
//     mh.Base is left out (it is the header, options and quirks above).
//   - integers are JSON numbers; when the field's type has a String() method
//     a key "<key>_name" follows with its result (status_name, value_name);
//     when the type has a method Names() []string (the convention for flag
//     types: the names of the bits that are set, e.g. ["A","P"]) a key
//     "<key>_set" follows with that list.
//   - booleans and strings as themselves; netip.Addr, netip.Prefix and
//     other values with a MarshalText or String method as strings
//     (an invalid netip.Addr is ""); time.Time as RFC 3339 with nanoseconds.
//   - []byte and byte arrays as lowercase hex; when every octet is
//     printable ASCII (0x20-0x7e) a key "<key>_text" follows with the text
//     (an MN-ID NAI: "identifier":"6d6e314078", "identifier_text":"mn1@x").
//   - nested structs as objects, other slices and arrays as JSON arrays,
//     pointers as what they point to (null when nil).
//   - a value whose type has a method Time() time.Time (the Timestamp
//     option) also gets a key "time" with that time.
package mhjson

import (
	"bytes"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Header is the common part of the Mobility Header as JSON.
type Header struct {
	PayloadProto uint8  `json:"payload_proto"`
	HeaderLen    uint8  `json:"header_len"`
	Type         uint8  `json:"type"`
	TypeName     string `json:"type_name"`
	Reserved     uint8  `json:"reserved"`
	Checksum     uint16 `json:"checksum"`
}

// Object is the JSON view of one Mobility Header (see the package
// documentation for the shape).
type Object struct {
	*Header            // nil when fewer than 6 octets were there to read
	Length      int    `json:"length"`
	Fields      Fields `json:"fields,omitzero"`
	Options     []Opt  `json:"options,omitzero"`
	Quirks      string `json:"quirks,omitempty"`
	Error       string `json:"error,omitempty"`
	ErrorOffset *int   `json:"error_offset,omitempty"`
}

// Opt is the JSON view of one mobility option.
type Opt struct {
	Offset int    `json:"offset"`
	Type   uint8  `json:"type"`
	Name   string `json:"name"`
	Length *int   `json:"length,omitempty"` // nil for Pad1
	Raw    bool   `json:"raw,omitempty"`
	Fields Fields `json:"fields"`
}

// Field is one key of a Fields object.
type Field struct {
	Key   string
	Value any
}

// Fields is a JSON object whose keys keep their order.
type Fields []Field

// Get returns the value of key.
func (f Fields) Get(key string) (any, bool) {
	for _, kv := range f {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes the keys in order. A nil Fields is {}.
func (f Fields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv.Key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("mhjson: key %s: %w", kv.Key, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Decode decodes the Mobility Header in wire (strict, or tolerant of
// legacy peers with do.Legacy) and returns its JSON view. A message that
// does not decode gives an Object with Error set, never a Go error.
func Decode(wire []byte, do mh.DecodeOptions) (obj Object) {
	defer func() {
		// The decoder must never panic; if it does, this view of an
		// untrusted capture reports it as the message's error.
		if r := recover(); r != nil {
			obj = errorObject(wire, fmt.Errorf("mhjson: the mh decoder panicked: %v", r))
		}
	}()
	m, err := mh.ParseWith(wire, do)
	if err != nil {
		return errorObject(wire, err)
	}
	o, err := Message(m, wire)
	if err != nil {
		return errorObject(wire, err)
	}
	return o
}

func errorObject(wire []byte, err error) Object {
	o := Object{Length: len(wire), Error: err.Error()}
	if len(wire) >= mh.HeaderLen {
		o.Header = headerOf(wire, mh.Type(wire[2]).String())
	}
	var oe *mh.OptionError
	if errors.As(err, &oe) {
		off := oe.Offset
		o.ErrorOffset = &off
	}
	return o
}

func headerOf(w []byte, name string) *Header {
	return &Header{PayloadProto: w[0], HeaderLen: w[1], Type: w[2], TypeName: name,
		Reserved: w[3], Checksum: uint16(w[4])<<8 | uint16(w[5])}
}

// Message returns the JSON view of m, a decoded message. wire is the
// octets m was decoded from; it may be nil, and then m is encoded (a
// message built by hand, whose padding is computed, is encoded and
// decoded again so that padding options and offsets are those of the
// wire). The error reports a wire that does not match m.
func Message(m mh.Message, wire []byte) (Object, error) {
	if m == nil {
		return Object{}, errors.New("mhjson: nil message")
	}
	base := m.MHBase()
	if wire == nil || !base.KeepLayout {
		w, err := m.Marshal()
		if err != nil {
			return Object{}, fmt.Errorf("mhjson: encoding %s: %w", m.MHType(), err)
		}
		if !base.KeepLayout {
			quirks := base.Quirks
			m2, err := mh.ParseWith(w, mh.DecodeOptions{Legacy: true})
			if err != nil {
				return Object{}, fmt.Errorf("mhjson: decoding the encoded %s: %w", m.MHType(), err)
			}
			m, base = m2, m2.MHBase()
			base.Quirks = quirks
		}
		if wire == nil {
			wire = w
		}
	}
	name := m.MHType().String()
	if n, ok := m.(interface{ Name() string }); ok {
		name = n.Name()
	}
	h := &Header{PayloadProto: base.PayloadProto, HeaderLen: base.HeaderLen, Type: uint8(m.MHType()),
		TypeName: name, Reserved: base.Reserved, Checksum: base.Checksum}
	obj := Object{Header: h, Length: len(wire), Quirks: base.Quirks.String()}

	// Fixed fields.
	skip := ""
	if _, ok := m.(*mh.GenericMessage); ok {
		skip = "Type"
	}
	obj.Fields = structFields(reflect.ValueOf(m), skip)
	if obj.Fields == nil {
		obj.Fields = Fields{}
	}

	// Options: the message re-encodes byte for byte (KeepLayout), so the
	// options end where the message does and start sum(MarshalLen) before.
	total := m.MarshalLen()
	off := total
	for _, o := range base.Options {
		off -= o.MarshalLen()
	}
	if off < mh.HeaderLen {
		return Object{}, fmt.Errorf("mhjson: options of %s start at %d, inside the common header", m.MHType(), off)
	}
	obj.Options = make([]Opt, 0, len(base.Options))
	for _, o := range base.Options {
		t := o.OptionType()
		if off >= len(wire) || wire[off] != byte(t) {
			return Object{}, fmt.Errorf("mhjson: option %s expected at offset %d does not match the wire", t, off)
		}
		jo := Opt{Offset: off, Type: uint8(t), Name: t.String()}
		if t != mh.OptPad1 {
			l := o.MarshalLen() - 2
			if off+1 < len(wire) {
				l = int(wire[off+1])
			}
			jo.Length = &l
		}
		skip := ""
		if _, ok := o.(*mh.RawOption); ok {
			// Padding is never "raw": its content means nothing, typed or not.
			jo.Raw, skip = t != mh.OptPad1 && t != mh.OptPadN, "Type"
		}
		jo.Fields = structFields(reflect.ValueOf(o), skip)
		if jo.Fields == nil {
			jo.Fields = Fields{}
		}
		obj.Options = append(obj.Options, jo)
		off += o.MarshalLen()
	}
	return obj, nil
}

var (
	baseType   = reflect.TypeFor[mh.Base]()
	headerType = reflect.TypeFor[mh.Header]()
	timeType   = reflect.TypeFor[time.Time]()
	bytesType  = reflect.TypeFor[[]byte]()
	stringerT  = reflect.TypeFor[fmt.Stringer]()
	namesT     = reflect.TypeFor[interface{ Names() []string }]()
	textT      = reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()
)

// structFields returns the fields of the struct v (or v points to), and
// "time" when v has a Time() method. skip names a top-level Go field to
// leave out.
func structFields(v reflect.Value, skip string) Fields {
	var tm interface{ Time() time.Time }
	if v.IsValid() && v.CanInterface() && !((v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil()) {
		tm, _ = v.Interface().(interface{ Time() time.Time })
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	out := appendStruct(nil, v, skip)
	if tm != nil {
		out = append(out, Field{"time", tm.Time().Format(time.RFC3339Nano)})
	}
	return out
}

func appendStruct(out Fields, v reflect.Value, skip string) Fields {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Type == baseType || sf.Type == headerType {
			continue
		}
		if sf.Anonymous {
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct && sf.Tag.Get("mhjson") == "" {
				out = appendStruct(out, fv, "")
				continue
			}
		}
		if !sf.IsExported() || sf.Name == skip {
			continue
		}
		key := SnakeCase(sf.Name)
		if tag := sf.Tag.Get("mhjson"); tag == "-" {
			continue
		} else if tag != "" {
			key = tag
		}
		out = appendValue(out, key, v.Field(i))
	}
	return out
}

// appendValue adds key (and its derived keys) for the value fv.
func appendValue(out Fields, key string, fv reflect.Value) Fields {
	out = append(out, Field{key, value(fv)})
	t := fv.Type()
	switch {
	case isBytes(t):
		if b := bytesOf(fv); len(b) > 0 && printable(b) {
			out = append(out, Field{key + "_text", string(b)})
		}
	case isInt(t.Kind()):
		if t.Implements(namesT) {
			names := fv.Interface().(interface{ Names() []string }).Names()
			if names == nil {
				names = []string{}
			}
			out = append(out, Field{key + "_set", names})
		}
		if t.Implements(stringerT) {
			out = append(out, Field{key + "_name", fv.Interface().(fmt.Stringer).String()})
		}
	}
	return out
}

// value converts one field value to what encoding/json writes as the
// package documentation says.
func value(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	t := v.Type()
	switch {
	case t == timeType:
		return v.Interface().(time.Time).Format(time.RFC3339Nano)
	case isBytes(t):
		return hex.EncodeToString(bytesOf(v))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && !t.Implements(textT) && !t.Implements(stringerT) {
			return objectOf(v)
		}
		return value(v.Elem())
	case reflect.Bool:
		return v.Bool()
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Struct:
		if s, ok := asText(v); ok {
			return s
		}
		return objectOf(v)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = value(v.Index(i))
		}
		return out
	case reflect.Map:
		// Not expected in wire structs; keep it readable.
		return fmt.Sprint(v.Interface())
	}
	if v.CanInterface() {
		return fmt.Sprint(v.Interface())
	}
	return nil
}

// objectOf is the Fields of a nested struct (Time() included).
func objectOf(v reflect.Value) Fields {
	f := structFields(v, "")
	if f == nil {
		f = Fields{}
	}
	return f
}

// asText returns the MarshalText or String form of a struct value
// (netip.Addr, netip.Prefix, ...).
func asText(v reflect.Value) (string, bool) {
	if !v.CanInterface() {
		return "", false
	}
	pv := reflect.New(v.Type()) // methods with pointer receivers too
	pv.Elem().Set(v)
	if tm, ok := pv.Interface().(encoding.TextMarshaler); ok {
		if b, err := tm.MarshalText(); err == nil {
			return string(b), true
		}
	}
	if s, ok := pv.Interface().(fmt.Stringer); ok {
		return s.String(), true
	}
	return "", false
}

func isBytes(t reflect.Type) bool {
	return (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8
}

func bytesOf(v reflect.Value) []byte {
	if v.Kind() == reflect.Slice {
		return v.Bytes()
	}
	b := make([]byte, v.Len())
	for i := range b {
		b[i] = byte(v.Index(i).Uint())
	}
	return b
}

func isInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uintptr
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// acronyms that SnakeCase keeps as one word.
var acronyms = strings.NewReplacer("IPv4", "Ipv4", "IPv6", "Ipv6", "HoA", "Hoa", "CoA", "Coa")

// SnakeCase turns a Go identifier into the JSON key used for it:
// PrefixLength -> prefix_length, MNLinkLayerID -> mn_link_layer_id,
// IPv4HomeAddress -> ipv4_home_address, AlternateCoA -> alternate_coa.
func SnakeCase(name string) string {
	r := []rune(acronyms.Replace(name))
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
