package feed

import (
	"bytes"
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// ContainerBlobs is a Blobs in an Azure blob container (the function's
// `advisories` container): PutIf is a conditional upload (If-Match on the ETag,
// If-None-Match: * for a first write), so it is safe across instances.
type ContainerBlobs struct {
	client *container.Client
}

var _ Blobs = (*ContainerBlobs)(nil)

// NewContainerBlobs wraps an existing container's client.
func NewContainerBlobs(client *container.Client) *ContainerBlobs {
	return &ContainerBlobs{client: client}
}

// Get downloads a blob and its ETag.
func (c *ContainerBlobs) Get(ctx context.Context, name string) ([]byte, string, error) {
	resp, err := c.client.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
			return nil, "", fmt.Errorf("blob %s: %w", name, ErrNotFound)
		}
		return nil, "", fmt.Errorf("downloading blob %s: %w", name, err)
	}
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{})
	defer body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, "", fmt.Errorf("downloading blob %s: %w", name, err)
	}
	etag := ""
	if resp.ETag != nil {
		etag = string(*resp.ETag)
	}
	return buf.Bytes(), etag, nil
}

// Put uploads a blob, replacing it.
func (c *ContainerBlobs) Put(ctx context.Context, name string, data []byte) error {
	if _, err := c.client.NewBlockBlobClient(name).UploadBuffer(ctx, data, nil); err != nil {
		return fmt.Errorf("uploading blob %s: %w", name, err)
	}
	return nil
}

// PutIf uploads a blob only if it is unchanged since etag was read ("" = absent).
func (c *ContainerBlobs) PutIf(ctx context.Context, name string, data []byte, etag string) error {
	cond := &blob.ModifiedAccessConditions{IfMatch: to.Ptr(azcore.ETag(etag))}
	if etag == "" {
		cond = &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}
	}
	_, err := c.client.NewBlockBlobClient(name).UploadBuffer(ctx, data, &blockblob.UploadBufferOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: cond},
	})
	if bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists) {
		return fmt.Errorf("uploading blob %s: %w", name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("uploading blob %s: %w", name, err)
	}
	return nil
}

// Delete removes a blob; a missing one is not an error.
func (c *ContainerBlobs) Delete(ctx context.Context, name string) error {
	_, err := c.client.NewBlobClient(name).Delete(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return fmt.Errorf("deleting blob %s: %w", name, err)
	}
	return nil
}
