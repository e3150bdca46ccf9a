package sim

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The default RBAC policy of the Kubernetes API server: see
// bootstrap/README.md.
//
//go:embed bootstrap/*.yaml
var bootstrapFS embed.FS

var bootstrapFiles = []string{"cluster-roles.yaml", "cluster-role-bindings.yaml", "controller-roles.yaml", "controller-role-bindings.yaml",
	"namespace-roles.yaml", "namespace-role-bindings.yaml"}

// image returns the image of container i of p (of the pod's revision).
func (p *pod) image(i int) string {
	c := p.w.containers[i]
	tag := c.tag
	if tag == "" {
		tag = "1.0.0"
		if p.rev != nil {
			tag = p.rev.version
		} else if p.job != nil {
			tag = "2026.11." + strconv.Itoa(1+len(p.w.name)%20)
		}
	}
	return c.repo + ":" + tag
}

// imageID is the digest reference the kubelet reports for an image.
func imageID(image string) string {
	repo := image
	for i := len(image) - 1; i >= 0; i-- {
		if image[i] == ':' {
			repo = image[:i]
			break
		}
		if image[i] == '/' {
			break
		}
	}
	sum := sha256.Sum256([]byte("sim-image:" + image))
	return repo + "@sha256:" + hex.EncodeToString(sum[:])
}

func (w *world) ownerRef(apiVersion, kind, name, uid string) list {
	return list{obj{"apiVersion": apiVersion, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}}
}

func labelsObj(m map[string]string, extra ...string) obj {
	o := obj{}
	for k, v := range m {
		o[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i]] = extra[i+1]
	}
	return o
}

// podLabels are the labels of a pod of wl (selector labels plus the
// controller's).
func (p *pod) labels() obj {
	wl := p.w
	switch {
	case p.rev != nil && wl.kind == kindDeployment:
		return labelsObj(wl.labels, "pod-template-hash", p.rev.hash)
	case p.rev != nil && wl.kind == kindStatefulSet:
		return labelsObj(wl.labels, "controller-revision-hash", p.rev.name, "statefulset.kubernetes.io/pod-name", p.name, "apps.kubernetes.io/pod-index", p.name[len(wl.name)+1:])
	case p.rev != nil && wl.kind == kindDaemonSet:
		return labelsObj(wl.labels, "controller-revision-hash", p.rev.hash, "pod-template-generation", "1")
	case p.job != nil:
		return labelsObj(wl.labels, "batch.kubernetes.io/controller-uid", p.job.uid, "batch.kubernetes.io/job-name", p.job.name,
			"controller-uid", p.job.uid, "job-name", p.job.name)
	}
	return labelsObj(wl.labels)
}

