// Package corpus generates realistic Kubernetes audit traffic for
// benchmarks and load tests, deterministically.
//
// The output is what kube-apiserver's log backend writes with
// --audit-log-format=json: one audit.k8s.io/v1 Event per line, as compact
// JSON, with the fields in the apiserver's order (kind, apiVersion, level,
// auditID, stage, requestURI, verb, user, impersonatedUser, sourceIPs,
// userAgent, objectRef, responseStatus, requestObject, responseObject,
// requestReceivedTimestamp, stageTimestamp, annotations), timestamps in
// RFC 3339 with six fractional digits, and '&', '<' and '>' escaped as
// \u0026 and so on, as Go's encoding/json does. The shapes were copied from
// events captured from a real kube-apiserver v1.33 (user.extra
// credential-id, pod-bound service-account token extras, RBAC reasons,
// failure Status objects, managedFields, DeleteOptions).
//
// The same Options always give byte-identical output: all randomness comes
// from one math/rand/v2 PCG seeded from Options.Seed, and nothing reads the
// clock or iterates a map.
//
// # Stages, levels and time
//
// The simulated audit policy keeps every stage. A request logs
// RequestReceived when it arrives and ResponseComplete when it is done;
// RequestReceived carries no responseStatus, bodies or annotations.
// exec, attach and port-forward also log ResponseStarted (code 101) and
// complete when the session ends, seconds to minutes later. A watch runs
// for 5 to 10 minutes, so in a steady-state log as many watches end as
// start: a watch request logs either the start of a new watch
// (RequestReceived and ResponseStarted) or the end of one that began
// timeoutSeconds ago (ResponseComplete only).
//
// Levels follow the policy of the captured cluster, trimmed the way
// production policies are: RequestResponse for writes to pods (and their
// status, binding and ephemeralcontainers subresources), configmaps,
// services, serviceaccounts, namespaces, ingresses and RBAC objects, for
// get of a pod, and for exec, attach and port-forward; Metadata for
// everything else, including every secret, list and watch.
//
// Requests arrive as a Poisson process of 2,600 requests/s, about 5,000
// events/s cluster-wide, starting at Options.Start. Latencies are
// log-normal (a lease update takes about 2.5 ms, a pod create 14 ms). Events
// come out in stageTimestamp order, so the two events of a request are
// interleaved with those of others, as in a real log.
//
// # The cluster
//
// 180 worker nodes (ip-10-42-x-y.eu-west-1.compute.internal) and three
// control-plane nodes; 16 application namespaces with 42 Deployments and
// their pods (172.16.0.0/12 addresses); DaemonSets kube-proxy, fluent-bit
// and node-exporter on every node; coredns, metrics-server, prometheus,
// ingress-nginx, cert-manager, Argo CD and a GitLab runner. Names carry the
// usual generated suffixes and hashes, so the stream holds thousands of
// distinct object names, UIDs and credential IDs.
//
// # Traffic mix
//
// Shares are of events. Benign traffic makes up 1 − RiskyRate of the
// stream and is split as follows (each class's actions are in traffic.go):
//
//	40%  kubelets (system:node:<node>): Lease update and get in
//	     kube-node-lease, node get and node status patch, pod get and pod
//	     status patch (with the kubelet's strategic-merge patch and the
//	     full Pod), core Events, watches of the configmaps and secrets
//	     their pods mount
//	27%  control plane (system:serviceaccount:kube-system:<controller>,
//	     system:kube-controller-manager, system:kube-scheduler): leader
//	     election Leases in kube-system, EndpointSlice and Endpoints
//	     updates (some 409 Conflict), ReplicaSet pod create and delete
//	     (full Pod bodies), pods/binding, Deployment and ReplicaSet status,
//	     HPA, garbage collector (404s), quota, PDB and job traffic,
//	     shared-informer watches
//	 6%  system:apiserver: its own Leases and watches
//	 5%  health probes: system:anonymous GET /livez, /readyz, /healthz
//	     from kube-probe and the load balancer, plus internet scanners
//	     refused with 403 (decision forbid)
//	14%  in-cluster clients with pod-bound tokens: kube-proxy, coredns,
//	     prometheus (watches, /metrics, node proxy), fluent-bit (pod get),
//	     cert-manager, ingress-nginx, metrics-server (TokenReview,
//	     SubjectAccessReview)
//	 3%  CI/CD (system:serviceaccount:ci:ci-deployer via kubectl and helm,
//	     system:serviceaccount:argocd:argocd-application-controller):
//	     Deployment and ConfigMap patches, rollout watches, helm release
//	     secrets
//	 5%  people: alice@example.com, bob@example.com, carol@example.com,
//	     dave@example.com (OIDC groups, public source IPs) and
//	     kubernetes-admin (client certificate, bastion): pod get and list,
//	     logs, events, deployments, rollout restart, scale, pod delete;
//	     some 404s, RBAC 403s and impersonation
//
// Of the events logged for these, the ResponseComplete events of the OIDC
// users fire upstream "Disallowed K8s User", as they would against the
// unmodified allowed_k8s_users list; nothing else in benign traffic fires
// an upstream rule.
//
// The remaining RiskyRate (default 1%) are user-driven risky actions, built
// so that the upstream k8s_audit rules fire on them (risky.go lists the
// rule names next to each kind): privileged pods (main or init container),
// hostNetwork, hostPID and hostIPC pods, sensitive hostPath mounts, pods in
// kube-system, exec, attach, port-forward, ephemeral containers,
// ClusterRoleBindings to cluster-admin, Roles and ClusterRoles with
// wildcards or pods/exec, ConfigMaps with AWS keys or passwords, NodePort
// Services, namespaces created and deleted, secrets read (some refused),
// service accounts created in kube-system or kube-public, anonymous
// requests let through, Ingresses without TLS, system: ClusterRoles
// patched or deleted, and ordinary RBAC, secret and workload churn that the
// "K8s ... Created/Deleted" activity rules report.
//
// # Size and speed
//
// Metadata events weigh 0.4 to 1.5 KB and events with Pod bodies 5 to
// 9 KB; the mean is about 1.7 KB. Next renders the shared parts of a
// request once, copies them into each of its events and, once warmed up,
// does not allocate; it produces several hundred thousand events per
// second on one core.
//
// All credentials, keys and hashes in the output are random; public IP
// addresses come from the documentation ranges (RFC 5737).
package corpus
