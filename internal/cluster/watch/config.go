package watch

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// loadRestConfig resolves where the API server is and how to authenticate:
// the named kubeconfig; else the pod's service account (in cluster); else
// $KUBECONFIG or ~/.kube/config, as kubectl does.
func loadRestConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("%w: kubeconfig %s: %w", ErrConfig, kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err == nil {
		return cfg, nil
	}
	if !errors.Is(err, rest.ErrNotInCluster) {
		return nil, fmt.Errorf("%w: in-cluster configuration: %w", ErrConfig, err)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("%w: not running in a pod, and no kubeconfig in $KUBECONFIG or %s: give the kubeconfig's path",
				ErrConfig, clientcmd.RecommendedHomeFile)
		}
		return nil, fmt.Errorf("%w: kubeconfig (from $KUBECONFIG or %s): %w", ErrConfig, clientcmd.RecommendedHomeFile, err)
	}
	return cfg, nil
}