// podSpec is the pod template's spec for a pod of wl.
func (w *world) podSpec(wl *workload, p *pod) obj {
	var containers list
	for i, c := range wl.containers {
		co := obj{"name": c.name, "imagePullPolicy": "IfNotPresent",
			"resources":                obj{"requests": obj{"cpu": c.cpu, "memory": c.mem}},
			"terminationMessagePath":   "/dev/termination-log",
			"terminationMessagePolicy": "File"}
		if p != nil {
			co["image"] = p.image(i)
		} else {
			tag := c.tag
			if tag == "" {
				tag = "1.0.0"
				if n := len(wl.revisions); n > 0 {
					tag = wl.revisions[n-1].version
				}
			}
			co["image"] = c.repo + ":" + tag
		}
		if len(c.command) > 0 {
			co["command"] = strs(c.command)
		}
		if len(c.ports) > 0 {
			var ports list
			for _, pt := range c.ports {
				ports = append(ports, obj{"containerPort": pt.port, "name": pt.name, "protocol": pt.proto})
			}
			co["ports"] = ports
		}
		if c.probe != nil {
			co["livenessProbe"] = obj{"exec": obj{"command": strs(c.probe.cmd)}, "periodSeconds": int(c.probe.period / time.Second),
				"failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 5}
		} else if len(c.ports) > 0 && c.ports[0].proto == "TCP" && wl.role != roleSystem {
			co["readinessProbe"] = obj{"httpGet": obj{"path": "/healthz", "port": c.ports[0].port, "scheme": "HTTP"}, "periodSeconds": 10,
				"failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 1}
		}
		if wl.privileged {
			co["securityContext"] = obj{"privileged": true}
		}
		if wl.hostRoot {
			co["volumeMounts"] = list{obj{"mountPath": "/host", "name": "host-root"}}
		} else if p != nil && p.tokenVolume != "" {
			co["volumeMounts"] = list{obj{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": p.tokenVolume, "readOnly": true}}
		}
		containers = append(containers, co)
	}
	spec := obj{"containers": containers, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
		"securityContext": obj{}, "terminationGracePeriodSeconds": 30, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority",
		"priority": 0}
	if wl.kind == kindCronJob {
		spec["restartPolicy"] = "OnFailure"
	}
	if wl.sa != nil {
		spec["serviceAccountName"] = wl.sa.name
		spec["serviceAccount"] = wl.sa.name
	}
	if wl.hostNetwork {
		spec["hostNetwork"] = true
		spec["dnsPolicy"] = "ClusterFirstWithHostNet"
	}
	if wl.hostPID {
		spec["hostPID"] = true
	}
	if wl.priorityClass != "" {
		spec["priorityClassName"] = wl.priorityClass
		spec["priority"] = 2000000000
		if wl.priorityClass == "system-node-critical" {
			spec["priority"] = 2000001000
		}
	}
	if wl.controlPlane {
		spec["tolerations"] = list{obj{"operator": "Exists"}}
	}
	if wl.hostRoot {
		spec["volumes"] = list{obj{"name": "host-root", "hostPath": obj{"path": "/", "type": ""}}}
	} else if p != nil && p.tokenVolume != "" {
		spec["volumes"] = list{obj{"name": p.tokenVolume, "projected": obj{"defaultMode": 420, "sources": list{
			obj{"serviceAccountToken": obj{"expirationSeconds": 3607, "path": "token"}},
			obj{"configMap": obj{"items": list{obj{"key": "ca.crt", "path": "ca.crt"}}, "name": "kube-root-ca.crt"}},
			obj{"downwardAPI": obj{"items": list{obj{"fieldRef": obj{"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}}}},
		}}}}
	}
	return spec
}

// podObject is p as the API server stores it. With status, as a dump taken
// at the end of the window shows it; without, as its creator sent it.
func (w *world) podObject(p *pod, status bool) obj {
	wl := p.w
	md := obj{"name": p.name, "namespace": wl.ns.name, "labels": p.labels()}
	switch {
	case p.rev != nil && wl.kind == kindDeployment:
		md["generateName"] = p.rev.name + "-"
		md["ownerReferences"] = w.ownerRef("apps/v1", "ReplicaSet", p.rev.name, p.rev.uid)
	case wl.kind == kindStatefulSet:
		md["ownerReferences"] = w.ownerRef("apps/v1", "StatefulSet", wl.name, wl.uid)
	case wl.kind == kindDaemonSet:
		md["generateName"] = wl.name + "-"
		md["ownerReferences"] = w.ownerRef("apps/v1", "DaemonSet", wl.name, wl.uid)
	case p.job != nil:
		md["generateName"] = p.job.name + "-"
		md["ownerReferences"] = w.ownerRef("batch/v1", "Job", p.job.name, p.job.uid)
	case wl.kind == kindStatic:
		md["annotations"] = obj{"kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": p.uid, "kubernetes.io/config.hash": p.uid}
		md["ownerReferences"] = list{obj{"apiVersion": "v1", "kind": "Node", "name": p.node.name, "uid": p.node.uid, "controller": true}}
	}
	o := obj{"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": w.podSpec(wl, p)}
	if !status {
		return o
	}
	md["uid"] = p.uid
	md["creationTimestamp"] = timeVal(p.created)
	last := p.created
	if p.deleted != 0 {
		// A dump keeps the deleted pods of the window, each with the
		// time its deletion was requested (when it stopped serving).
		md["deletionTimestamp"] = timeVal(p.deleted)
		md["deletionGracePeriodSeconds"] = 30
		last = p.deleted
	}
	if p.finished != 0 {
		last = max(last, p.finished)
	}
	md["resourceVersion"] = w.rv(max(last, p.ready))
	o["spec"].(obj)["nodeName"] = p.node.name
	st := obj{"startTime": timeVal(p.started), "qosClass": "Burstable", "hostIP": ipString(p.node.ip),
		"hostIPs": list{obj{"ip": ipString(p.node.ip)}}}
	ip := p.ipString()
	st["podIP"] = ip
	st["podIPs"] = list{obj{"ip": ip}}
	phase := "Running"
	if p.running > w.end {
		phase = "Pending"
	}
	var cs list
	for i, c := range wl.containers {
		img := p.image(i)
		s := obj{"name": c.name, "image": img, "imageID": imageID(img), "containerID": "containerd://" + p.containerIDs[i], "restartCount": 0}
		switch {
		case p.finished != 0:
			phase = "Succeeded"
			s["state"] = obj{"terminated": obj{"exitCode": 0, "reason": "Completed", "startedAt": timeVal(p.running), "finishedAt": timeVal(p.finished),
				"containerID": "containerd://" + p.containerIDs[i]}}
			s["ready"], s["started"] = false, false
		case phase == "Pending":
			s["state"] = obj{"waiting": obj{"reason": "ContainerCreating"}}
			s["ready"], s["started"] = false, false
		default:
			s["state"] = obj{"running": obj{"startedAt": timeVal(p.running)}}
			s["ready"], s["started"] = p.ready < w.end, true
		}
		cs = append(cs, s)
	}
	st["phase"] = phase
	st["containerStatuses"] = cs
	cond := func(typ string, ok bool, t int64) obj {
		v := "False"
		if ok {
			v = "True"
		}
		return obj{"type": typ, "status": v, "lastProbeTime": nil, "lastTransitionTime": timeVal(t)}
	}
	ready := phase == "Running" && p.ready < w.end
	st["conditions"] = list{cond("PodReadyToStartContainers", true, p.started+int64(time.Second)), cond("Initialized", true, p.started),
		cond("Ready", ready, max(p.ready, p.started)), cond("ContainersReady", ready, max(p.ready, p.started)), cond("PodScheduled", true, p.scheduled)}
	o["status"] = st
	return o
}

func (w *world) workloadObject(wl *workload) obj {
	md := w.meta(wl.name, wl.ns.name, wl.created, wl.uid)
	md["labels"] = labelsObj(wl.labels)
	md["generation"] = max(1, len(wl.revisions))
	tmpl := obj{"metadata": obj{"labels": labelsObj(wl.labels)}, "spec": w.podSpec(wl, nil)}
	sel := obj{"matchLabels": labelsObj(wl.labels)}
	switch wl.kind {
	case kindDeployment:
		md["annotations"] = obj{"deployment.kubernetes.io/revision": strconv.Itoa(max(1, len(wl.revisions)))}
		return obj{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
			"spec": obj{"replicas": wl.replicas, "selector": sel, "template": tmpl, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
				"strategy": obj{"type": "RollingUpdate", "rollingUpdate": obj{"maxSurge": "25%", "maxUnavailable": "25%"}}},
			"status": obj{"replicas": wl.replicas, "readyReplicas": wl.replicas, "availableReplicas": wl.replicas, "updatedReplicas": wl.replicas,
				"observedGeneration": max(1, len(wl.revisions))}}
	case kindStatefulSet:
		return obj{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": md,
			"spec":   obj{"replicas": wl.replicas, "selector": sel, "template": tmpl, "serviceName": wl.name, "podManagementPolicy": "OrderedReady"},
			"status": obj{"replicas": wl.replicas, "readyReplicas": wl.replicas, "currentReplicas": wl.replicas}}
	case kindDaemonSet:
		return obj{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": md,
			"spec":   obj{"selector": sel, "template": tmpl, "updateStrategy": obj{"type": "RollingUpdate"}},
			"status": obj{"desiredNumberScheduled": len(w.nodes), "numberReady": len(w.nodes), "currentNumberScheduled": len(w.nodes)}}
	case kindCronJob:
		tmpl["spec"].(obj)["restartPolicy"] = "OnFailure"
		return obj{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": md,
			"spec": obj{"schedule": cronSchedule(wl), "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": cronHistory, "failedJobsHistoryLimit": 1,
				"jobTemplate": obj{"spec": obj{"backoffLimit": 2, "template": tmpl}}}}
	}
	return nil
}

func cronSchedule(wl *workload) string {
	off := wl.schedOffset
	switch wl.schedule {
	case 24 * time.Hour:
		return fmt.Sprintf("%d %d * * *", int(off/time.Minute)%60, int(off/time.Hour))
	case time.Hour:
		return fmt.Sprintf("%d * * * *", int(off/time.Minute))
	}
	return fmt.Sprintf("%d/%d * * * *", int(off/time.Minute), int(wl.schedule/time.Minute))
}

func (w *world) replicaSetObject(rev *revision) obj {
	wl := rev.by
	md := w.meta(rev.name, wl.ns.name, rev.created, rev.uid)
	md["labels"] = labelsObj(wl.labels, "pod-template-hash", rev.hash)
	md["ownerReferences"] = w.ownerRef("apps/v1", "Deployment", wl.name, wl.uid)
	md["annotations"] = obj{"deployment.kubernetes.io/revision": strconv.Itoa(rev.number), "deployment.kubernetes.io/desired-replicas": strconv.Itoa(wl.replicas)}
	spec := w.podSpec(wl, nil)
	for i, c := range spec["containers"].(list) {
		c.(obj)["image"] = wl.containers[i].repo + ":" + rev.version
	}
	return obj{"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": md,
		"spec": obj{"replicas": rev.replicas, "selector": obj{"matchLabels": labelsObj(wl.labels, "pod-template-hash", rev.hash)},
			"template": obj{"metadata": obj{"labels": labelsObj(wl.labels, "pod-template-hash", rev.hash)}, "spec": spec}},
		"status": obj{"replicas": rev.replicas, "readyReplicas": rev.replicas, "availableReplicas": rev.replicas, "observedGeneration": 1}}
}

func (w *world) jobObject(j *job) obj {
	md := w.meta(j.name, j.cj.ns.name, j.created, j.uid)
	md["labels"] = labelsObj(j.cj.labels, "batch.kubernetes.io/controller-uid", j.uid, "batch.kubernetes.io/job-name", j.name)
	md["ownerReferences"] = w.ownerRef("batch/v1", "CronJob", j.cj.name, j.cj.uid)
	st := obj{"startTime": timeVal(j.created), "active": 1}
	if p := j.pod; p.finished != 0 {
		st = obj{"startTime": timeVal(j.created), "completionTime": timeVal(p.finished + int64(300*time.Millisecond)), "succeeded": 1}
	}
	if j.deleted != 0 {
		md["deletionTimestamp"] = timeVal(j.deleted)
	}
	return obj{"apiVersion": "batch/v1", "kind": "Job", "metadata": md,
		"spec":   obj{"backoffLimit": 2, "completions": 1, "parallelism": 1, "template": obj{"spec": w.podSpec(j.cj, nil)}},
		"status": st}
}

func (w *world) serviceObject(s *service) obj {
	var ports list
	for i, p := range s.ports {
		target := p.port
		if i < len(s.targetPorts) {
			target = s.targetPorts[i]
		}
		ports = append(ports, obj{"name": p.name, "port": p.port, "protocol": p.proto, "targetPort": target})
	}
	spec := obj{"clusterIP": ipString(s.ip), "clusterIPs": list{ipString(s.ip)}, "ports": ports, "type": "ClusterIP",
		"ipFamilies": list{"IPv4"}, "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}
	if s.selector != nil {
		spec["selector"] = labelsObj(s.selector)
	}
	created := w.created
	if s.w != nil {
		created = s.w.created
	}
	return obj{"apiVersion": "v1", "kind": "Service", "metadata": w.meta(s.name, s.ns.name, created, s.uid), "spec": spec}
}

func (w *world) nodeObject(n *node) obj {
	md := w.meta(n.name, "", n.created, n.uid)
	labels := obj{"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
	if n.controlPlane {
		labels["node-role.kubernetes.io/control-plane"] = ""
	}
	md["labels"] = labels
	spec := obj{"podCIDR": ipString(n.podNet) + "/24", "podCIDRs": list{ipString(n.podNet) + "/24"}}
	if n.controlPlane {
		spec["taints"] = list{obj{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}}
	}
	return obj{"apiVersion": "v1", "kind": "Node", "metadata": md, "spec": spec,
		"status": obj{"addresses": list{obj{"address": ipString(n.ip), "type": "InternalIP"}, obj{"address": n.name, "type": "Hostname"}},
			"nodeInfo": obj{"architecture": "amd64", "bootID": n.bootID, "machineID": n.machineID, "containerRuntimeVersion": "containerd://2.1.4",
				"kernelVersion": "6.8.0-1036-aws", "kubeletVersion": k8sVersion, "operatingSystem": "linux", "osImage": "Ubuntu 24.04.3 LTS"},
			"capacity": obj{"cpu": "8", "memory": "32386452Ki", "pods": "110"}}}
}

// writeCluster writes the dump: the default RBAC policy as upstream ships
// it, then one List with every other object. It returns the number of
// objects.
func (w *world) writeCluster(out io.Writer) (int, error) {
	n := 0
	for _, f := range bootstrapFiles {
		data, err := bootstrapFS.ReadFile("bootstrap/" + f)
		if err != nil {
			return n, err
		}
		if _, err := out.Write(data); err != nil {
			return n, fmt.Errorf("%w: cluster: %w", ErrWrite, err)
		}
		if _, err := io.WriteString(out, "---\n"); err != nil {
			return n, fmt.Errorf("%w: cluster: %w", ErrWrite, err)
		}
		for i := 0; i+2 < len(data); i++ {
			if data[i] == '\n' && data[i+1] == '-' && data[i+2] == ' ' {
				n++
			}
		}
	}
	y := &yamlWriter{b: make([]byte, 0, 1<<20)}
	y.b = append(y.b, "apiVersion: v1\nitems:\n"...)
	flush := func(force bool) error {
		if len(y.b) < 512<<10 && !force {
			return nil
		}
		_, err := out.Write(y.b)
		y.b = y.b[:0]
		if err != nil {
			return fmt.Errorf("%w: cluster: %w", ErrWrite, err)
		}
		return nil
	}
	item := func(o obj) error {
		y.seq(list{o}, 0)
		n++
		return flush(false)
	}
	var items []func() obj
	for _, ns := range w.namespaces {
		items = append(items, func() obj {
			md := w.meta(ns.name, "", ns.created, ns.uid)
			md["labels"] = labelsObj(ns.labels)
			return obj{"apiVersion": "v1", "kind": "Namespace", "metadata": md, "spec": obj{"finalizers": list{"kubernetes"}}, "status": obj{"phase": "Active"}}
		})
	}
	for _, nd := range w.nodes {
		items = append(items, func() obj { return w.nodeObject(nd) })
	}
	for _, sa := range w.sas {
		items = append(items, func() obj {
			return obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": w.meta(sa.name, sa.ns, sa.created, sa.uid)}
		})
	}
	for _, group := range [][]obj{w.clusterRoles, w.crbs, w.roles, w.roleBindings, w.netpols} {
		for _, o := range group {
			items = append(items, func() obj { return o })
		}
	}
	for _, s := range w.services {
		items = append(items, func() obj { return w.serviceObject(s) })
	}
	sr := newRNG(w.cfg.Seed, "svc")
	kubernetesUID := sr.uuid()
	items = append(items, func() obj {
		return obj{"apiVersion": "v1", "kind": "Service", "metadata": w.meta("kubernetes", "default", w.created, kubernetesUID),
			"spec": obj{"clusterIP": kubernetesSvc, "clusterIPs": list{kubernetesSvc}, "type": "ClusterIP",
				"ports": list{obj{"name": "https", "port": 443, "protocol": "TCP", "targetPort": apiServerPort}}}}
	})
	for _, wl := range w.workloads {
		if wl.kind == kindStatic || wl.kind == kindPod {
			continue
		}
		items = append(items, func() obj { return w.workloadObject(wl) })
		if wl.kind == kindDeployment {
			for _, rev := range wl.revisions {
				items = append(items, func() obj { return w.replicaSetObject(rev) })
			}
		}
	}
	for _, wl := range w.workloads {
		if wl.kind != kindCronJob {
			continue
		}
		for _, p := range wl.pods {
			if p.job != nil && p.created < w.end && (p.job.deleted == 0) {
				items = append(items, func() obj { return w.jobObject(p.job) })
			}
		}
	}
	for _, p := range w.pods {
		if p.created < w.end {
			items = append(items, func() obj { return w.podObject(p, true) })
		}
	}
	for _, o := range w.extra {
		items = append(items, func() obj { return o })
	}
	for _, f := range items {
		if err := item(f()); err != nil {
			return n, err
		}
	}
	y.b = append(y.b, "kind: List\nmetadata:\n  resourceVersion: \"\"\n"...)
	return n, flush(true)
}
