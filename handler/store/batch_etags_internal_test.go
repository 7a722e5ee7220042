package store

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A changeset answer shaped as the Table service documents it (Performing entity group
// transactions: a 201 for an insert with a body, a 204 for a replace, a delete's 204
// without an ETag), CRLF line ends as on the wire.
const changesetAnswer = `--batchresponse_7ab1553a
Content-Type: multipart/mixed; boundary=changesetresponse_2ed4a0a1

--changesetresponse_2ed4a0a1
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 201 Created
Content-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8
DataServiceVersion: 3.0;
ETag: W/"datetime'2026-12-02T10%3A00%3A00.1234567Z'"

{"PartitionKey":"p","RowKey":"a"}
--changesetresponse_2ed4a0a1
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
DataServiceVersion: 1.0;
ETag: W/"0x5B168C7B6E589D2"

--changesetresponse_2ed4a0a1
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
DataServiceVersion: 1.0;

--changesetresponse_2ed4a0a1--
--batchresponse_7ab1553a--
`

func TestTransactionETagsReadsEachOperationsVersionInOrder(t *testing.T) {
	body := []byte(strings.ReplaceAll(changesetAnswer, "\n", "\r\n"))
	withType := &http.Response{Header: http.Header{"Content-Type": {"multipart/mixed; boundary=batchresponse_7ab1553a"}}}
	withoutType := &http.Response{Header: http.Header{}}
	want := []string{`W/"datetime'2026-12-02T10%3A00%3A00.1234567Z'"`, `W/"0x5B168C7B6E589D2"`, ""}
	for name, resp := range map[string]*http.Response{"the boundary from Content-Type": withType, "the boundary from the body's first line": withoutType} {
		t.Run("an answer read with "+name+" gives every operation's ETag", func(t *testing.T) {
			got, err := transactionETags(resp, body, 3)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ETags (-want +got):\n%s", diff)
			}
		})
	}
	bad := []struct {
		name string
		body string
		n    int
	}{
		{"an answer with fewer operations than were sent is refused", string(body), 4},
		{"an answer cut off inside the changeset is refused", string(body[:len(body)/2]), 3},
		{"an answer that is not multipart is refused", `{"odata.error":{}}`, 3},
		{"a failed operation in an answer taken as committed is refused", strings.Replace(string(body), "204 No Content", "412 Precondition Failed", 1), 3},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := transactionETags(withType, []byte(tc.body), tc.n); err == nil {
				t.Errorf("got %q and no error", got)
			}
		})
	}
}
