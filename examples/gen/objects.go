package main

import (
	"fmt"
	"maps"
	"time"
)

// This file turns the model into Kubernetes objects, shaped the way
// `kubectl get -o yaml` prints them (managed fields omitted, as kubectl does
// by default).

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// rv hands out resourceVersions: increasing with the object's last change,
// all below the cluster's resourceVersion at the end of the recorded day.
type rvSource struct{ r *rng }

func (s rvSource) at(t time.Time) string {
	// About 30 writes a minute since the cluster was created, plus noise.
	base := int64(t.Sub(at("2026-03-02T09:14:05Z")).Minutes()*30) + 180
	return fmt.Sprint(base + int64(s.r.intn(25)))
}

func strMap(m map[string]string) obj {
	o := obj{}
	for k, v := range m {
		o[k] = v
	}
	return o
}

func meta(name, ns string, created time.Time, uid, rv string) obj {
	o := obj{"name": name, "creationTimestamp": ts(created), "uid": uid, "resourceVersion": rv}
	if ns != "" {
		o["namespace"] = ns
	}
	return o
}

func ownerRef(apiVersion, kind, name, uid string) list {
	return list{obj{"apiVersion": apiVersion, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}}
}

func namespaceObj(n *namespace, rv rvSource) obj {
	return obj{"apiVersion": "v1", "kind": "Namespace",
		"metadata": func() obj {
			o := meta(n.Name, "", n.Created, n.UID, rv.at(n.Created))
			o["labels"] = strMap(n.Labels)
			return o
		}(),
		"spec":   obj{"finalizers": list{"kubernetes"}},
		"status": obj{"phase": "Active"}}
}

func nodeObj(n *node, rv rvSource) obj {
	labels := obj{"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux"}
	spec := obj{"podCIDR": n.PodCIDR, "podCIDRs": list{n.PodCIDR}}
	if n.ControlPlane {
		labels["node-role.kubernetes.io/control-plane"] = ""
		labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		spec["taints"] = list{obj{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}}
	}
	md := meta(n.Name, "", n.Created, n.UID, rv.at(dayEnd.Add(-40*time.Second)))
	md["labels"] = labels
	md["annotations"] = obj{
		"kubeadm.alpha.kubernetes.io/cri-socket":                 "unix:///run/containerd/containerd.sock",
		"node.alpha.kubernetes.io/ttl":                           "0",
		"volumes.kubernetes.io/controller-managed-attach-detach": "true",
	}
	hb := dayEnd.Add(-3 * time.Minute)
	cond := func(typ, status, reason, msg string) obj {
		return obj{"type": typ, "status": status, "reason": reason, "message": msg,
			"lastHeartbeatTime": ts(hb), "lastTransitionTime": ts(at("2026-09-08T06:24:51Z"))}
	}
	cpu, mem := "4", "16364528Ki"
	if n.ControlPlane {
		cpu, mem = "2", "8139140Ki"
	}
	return obj{"apiVersion": "v1", "kind": "Node", "metadata": md, "spec": spec,
		"status": obj{
			"addresses":   list{obj{"address": n.IP, "type": "InternalIP"}, obj{"address": n.Name, "type": "Hostname"}},
			"allocatable": obj{"cpu": cpu, "ephemeral-storage": "93492209510", "memory": mem, "pods": "110"},
			"capacity":    obj{"cpu": cpu, "ephemeral-storage": "101445540Ki", "memory": mem, "pods": "110"},
			"conditions": list{
				cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
				cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
				cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
				cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
			},
			"daemonEndpoints": obj{"kubeletEndpoint": obj{"Port": 10250}},
			"nodeInfo": obj{"architecture": "amd64", "bootID": n.BootID, "containerRuntimeVersion": "containerd://1.7.27",
				"kernelVersion": "6.8.0-79-generic", "kubeProxyVersion": "", "kubeletVersion": k8sVersion,
				"machineID": n.MachineID, "operatingSystem": "linux", "osImage": "Ubuntu 24.04.3 LTS", "systemUUID": n.SystemUUID},
		}}
}

func serviceAccountObj(s *serviceAccount, rv rvSource) obj {
	return obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(s.Name, s.Namespace, s.Created, s.UID, rv.at(s.Created))}
}

