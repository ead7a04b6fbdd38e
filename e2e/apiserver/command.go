package apiserver

import "errors"

// StartIn is Start for a command (no testing.TB): etcd and kube-apiserver
// with their data, keys and logs in dir. The caller stops them with Stop;
// on error, what had started is already stopped.
func StartIn(dir string) (*Server, error) {
	s, err := start(dir)
	if err != nil {
		if s != nil {
			err = errors.Join(err, s.stop())
		}
		return nil, err
	}
	return s, nil
}

// Stop stops kube-apiserver and etcd.
func (s *Server) Stop() error { return s.stop() }
