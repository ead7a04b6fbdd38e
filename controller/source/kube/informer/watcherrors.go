package informer

import (
	"context"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// watchErrors is the informers' list and watch error handler for
// resource ("endpointslices.discovery.k8s.io"). An API server that
// forbids the read (RBAC) or refuses the credentials is a mistake of the
// deployment, not a passing fault: client-go would only log "Failed to
// watch" and retry, and ipvsd would wait for its first sync with nothing
// else said. So it is logged as ipvsd's own error, naming the resource and
// what to grant; client-go still retries with backoff, so fixing the
// ClusterRole (or the token) resumes without a restart, and nothing
// already programmed is touched meanwhile. Other errors go to client-go's
// default handler.
func watchErrors(log *zap.Logger, resource string) cache.WatchErrorHandlerWithContext {
	return func(ctx context.Context, r *cache.Reflector, err error) {
		switch {
		case apierrors.IsForbidden(err):
			log.Error("the API server forbids ipvsd to list and watch "+resource+
				": grant both verbs to its ClusterRole (manifests/rbac.yaml); waiting for them, retrying",
				zap.String("resource", resource), zap.Error(err))
		case apierrors.IsUnauthorized(err):
			log.Error("the API server refuses ipvsd's credentials reading "+resource+
				": check the service account token or kubeconfig; retrying",
				zap.String("resource", resource), zap.Error(err))
		default:
			cache.DefaultWatchErrorHandler(ctx, r, err)
		}
	}
}
