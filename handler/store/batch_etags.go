package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// transactionETags returns the ETag each operation of a committed entity-group
// transaction was given, in the order of the operations, read from the service's
// multipart answer (aztables' TransactionResponse carries none of it). An operation
// without one (a delete) has "". It fails when the answer does not hold exactly n
// operation responses: the caller then knows no version and reads the rows again.
//
// The answer is a multipart/mixed body holding one changeset part, itself
// multipart/mixed, whose parts are HTTP responses, one per operation in request
// order ("HTTP/1.1 204 No Content", "ETag: W/\"datetime'…'\"").
func transactionETags(resp *http.Response, body []byte, n int) ([]string, error) {
	outer, err := multipartOf(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, fmt.Errorf("reading the transaction's answer: %w", err)
	}
	changeset, err := outer.NextPart()
	if err != nil {
		return nil, fmt.Errorf("reading the transaction's changeset: %w", err)
	}
	inner, err := io.ReadAll(changeset)
	if err != nil {
		return nil, fmt.Errorf("reading the transaction's changeset: %w", err)
	}
	ops, err := multipartOf(changeset.Header.Get("Content-Type"), inner)
	if err != nil {
		return nil, fmt.Errorf("reading the transaction's changeset: %w", err)
	}
	etags := make([]string, 0, n)
	for {
		part, err := ops.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading operation %d of the transaction: %w", len(etags)+1, err)
		}
		op, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("reading operation %d of the transaction: %w", len(etags)+1, err)
		}
		if !bytes.Contains(op, []byte("\r\n\r\n")) && !bytes.Contains(op, []byte("\n\n")) {
			// A body-less answer whose blank line the delimiter's CRLF took.
			op = append(op, "\r\n"...)
		}
		r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(op)), nil)
		if err != nil {
			return nil, fmt.Errorf("reading operation %d of the transaction: %w", len(etags)+1, err)
		}
		r.Body.Close()
		if r.StatusCode >= 300 {
			return nil, fmt.Errorf("operation %d of a committed transaction answered %s", len(etags)+1, r.Status)
		}
		etags = append(etags, r.Header.Get("ETag"))
	}
	if len(etags) != n {
		return nil, fmt.Errorf("the transaction answered %d operations, want %d", len(etags), n)
	}
	return etags, nil
}

// multipartOf reads body as multipart with the boundary contentType names, or, when
// it names none, the boundary the body's first line opens ("--batchresponse_…").
func multipartOf(contentType string, body []byte) (*multipart.Reader, error) {
	boundary := ""
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		boundary = params["boundary"]
	}
	if boundary == "" {
		line, _, _ := bytes.Cut(body, []byte("\n"))
		boundary = strings.TrimPrefix(strings.TrimSuffix(string(line), "\r"), "--")
	}
	if boundary == "" {
		return nil, errors.New("no multipart boundary")
	}
	return multipart.NewReader(bytes.NewReader(body), boundary), nil
}
