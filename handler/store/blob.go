package store

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// Container is one blob container.
type Container struct {
	name   string
	client *container.Client
}

// Name returns the container's actual name (with any test suffix).
func (c *Container) Name() string { return c.name }

// Client returns the container's SDK client, for packages that bring their own blob
// protocol (feed.NewContainerBlobs).
func (c *Container) Client() *container.Client { return c.client }

// Upload writes blob name with data, replacing it.
func (c *Container) Upload(ctx context.Context, name string, data []byte) error {
	_, err := c.client.NewBlockBlobClient(name).UploadBuffer(ctx, data, nil)
	if err != nil {
		return fmt.Errorf("uploading blob %s/%s: %w", c.name, name, err)
	}
	return nil
}

// UploadStream writes blob name from r without holding it all in memory.
func (c *Container) UploadStream(ctx context.Context, name string, r io.Reader) error {
	_, err := c.client.NewBlockBlobClient(name).UploadStream(ctx, r, &blockblob.UploadStreamOptions{})
	if err != nil {
		return fmt.Errorf("uploading blob %s/%s: %w", c.name, name, err)
	}
	return nil
}

// Open streams blob name; ErrNotFound when absent. The caller closes the reader.
func (c *Container) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	resp, err := c.client.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
			return nil, fmt.Errorf("blob %s/%s: %w", c.name, name, ErrNotFound)
		}
		return nil, fmt.Errorf("downloading blob %s/%s: %w", c.name, name, err)
	}
	return resp.NewRetryReader(ctx, &blob.RetryReaderOptions{}), nil
}

// Download reads blob name whole; ErrNotFound when absent.
func (c *Container) Download(ctx context.Context, name string) ([]byte, error) {
	body, err := c.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("downloading blob %s/%s: %w", c.name, name, err)
	}
	return buf.Bytes(), nil
}

// Delete removes blob name; a missing blob is not an error.
func (c *Container) Delete(ctx context.Context, name string) error {
	_, err := c.client.NewBlobClient(name).Delete(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return fmt.Errorf("deleting blob %s/%s: %w", c.name, name, err)
	}
	return nil
}
