package awsproto

import (
	"bytes"
	"encoding/xml"
)

// QueryXMLResponse renders a query-protocol (IAM, STS) response:
// <OpResponse xmlns=NS><OpResult>out</OpResult><ResponseMetadata>…</ResponseMetadata></OpResponse>.
// out may be nil for operations without output.
func QueryXMLResponse(op, ns, requestID string, out any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + op + "Response xmlns=\"" + ns + "\">")
	if out != nil {
		enc := xml.NewEncoder(&b)
		if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: op + "Result"}}); err != nil {
			return nil, err
		}
		if err := enc.Flush(); err != nil {
			return nil, err
		}
	}
	b.WriteString("<ResponseMetadata><RequestId>")
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString("</RequestId></ResponseMetadata></" + op + "Response>")
	return b.Bytes(), nil
}

// EC2XMLResponse renders an ec2-protocol response: the output's members sit
// directly under <OpResponse> beside <requestId>.
func EC2XMLResponse(op, requestID string, out any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + op + "Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>")
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString("</requestId>")
	if out != nil {
		inner, err := xml.Marshal(out)
		if err != nil {
			return nil, err
		}
		// Strip the wrapper element encoding/xml adds for the struct itself.
		if i := bytes.IndexByte(inner, '>'); i >= 0 && bytes.HasSuffix(inner, []byte(">")) {
			j := bytes.LastIndex(inner, []byte("</"))
			if j > i {
				inner = inner[i+1 : j]
			} else {
				inner = nil // self-closing or empty
			}
		}
		b.Write(inner)
	}
	b.WriteString("</" + op + "Response>")
	return b.Bytes(), nil
}

// QueryXMLError renders a query-protocol error envelope (IAM, STS) in the
// service's namespace ns (none when empty).
func QueryXMLError(e *Error, ns, requestID string) []byte {
	typ := "Receiver"
	if e.Sender || e.HTTPStatus() < 500 {
		typ = "Sender"
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<ErrorResponse")
	if ns != "" {
		b.WriteString(` xmlns="`)
		xml.EscapeText(&b, []byte(ns))
		b.WriteString(`"`)
	}
	b.WriteString("><Error><Type>" + typ + "</Type><Code>")
	xml.EscapeText(&b, []byte(e.Code))
	b.WriteString("</Code><Message>")
	xml.EscapeText(&b, []byte(e.Message))
	b.WriteString("</Message></Error><RequestId>")
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString("</RequestId></ErrorResponse>")
	return b.Bytes()
}

// EC2XMLError renders an ec2-protocol error envelope.
func EC2XMLError(e *Error, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Response><Errors><Error><Code>")
	xml.EscapeText(&b, []byte(e.Code))
	b.WriteString("</Code><Message>")
	xml.EscapeText(&b, []byte(e.Message))
	b.WriteString("</Message></Error></Errors><RequestID>")
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString("</RequestID></Response>")
	return b.Bytes()
}
