package s3test

import (
	"bytes"
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestServer(t *testing.T) {
	s := Start(t)
	s.MakeBucket("parley-test")
	c := s.Client()
	ctx := context.Background()
	body := []byte("hello, bucket")
	if _, err := c.PutObject(ctx, "parley-test", "a/b/c.txt", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Object("parley-test", "a/b/c.txt")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("object: %q, %v", got, err)
	}
	info, err := c.StatObject(ctx, "parley-test", "a/b/c.txt", minio.StatObjectOptions{})
	if err != nil || info.ContentType != "text/plain" || info.Size != int64(len(body)) {
		t.Fatalf("stat: %+v, %v", info, err)
	}
	if err := c.RemoveObject(ctx, "parley-test", "a/b/c.txt", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Object("parley-test", "a/b/c.txt"); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("after remove: %v", err)
	}
}