func containerObj(c container, token string) obj {
	o := obj{"name": c.Name, "image": c.Image, "imagePullPolicy": "IfNotPresent",
		"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
	req := obj{"cpu": c.CPU}
	if c.Memory != "" {
		req["memory"] = c.Memory
	}
	o["resources"] = obj{"requests": req}
	if len(c.Ports) > 0 {
		var ps list
		for _, p := range c.Ports {
			ps = append(ps, obj{"containerPort": p.Port, "name": p.Name, "protocol": p.Proto})
		}
		o["ports"] = ps
	}
	if len(c.Args) > 0 {
		o["args"] = c.Args
	}
	if token != "" {
		o["volumeMounts"] = list{obj{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": token, "readOnly": true}}
	}
	return o
}

// podSpec is the pod template's spec; a pod adds its node, token volume and
// default tolerations.
func podSpec(w *workload, p *pod) obj {
	token := ""
	if p != nil && !w.NoToken && w.Kind != "Static" {
		token = p.TokenVolume
	}
	var cs list
	for _, c := range w.Containers {
		cs = append(cs, containerObj(c, token))
	}
	restart := "Always"
	if w.Kind == "CronJob" {
		restart = "OnFailure"
	}
	s := obj{"containers": cs, "dnsPolicy": "ClusterFirst", "restartPolicy": restart,
		"schedulerName": "default-scheduler", "securityContext": obj{}, "terminationGracePeriodSeconds": 30}
	if w.Kind != "Static" {
		sa := w.SA
		s["serviceAccount"], s["serviceAccountName"] = sa, sa
	}
	if w.NoToken {
		s["automountServiceAccountToken"] = false
	}
	if w.HostNetwork {
		s["hostNetwork"] = true
		s["dnsPolicy"] = "ClusterFirstWithHostNet"
	}
	if w.PriorityClass != "" {
		s["priorityClassName"] = w.PriorityClass
	}
	if w.ControlPlane {
		s["tolerations"] = list{obj{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}}
	}
	if p == nil {
		return s
	}
	s["nodeName"] = p.Node
	s["enableServiceLinks"] = true
	s["preemptionPolicy"] = "PreemptLowerPriority"
	s["priority"] = 0
	if w.PriorityClass == "system-node-critical" {
		s["priority"] = 2000001000
	} else if w.PriorityClass == "system-cluster-critical" {
		s["priority"] = 2000000000
	}
	tol := list{
		obj{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
		obj{"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
	}
	if w.Kind == "Static" {
		tol = list{obj{"effect": "NoExecute", "operator": "Exists"}}
	}
	if t, ok := s["tolerations"].(list); ok {
		tol = append(t, tol...)
	}
	s["tolerations"] = tol
	if token != "" {
		s["volumes"] = list{obj{"name": token, "projected": obj{"defaultMode": 420, "sources": list{
			obj{"serviceAccountToken": obj{"expirationSeconds": 3607, "path": "token"}},
			obj{"configMap": obj{"items": list{obj{"key": "ca.crt", "path": "ca.crt"}}, "name": "kube-root-ca.crt"}},
			obj{"downwardAPI": obj{"items": list{obj{"fieldRef": obj{"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}}}},
		}}}}
	}
	return s
}

func template(w *workload, extra map[string]string) obj {
	labels := maps.Clone(w.Labels)
	maps.Copy(labels, extra)
	return obj{"metadata": obj{"creationTimestamp": nil, "labels": strMap(labels)}, "spec": podSpec(w, nil)}
}

func podObj(m *model, p *pod, rv rvSource) obj {
	w := p.W
	md := meta(p.Name, p.Namespace, p.Created, p.UID, rv.at(p.Started.Add(20*time.Second)))
	md["labels"] = strMap(p.Labels)
	switch w.Kind {
	case "Deployment":
		md["generateName"] = w.OwnerName + "-"
		md["ownerReferences"] = ownerRef("apps/v1", "ReplicaSet", w.OwnerName, w.OwnerUID)
	case "StatefulSet":
		md["generateName"] = w.Name + "-"
		md["ownerReferences"] = ownerRef("apps/v1", "StatefulSet", w.Name, w.UID)
	case "DaemonSet":
		md["generateName"] = w.Name + "-"
		md["ownerReferences"] = ownerRef("apps/v1", "DaemonSet", w.Name, w.UID)
	case "CronJob":
		md["generateName"] = w.OwnerName + "-"
		md["ownerReferences"] = ownerRef("batch/v1", "Job", w.OwnerName, w.OwnerUID)
		md["resourceVersion"] = rv.at(p.Finished.Add(2 * time.Second))
	case "Static":
		n := m.node(p.Node)
		md["ownerReferences"] = list{obj{"apiVersion": "v1", "kind": "Node", "name": n.Name, "uid": n.UID, "controller": true}}
		md["annotations"] = obj{"kubernetes.io/config.hash": p.UID[:8] + p.UID[9:13] + p.UID[14:18] + p.UID[19:23] + p.UID[24:],
			"kubernetes.io/config.mirror": p.UID[:8] + p.UID[9:13] + p.UID[14:18] + p.UID[19:23] + p.UID[24:],
			"kubernetes.io/config.seen":   p.Created.Format("2006-01-02T15:04:05.000000000Z07:00"), "kubernetes.io/config.source": "file"}
		if w.Name == "kube-apiserver" {
			md["annotations"].(obj)["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"] = fmt.Sprintf("%s:%d", apiServerIP, apiServerPort)
		}
	}
	n := m.node(p.Node)
	cond := func(typ string, t time.Time) obj {
		return obj{"lastProbeTime": nil, "lastTransitionTime": ts(t), "status": "True", "type": typ}
	}
	var statuses list
	for i, c := range w.Containers {
		st := obj{"containerID": p.ContainerIDs[i], "image": c.Image, "imageID": c.Image + "@sha256:" + p.ContainerIDs[i][13:77],
			"lastState": obj{}, "name": c.Name, "ready": true, "restartCount": 0, "started": true,
			"state": obj{"running": obj{"startedAt": ts(p.Started)}}}
		if p.Phase == "Succeeded" {
			st["ready"], st["started"] = false, false
			st["state"] = obj{"terminated": obj{"containerID": p.ContainerIDs[i], "exitCode": 0, "finishedAt": ts(p.Finished),
				"reason": "Completed", "startedAt": ts(p.Started)}}
		}
		statuses = append(statuses, st)
	}
	status := obj{"containerStatuses": statuses, "hostIP": n.IP, "hostIPs": list{obj{"ip": n.IP}}, "phase": p.Phase,
		"podIP": p.IP, "podIPs": list{obj{"ip": p.IP}}, "qosClass": "Burstable", "startTime": ts(p.Created.Add(time.Second))}
	if p.Phase == "Succeeded" {
		status["conditions"] = list{
			obj{"lastProbeTime": nil, "lastTransitionTime": ts(p.Finished), "status": "False", "type": "PodReadyToStartContainers"},
			cond("Initialized", p.Created.Add(time.Second)),
			obj{"lastProbeTime": nil, "lastTransitionTime": ts(p.Finished), "reason": "PodCompleted", "status": "False", "type": "Ready"},
			obj{"lastProbeTime": nil, "lastTransitionTime": ts(p.Finished), "reason": "PodCompleted", "status": "False", "type": "ContainersReady"},
			cond("PodScheduled", p.Created),
		}
	} else {
		status["conditions"] = list{
			cond("PodReadyToStartContainers", p.Started), cond("Initialized", p.Created.Add(time.Second)),
			cond("Ready", p.Started.Add(4*time.Second)), cond("ContainersReady", p.Started.Add(4*time.Second)),
			cond("PodScheduled", p.Created),
		}
	}
	return obj{"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": podSpec(w, p), "status": status}
}

func deploymentObjs(w *workload, pods []*pod, rv rvSource) (dep, rs obj) {
	n := len(w.Placement)
	depMeta := meta(w.Name, w.Namespace, w.Created, w.UID, rv.at(w.Rollout.Add(40*time.Second)))
	depMeta["labels"] = strMap(w.Labels)
	depMeta["generation"] = w.Revision
	depMeta["annotations"] = obj{"deployment.kubernetes.io/revision": fmt.Sprint(w.Revision)}
	dep = obj{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": depMeta,
		"spec": obj{"progressDeadlineSeconds": 600, "replicas": n, "revisionHistoryLimit": 10,
			"selector": obj{"matchLabels": strMap(w.Labels)},
			"strategy": obj{"rollingUpdate": obj{"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
			"template": template(w, nil)},
		"status": obj{"availableReplicas": n, "observedGeneration": w.Revision, "readyReplicas": n, "replicas": n, "updatedReplicas": n,
			"conditions": list{
				obj{"lastTransitionTime": ts(w.Rollout.Add(12 * time.Second)), "lastUpdateTime": ts(w.Rollout.Add(12 * time.Second)), "message": "Deployment has minimum availability.", "reason": "MinimumReplicasAvailable", "status": "True", "type": "Available"},
				obj{"lastTransitionTime": ts(w.Created.Add(time.Second)), "lastUpdateTime": ts(w.Rollout.Add(40 * time.Second)), "message": fmt.Sprintf("ReplicaSet %q has successfully progressed.", w.OwnerName), "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"},
			}}}
	rsLabels := maps.Clone(w.Labels)
	rsLabels["pod-template-hash"] = w.Hash
	rsMeta := meta(w.OwnerName, w.Namespace, w.Rollout.Add(-time.Second), w.OwnerUID, rv.at(w.Rollout.Add(38*time.Second)))
	rsMeta["labels"] = strMap(rsLabels)
	rsMeta["generation"] = 1
	rsMeta["ownerReferences"] = ownerRef("apps/v1", "Deployment", w.Name, w.UID)
	maxReplicas := n + (n+3)/4
	rsMeta["annotations"] = obj{"deployment.kubernetes.io/desired-replicas": fmt.Sprint(n),
		"deployment.kubernetes.io/max-replicas": fmt.Sprint(maxReplicas), "deployment.kubernetes.io/revision": fmt.Sprint(w.Revision)}
	rs = obj{"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rsMeta,
		"spec": obj{"replicas": n, "selector": obj{"matchLabels": strMap(rsLabels)},
			"template": template(w, map[string]string{"pod-template-hash": w.Hash})},
		"status": obj{"availableReplicas": n, "fullyLabeledReplicas": n, "observedGeneration": 1, "readyReplicas": n, "replicas": n}}
	return dep, rs
}

func statefulSetObj(w *workload, rv rvSource) obj {
	n := len(w.Placement)
	md := meta(w.Name, w.Namespace, w.Created, w.UID, rv.at(w.Rollout.Add(30*time.Second)))
	md["labels"] = strMap(w.Labels)
	md["generation"] = w.Revision
	return obj{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": md,
		"spec": obj{"persistentVolumeClaimRetentionPolicy": obj{"whenDeleted": "Retain", "whenScaled": "Retain"},
			"podManagementPolicy": "OrderedReady", "replicas": n, "revisionHistoryLimit": 10,
			"selector": obj{"matchLabels": strMap(w.Labels)}, "serviceName": w.Name, "template": template(w, nil),
			"updateStrategy": obj{"rollingUpdate": obj{"partition": 0}, "type": "RollingUpdate"},
			"volumeClaimTemplates": list{obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"metadata": obj{"creationTimestamp": nil, "name": "data"},
				"spec":     obj{"accessModes": list{"ReadWriteOnce"}, "resources": obj{"requests": obj{"storage": "50Gi"}}, "volumeMode": "Filesystem"},
				"status":   obj{"phase": "Pending"}}}},
		"status": obj{"availableReplicas": n, "collisionCount": 0, "currentReplicas": n, "currentRevision": w.Hash,
			"observedGeneration": w.Revision, "readyReplicas": n, "replicas": n, "updateRevision": w.Hash, "updatedReplicas": n}}
}

func daemonSetObj(w *workload, rv rvSource) obj {
	n := len(w.Placement)
	md := meta(w.Name, w.Namespace, w.Created, w.UID, rv.at(w.Rollout.Add(50*time.Second)))
	md["labels"] = obj{"app.kubernetes.io/name": "cilium-agent", "app.kubernetes.io/part-of": "cilium", "k8s-app": "cilium"}
	md["generation"] = w.Revision
	md["annotations"] = obj{"deprecated.daemonset.template.generation": fmt.Sprint(w.Revision)}
	return obj{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": md,
		"spec": obj{"revisionHistoryLimit": 10, "selector": obj{"matchLabels": strMap(w.Labels)}, "template": template(w, nil),
			"updateStrategy": obj{"rollingUpdate": obj{"maxSurge": 0, "maxUnavailable": 2}, "type": "RollingUpdate"}},
		"status": obj{"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n, "numberMisscheduled": 0,
			"numberReady": n, "observedGeneration": w.Revision, "updatedNumberScheduled": n}}
}

func cronJobObjs(w *workload, p *pod, rv rvSource) (cj, job obj) {
	md := meta(w.Name, w.Namespace, w.Created, w.UID, rv.at(p.Finished.Add(3*time.Second)))
	md["labels"] = strMap(w.Labels)
	md["generation"] = 1
	jobSpec := func(extra map[string]string) obj {
		return obj{"backoffLimit": 2, "template": template(w, extra), "ttlSecondsAfterFinished": 172800}
	}
	cj = obj{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": md,
		"spec": obj{"concurrencyPolicy": "Forbid", "failedJobsHistoryLimit": 1,
			"jobTemplate": obj{"metadata": obj{"creationTimestamp": nil}, "spec": jobSpec(nil)},
			"schedule":    w.Schedule, "successfulJobsHistoryLimit": 1, "suspend": false, "timeZone": "Etc/UTC"},
		"status": obj{"lastScheduleTime": ts(w.Rollout), "lastSuccessfulTime": ts(p.Finished.Add(2 * time.Second))}}

	jmd := meta(w.OwnerName, w.Namespace, w.Rollout, w.OwnerUID, rv.at(p.Finished.Add(2*time.Second)))
	jmd["labels"] = strMap(map[string]string{"app": "nightly-report", "batch.kubernetes.io/controller-uid": w.OwnerUID,
		"batch.kubernetes.io/job-name": w.OwnerName, "controller-uid": w.OwnerUID, "job-name": w.OwnerName})
	jmd["annotations"] = obj{"batch.kubernetes.io/cronjob-scheduled-timestamp": ts(w.Rollout)}
	jmd["generation"] = 1
	jmd["ownerReferences"] = ownerRef("batch/v1", "CronJob", w.Name, w.UID)
	spec := jobSpec(map[string]string{"batch.kubernetes.io/controller-uid": w.OwnerUID, "batch.kubernetes.io/job-name": w.OwnerName,
		"controller-uid": w.OwnerUID, "job-name": w.OwnerName})
	spec["completionMode"] = "NonIndexed"
	spec["completions"] = 1
	spec["manualSelector"] = false
	spec["parallelism"] = 1
	spec["podReplacementPolicy"] = "TerminatingOrFailed"
	spec["selector"] = obj{"matchLabels": obj{"batch.kubernetes.io/controller-uid": w.OwnerUID}}
	spec["suspend"] = false
	job = obj{"apiVersion": "batch/v1", "kind": "Job", "metadata": jmd, "spec": spec,
		"status": obj{"completionTime": ts(p.Finished.Add(2 * time.Second)), "ready": 0, "startTime": ts(w.Rollout), "succeeded": 1,
			"terminating": 0, "uncountedTerminatedPods": obj{},
			"conditions": list{
				obj{"lastProbeTime": ts(p.Finished.Add(time.Second)), "lastTransitionTime": ts(p.Finished.Add(time.Second)), "message": "Reached expected number of succeeded pods", "reason": "CompletionsReached", "status": "True", "type": "SuccessCriteriaMet"},
				obj{"lastProbeTime": ts(p.Finished.Add(2 * time.Second)), "lastTransitionTime": ts(p.Finished.Add(2 * time.Second)), "message": "Reached expected number of succeeded pods", "reason": "CompletionsReached", "status": "True", "type": "Complete"},
			}}}
	return cj, job
}

func serviceObj(s *service, rv rvSource) obj {
	md := meta(s.Name, s.Namespace, s.Created, s.UID, rv.at(s.Created.Add(time.Second)))
	var ps list
	for _, p := range s.Ports {
		ps = append(ps, obj{"name": p.Name, "port": p.Port, "protocol": p.Proto, "targetPort": p.Target})
	}
	spec := obj{"clusterIP": s.ClusterIP, "clusterIPs": list{s.ClusterIP}, "internalTrafficPolicy": "Cluster",
		"ipFamilies": list{"IPv4"}, "ipFamilyPolicy": "SingleStack", "ports": ps, "sessionAffinity": "None", "type": s.Type}
	if s.Selector != nil {
		spec["selector"] = strMap(s.Selector)
	}
	status := obj{"loadBalancer": obj{}}
	switch {
	case s.Name == "kubernetes":
		md["labels"] = obj{"component": "apiserver", "provider": "kubernetes"}
	case s.Name == "kube-dns":
		md["labels"] = obj{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}
		md["annotations"] = obj{"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}
	default:
		md["labels"] = strMap(s.Selector)
	}
	if s.Type == "LoadBalancer" {
		spec["allocateLoadBalancerNodePorts"] = true
		spec["externalTrafficPolicy"] = "Local"
		spec["healthCheckNodePort"] = 31247
		ps[0].(obj)["nodePort"] = 30781
		status["loadBalancer"] = obj{"ingress": list{obj{"ip": s.LBIP, "ipMode": "VIP"}}}
	}
	return obj{"apiVersion": "v1", "kind": "Service", "metadata": md, "spec": spec, "status": status}
}
